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

from codecorpus import schemas
from codecorpus.io import tables
from codecorpus.io.parquet import text_columns
from codecorpus.jobs import runner as common
from codecorpus.jobs.runner import Table
from codecorpus.dedup.deduplicate import (CLUSTERS, DECONTAMINATE, Deduplicate, check_config, key_of_record, record_id)

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


def table_specs(records_schema, id_field) -> dict:
    """The output tables: ``records`` keeps the input's schema."""
    return {
        "records": Table(records_schema, lambda r: (record_id(r, id_field),),
                         "the kept records, with the input's columns"),
        "clusters": Table(schemas.CLUSTERS, lambda r: (r["cluster_id"], r["id"]),
                          "every record in a duplicate cluster: `id, cluster_id` (the kept member's id), "
                          "`cluster_size`, `kept`, `match` (kept / exact / near), `jaccard` (MinHash estimate to "
                          "the kept member)"),
        "dead_letter": common.DEAD_LETTER_TABLE,
    }


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "input file, folder or glob of JSONL / Parquet records (repeatable)")
    parser.add_argument("--text-field", required=True, metavar="FIELD", help="the field holding the text to compare")
    parser.add_argument("--id-field", metavar="FIELD", help="a field with a unique id per record (default: a "
                        "stable hash of the whole record, so identical records share an id)")


def run(args, beam_args: list[str]) -> int:
    from codecorpus.dedup.decontaminate import EvalIndex

    files = tables.record_files(args.input)  # fail on a bad --input before touching the output folder
    schema = tables.infer_schema(files)
    for option, field in (("--text-field", args.text_field), ("--id-field", args.id_field)):
        if field is not None and len(schema.names) and field not in schema.names:
            raise ValueError(f"{option} '{field}' is not a field of the input; fields: {', '.join(schema.names)}")
    benchmarks = {}

    def configure(args, config: dict) -> dict:
        check_config(config["dedup"])
        decon = config["dedup"][DECONTAMINATE]
        if decon["enabled"] and decon["benchmarks"]:
            benchmarks.update(EvalIndex.from_config(decon).stats)  # fails early on a missing benchmark file
        return config

    job = common.BeamJob(
        name="dedup", tables=table_specs(schema, args.id_field), accounting=ACCOUNTING, configure=configure,
        build=lambda stages, config: build(stages, files, schema, args.text_field, args.id_field, config),
        card_title="codecorpus deduplicated table",
        card_description=f"`{args.text_field}` records decontaminated and exact- and near-deduplicated by "
                         "`codecorpus dedup` (MinHash LSH, connected components).",
        describe_input=lambda args: {"paths": files, "text_field": args.text_field, "id_field": args.id_field,
                                     "schema": schema.to_string(show_schema_metadata=False),
                                     "benchmarks": benchmarks})
    return common.run_beam_job(job, args, beam_args)


def build(stages: common.Stages, files: list[str], schema, text_field: str, id_field, config: dict) -> None:
    key_of = lambda r: key_of_record(r, id_field)  # noqa: E731
    records = stages.read("ReadRecords", tables.ReadRecords(files))
    conforming = stages.step(records, "ConformToSchema", lambda r: tables.conform_events(r, schema, key_of(r)),
                             "conform", TABLE, key_of=key_of)
    # every string column (conformed to the schema, so never bytes) crosses dedup's record join packed
    packed = tuple(dict.fromkeys((text_field, *text_columns(schema))))
    deduplicated = conforming | "Deduplicate" >> Deduplicate(text_field, id_field, config, table=TABLE, packed=packed)
    stages.write("records", stages.take(deduplicated))
    stages.write("clusters", deduplicated[CLUSTERS])
    stages.finish()


# --- accounting identities ---------------------------------------------------------------------


ACCOUNTING = {"records": common.records_identity(TABLE, "records"), "dead_letters": common.dead_letters_identity}
