"""The one row reader: every NDJSON line or Parquet row of a table file, from any fsspec path.

Used for BigQuery dumps (``io.dump``), users' tables (``io.tables``) and evaluation sets
(``dedup.decontaminate``). A file is NDJSON (``.json``, ``.jsonl``, ``.ndjson``, optionally
compressed) or Parquet (``.parquet``).

Two kinds of failure, kept apart on purpose:

- a *line* that cannot be used (not UTF-8, malformed or too deeply nested JSON) is a ``Row``
  with an ``error``; the caller dead-letters that line only and reads on;
- a *file* that cannot be read to its end (missing, a transient storage error, a truncated
  gzip, a corrupt Parquet footer) raises ``UnreadableFile``: the runner retries the bundle and
  the run fails if it persists. A shard is never silently lost, and a dead letter is never
  written for data that was not read.

``file_events`` turns the rows of one file into a reader's events (records, dead letters) and
two counts: ``lines/<table>`` (the non-blank lines or rows seen) and ``read/<table>`` (the
records and dead letters made of them), so ``lines == records + dead letters`` is checked for
every file (``lines_identity``).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import fsspec

from codecorpus.core.routing import Count, dead_letter
from codecorpus.io.records import invalid_record

_JSON_SUFFIX = re.compile(r"\.(json|jsonl|ndjson)(\.(gz|gzip|bz2|zst|xz))?$", re.IGNORECASE)
_PARQUET_SUFFIX = re.compile(r"\.parquet$", re.IGNORECASE)

# The dead-letter stage of a line the reader could not turn into a record.
PARSE_STAGE = "parse"


def file_format(path: str) -> str | None:
    if _PARQUET_SUFFIX.search(path):
        return "parquet"
    if _JSON_SUFFIX.search(path):
        return "ndjson"
    return None


class UnreadableFile(OSError):
    """A file that could not be read to its end: raised, never dead-lettered."""


@dataclass(frozen=True)
class Row:
    source: str                  # "path:line" (NDJSON, counting every line) or "path#row" (Parquet)
    value: Any = None            # the parsed JSON value or the Parquet row, when ``error`` is None
    raw: Any = None              # what was there: the line's text (bytes if not UTF-8) or the row
    error: Optional[str] = None  # why the line is unusable


def _ndjson_rows(path: str, undecodable: str) -> Iterator[Row]:
    with fsspec.open(path, "rb", compression="infer") as f:
        for number, line in enumerate(f, start=1):
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]  # editors and Windows tools write one; it is not data
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            source = f"{path}:{number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                if undecodable != "surrogateescape":
                    yield Row(source, raw=line, error=f"line is not valid UTF-8: {e}")
                    continue
                text = line.decode("utf-8", "surrogateescape")
            try:
                value = json.loads(text)
            except ValueError as e:
                yield Row(source, raw=text, error=f"malformed JSON: {e}")
                continue
            except RecursionError:
                yield Row(source, raw=text, error="malformed JSON: nested too deeply")
                continue
            yield Row(source, value=value, raw=text)


def _parquet_rows(path: str) -> Iterator[Row]:
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as f:
        number = 0
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
            for value in batch.to_pylist():
                number += 1
                yield Row(f"{path}#{number}", value=value, raw=value)


def iter_rows(path: str, undecodable: str = "error") -> Iterator[Row]:
    """Every non-blank line (or Parquet row) of ``path`` as a ``Row``; raises ``UnreadableFile``
    when the file cannot be read to its end. ``undecodable="surrogateescape"`` parses lines that
    are not UTF-8 anyway (their text keeps the bad bytes as lone surrogates)."""
    rows = _parquet_rows(path) if file_format(path) == "parquet" else _ndjson_rows(path, undecodable)
    seen = 0
    try:
        for row in rows:
            seen += 1
            yield row
    except Exception as e:  # noqa: BLE001 - whatever broke the file, it is the file's failure
        raise UnreadableFile(f"cannot read {path} after {seen} line(s): {type(e).__name__}: {e}") from e


def count_rows(path: str) -> int:
    """How many rows ``iter_rows`` would yield, cheaply: a Parquet footer's row count, or the
    non-blank lines of an NDJSON file (read, not parsed)."""
    try:
        if file_format(path) == "parquet":
            import pyarrow.parquet as pq

            with fsspec.open(path, "rb") as f:
                return pq.ParquetFile(f).metadata.num_rows
        with fsspec.open(path, "rb", compression="infer") as f:
            return sum(1 for line in f if line.strip() and line.strip() != codecs.BOM_UTF8)
    except Exception as e:  # noqa: BLE001
        raise UnreadableFile(f"cannot read {path}: {type(e).__name__}: {e}") from e


def file_events(path: str, table: str, to_record: Callable[[Row], Any],
                undecodable: str = "error", key_field: Optional[str] = None) -> Iterator:
    """Events for one file: ``to_record(row)`` for each usable row (a record, or a ``DeadLetter``
    it chose), a dead letter for each unusable one or whose ``to_record`` raised (keyed by the
    row's ``key_field``), then the ``lines/<table>`` and ``read/<table>`` counts."""
    lines = read = 0
    for row in iter_rows(path, undecodable):
        lines += 1
        if row.error is not None:
            event = dead_letter(PARSE_STAGE, table, None, row.error, row.raw, row.source)
        else:
            try:
                event = to_record(row)
            except Exception as e:  # noqa: BLE001 - one bad value dead-letters its record, not its file
                event = dead_letter(PARSE_STAGE, table, key_of(row.value, key_field), invalid_record(e),
                                    row.raw, row.source)
        read += 1
        yield event
    yield Count(f"lines/{table}", lines)
    yield Count(f"read/{table}", read)


def key_of(value: Any, field: Optional[str] = None) -> Optional[str]:
    """The record's key for a dead letter, when ``value`` is an object with a text ``field``."""
    if field is None or not isinstance(value, dict):
        return None
    key = value.get(field)
    return key if isinstance(key, str) else None


def lines_identity(counters: dict, rows: dict) -> dict:
    """Per table read from files: the lines (or rows) read == records + dead letters made of them."""
    tables = sorted(k.split("/", 1)[1] for k in counters if k.startswith("lines/"))
    lines = sum(counters[f"lines/{t}"] for t in tables)
    dead = sum(counters.get(f"dead_letter/{t}/{PARSE_STAGE}", 0) for t in tables)
    records = sum(counters.get(f"read/{t}", 0) for t in tables) - dead
    holds = all(counters[f"lines/{t}"] == counters.get(f"read/{t}", 0) for t in tables)
    return {"lines": lines, "records": records, "dead_lettered": dead, "holds": holds}

