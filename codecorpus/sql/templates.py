"""Query templates over a built database and its data, with their questions.

Queries come from templates over the schema and its data (OmniSQL/SynSQL's recipe, REFERENCE
§6): projections and filters, aggregates with GROUP BY / HAVING, ORDER BY / LIMIT, joins along
foreign keys, nested and correlated subqueries, set operations, CTEs and window functions.
Literals are drawn from the data (``profile_database``, seeded by the database), so filters
select something. Every query gets a question from the template's phrasings (three styles:
interrogative, imperative, colloquial).
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Optional

from codecorpus.sql.naming import (comment_name, common_prefix, flag_value, flag_words, humanise, identifier_words,
                                   is_flag, plural, say, singular, total_of)
from codecorpus.sql.queries import LEVELS, Candidate, ident, sql_literal
from codecorpus.sql.schema import Schema, Table


# --- profiling a database --------------------------------------------------------------------------


@dataclass
class ColumnProfile:
    name: str
    family: str
    not_null: bool
    is_key: bool
    unique: bool
    distinct: int = 0
    nulls: int = 0
    values: list = field(default_factory=list)   # sorted distinct non-null sample
    comment: str = ""                            # the DDL's COMMENT
    drop: tuple = ()                             # the schema-wide prefix left out of names

    @property
    def words(self) -> str:
        return comment_name(self.comment) or humanise(self.name, self.drop)

    @property
    def flag(self) -> bool:
        """A yes/no text column: filtered as "which … are <column>", never listed as categories."""
        return self.family == "text" and self.distinct <= 2 and is_flag(self.values)


@dataclass
class TableProfile:
    table: Table
    rows: int
    columns: dict            # name -> ColumnProfile
    label: Optional[str]     # the column that names a row
    pk: Optional[str]        # a single-column key for tie-breaking
    cats: list               # categorical columns
    nums: list               # numeric measures
    dates: list
    texts: list              # free text with words (LIKE)
    drop: tuple = ()         # the schema-wide prefix left out of names

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def words(self) -> str:
        """The table as a singular noun: ``order_items`` -> ``order item``, ``tbl_cust`` -> ``customer``."""
        return singular(humanise(self.table.name, self.drop))


@dataclass
class Link:
    child: TableProfile
    fk_col: str
    parent: TableProfile
    pk_col: str


@dataclass
class DbProfile:
    tables: list
    links: list
    drop: tuple = ()         # a prefix every table shares (``sb_``): said by no question

    def words(self, column: str) -> str:
        """A column as a question says it (its comment when it has a usable one)."""
        for tp in self.tables:
            if column in tp.columns:
                return tp.columns[column].words
        return humanise(column, self.drop)


# Columns that identify or contact rather than classify or measure.
_NOT_CATEGORIES = {"phone", "fax", "mobile", "email", "mail", "address", "street", "url", "website", "zip", "postal",
                   "postcode", "description", "comment", "comments", "notes", "password", "uuid", "hash", "token",
                   "name", "username", "title", "first", "last", "surname", "code", "id"}
_NOT_LABELS = {"password", "passwd", "hash", "salt", "token", "secret", "uuid", "guid"}
_NOT_MEASURES = {"id", "zip", "postal", "postcode", "phone", "code", "number", "no", "year"}
_LABEL_NAMES = ("name", "title", "full_name", "username", "label", "first_name", "last_name", "email", "description")


def profile_database(path: str, schema: Schema, sample: int = 40) -> DbProfile:
    """Column statistics of a built SQLite database: what the templates draw from."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = []
        by_name = {}
        prefix = common_prefix(t.name for t in schema.ordered())
        drop = (prefix,) if prefix else ()
        for table in schema.ordered():
            q = ident(table.name)
            rows = conn.execute(f"SELECT COUNT(*) FROM {q}").fetchone()[0]
            key_cols = set(table.primary_key) | {c for fk in table.foreign_keys for c in fk.columns}
            unique_cols = {ks[0] for ks in table.key_sets() if len(ks) == 1}
            cols = {}
            for col in table.columns:
                c = ident(col.name)
                distinct, nulls = conn.execute(
                    f"SELECT COUNT(DISTINCT {c}), SUM({c} IS NULL) FROM {q}").fetchone()
                values = [r[0] for r in conn.execute(
                    f"SELECT DISTINCT {c} FROM {q} WHERE {c} IS NOT NULL ORDER BY {c} LIMIT {int(sample) * 5}")]
                if len(values) > sample:  # an even spread over the sorted values
                    step = len(values) / sample
                    values = [values[int(i * step)] for i in range(sample)]
                cols[col.name] = ColumnProfile(col.name, col.family, col.not_null,
                                               col.name in key_cols or col.autoincrement, col.name in unique_cols,
                                               distinct or 0, nulls or 0, values, col.comment, drop)
            tp = TableProfile(table, rows, cols, None, None, [], [], [], [], drop)
            _roles(tp)
            tables.append(tp)
            by_name[table.name.lower()] = tp
        links = []
        for tp in tables:
            for fk in tp.table.foreign_keys:
                parent = by_name.get(fk.ref_table.lower())
                if parent is not None and len(fk.columns) == 1 and parent is not tp:
                    links.append(Link(tp, fk.columns[0], parent, fk.ref_columns[0]))
        return DbProfile(tables, links, drop)
    finally:
        conn.close()


