"""``codecorpus pii``: redact PII in any JSONL / Parquet dataset.

The recipe:

    read records                JSONL / Parquet files, folders or globs (any fsspec URL)
    -> redact fields            --text-field … (EMAIL, IP_ADDRESS, KEY, PASSWORD, NAME,
                                USERNAME), author/committer/trailer emails removed or hashed
    -> check each row           against the input schema + pii_spans      => records/
    every failure (malformed line, over time, non-conforming row), its raw
    record redacted too                                                   => dead_letter/

Accounting: every record read is written to ``records`` or dead-lettered.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

from codecorpus import schemas
from codecorpus.io import manifest as manifest_io
from codecorpus.io import tables
from codecorpus.io.parquet import WriteTable
from codecorpus.jobs import runner as common
from codecorpus.pii import redact as pii
from codecorpus.core.routing import STATS, Ledger, routed

SUMMARY = "redact PII (emails, IPs, keys, passwords, names, usernames) in JSONL/Parquet records"
DESCRIPTION = """\
Redact PII in JSONL or Parquet records: the same records come out, with the --text-field
fields redacted and a `pii_spans` column listing every replacement
({field, start, end, entity, replacement}, offsets into the original text).

Entities (configure the `pii:` section with --config): EMAIL, IP_ADDRESS, KEY (API keys,
tokens, private keys, high-entropy secrets), PASSWORD (password assignments, connection
strings), NAME (author/copyright contexts; a spaCy model's PERSON entities when one is
installed), USERNAME. Placeholders (<EMAIL> …) by default, or consistent fake values
(pii.replacement: fake). Author/committer/trailer emails are removed (or hashed).

Example:
  codecorpus pii --input data/*.jsonl.gz --output out/redacted --text-field content
  codecorpus pii --input gs://bucket/commits --output out/c --text-field message --text-field subject
"""

SPANS_COLUMN = "pii_spans"
SPAN_TYPE = pa.list_(pa.struct([
    ("field", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
    ("entity", pa.string()), ("replacement", pa.string()),
]))
TABLE_NOTES = {
    "records": "the input records with PII redacted in the text fields, and `pii_spans`: every "
               "replacement as {field, start, end, entity, replacement} (offsets into the original text)",
    "dead_letter": "records that could not be processed or written: stage, error and raw input (redacted)",
}


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "JSONL/Parquet file, folder or glob, local or fsspec URL (repeatable)")
    parser.add_argument("--text-field", action="append", required=True, metavar="FIELD",
                        help="a text column to redact (repeatable)")


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    fields = [f for f in input_schema if f.name != SPANS_COLUMN]
    return pa.schema(fields + [pa.field(SPANS_COLUMN, SPAN_TYPE)])


def run(args, beam_args: list[str]) -> int:
    files = tables.record_files(args.input)  # fail on a bad --input before touching the output folder
    schema = output_schema(tables.infer_schema(files))
    missing = [f for f in args.text_field if f not in schema.names]
    if missing:
        raise ValueError(f"--text-field {', '.join(missing)} not in the input's columns: "
                         f"{', '.join(n for n in schema.names if n != SPANS_COLUMN)}")
    table_schemas = {"records": schema, "dead_letter": schemas.DEAD_LETTER}
    job = common.BeamJob(
        name="pii", tables=table_schemas, accounting=ACCOUNTING,
        build=lambda pipeline, args, config: build(pipeline, files, args.output, args.text_field, schema, config),
        card_title="codecorpus PII-redacted dataset",
        card_description="Records with PII (emails, IP addresses, keys, passwords, names, usernames) redacted "
                         "by `codecorpus pii`; `pii_spans` lists every replacement.",
        table_notes=TABLE_NOTES,
        describe_input=lambda args: {"kind": "records", "paths": list(args.input), "files": len(files),
                                     "text_fields": list(args.text_field)},
        manifest_extra=lambda args, config: {"pii": pii.Redactor(config).describe()})
    return common.run_beam_job(job, args, beam_args)


def build(pipeline: beam.Pipeline, files: list[str], output: str, fields: list[str], schema: pa.Schema,
          config: dict) -> None:
    redactor = pii.Redactor(config)
    max_raw = config["dead_letter"]["max_raw_chars"]
    ledger = Ledger()

    records = ledger.take(pipeline | "ReadRecords" >> tables.ReadRecords(files, max_raw))
    redacted = ledger.take(records | "RedactPII" >> pii.RedactFields(
        fields, redactor, stage="pii", table=tables.TABLE, spans_column=SPANS_COLUMN, max_raw_chars=max_raw))
    rows = ledger.take(redacted | "ConformToSchema" >> routed(
        lambda r: tables.conform_events(r, schema, max_raw_chars=max_raw), "conform", tables.TABLE,
        max_raw_chars=max_raw))

    dead = (tuple(ledger.dead_letters) | "AllDeadLetters" >> beam.Flatten()
            | "RedactDeadLetters" >> pii.RedactDeadLetters(redactor))
    ledger.add_stats(dead[STATS])
    _ = rows | "Write_records" >> WriteTable(output, "records", schema, _record_sort_key, config["output"])
    _ = dead["kept"] | "Write_dead_letter" >> WriteTable(output, "dead_letter", schemas.DEAD_LETTER,
                                                         _dead_letter_sort_key, config["output"])
    _ = tuple(ledger.stats) | "AllCounters" >> beam.Flatten() | "WriteCounters" >> manifest_io.WriteStats(output)


def _record_sort_key(row: dict) -> tuple:
    # Rows have no key of their own: order by their content, so reruns give identical files.
    import json

    return (json.dumps(row, sort_keys=True, ensure_ascii=False, default=repr),)


def _dead_letter_sort_key(r: dict) -> tuple:
    return (r["table"], r["stage"], r["key"] or "", r["source"] or "", r["error"], r["raw"])


def records_identity(counters: dict, rows: dict) -> dict:
    read = counters.get(f"read/{tables.TABLE}", 0)
    kept = rows["records"]
    dead = manifest_io.sum_prefix(counters, f"dead_letter/{tables.TABLE}/")
    return {"read": read, "kept": kept, "dead_lettered": dead, "holds": read == kept + dead}


def dead_letter_identity(counters: dict, rows: dict) -> dict:
    written = rows["dead_letter"]
    counted = manifest_io.sum_prefix(counters, "dead_letter/")
    return {"dead_letter_rows": written, "dead_letters_counted": counted, "holds": written == counted}


ACCOUNTING = {"records": records_identity, "dead_letters": dead_letter_identity}
