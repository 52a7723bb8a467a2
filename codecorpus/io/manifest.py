"""A job's counters, ``manifest.json`` and dataset card (``README.md``).

Counters travel through the pipeline as ``(name, n)`` pairs, are summed per name, and land in
``_tmp/stats.json`` (a handful of numbers, written by one worker). The launcher folds them with
the table file list into ``manifest.json`` once the pipeline is done. Counter names:

- ``read/<table>``: input records read (every non-blank line or Parquet row, good or bad);
- ``filter/<filter>/<reason>``: records dropped on purpose;
- ``dead_letter/<table>/<stage>``: records that failed, written to the ``dead_letter`` table.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import apache_beam as beam
import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import codecorpus
from codecorpus import schemas
from codecorpus.io.parquet import TMP_DIR, join_path


def _write_json(path: str, payload) -> None:
    with fsspec.open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


class WriteStats(beam.PTransform):
    """(counter, n) pairs from every stage -> ``_tmp/stats.json`` with their sums."""

    def __init__(self, output: str):
        super().__init__()
        self.path = join_path(output, TMP_DIR, "stats.json")

    def expand(self, stats):
        path = self.path
        return (stats
                | "SumPerCounter" >> beam.CombinePerKey(sum)
                | "GatherCounters" >> beam.combiners.ToList()  # one entry per counter name: small
                | "WriteCounters" >> beam.Map(lambda pairs: _write_json(path, dict(sorted(pairs)))))


def read_stats(output: str) -> dict[str, int] | None:
    """The run's summed counters, or None when the run wrote none (it did not finish, or its
    workers wrote somewhere the launcher cannot see)."""
    path = join_path(output, TMP_DIR, "stats.json")
    fs, _ = fsspec.core.url_to_fs(path)
    if not fs.exists(path):
        return None
    with fsspec.open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def sum_prefix(counters: dict[str, int], prefix: str) -> int:
    return sum(v for k, v in counters.items() if k.startswith(prefix))


def code_version() -> dict:
    version = {"codecorpus": codecorpus.__version__}
    try:
        repo = Path(codecorpus.__file__).resolve().parent.parent
        sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if sha.returncode == 0:
            version["git_commit"] = sha.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def write_manifest(output: str, manifest: dict) -> None:
    _write_json(join_path(output, "manifest.json"), manifest)


def cleanup_tmp(output: str) -> None:
    fs, _ = fsspec.core.url_to_fs(output)
    tmp = join_path(output, TMP_DIR)
    if fs.exists(tmp):
        fs.rm(tmp, recursive=True)


# Columns whose values the card counts, table by table: what is in the data, not what the
# config allowed. (column, heading)
PRESENT_COLUMNS = (("license", "Licences"), ("lang", "Languages"), ("language", "Languages"))
TOP_DROP_REASONS = 10


def _open_parquet(output: str, entry: dict):
    return fsspec.open(join_path(output, entry["path"]), "rb")


def table_schema(output: str, table: dict):
    """The schema of a table as written (its first file), or None when it has no file."""
    if not table["files"]:
        return None
    with _open_parquet(output, table["files"][0]) as f:
        return pq.ParquetFile(f).schema_arrow


def present_values(output: str, table: dict, column: str) -> Counter:
    """Rows per value of ``column`` in a written table (null as ``None``). Reads that one column
    only, a batch at a time, so it is cheap next to the job and nothing written changes."""
    counts: Counter = Counter()
    for entry in table["files"]:
        if not entry["rows"]:
            continue
        with _open_parquet(output, entry) as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=[column], batch_size=65_536):
                for item in pc.value_counts(batch.column(0)).to_pylist():
                    counts[item["values"]] += item["counts"]
    return counts


def _short_type(t) -> str:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{_short_type(t.value_type)}>"
    return "struct" if pa.types.is_struct(t) else str(t)


def _presence_lines(heading: str, per_table: dict[str, Counter]) -> list[str]:
    """A table of value -> rows, one column per table that has the column."""
    names = list(per_table)
    first = per_table[names[0]]  # ordered by the rows of the first table (the headline), then by value
    values = sorted({v for c in per_table.values() for v in c}, key=lambda v: (-first.get(v, 0), v is None, str(v)))
    lines = ["", f"### {heading}", "", "| value | " + " | ".join(f"`{n}/` rows" for n in names) + " |",
             "|---|" + "---:|" * len(names)]
    for value in values:
        shown = "(none)" if value is None else f"`{value}`"
        lines.append(f"| {shown} | " + " | ".join(f"{per_table[n].get(value, 0):,}" for n in names) + " |")
    return lines


def drop_lines(counters: dict[str, int], top: int = TOP_DROP_REASONS) -> list[str]:
    """The main reasons records were dropped (``filter/…``), then every dead-letter counter."""
    drops = sorted(((k, v) for k, v in counters.items() if k.startswith("filter/") and v),
                   key=lambda kv: (-kv[1], kv[0]))
    dead = sorted((k, v) for k, v in counters.items() if k.startswith("dead_letter/") and v)
    total = sum(v for _, v in drops)
    lines = ["", "## What was dropped", ""]
    if not drops and not dead:
        return lines + ["Nothing: no record was dropped by a filter or dead-lettered."]
    lines.append(f"{total:,} records dropped by a filter (each counted once, by the stage that dropped it), "
                 f"{sum(v for _, v in dead):,} dead-lettered (kept with their error in `dead_letter/`).")
    if drops:
        lines += ["", "| reason | records | share of dropped |", "|---|---:|---:|"]
        lines += [f"| `{k}` | {v:,} | {v / total:.1%} |" for k, v in drops[:top]]
        rest = drops[top:]
        if rest:
            lines += ["", f"… and {len(rest)} more reasons ({sum(v for _, v in rest):,} records): "
                      "`manifest.json` -> `counters`."]
    if dead:
        lines += ["", "| dead letters | records |", "|---|---:|"] + [f"| `{k}` | {v:,} |" for k, v in dead]
    return lines


def column_lines(output: str, tables: dict) -> list[str]:
    """Every table's columns, their types as written and their meaning (``schemas.describe``)."""
    lines, seen = ["", "## Columns"], []
    for name, table in tables.items():
        schema = table_schema(output, table)
        if schema is None:
            continue
        lines += ["", f"### `{name}/`", ""]
        same = next((other for other, s in seen if s.equals(schema, check_metadata=False)), None)
        if same is not None:
            lines.append(f"The columns of `{same}/`.")
            continue
        seen.append((name, schema))
        meanings = schemas.column_meanings(schema)
        lines += ["| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{f.name}` | {_short_type(f.type)} | {meanings.get(f.name, 'a column of the input')} |"
                  for f in schema]
    return lines