def _roles(tp: TableProfile) -> None:
    cols = list(tp.columns.values())
    pk = tp.table.primary_key
    tp.pk = pk[0] if len(pk) == 1 else None
    for c in cols:
        if c.is_key or c.distinct == 0:
            continue
        words = set(identifier_words(c.name).split())
        present = tp.rows - c.nulls
        if c.family in ("integer", "real", "decimal") and c.distinct >= 3 and not words & _NOT_MEASURES:
            tp.nums.append(c.name)
        elif c.family == "text" and 2 <= c.distinct <= max(12, tp.rows // 5) and present >= 2 * c.distinct \
                and not words & _NOT_CATEGORIES:
            tp.cats.append(c.name)
        elif c.family in ("date", "timestamp") and c.distinct >= 3:
            tp.dates.append(c.name)
        if c.family == "text" and c.distinct >= 3 and any(isinstance(v, str) and re.match(r"[A-Za-z]{2}", v)
                                                           for v in c.values):
            tp.texts.append(c.name)
    labels = [c for c in cols if c.family == "text" and not c.is_key and c.distinct > 1
              and not set(identifier_words(c.name).split()) & _NOT_LABELS]
    named = [c for c in labels if identifier_words(c.name).split()[-1:] and identifier_words(c.name).split()[-1] in
             ("name", "title", "username", "label", "email")]
    best = (named or labels)
    if best:
        best = sorted(best, key=lambda c: (-(c.not_null), -c.distinct, list(tp.columns).index(c.name)))
        tp.label = best[0].name
    elif tp.pk:
        tp.label = tp.pk


class Phrase:
    """Question phrasings: one per style, picked with the database's seeded generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def __call__(self, *options: str) -> str:
        text = self.rng.choice(options)
        return text[0].upper() + text[1:]


def _pick(rng: random.Random, values: list, default=None):
    return rng.choice(values) if values else default


def _threshold(values: list, rng: random.Random):
    """A number between the 30th and 70th percentile of a column: filters keep some rows."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) < 3:
        return None
    nums.sort()
    return nums[int(len(nums) * rng.uniform(0.3, 0.7))]


def _plain_cats(tp: TableProfile) -> list:
    """Categorical columns that are not yes/no flags: "for each wide body" reads badly."""
    return [c for c in tp.cats if not tp.columns[c].flag]


def _cat_value(tp: TableProfile, col: str, rng: random.Random):
    values = [v for v in tp.columns[col].values if isinstance(v, str) and v and "\n" not in v and len(v) <= 60]
    return _pick(rng, values)


def template_candidates(profile: DbProfile, rng: random.Random) -> dict:
    """Candidate queries by intended level, in a seeded order."""
    q = Phrase(rng)
    W = profile.words
    pools = {level: [] for level in LEVELS}

    def add(level, template_id, sql, question, asks_all=False):
        pools[level].append(Candidate(sql, question, template_id, asks_all=asks_all, intended=level))

    for tp in profile.tables:
        if tp.rows == 0:
            continue
        T, t = ident(tp.name), plural(tp.words)
        label = tp.label
        L = ident(label) if label else None
        lw = W(label) if label else ""
        # simple
        add("simple", "count_all", f"SELECT COUNT(*) FROM {T}",
            q(f"how many {t} are there?", f"count the {t}.", f"can you tell me the number of {t}?"))
        for cat in tp.cats[:3]:
            v = _cat_value(tp, cat, rng)
            if v is None:
                continue
            C, cw = ident(cat), W(cat)
            if tp.columns[cat].flag:  # 'Yes' / 'No': "which aircraft are wide-body", not "have Yes as wide body"
                be, cw = ("are" if flag_value(v) else "are not"), flag_words(cw)
                if L and label != cat:
                    add("simple", "select_eq", f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v)}",
                        q(f"which {t} {be} {cw}? give their {plural(lw)}.",
                          f"list the {plural(lw)} of the {t} that {be} {cw}.",
                          f"what are the {plural(lw)} of {t} that {be} {cw}?"))
                add("simple", "count_eq", f"SELECT COUNT(*) FROM {T} WHERE {C} = {sql_literal(v)}",
                    q(f"how many {t} {be} {cw}?", f"count the {t} that {be} {cw}.",
                      f"what is the number of {t} that {be} {cw}?"))
                continue
            if L and label != cat:
                add("simple", "select_eq", f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v)}",
                    q(f"what are the {plural(lw)} of {t} whose {cw} is {say(v)}?",
                      f"list the {lw} of every {tp.words} with {cw} {say(v)}.",
                      f"which {t} have {say(v)} as their {cw}? give their {plural(lw)}."))
            add("simple", "count_eq", f"SELECT COUNT(*) FROM {T} WHERE {C} = {sql_literal(v)}",
                q(f"how many {t} have {cw} {say(v)}?", f"count the {t} whose {cw} is {say(v)}.",
                  f"what is the number of {t} with a {cw} of {say(v)}?"))
            add("simple", "distinct", f"SELECT DISTINCT {C} FROM {T}",
                q(f"what are the different {plural(cw)} of {t}?", f"list the distinct {plural(cw)} used by {t}.",
                  f"which {plural(cw)} appear among the {t}?"), asks_all=True)
        for num in tp.nums[:3]:
            N, nw = ident(num), W(num)
            fn, fw = rng.choice([("MAX", "highest"), ("MIN", "lowest"), ("AVG", "average"), ("SUM", "total")])
            add("simple", "aggregate", f"SELECT {fn}({N}) FROM {T}",
                q(f"what is the {fw} {nw} of all {t}?", f"find the {fw} {nw} across {t}.",
                  f"what's the {fw} {nw} over the {t}?"))
            x = _threshold(tp.columns[num].values, rng)
            if x is not None and L and label != num:
                add("simple", "select_gt", f"SELECT {L} FROM {T} WHERE {N} > {sql_literal(x)}",
                    q(f"which {t} have a {nw} greater than {say(x)}? give their {plural(lw)}.",
                      f"list the {plural(lw)} of {t} whose {nw} is above {say(x)}.",
                      f"what are the {plural(lw)} of the {t} with {nw} over {say(x)}?"))
        for date in tp.dates[:2]:
            D, dw = ident(date), W(date)
            values = tp.columns[date].values
            if len(values) >= 3 and L:
                d = values[int(len(values) * rng.uniform(0.5, 0.9))]
                add("simple", "date_after", f"SELECT {L} FROM {T} WHERE {D} >= {sql_literal(d)}",
                    q(f"which {t} have a {dw} on or after {say(d)}? list their {plural(lw)}.",
                      f"list the {plural(lw)} of {t} with {dw} from {say(d)} onwards.",
                      f"what are the {plural(lw)} of {t} whose {dw} is no earlier than {say(d)}?"))
        # moderate
        if L and tp.pk:
            P = ident(tp.pk)
            for num in tp.nums[:2]:
                if not tp.columns[num].not_null:
                    continue
                N, nw = ident(num), W(num)
                k = rng.choice([3, 5])
                add("moderate", "top_k", f"SELECT {L}, {N} FROM {T} ORDER BY {N} DESC, {P} LIMIT {k}",
                    q(f"which {k} {t} have the highest {nw}? give their {lw} and {nw}.",
                      f"list the {lw} and {nw} of the top {k} {t} by {nw}.",
                      f"show me the {k} {t} with the largest {nw}, with their {lw}."))
                lo, hi = _threshold(tp.columns[num].values, rng), _threshold(tp.columns[num].values, rng)
                if lo is not None and hi is not None and lo != hi:
                    lo, hi = min(lo, hi), max(lo, hi)
                    add("moderate", "between_order",
                        f"SELECT {L}, {N} FROM {T} WHERE {N} BETWEEN {sql_literal(lo)} AND {sql_literal(hi)} "
                        f"ORDER BY {N} DESC, {P}",
                        q(f"list the {lw} and {nw} of {t} with {nw} between {say(lo)} and {say(hi)}, "
                          f"highest {nw} first.",
                          f"which {t} have a {nw} from {say(lo)} to {say(hi)}? order them by {nw}, descending.",
                          f"show the {t} whose {nw} lies between {say(lo)} and {say(hi)}, sorted by {nw} from "
                          f"high to low."))
        for cat in tp.cats[:2]:
            C, cw = ident(cat), W(cat)
            flag = tp.columns[cat].flag
            cw = flag_words(cw) if flag else cw
            add("moderate", "group_count", f"SELECT {C}, COUNT(*) FROM {T} GROUP BY {C}",
                q(f"how many {t} are {cw} and how many are not?", f"count the {t} that are and are not {cw}.",
                  f"split the {t} by whether they are {cw}: how many are in each group?") if flag else
                q(f"how many {t} are there for each {cw}?", f"count the {t} per {cw}.",
                  f"for every {cw}, what is the number of {t}?"), asks_all=True)
            for num in tp.nums[:2]:
                N, nw = ident(num), W(num)
                k = rng.choice([2, 3, 5])
                if flag:
                    add("moderate", "group_avg_having",
                        f"SELECT {C}, AVG({N}) FROM {T} GROUP BY {C} HAVING COUNT(*) >= {k}",
                        q(f"what is the average {nw} of the {t} that are {cw} and of those that are not, counting "
                          f"only groups of at least {k}?",
                          f"compare the average {nw} of {cw} and other {t}, for groups of {k} or more.",
                          f"for {t} that are and are not {cw} (at least {k} of each), what is the mean {nw}?"))
                else:
                    add("moderate", "group_avg_having",
                        f"SELECT {C}, AVG({N}) FROM {T} GROUP BY {C} HAVING COUNT(*) >= {k}",
                        q(f"for each {cw} with at least {k} {t}, what is the average {nw}?",
                          f"show the average {nw} per {cw}, only for {plural(cw)} shared by {k} or more {t}.",
                          f"what's the mean {nw} of {t} in each {cw} that has at least {k} of them?"))
                v = _cat_value(tp, cat, rng)
                x = _threshold(tp.columns[num].values, rng)
                if v is not None and x is not None and L and label not in (cat, num) and flag:
                    be = "are" if flag_value(v) else "are not"
                    add("moderate", "and_filter",
                        f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v)} AND {N} > {sql_literal(x)}",
                        q(f"which {t} {be} {cw} and have a {nw} above {say(x)}? give their {plural(lw)}.",
                          f"list the {plural(lw)} of {t} that {be} {cw} and whose {nw} exceeds {say(x)}.",
                          f"what are the {plural(lw)} of the {t} that {be} {cw}, with {nw} over {say(x)}?"))
                elif v is not None and x is not None and L and label not in (cat, num):
                    add("moderate", "and_filter",
                        f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v)} AND {N} > {sql_literal(x)}",
                        q(f"which {t} have {cw} {say(v)} and a {nw} above {say(x)}? give their {plural(lw)}.",
                          f"list the {plural(lw)} of {t} whose {cw} is {say(v)} and whose {nw} exceeds {say(x)}.",
                          f"what are the {plural(lw)} of the {t} with {cw} {say(v)} and {nw} over {say(x)}?"))
            vals = [v for v in tp.columns[cat].values if isinstance(v, str) and len(v) <= 60]
            if len(vals) >= 2 and L and label != cat and not flag:  # "No or Yes" asks for every row
                v1, v2 = rng.sample(vals, 2)
                add("moderate", "or_filter",
                    f"SELECT {L} FROM {T} WHERE {C} = {sql_literal(v1)} OR {C} = {sql_literal(v2)}",
                    q(f"what are the {plural(lw)} of {t} whose {cw} is either {say(v1)} or {say(v2)}?",
                      f"list the {plural(lw)} of {t} with {cw} {say(v1)} or {say(v2)}.",
                      f"which {t} have {say(v1)} or {say(v2)} as {cw}? give their {plural(lw)}."))
        for text in tp.texts[:2]:
            words = [v for v in tp.columns[text].values if isinstance(v, str) and re.match(r"[A-Za-z]{2}", v)]
            if words and L:
                prefix = rng.choice(words)[:2]
                X, xw = ident(text), W(text)
                add("moderate", "like_prefix", f"SELECT {L} FROM {T} WHERE {X} LIKE {sql_literal(prefix + '%')}",
                    q(f"which {t} have a {xw} starting with {say(prefix)}? give their {plural(lw)}.",
                      f"list the {plural(lw)} of {t} whose {xw} begins with {say(prefix)}.",
                      f"find the {t} whose {xw} starts with {say(prefix)} and show their {plural(lw)}."))
        # complex, single table
        for num in tp.nums[:2]:
            if not L or label == num:
                continue
            N, nw = ident(num), W(num)
            add("complex", "above_average", f"SELECT {L} FROM {T} WHERE {N} > (SELECT AVG({N}) FROM {T})",
                q(f"which {t} have a {nw} above the average {nw} of all {t}? give their {plural(lw)}.",
                  f"list the {plural(lw)} of {t} whose {nw} is higher than the average.",
                  f"what are the {plural(lw)} of the {t} with an above-average {nw}?"))
            for cat in _plain_cats(tp)[:1]:
                C, cw = ident(cat), W(cat)
                x, y = _threshold(tp.columns[num].values, rng), _threshold(tp.columns[num].values, rng)
                if x is None or y is None or x == y:
                    continue
                op, word = rng.choice([("INTERSECT", "both"), ("EXCEPT", "but not"), ("UNION", "or")])
                sql = (f"SELECT {C} FROM {T} WHERE {N} > {sql_literal(max(x, y))} {op} "
                       f"SELECT {C} FROM {T} WHERE {N} < {sql_literal(min(x, y))}")
                if op == "INTERSECT":
                    question = q(f"which {plural(cw)} have both a {tp.words} with {nw} above {say(max(x, y))} and "
                                 f"one with {nw} below {say(min(x, y))}?",
                                 f"list the {plural(cw)} that include {t} with {nw} over {say(max(x, y))} as well as "
                                 f"{t} with {nw} under {say(min(x, y))}.",
                                 f"find {plural(cw)} having {t} priced both above {say(max(x, y))} and below "
                                 f"{say(min(x, y))} in {nw}.")
                elif op == "EXCEPT":
                    question = q(f"which {plural(cw)} have a {tp.words} with {nw} above {say(max(x, y))} but none "
                                 f"with {nw} below {say(min(x, y))}?",
                                 f"list the {plural(cw)} of {t} with {nw} over {say(max(x, y))}, leaving out "
                                 f"{plural(cw)} that also have {t} with {nw} under {say(min(x, y))}.",
                                 f"find the {plural(cw)} that appear for {t} with {nw} above {say(max(x, y))} but "
                                 f"never for {t} with {nw} below {say(min(x, y))}.")
                else:
                    question = q(f"which {plural(cw)} have a {tp.words} with {nw} above {say(max(x, y))} or one "
                                 f"with {nw} below {say(min(x, y))}?",
                                 f"list the distinct {plural(cw)} of {t} whose {nw} is over {say(max(x, y))} or "
                                 f"under {say(min(x, y))}.",
                                 f"find every {cw} with some {tp.words} whose {nw} is above {say(max(x, y))} or "
                                 f"below {say(min(x, y))}.")
                add("complex", f"set_{op.lower()}", sql, question)
        # highly complex, single table
        if L and tp.pk:
            P = ident(tp.pk)
            for num in tp.nums[:2]:
                if not tp.columns[num].not_null or label == num:
                    continue
                N, nw = ident(num), W(num)
                k = rng.choice([3, 5])
                add("highly complex", "window_rank",
                    f"SELECT {L}, {N} FROM (SELECT {L}, {N}, RANK() OVER (ORDER BY {N} DESC) AS rnk FROM {T}) "
                    f"AS ranked WHERE rnk <= {k}",
                    q(f"using a ranking by {nw}, which {t} rank in the top {k}? include ties and give their {lw} "
                      f"and {nw}.",
                      f"rank the {t} by {nw} from highest to lowest and list the {lw} and {nw} of those ranked "
                      f"{k} or better, ties included.",
                      f"which {t} are among the {k} highest-ranked by {nw} (ties share a rank)? show their {lw} and "
                      f"{nw}."))
                for cat in _plain_cats(tp)[:2]:
                    if cat == label:
                        continue
                    C, cw = ident(cat), W(cat)
                    add("highly complex", "window_top_per_group",
                        f"SELECT {C}, {L}, {N} FROM (SELECT {C}, {L}, {N}, ROW_NUMBER() OVER (PARTITION BY {C} "
                        f"ORDER BY {N} DESC, {P}) AS rn FROM {T} WHERE {C} IS NOT NULL) AS ranked WHERE rn = 1",
                        q(f"for each {cw}, which {tp.words} has the highest {nw}? give the {cw}, its {lw} and {nw}.",
                          f"list, per {cw}, the {tp.words} with the largest {nw} (the first by id on ties), with "
                          f"its {lw} and {nw}.",
                          f"in every {cw}, find the top {tp.words} by {nw} and show its {lw} and {nw}."),
                        asks_all=True)
                    add("highly complex", "correlated_above_group_avg",
                        f"SELECT T1.{L}, T1.{C}, T1.{N} FROM {T} AS T1 WHERE T1.{N} > (SELECT AVG(T2.{N}) FROM "
                        f"{T} AS T2 WHERE T2.{C} = T1.{C})",
                        q(f"which {t} have a {nw} above the average {nw} of their own {cw}? give their {lw}, {cw} "
                          f"and {nw}.",
                          f"list the {t} whose {nw} beats the average for their {cw}, with {lw}, {cw} and {nw}.",
                          f"find {t} that are above their {cw}'s average {nw}; show {lw}, {cw} and {nw}."))
            for date in tp.dates[:1]:
                D, dw = ident(date), W(date)
                for num in tp.nums[:1]:
                    N, nw = ident(num), W(num)
                    add("highly complex", "per_year",
                        f"SELECT SUBSTR(CAST({D} AS TEXT), 1, 4) AS year, COUNT(*), SUM({N}) FROM {T} "
                        f"WHERE {D} IS NOT NULL GROUP BY year ORDER BY year",
                        q(f"for each year of {dw}, how many {t} are there and what is their {total_of(nw)}? order by "
                          f"year.",
                          f"count the {t} and sum their {nw} per year of {dw}, earliest year first.",
                          f"year by year (by {dw}), give the number of {t} and the sum of their {nw}."),
                        asks_all=True)
                    for cat in _plain_cats(tp)[:1]:
                        C, cw = ident(cat), W(cat)
                        v = _cat_value(tp, cat, rng)
                        if v is None or not tp.columns[num].not_null or not tp.columns[date].not_null:
                            continue
                        add("highly complex", "running_total",
                            f"SELECT {D}, {N}, SUM({N}) OVER (ORDER BY {D}, {P}) AS running_total FROM {T} "
                            f"WHERE {C} = {sql_literal(v)} ORDER BY {D}, {P}",
                            q(f"for {t} with {cw} {say(v)}, list each {dw} and {nw} with the running total of "
                              f"{nw} in {dw} order.",
                              f"show the cumulative {nw} over time ({dw}) for {t} whose {cw} is {say(v)}.",
                              f"what is the running sum of {nw}, ordered by {dw}, of the {t} with {cw} {say(v)}?"))
    for link in profile.links:
        _link_templates(link, profile, rng, q, add)
    for level in LEVELS:
        rng.shuffle(pools[level])
    return pools


