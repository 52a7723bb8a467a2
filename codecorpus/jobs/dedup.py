"""``codecorpus dedup``: any JSONL / Parquet table -> decontaminated, deduplicated records.

The recipe:

    read records                      files, folders or globs of JSONL / Parquet (any fsspec URL)
    -> conform to the input's schema  rows that do not fit it are dead-lettered
    -> decontaminate                  long n-grams shared with evaluation sets  filter/decontaminate/<benchmark>
    -> exact dedup                    normalised-content hash                   filter/exact_dedup/duplicate
    -> near dedup                     MinHash LSH + connected components         filter/near_dedup/near_duplicate
                                                                                 => records/, clusters/
    every failure                                                                => dead_letter/

Accounting: every record read is kept in ``records``, dropped by a named stage, or dead-lettered.
"""

from __future__ import annotations

import apache_beam as beam

from codecorpus import schemas
from codecorpus.io import manifest as manifest_io
from codecorpus.io import tables
from codecorpus.io.parquet import WriteTable
from codecorpus.jobs import runner as common
from codecorpus.dedup.deduplicate import (CLUSTERS, DECONTAMINATE, Deduplicate, check_config, key_of_record, record_id)
from codecorpus.core.routing import Ledger, dead_letter_order, routed

SUMMARY = "any JSONL/Parquet table -> decontaminated, exact- and near-deduplicated records"
DESCRIPTION = """\
Deduplicate a table of text records: drop records that share long n-grams with evaluation sets
(when configured), then exact duplicates (hash of normalised text), then near duplicates
(MinHash LSH, Jaccard >= 0.7 by default, clusters by connected components). One record per
cluster is kept (configurable: smallest id, or best by licence -> newest -> longest).

--input is a file, a folder (every .parquet / .json / .jsonl / .ndjson file in it, compressed or
not) or a glob, local or on any fsspec filesystem; repeat it for more.

Outputs under --output:
  records/      the kept records, with the input's columns
  clusters/     id, cluster_id (the kept member's id), cluster_size, kept, match (kept, exact,
                near), jaccard (MinHash estimate to the kept member), for every record in a cluster
  dead_letter/  records that could not be used (malformed, no text field, non-unique id ...)
  manifest.json counters (filter/decontaminate/<benchmark>, filter/exact_dedup/duplicate,
                filter/near_dedup/near_duplicate, dedup/..., dedup/cc/...) and the accounting

Configure the stages in the `dedup:` section of --config YAML (codecorpus/defaults.yaml);
--disable-filter decontaminate|exact_dedup|near_dedup turns one off.

Example:
  codecorpus dedup --input data/files.jsonl.gz --output out/dedup --text-field content --id-field id
"""

TABLE = tables.TABLE  # "records": the name dead letters and counters use
TABLE_NOTES = {
    "records": "the kept records, with the input's columns",
    "clusters": "every record in a duplicate cluster: `id, cluster_id` (the kept member's id), `cluster_size`, "
                "`kept`, `match` (kept / exact / near), `jaccard` (MinHash estimate to the kept member)",
    "dead_letter": "records that could not be processed: stage, error and raw input",
}


def table_schemas(records_schema) -> dict:
    """The output tables: ``records`` keeps the input's schema."""
    return {"records": records_schema, "clusters": schemas.CLUSTERS, "dead_letter": schemas.DEAD_LETTER}


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "input file, folder or glob of JSONL / Parquet records (repeatable)")
    parser.add_argument("--text-field", required=True, metavar="FIELD", help="the field holding the text to compare")
    parser.add_argument("--id-field", metavar="FIELD", help="a field with a unique id per record (default: a "
                        "stable hash of the whole record, so identical records share an id)")


def run(args, beam_args: list[str]) -> int:
    from codecorpus.config import load_config
    from codecorpus.dedup.decontaminate import EvalIndex

    files = tables.record_files(args.input)  # fail on a bad --input before touching the output folder
    schema = tables.infer_schema(files)
    for option, field in (("--text-field", args.text_field), ("--id-field", args.id_field)):
        if field is not None and len(schema.names) and field not in schema.names:
            raise ValueError(f"{option} '{field}' is not a field of the input; fields: {', '.join(schema.names)}")
    dedup_config = load_config(args.config, args.disable_filter)["dedup"]
    check_config(dedup_config)
    decon = dedup_config[DECONTAMINATE]
    benchmarks = {}
    if decon["enabled"] and decon["benchmarks"]:
        benchmarks = EvalIndex.from_config(decon).stats  # fails early on a missing benchmark file
    job = common.BeamJob(
        name="dedup", tables=table_schemas(schema), accounting=ACCOUNTING,
        build=lambda pipeline, args, config: build(pipeline, files, schema, args, config),
        card_title="codecorpus deduplicated table",
        card_description=f"`{args.text_field}` records decontaminated and exact- and near-deduplicated by "
                         "`codecorpus dedup` (MinHash LSH, connected components).",
        table_notes=TABLE_NOTES,
        describe_input=lambda args: {"paths": files, "text_field": args.text_field, "id_field": args.id_field,
                                     "schema": schema.to_string(show_schema_metadata=False),
                                     "benchmarks": benchmarks})
    return common.run_beam_job(job, args, beam_args)


def build(pipeline: beam.Pipeline, files: list[str], schema, args, config: dict) -> None:
    max_raw = config["dead_letter"]["max_raw_chars"]
    id_field = args.id_field
    ledger = Ledger()

    records = ledger.take(pipeline | "ReadRecords" >> tables.ReadRecords(files, max_raw))
    conforming = ledger.take(records | "ConformToSchema" >> routed(
        lambda r: tables.conform_events(r, schema, key_of_record(r, id_field), max_raw), "conform", TABLE,
        key_of=lambda r: key_of_record(r, id_field), max_raw_chars=max_raw))
    deduplicated = conforming | "Deduplicate" >> Deduplicate(args.text_field, id_field, config, table=TABLE)
    kept = ledger.take(deduplicated)

    sort_keys = {
        "records": lambda r: (record_id(r, id_field),),
        "clusters": lambda r: (r["cluster_id"], r["id"]),
        "dead_letter": dead_letter_order,
    }
    dead_letters = tuple(ledger.dead_letters) | "AllDeadLetters" >> beam.Flatten()
    tables_out = table_schemas(schema)
    for name, rows in (("records", kept), ("clusters", deduplicated[CLUSTERS]), ("dead_letter", dead_letters)):
        _ = rows | f"Write_{name}" >> WriteTable(args.output, name, tables_out[name], sort_keys[name], config["output"])
    _ = tuple(ledger.stats) | "AllCounters" >> beam.Flatten() | "WriteCounters" >> manifest_io.WriteStats(args.output)


# --- accounting identities ---------------------------------------------------------------------


def records_identity(counters: dict, rows: dict) -> dict:
    read = counters.get(f"read/{TABLE}", 0)
    kept = rows["records"]
    dropped = manifest_io.sum_prefix(counters, "filter/")
    dead = manifest_io.sum_prefix(counters, f"dead_letter/{TABLE}/")
    return {"read": read, "kept": kept, "dropped": dropped, "dead_lettered": dead,
            "holds": read == kept + dropped + dead}


def dead_letters_identity(counters: dict, rows: dict) -> dict:
    counted = manifest_io.sum_prefix(counters, "dead_letter/")
    return {"dead_letter_rows": rows["dead_letter"], "counted": counted, "holds": rows["dead_letter"] == counted}


ACCOUNTING = {"records": records_identity, "dead_letters": dead_letters_identity}
