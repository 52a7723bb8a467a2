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
from pathlib import Path

import apache_beam as beam
import fsspec

import codecorpus
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


def write_dataset_card(output: str, title: str, description: str, tables: dict, table_notes: dict,
                       manifest: dict, licenses: list[str]) -> None:
    """``README.md`` with a YAML header ``datasets`` understands (configs -> data_files)."""
    lines = ["---", "configs:"]
    for i, name in enumerate(tables):
        lines += [f"- config_name: {name}"] + (["  default: true"] if i == 0 else [])
        lines += ["  data_files:", "  - split: train", f"    path: {name}/*.parquet"]
    lines += ["license: other", "tags:", "- code", "- codecorpus", "---", "", f"# {title}", "", description, "",
              "## Tables", "", "| table | rows | files | contents |", "|---|---:|---:|---|"]
    for name, table in tables.items():
        lines.append(f"| `{name}/` | {table['rows']:,} | {len(table['files'])} | {table_notes.get(name, '')} |")
    if manifest.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in manifest["warnings"]]
    lines += ["", "## Licences", "", "Rows carry the licence of their repository: "
              + (", ".join(f"`{lic}`" for lic in licenses) if licenses else "(none)") + ".", "",
              "## How it was made", "", "```json", json.dumps({k: manifest[k] for k in ("input", "accounting")},
                                                             indent=2), "```", "",
              "Every counter, the full configuration and the code version are in `manifest.json`.", "",
              "Load a table:", "", "```python", "from datasets import load_dataset",
              f"ds = load_dataset('parquet', data_files='{next(iter(tables))}/*.parquet', split='train')", "```", ""]
    with fsspec.open(join_path(output, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
