"""The validation chain: a candidate query is kept as a triple or rejected with a named reason.

``Validator.check`` keeps a candidate only if, in order: it parses as one SELECT/WITH
(``parse_error``, ``not_select``), is deterministic (``nondeterministic``), its template (literals
replaced by a placeholder, lower-cased, whitespace collapsed) is new for the database
(``duplicate_template``), ``EXPLAIN QUERY PLAN`` accepts it (``explain_error``), it runs in the
SQLite sandbox (``timeout``, ``denied``, ``runtime_error``, ``too_many_rows``), its result is
not degenerate (``empty_result``, ``all_null``, ``whole_table``), its DuckDB translation runs
(``duckdb_error``, ``duckdb_timeout``) and both engines return the same result
(``engine_disagreement``). Then the same on every database of its test suite (``suites``): it
runs there in both engines (``suite_error``), the engines agree on each (``suite_engine_disagreement``)
and its result is neither empty nor all NULL on most of them (``suite_degenerate``). A candidate
that meets the database's spent time budget is ``time_budget`` (``sandbox.Budget``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Optional

from codecorpus.sql import sandbox as sb
from codecorpus.sql.queries import (Candidate, duckdb_sql, hardness, is_query, parse_query, template_key,
                                    top_level_ordered)


REJECTIONS = ("parse_error", "not_select", "nondeterministic", "duplicate_template", "explain_error", "timeout",
              "denied", "runtime_error", "too_many_rows", "empty_result", "all_null", "whole_table", "duckdb_error",
              "duckdb_timeout", "engine_disagreement", "hostile", "time_budget", "suite_error",
              "suite_engine_disagreement", "suite_degenerate")


_NONDETERMINISTIC = re.compile(r"\b(?:random|randomblob|now|current_timestamp|current_date|current_time|"
                               r"changes|total_changes|last_insert_rowid|sqlite_version)\b|'now'", re.I)


# --- validation ---------------------------------------------------------------------------------------


@dataclass
class Checked:
    candidate: Candidate
    reason: Optional[str]                 # None when kept
    difficulty: str = ""
    template: str = ""
    rows: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    ordered: bool = False
    result_hash: str = ""
    engine_agreement: Optional[bool] = None
    seconds: float = 0.0                  # engine time spent on the candidate
    error: str = ""
    suite_hashes: list = field(default_factory=list)   # result hash on each test-suite database
    suite_keys: list = field(default_factory=list)     # result key (column-order free) on each


class Validator:
    """Runs the checks of a candidate against one database in both sandboxes."""

    def __init__(self, sqlite_box: sb.SQLiteSandbox, duckdb_box: Optional[sb.DuckDBSandbox], table_rows: dict,
                 suite: tuple = (), min_informative: float = 0.5):
        self.sqlite = sqlite_box
        self.duckdb = duckdb_box
        self.suite = tuple(suite)            # (SQLite sandbox, DuckDB sandbox or None) per neighbour
        self.min_informative = min_informative
        self.table_rows = {k.lower(): v for k, v in table_rows.items()}
        self.kept_templates: set = set()
        self.max_seconds = 0.0
        self._parsed: dict = {}

    def parse(self, sql: str):
        """``parse_query`` of the last SQL text asked for, kept: the quota step and ``check`` parse
        the same candidate one after the other."""
        if sql not in self._parsed:
            try:
                self._parsed = {sql: parse_query(sql)}
            except ValueError as e:
                self._parsed = {sql: e}
        found = self._parsed[sql]
        if isinstance(found, ValueError):
            raise found
        return found

    def difficulty_of(self, sql: str) -> Optional[str]:
        try:
            ast = self.parse(sql)
        except ValueError:
            return None
        return hardness(ast) if is_query(ast) else None

    def check(self, cand: Candidate) -> Checked:
        from sqlglot import exp

        try:
            ast = self.parse(cand.sql)
        except ValueError as e:
            return Checked(cand, "parse_error", error=str(e))
        if not is_query(ast):
            return Checked(cand, "not_select", error=type(ast).__name__)
        if _NONDETERMINISTIC.search(cand.sql) or any(True for _ in ast.find_all(exp.Rand)):
            return Checked(cand, "nondeterministic")
        key = template_key(ast)
        out = Checked(cand, None, hardness(ast), key, ordered=top_level_ordered(ast))
        if key in self.kept_templates:
            out.reason = "duplicate_template"
            return out
        error = self.sqlite.explain(cand.sql)
        if error is not None:
            out.reason = ("denied" if error.startswith("denied") else
                          "time_budget" if error.startswith("over_budget") else "explain_error")
            out.error = error
            return out
        result = self.sqlite.run(cand.sql)
        out.seconds += result.seconds
        self.max_seconds = max(self.max_seconds, result.seconds)
        if result.status != "ok":
            out.reason = {"timeout": "timeout", "denied": "denied", "too_many_rows": "too_many_rows",
                          "not_select": "not_select", "over_budget": "time_budget"}.get(result.status, "runtime_error")
            out.error = result.error
            return out
        out.rows, out.columns = result.rows, result.columns
        degenerate = self._degenerate(ast, result.rows, cand)
        if degenerate:
            out.reason = degenerate
            return out
        duck_sql = None
        if self.duckdb is not None:
            try:
                duck_sql = duckdb_sql(ast)
            except Exception as e:  # noqa: BLE001 - sqlglot cannot write it: the engines cannot be compared
                out.reason, out.error = "duckdb_error", f"transpile: {e}"
                return out
            other = self.duckdb.run(duck_sql)
            out.seconds += other.seconds
            self.max_seconds = max(self.max_seconds, other.seconds)
            if other.status != "ok":
                out.reason = {"timeout": "duckdb_timeout", "over_budget": "time_budget"}.get(other.status,
                                                                                             "duckdb_error")
                out.error = other.error
                return out
            if not sb.results_equal(result.rows, other.rows, out.ordered):
                out.reason, out.engine_agreement = "engine_disagreement", False
                return out
            out.engine_agreement = True
        if cand.hostile:
            out.reason, out.error = "hostile", ",".join(cand.hostile)  # contained and counted, never kept
            return out
        if self.suite and not self._on_suite(cand.sql, duck_sql, out):
            return out
        out.result_hash = sb.result_hash(result.rows, out.ordered)
        self.kept_templates.add(key)
        return out

    def _on_suite(self, sql: str, duck_sql: Optional[str], out: Checked) -> bool:
        """Run a candidate on every test-suite database in both engines; False (with the reason
        set) when it errs on one, the engines disagree on one, or its result is empty or all
        NULL on more than ``1 - min_informative`` of them."""
        informative = 0
        for sqlite_box, duckdb_box in self.suite:
            mine = sqlite_box.run(sql)
            out.seconds += mine.seconds
            if mine.status != "ok":
                out.reason = "time_budget" if mine.status == "over_budget" else "suite_error"
                out.error = mine.error or mine.status
                return False
            if duckdb_box is not None and duck_sql is not None:
                other = duckdb_box.run(duck_sql)
                out.seconds += other.seconds
                if other.status != "ok":
                    out.reason = "time_budget" if other.status == "over_budget" else "suite_error"
                    out.error = other.error or other.status
                    return False
                if not sb.results_equal(mine.rows, other.rows, out.ordered):
                    out.reason, out.engine_agreement = "suite_engine_disagreement", False
                    return False
            if mine.rows and not all(v is None for r in mine.rows for v in r):
                informative += 1
            out.suite_hashes.append(sb.result_hash(mine.rows, out.ordered))
            out.suite_keys.append(sb.result_key(mine.rows, out.ordered))
        if informative < self.min_informative * len(self.suite):
            out.reason = "suite_degenerate"
            return False
        return True

    def result_vector(self, sql: str) -> tuple:
        """``(status, keys, empty)`` for a vote: the result key on the database and on every
        test-suite database (SQLite), so candidates agree only if they agree everywhere."""
        try:
            ast = parse_query(sql)
        except ValueError:
            return "parse_error", None, False
        if not is_query(ast):
            return "runtime_error", None, False
        ordered = top_level_ordered(ast)
        first = self.sqlite.run(sql)
        if first.status != "ok":
            return "runtime_error", None, False
        keys = [sb.result_key(first.rows, ordered)]
        for box, _ in self.suite:  # an error on a neighbour is a result no other candidate shares
            outcome = box.run(sql)
            keys.append(sb.result_key(outcome.rows, ordered) if outcome.status == "ok" else f"error:{outcome.status}")
        return "ok", tuple(keys), not first.rows

    def _degenerate(self, ast, rows: list, cand: Candidate) -> Optional[str]:
        from sqlglot import exp

        if not rows:
            return "empty_result"
        if all(v is None for r in rows for v in r):
            return "all_null"
        if cand.asks_all or len(rows) <= 1:
            return None
        root = ast.this if isinstance(ast, exp.Subquery) else ast
        if not isinstance(root, exp.Select):
            return None
        filtered = any(root.args.get(k) is not None for k in ("where", "having", "limit", "group")) or \
            root.args.get("distinct") is not None or any(True for _ in root.find_all(exp.AggFunc))
        if filtered:
            return None
        tables = {t.name.lower() for t in root.find_all(exp.Table)}
        if any(self.table_rows.get(t) == len(rows) for t in tables):
            return "whole_table"
        return None


def preview(rows: list, n: int = 5) -> str:
    return json.dumps([list(r) for r in rows[:n]], ensure_ascii=False, default=str)
