"""Reading BigQuery ``github_repos`` exports (NDJSON, gzip NDJSON, Parquet) from any fsspec path.

A dump is a folder (local, ``gs://``, ``memory://`` …) holding, per table, a file named after
it (``commits.jsonl.gz``, ``commits.parquet``), sharded files (``commits-000000000001.json.gz``,
as BigQuery's wildcard export writes them), or a sub-folder (``commits/…``).

``iter_file_events`` reads one file line by line and yields normalised records, dead letters
for lines that cannot be used, and one ``read/<table>`` count: it never raises for bad data.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Iterator

import fsspec

from codecorpus.io.records import KEY_FIELDS, RecordError, normalise
from codecorpus.core.routing import Count, dead_letter

_JSON_SUFFIX = re.compile(r"\.(json|jsonl|ndjson)(\.(gz|gzip|bz2|zst|xz))?$", re.IGNORECASE)
_PARQUET_SUFFIX = re.compile(r"\.parquet$", re.IGNORECASE)


def file_format(path: str) -> str | None:
    if _PARQUET_SUFFIX.search(path):
        return "parquet"
    if _JSON_SUFFIX.search(path):
        return "ndjson"
    return None


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


def _parse_line(line: bytes, table: str, source: str, max_raw_chars: int):
    """One NDJSON line -> a normalised record or a dead letter."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        if table != "contents":
            return dead_letter("parse", table, None, f"line is not valid UTF-8: {e}", line, source, max_raw_chars)
        # Keep the blob id: the commits that use this blob are dead-lettered with the reason.
        text = line.decode("utf-8", "surrogateescape")
    try:
        raw = json.loads(text)
    except ValueError as e:
        return dead_letter("parse", table, None, f"malformed JSON: {e}", text, source, max_raw_chars)
    try:
        record = normalise(table, raw)
    except RecordError as e:
        key = raw.get(KEY_FIELDS[table]) if isinstance(raw, dict) else None
        return dead_letter("parse", table, key if isinstance(key, str) else None,
                           f"invalid record: {e}", text, source, max_raw_chars)
    if table == "commits":
        record["_source"] = source
    return record


def _iter_ndjson(path: str, table: str, max_raw_chars: int) -> Iterator:
    with fsspec.open(path, "rb", compression="infer") as f:
        for line_number, line in enumerate(f, start=1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            yield _parse_line(line, table, f"{path}:{line_number}", max_raw_chars)


def _iter_parquet(path: str, table: str, max_raw_chars: int) -> Iterator:
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as f:
        row_number = 0
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
            for raw in batch.to_pylist():
                row_number += 1
                source = f"{path}#{row_number}"
                try:
                    record = normalise(table, raw)
                except RecordError as e:
                    yield dead_letter("parse", table, None, f"invalid record: {e}", raw, source, max_raw_chars)
                    continue
                if table == "commits":
                    record["_source"] = source
                yield record


def iter_file_events(path: str, table: str, max_raw_chars: int = 1_000_000) -> Iterator:
    """Records, dead letters and the ``read/<table>`` count of one dump file.

    Every non-blank line (or Parquet row) counts as one record read. A file that breaks off
    (truncated gzip, corrupt Parquet) yields one more dead letter for the unreadable rest.
    """
    reader = _iter_parquet if file_format(path) == "parquet" else _iter_ndjson
    read = 0
    try:
        for event in reader(path, table, max_raw_chars):
            read += 1
            yield event
    except Exception as e:  # noqa: BLE001 - a broken file must not stop the job
        read += 1
        yield dead_letter("read", table, None, f"file unreadable after {read - 1} records: "
                          f"{type(e).__name__}: {e}", "", path, max_raw_chars)
    yield Count(f"read/{table}", read)
