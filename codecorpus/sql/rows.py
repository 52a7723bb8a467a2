"""The rows of every table of a schema: the repository's own when it has some, synthetic otherwise.

Repository rows are fitted to the schema: coerced to each column's type family, missing columns
filled (auto-increment keys numbered as the engine would, literal defaults, NULL, or a synthetic
value for NOT NULL), and rows that break a key, ``NOT NULL`` or a foreign key are left out.
Tables without repository rows get deterministic synthetic rows (``synthetic``) seeded by
(seed, schema hash, table). Self-referencing tables are ordered in insertion waves.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from codecorpus.sql.inserts import BadValue, coerce
from codecorpus.sql.schema import Schema, Table
from codecorpus.sql.synthetic import _value_for, synthesise


# --- assembling the rows of every table -------------------------------------------------------------


@dataclass
class TableRows:
    table: Table
    rows: list = field(default_factory=list)    # tuples in column order
    waves: list = field(default_factory=list)   # insertion order: lists of row indexes
    source: str = "synthetic"                   # "repository" | "synthetic" | "empty"


def assemble(schema: Schema, batches: list, seed: int, schema_hash: str, synthetic_rows: int,
             max_rows_per_table: int, counts: Counter) -> list:
    """Rows for every table of ``schema`` (parents first): repository batches fitted to the
    schema, synthetic rows for the tables that have none. ``counts`` gets ``rows/<outcome>``."""
    by_table: dict = {}
    for batch in batches:
        by_table.setdefault(batch.table.lower(), []).append(batch)
    done: dict = {}
    out = []
    for key, table in schema.tables.items():
        rng = random.Random(f"{seed}:{schema_hash}:{table.name}")
        result = TableRows(table)
        if by_table.get(key):
            result.rows = _fit_batches(table, by_table[key], rng, counts)
            result.source = "repository"
        result.rows = _enforce_keys(schema, table, result.rows, done, counts, source=result.source)
        if not result.rows and result.source == "repository":
            counts["tables/repository_rows_all_dropped"] += 1
        if not result.rows:
            result.rows = synthesise(schema, table, done, rng, synthetic_rows)
            result.rows = _enforce_keys(schema, table, result.rows, done, counts, source="synthetic")
            result.source = "synthetic" if result.rows else "empty"
        if len(result.rows) > max_rows_per_table:
            counts["rows/over_cap"] += len(result.rows) - max_rows_per_table
            result.rows = result.rows[:max_rows_per_table]
            result.rows = _enforce_keys(schema, table, result.rows, done, counts, source=result.source)
        result.waves = _waves(table, result.rows, counts)
        kept = {i for wave in result.waves for i in wave}
        if len(kept) != len(result.rows):
            result.rows = [r for i, r in enumerate(result.rows) if i in kept]
            result.waves = _waves(table, result.rows, counts)
        counts[f"rows/{result.source}"] += len(result.rows)
        done[key] = result
        out.append(result)
    return out


def _fit_batches(table: Table, batches: list, rng: random.Random, counts: Counter) -> list:
    cols = table.columns
    index = {c.name.lower(): i for i, c in enumerate(cols)}
    next_id = {}
    rows = []
    for batch in batches:
        if batch.columns is None:
            if batch.rows and len(batch.rows[0]) != len(cols):
                counts["rows/column_mismatch"] += len(batch.rows)
                continue
            positions = list(range(len(cols)))
        else:
            positions = [index.get(c.lower()) for c in batch.columns]
            if any(p is None for p in positions) or len(set(positions)) != len(positions):
                counts["rows/column_mismatch"] += len(batch.rows)
                continue
        missing = [i for i in range(len(cols)) if i not in positions]
        for raw in batch.rows:
            if len(raw) != len(positions):
                counts["rows/column_mismatch"] += 1
                continue
            row = [None] * len(cols)
            try:
                for p, value in zip(positions, raw):
                    row[p] = coerce(value, cols[p])
            except BadValue:
                counts["rows/bad_value"] += 1
                continue
            for i in missing:
                col = cols[i]
                if col.autoincrement:
                    row[i] = None  # numbered below, after the explicit ids are known
                elif col.has_default and col.default != "CURRENT_TIMESTAMP":
                    try:
                        row[i] = coerce(col.default, col)
                    except BadValue:
                        row[i] = None
                elif col.not_null:
                    row[i] = _value_for(col, table, rng, len(rows))
            rows.append(row)
    for i, col in enumerate(cols):
        if col.autoincrement:
            taken = {r[i] for r in rows if r[i] is not None}
            next_id[i] = max(taken, default=0) + 1
            for r in rows:
                if r[i] is None:
                    r[i] = next_id[i]
                    next_id[i] += 1
    return [tuple(r) for r in rows]


def _enforce_keys(schema: Schema, table: Table, rows: list, done: dict, counts: Counter, source: str) -> list:
    """Rows that keep NOT NULL, primary-key / unique and foreign-key constraints (self
    references are checked in ``_waves``)."""
    cols = table.columns
    pos = {c.name: i for i, c in enumerate(cols)}
    not_null = [i for i, c in enumerate(cols) if c.not_null]
    key_sets = [[pos[c] for c in ks] for ks in table.key_sets()]
    seen = [set() for _ in key_sets]
    parent_keys = []
    for fk in table.foreign_keys:
        if fk.ref_table.lower() == table.name.lower():
            continue
        parent = done.get(fk.ref_table.lower())
        pcols = [c.name for c in parent.table.columns] if parent else []
        ppos = [pcols.index(c) for c in fk.ref_columns] if parent else []
        keys = {tuple(r[p] for p in ppos) for r in parent.rows} if parent else set()
        parent_keys.append(([pos[c] for c in fk.columns], keys))
    kept = []
    for row in rows:
        if any(row[i] is None for i in not_null):
            counts[f"rows/{source}/null_in_not_null"] += 1
            continue
        keys = [tuple(row[i] for i in ks) for ks in key_sets]
        if any(k in s for k, s in zip(keys, seen) if None not in k):
            counts[f"rows/{source}/duplicate_key"] += 1
            continue
        dangling = False
        for fpos, pkeys in parent_keys:
            value = tuple(row[i] for i in fpos)
            if None not in value and value not in pkeys:
                dangling = True
                break
        if dangling:
            counts[f"rows/{source}/dangling_foreign_key"] += 1
            continue
        for k, s in zip(keys, seen):
            if None not in k:
                s.add(k)
        kept.append(row)
    return kept


def _waves(table: Table, rows: list, counts: Counter) -> list:
    """Insertion waves: rows whose self-reference points at an earlier wave. Rows whose
    self-reference never resolves (dangling, or a cycle) are left out."""
    self_fks = [fk for fk in table.foreign_keys if fk.ref_table.lower() == table.name.lower()]
    if not self_fks or not rows:
        return [list(range(len(rows)))] if rows else []
    names = [c.name for c in table.columns]
    links = [([names.index(c) for c in fk.columns], [names.index(c) for c in fk.ref_columns]) for fk in self_fks]
    placed_keys = [set() for _ in links]
    remaining = list(range(len(rows)))
    waves = []
    while remaining:
        wave, rest = [], []
        for i in remaining:
            row = rows[i]
            ok = True
            for (src, _), keys in zip(links, placed_keys):
                value = tuple(row[p] for p in src)
                if None not in value and value not in keys:
                    ok = False
                    break
            (wave if ok else rest).append(i)
        if not wave:
            counts["rows/self_reference_unresolved"] += len(rest)
            break
        for i in wave:
            for (_, dst), keys in zip(links, placed_keys):
                keys.add(tuple(rows[i][p] for p in dst))
        waves.append(wave)
        remaining = rest
    return waves