def _link_templates(link: Link, profile: DbProfile, rng: random.Random, q, add) -> None:
    W = profile.words
    child, parent = link.child, link.parent
    if child.rows == 0 or parent.rows == 0:
        return
    CT, PT = ident(child.name), ident(parent.name)
    FK, PK = ident(link.fk_col), ident(link.pk_col)
    ct, pt = plural(child.words), plural(parent.words)
    cl, pl = child.label, parent.label
    if not pl:
        return
    CL, PL = ident(cl or pl), ident(pl)
    clw, plw = W(cl or pl), W(pl)
    join = f"FROM {CT} AS T1 JOIN {PT} AS T2 ON T1.{FK} = T2.{PK}"
    # moderate: a join with a filter on the parent
    v = _cat_value(parent, pl, rng) if parent.columns[pl].family == "text" and cl else None
    if v is not None:
        same = singular(clw) == child.words  # city.city: "the cities of …", not "the cities of cities of …"
        if same:
            question = q(f"which {ct} belong to the {parent.words} {say(v)}?",
                         f"list the {ct} of the {parent.words} whose {plw} is {say(v)}.",
                         f"show me every {child.words} linked to {parent.words} {say(v)}.")
        else:
            question = q(f"what are the {plural(clw)} of the {ct} of the {parent.words} {say(v)}?",
                         f"list the {plural(clw)} of {ct} that belong to the {parent.words} whose {plw} is {say(v)}.",
                         f"show me the {clw} of every {child.words} linked to {parent.words} {say(v)}.")
        add("moderate", "join_filter", f"SELECT T1.{CL} {join} WHERE T2.{PL} = {sql_literal(v)}", question)
    for cat in _plain_cats(parent)[:1] if cl else []:
        w = _cat_value(parent, cat, rng)
        if w is not None:
            C = ident(cat)
            add("complex", "in_subquery",
                f"SELECT {CL} FROM {CT} WHERE {FK} IN (SELECT {PK} FROM {PT} WHERE {C} = {sql_literal(w)})",
                q(f"which {ct} belong to {pt} whose {W(cat)} is {say(w)}? give their {plural(clw)}.",
                  f"list the {plural(clw)} of {ct} whose {parent.words} has {W(cat)} {say(w)}.",
                  f"find the {ct} of {pt} with {W(cat)} {say(w)} and show their {plural(clw)}."))
    # complex: group along the link, order, limit
    k = rng.choice([3, 5])
    add("complex", "join_group_top",
        f"SELECT T2.{PL}, COUNT(*) {join} GROUP BY T2.{PK}, T2.{PL} ORDER BY COUNT(*) DESC, T2.{PK} LIMIT {k}",
        q(f"which {k} {pt} have the most {ct}? give their {plw} and the number of {ct}.",
          f"list the top {k} {pt} by number of {ct}, with their {plw} and that number.",
          f"show me the {k} {pt} with the largest count of {ct}, along with their {plw}."))
    add("complex", "no_children",
        f"SELECT {PL} FROM {PT} WHERE {PK} NOT IN (SELECT {FK} FROM {CT} WHERE {FK} IS NOT NULL)",
        q(f"which {pt} have no {ct}? give their {plural(plw)}.",
          f"list the {plural(plw)} of {pt} without any {ct}.",
          f"what are the {plural(plw)} of the {pt} that no {child.words} refers to?"))
    for num in child.nums[:2]:
        N, nw = ident(num), W(num)
        x = _threshold(child.columns[num].values, rng)
        if x is None:
            continue
        total = x * rng.choice([2, 3, 5])
        total = round(total, 2) if isinstance(total, float) else total
        add("complex", "join_sum_having",
            f"SELECT T2.{PL}, SUM(T1.{N}) {join} GROUP BY T2.{PK}, T2.{PL} HAVING SUM(T1.{N}) > {sql_literal(total)}",
            q(f"which {pt} have {ct} whose {total_of(nw)} exceeds {say(total)}? give their {plw} and that total.",
              f"for each {parent.words} whose {ct} add up to more than {say(total)} in {nw}, list its {plw} and "
              f"the sum.",
              f"list {pt} with a summed {child.words} {nw} above {say(total)}, with {plw} and {total_of(nw)}."))
        add("highly complex", "cte_above_average",
            f"WITH totals AS (SELECT {FK} AS parent_id, SUM({N}) AS total FROM {CT} WHERE {FK} IS NOT NULL "
            f"GROUP BY {FK}) SELECT T2.{PL}, totals.total FROM totals JOIN {PT} AS T2 ON totals.parent_id = "
            # ROUND: SQLite sums decimals as floats, DuckDB exactly; equal totals must tie in both
            f"T2.{PK} WHERE totals.total > (SELECT AVG(total) FROM totals) "
            f"ORDER BY ROUND(totals.total, 4) DESC, T2.{PK}",
            q(f"which {pt} have a {total_of(child.words + ' ' + nw)} above the average total across {pt}? give their "
              f"{plw} and total, highest first.",
              f"compute each {parent.words}'s {total_of(nw)} over its {ct} and list those above the average total, "
              f"largest first, with their {plw}.",
              f"find the {pt} whose summed {nw} of {ct} beats the average of those sums; show {plw} and the "
              f"total, in descending order."))
    # highly complex: two hops (grandchild -> child -> parent)
    for up in profile.links:
        if up.child is not parent or up.parent is child or up.parent is parent or not up.parent.label:
            continue
        GT, GL, GK = ident(up.parent.name), ident(up.parent.label), ident(up.pk_col)
        k = rng.choice([3, 5])
        add("highly complex", "two_hop_group_top",
            f"SELECT T3.{GL}, COUNT(*) FROM {CT} AS T1 JOIN {PT} AS T2 ON T1.{FK} = T2.{PK} JOIN {GT} AS T3 ON "
            f"T2.{ident(up.fk_col)} = T3.{GK} GROUP BY T3.{GK}, T3.{GL} ORDER BY COUNT(*) DESC, T3.{GK} LIMIT {k}",
            q(f"which {k} {plural(up.parent.words)} have the most {ct} through their {pt}? give their "
              f"{W(up.parent.label)} and the count.",
              f"counting {ct} via {pt}, list the top {k} {plural(up.parent.words)} with their "
              f"{W(up.parent.label)} and number of {ct}.",
              f"show me the {k} {plural(up.parent.words)} linked to the most {ct} (through {pt}), with their "
              f"{W(up.parent.label)}."))
        break
