"""Reading and writing any JSONL / Parquet table of records (for jobs such as ``pii`` and
``dedup`` that work on a user's dataset rather than on a ``github_repos`` dump).

An input spec is a file, a folder (every ``*.parquet`` / ``*.json[l]`` / ``*.ndjson`` file under
it, compressed or not) or a glob, on any fsspec filesystem, read by ``io.rows``. Records are
plain dicts. Malformed lines, non-objects and undecodable text become dead letters (table
``records``); every line or row read counts as ``read/records`` (and ``lines/records``); a file
that cannot be read raises.

The output schema is the input's: Parquet schemas are unified across files; for JSON it is
inferred from the first records (``infer_schema``). ``conform`` checks each output row against it
so one odd row is dead-lettered instead of failing its whole shard.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Optional

import apache_beam as beam
import fsspec
import pyarrow as pa

from codecorpus.io.records import unencodable_field
from codecorpus.io.rows import Row, file_events, file_format
from codecorpus.core.routing import DEAD_LETTER, STATS, dead_letter, route_stream

TABLE = "records"


def record_files(specs: list[str]) -> list[str]:
    """Every data file named by ``specs`` (files, folders or globs), as fsspec URLs, sorted."""
    found = []
    for spec in specs:
        fs, path = fsspec.core.url_to_fs(spec)
        if any(ch in path for ch in "*?["):
            candidates = fs.glob(path)
        elif fs.isdir(path):
            candidates = fs.find(path)
        elif fs.exists(path):
            candidates = [path]
        else:
            raise FileNotFoundError(f"input not found: {spec}")
        for candidate in candidates:
            name = candidate.rsplit("/", 1)[-1]
            if name.startswith((".", "_")) or file_format(name) is None:
                continue
            found.append(fs.unstrip_protocol(candidate) if "://" in spec else candidate)
    if not found:
        raise FileNotFoundError(f"no .parquet, .jsonl, .json or .ndjson files in {', '.join(specs)}")
    return sorted(set(found))


class Sourced(NamedTuple):
    """A record with where it was read (``path:line`` or ``path#row``): a plain table has no key
    of its own, so later stages name the record by its source in their dead letters."""

    source: str
    record: dict


def _checked(table: str, with_source: bool = False):
    def to_record(row: Row):
        raw = row.value
        if not isinstance(raw, dict):
            return dead_letter("parse", table, None, f"a record must be a JSON object, got {type(raw).__name__}",
                               row.raw, row.source)
        bad = unencodable_field(raw)
        if bad:
            return dead_letter("parse", table, None, f"field '{bad}' is not valid UTF-8 text", row.raw, row.source)
        return Sourced(row.source, raw) if with_source else raw
    return to_record


def iter_record_events(path: str, table: str = TABLE,
                       with_source: bool = False) -> Iterator:
    """Records (``Sourced`` ones if ``with_source``), dead letters and the ``lines/<table>`` and
    ``read/<table>`` counts for one file (``table`` names the input in counters and dead letters:
    ``records`` unless a job reads several tables). A file that cannot be read to its end raises
    (``rows.UnreadableFile``)."""
    return file_events(path, table, _checked(table, with_source))


class _ReadRecordFile(beam.DoFn):
    def __init__(self, table: str = TABLE, with_source: bool = False):
        self.table = table
        self.with_source = with_source

    def process(self, path):
        yield from route_stream(iter_record_events(path, self.table, self.with_source),
                                f"read {path}")


class ReadRecords(beam.PTransform):
    """files -> records, with ``dead_letter`` and ``stats`` outputs (use ``Ledger.take``)."""

    def __init__(self, files: list[str], table: str = TABLE, with_source: bool = False):
        super().__init__()
        self.files = files
        self.table = table
        self.with_source = with_source

    def expand(self, pbegin):
        return (pbegin
                | "ListFiles" >> beam.Create(self.files)
                | "SpreadFiles" >> beam.Reshuffle()
                | "ParseRecords" >> beam.ParDo(_ReadRecordFile(self.table, self.with_source))
                .with_outputs(DEAD_LETTER, STATS, main="kept"))


def _nullable_to_string(schema: pa.Schema) -> pa.Schema:
    # A column that was null in every sampled row has type null: make it a nullable string.
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def infer_schema(files: list[str], sample_rows: int = 1000) -> pa.Schema:
    """The schema of the input: unified Parquet schemas, or inferred from the first JSON rows."""
    parquet = [f for f in files if file_format(f) == "parquet"]
    if parquet:
        import pyarrow.parquet as pq

        schemas = []
        for path in parquet:
            with fsspec.open(path, "rb") as f:
                schemas.append(pq.ParquetFile(f).schema_arrow)
        return pa.unify_schemas(schemas)
    rows = []
    for path in files:
        for event in iter_record_events(path):
            if isinstance(event, dict):
                rows.append(event)
                if len(rows) >= sample_rows:
                    break
        if len(rows) >= sample_rows:
            break
    if not rows:
        return pa.schema([])
    try:
        return _nullable_to_string(pa.Table.from_pylist(rows).schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Types conflict within the sample (a 5 among strings): each field takes the type of its
        # first non-null value, and ``conform`` dead-letters the rows that do not fit.
        fields: dict[str, pa.Field] = {}
        for row in rows:
            try:
                row_schema = pa.Table.from_pylist([row]).schema
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                continue
            for f in row_schema:
                if f.name not in fields or pa.types.is_null(fields[f.name].type):
                    fields[f.name] = f
        return _nullable_to_string(pa.schema(list(fields.values())))


def conform(row: dict, schema: pa.Schema) -> Optional[str]:
    """None if ``row`` can be written with ``schema``, else why not."""
    extra = set(row) - set(schema.names)
    if extra:
        return f"fields not in the table's schema: {sorted(extra)}"
    try:
        pa.Table.from_pylist([row], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
        return f"does not fit the table's schema: {e}"
    return None


def conform_events(row: dict, schema: pa.Schema, key: Optional[str] = None,
                   table: str = TABLE, source: str = "") -> list:
    """``[row]`` if it fits ``schema``, else its dead letter (stage ``conform``): for ``routed``."""
    problem = conform(row, schema)
    if problem is None:
        return [row]
    return [dead_letter("conform", table, key, problem, row, source)]