def write_dataset_card(output: str, title: str, description: str, tables: dict, table_notes: dict,
                       manifest: dict, licenses: list[str]) -> None:
    """``README.md``: a YAML header ``datasets`` understands (one config per non-empty table:
    ``load_dataset`` refuses a config whose files hold no rows), then what is in the data, read
    back from the written tables: rows per table, licences and languages present with their
    counts, the main drop reasons, and every column with its meaning. ``licenses`` is what the
    licence filter allowed (shown as such)."""
    filled = [name for name, table in tables.items() if table["rows"]]
    lines = ["---"]
    if filled:
        lines.append("configs:")
        for i, name in enumerate(filled):
            lines += [f"- config_name: {name}"] + (["  default: true"] if i == 0 else [])
            lines += ["  data_files:", "  - split: train", f"    path: {name}/*.parquet"]
    lines += ["license: other", "tags:", "- code", "- codecorpus", "---", "", f"# {title}", "", description, "",
              "## Tables", "", "| table | rows | files | contents |", "|---|---:|---:|---|"]
    for name, table in tables.items():
        lines.append(f"| `{name}/` | {table['rows']:,} | {len(table['files'])} | {table_notes.get(name, '')} |")
    empty = [name for name in tables if name not in filled]
    if empty:
        lines += ["", "Empty, so not a config above: " + ", ".join(f"`{n}/`" for n in empty) + "."]
    if manifest.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in manifest["warnings"]]
    lines += ["", "## What is in it"]
    for column, heading in PRESENT_COLUMNS:
        per_table = {}
        for name in filled:
            schema = table_schema(output, tables[name])
            if column in schema.names and pa.types.is_string(schema.field(column).type):
                per_table[name] = present_values(output, tables[name], column)
        if per_table:
            lines += _presence_lines(heading + " present (rows)", per_table)
    if licenses:
        lines += ["", "The licence filter allows " + ", ".join(f"`{lic}`" for lic in licenses)
                  + "; the rows carry their repository's licence (`license`)."]
    lines += drop_lines(manifest.get("counters", {}))
    lines += column_lines(output, tables)
    lines += ["", "## How it was made", "", "```json", json.dumps({k: manifest[k] for k in ("input", "accounting")},
                                                                   indent=2), "```", "",
              "Every counter, the full configuration and the code version are in `manifest.json`.", ""]
    if filled:
        lines += ["Load a table:", "", "```python", "from datasets import load_dataset",
                  f"ds = load_dataset('parquet', data_files='{filled[0]}/*.parquet', split='train')", "```", ""]
    else:
        lines += ["Every table is empty: there is nothing to load.", ""]
    with fsspec.open(join_path(output, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
