"""Reading BigQuery ``github_repos`` exports (NDJSON, gzip NDJSON, Parquet) from any fsspec path.

A dump is a folder (local, ``gs://``, ``memory://`` …) holding, per table, a file named after
it (``commits.jsonl.gz``, ``commits.parquet``), sharded files (``commits-000000000001.json.gz``,
as BigQuery's wildcard export writes them), or a sub-folder (``commits/…``).

``iter_file_events`` reads one file line by line (``io.rows``) and yields normalised records,
dead letters for lines that cannot be used, and its ``lines/<table>`` and ``read/<table>``
counts: bad data never raises; a file that cannot be read does.
"""

from __future__ import annotations

import posixpath
import re
from typing import Iterator

import fsspec

from codecorpus.io.records import KEY_FIELDS, normalise
from codecorpus.io.rows import Row, file_events, file_format


def _belongs_to(relative_path: str, table: str) -> bool:
    parts = relative_path.split("/")
    if parts[0] == table and len(parts) > 1:
        return True
    base = parts[-1]
    return len(parts) == 1 and re.match(rf"^{re.escape(table)}([._-]|\d)", base) is not None


def table_files(root: str, table: str) -> list[str]:
    """Every data file of ``table`` under the dump ``root``, as full fsspec URLs, sorted."""
    fs, root_path = fsspec.core.url_to_fs(root)
    if not fs.exists(root_path):
        raise FileNotFoundError(f"input dump not found: {root}")
    if not fs.isdir(root_path):
        raise NotADirectoryError(f"input dump must be a folder of table files: {root}")
    root_path = root_path.rstrip("/")
    found = []
    for path in fs.find(root_path):
        relative = path[len(root_path):].lstrip("/")
        base = posixpath.basename(relative)
        if base.startswith((".", "_")) or not _belongs_to(relative, table) or file_format(base) is None:
            continue
        found.append(fs.unstrip_protocol(path) if "://" in root else path)
    return sorted(found)


def _normalised(table: str):
    def to_record(row: Row) -> dict:
        record = normalise(table, row.value)
        if table == "commits":
            record["_source"] = row.source
        return record
    return to_record


def iter_file_events(path: str, table: str, max_raw_chars: int = 1_000_000) -> Iterator:
    """Records, dead letters and the ``lines/<table>`` and ``read/<table>`` counts of one dump file.

    Every non-blank line (or Parquet row) counts as one record read, good or bad. A file that
    cannot be read to its end raises (``rows.UnreadableFile``): the runner retries it.
    """
    # Undecodable blob text keeps its blob id: the commits that use it are dead-lettered with the reason.
    undecodable = "surrogateescape" if table == "contents" else "error"
    return file_events(path, table, _normalised(table), max_raw_chars, undecodable, key_field=KEY_FIELDS[table])
