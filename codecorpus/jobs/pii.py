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

import pyarrow as pa

from codecorpus.io import tables
from codecorpus.jobs import runner as common
from codecorpus.jobs.runner import Table
from codecorpus.pii import redact as pii

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
RECORDS_NOTE = ("the input records with PII redacted in the text fields, and `pii_spans`: every replacement as "
                "{field, start, end, entity, replacement} (offsets into the original text)")


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
    job = common.BeamJob(
        name="pii", accounting=ACCOUNTING,
        tables={"records": Table(schema, record_order, RECORDS_NOTE), "dead_letter": common.DEAD_LETTER_TABLE},
        build=lambda stages, config: build(stages, files, args.text_field, schema, config),
        card_title="codecorpus PII-redacted dataset",
        card_description="Records with PII (emails, IP addresses, keys, passwords, names, usernames) redacted "
                         "by `codecorpus pii`; `pii_spans` lists every replacement.",
        describe_input=lambda args: {"kind": "records", "paths": list(args.input), "files": len(files),
                                     "text_fields": list(args.text_field)},
        redactor=pii.Redactor,
        manifest_extra=lambda args, config: {"pii": pii.Redactor(config).describe()})
    return common.run_beam_job(job, args, beam_args)


def build(stages: common.Stages, files: list[str], fields: list[str], schema: pa.Schema, config: dict) -> None:
    # Records travel as tables.Sourced (path:line), so every dead letter names its record.
    records = stages.read("ReadRecords", tables.ReadRecords(files, with_source=True))
    redacted = stages.take(records | "RedactPII" >> pii.RedactFields(
        fields, pii.Redactor(config), stage="pii", table=tables.TABLE, spans_column=SPANS_COLUMN,
        key_of=lambda s: s.source))
    rows = stages.step(redacted, "ConformToSchema",
                       lambda s: tables.conform_events(s.record, schema, s.source, source=s.source), "conform",
                       tables.TABLE, key_of=lambda s: s.source)
    stages.write("records", rows)
    stages.finish()


def record_order(row: dict) -> tuple:
    # Rows have no key of their own: order by their content, so reruns give identical files.
    import json

    return (json.dumps(row, sort_keys=True, ensure_ascii=False, default=repr),)


ACCOUNTING = {
    "records": lambda counters, rows: common.balance(
        ("read", counters.get(f"read/{tables.TABLE}", 0)), kept=rows["records"],
        dead_lettered=common.dead_lettered(counters, tables.TABLE)),
    "dead_letters": lambda counters, rows: common.balance(
        ("dead_letter_rows", rows["dead_letter"]), dead_letters_counted=common.dead_lettered(counters)),
}
