"""``codecorpus sql``: SQL files of repositories -> runnable databases and validated text-to-SQL triples.

The recipe (OmniSQL's synthesis, SQL-PaLM's self-consistency, RRTF's ranking; REFERENCE §6):

    read .sql files with contents, licence      dump `files` table, git:PATH HEAD, or a folder
    -> per file: dialect, statements, DDL,      MySQL, PostgreSQL, SQLite, T-SQL (GO), Oracle (/),
       INSERT rows, queries, hostile SQL        Db2; files without CREATE TABLE are dropped
    -> per repository: one job per schema file  data-only files lend their rows and queries
    -> per database: normalised DDL + rows      SQLite and DuckDB, built in a temp folder
                                                (not runnable => dead_letter/)      => sql_databases/
    -> candidates: templates by difficulty      simple .. highly complex; repository queries
    -> checks: parse, EXPLAIN, sandboxed run,   read-only, authorizer, deadline, result limits
       degenerate results, DuckDB agreement     (filter/sql_check/<reason>)         => sql_triples/
    -> optional LLM: questions, N candidates,   execution vote, RRTF pairs          => sql_preferences/
    every failure                                                                   => dead_letter/

Accounting: every file read is a database, a counted drop (``filter/path``, ``filter/file_kind``,
``filter/sql_file``) or a dead letter; every candidate query is a triple or a counted rejection.
"""

from __future__ import annotations

import apache_beam as beam

from codecorpus import schemas
from codecorpus.files import pushdown
from codecorpus.io import repo_files
from codecorpus.io.repo_files import ReadRepositoryFiles
from codecorpus.io.sources import InputSpec, parse_inputs
from codecorpus.jobs import runner as common
from codecorpus.core.routing import DEAD_LETTER, STATS, Progress, dead_letter, dead_letter_order, route_events
from codecorpus.jobs.runner import Table
from codecorpus.sql import database
from codecorpus.sql.statements import DIALECTS

SUMMARY = "SQL files -> runnable SQLite/DuckDB databases and execution-validated text-to-SQL triples"
DESCRIPTION = """\
Build text-to-SQL training data from the .sql files of repositories.

--input is one of:
  PATH or URL            a dump with a `files` table (files at a ref) joined to `contents` and
                         `licenses`; a folder without a `files` table is read as plain files
                         (e.g. a directory of .sql files)
  git:PATH[,PATH...]     the HEAD of local git repositories (repeat --input for more)
  bq:PROJECT.DATASET     live BigQuery `files` joined to `contents` (HEAD blobs), only .sql paths
                         (pushed into the SQL; bq:public)
  repos:FILE             remote repositories listed in FILE (owner/name or git URLs), cloned
                         on the workers and read like git: inputs

Each .sql file with CREATE TABLE becomes one database: statements are split per dialect
(MySQL, PostgreSQL, SQLite, T-SQL GO batches, Oracle / blocks, Db2), tables parsed with sqlglot
and rendered as SQLite and DuckDB DDL (types mapped, keys and foreign keys kept, dialect-only
clauses dropped), filled with the file's INSERT data or deterministic synthetic rows.
Template queries at four difficulty levels (and the files' own SELECTs) are kept when they parse,
pass EXPLAIN, run in a read-only sandbox within the time limit, return a non-degenerate result,
and SQLite and DuckDB agree on it; one query per SQL template.

Outputs under --output:
  sql_databases/    db_id, source, dialect, DDL for both engines, INSERT statements, Spider schema
  sql_triples/      db_id, question, sql, difficulty, result_rows, result_hash, engine_agreement …
  sql_preferences/  (with --llm-endpoint) prompt, chosen, rejected and their RRTF ranks
  dead_letter/      files whose schema could not be made runnable, with the reason
  manifest.json     counters: sql/…, filter/sql_check/<reason>, sql/hostile/<kind> …

Configure it in the `sql:` section of --config YAML (codecorpus/defaults.yaml).

Examples:
  codecorpus sql --input ../shared/data/github_repos_sample --output out/sql
  codecorpus sql --input path/to/sql_files --output out/sql --llm-endpoint http://localhost:8000/v1
"""

TABLES = {
    "sql_databases": Table(schemas.SQL_DATABASES, lambda r: (r["db_id"],),
                           "one runnable database per schema file: `ddl` then `inserts` rebuild it exactly in SQLite "
                           "(`ddl_duckdb` then `inserts` in DuckDB); `schema_json` is Spider's tables.json entry"),
    "sql_triples": Table(schemas.SQL_TRIPLES, lambda r: (r["db_id"], r["sql"]),
                         "question, SQL and the SQL's result (`result_hash`, `result_rows`, `result_preview`) over "
                         "`db_id`; kept only after parse, EXPLAIN, sandboxed execution, non-degenerate result and "
                         "SQLite/DuckDB agreement checks, one per SQL template"),
    "sql_test_suites": Table(schemas.SQL_TEST_SUITES, lambda r: (r["db_id"], r["index"]),
                             "neighbour databases of each database (same schema, perturbed rows): `sql_databases.ddl` "
                             "then `inserts` rebuild neighbour `index`; `sql_triples.suite_result_hashes[index]` is "
                             "the triple's result there"),
    "sql_preferences": Table(schemas.SQL_PREFERENCES, lambda r: (r["db_id"], r["gold_sql"], r["chosen"], r["rejected"]),
                             "RRTF preference pairs from the LLM backend: `chosen` (execution consensus) and "
                             "`rejected` (parse error < runtime error < disagreeing result) for `prompt`"),
    "dead_letter": Table(schemas.DEAD_LETTER, dead_letter_order, "files whose schema could not be made runnable, "
                         "and records that failed: stage, error, raw input"),
}


def tables_for(config: dict) -> dict:
    """sql_preferences only with an LLM endpoint."""
    return {name: t for name, t in TABLES.items() if name != "sql_preferences" or config["sql"]["llm"]["endpoint"]}


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "a dump folder/URL with a `files` table, git:PATH, or a plain folder of "
                                     ".sql files (repeatable)")
    parser.add_argument("--dialect", choices=("auto",) + DIALECTS,
                        help="SQL dialect of every file (default sql.dialect: auto, from path and content)")
    parser.add_argument("--llm-endpoint", metavar="URL", help="an OpenAI-compatible server (e.g. vLLM: "
                        "http://localhost:8000/v1): questions for SQL, N SQL candidates per question, voting, "
                        "preference pairs => sql_preferences/")
    parser.add_argument("--llm-model", metavar="NAME", help="model name to request (default sql.llm.model)")
    parser.add_argument("--llm-candidates", type=int, metavar="N",
                        help="SQL candidates per question (default sql.llm.candidates, 5)")


def configure(args, config: dict) -> dict:
    from codecorpus.config import ConfigError

    cfg = config["sql"]
    if getattr(args, "dialect", None):
        cfg["dialect"] = args.dialect
    for option, key in (("llm_endpoint", "endpoint"), ("llm_model", "model"), ("llm_candidates", "candidates")):
        if getattr(args, option, None) is not None:
            cfg["llm"][key] = getattr(args, option)
    if cfg["dialect"] not in ("auto",) + DIALECTS:
        raise ConfigError(f"sql.dialect must be auto or one of {', '.join(DIALECTS)}; got {cfg['dialect']!r}")
    try:
        engines = database.engines_of(cfg)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if "duckdb" in engines:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            raise ConfigError("sql.engines includes duckdb, which is not installed: pip install duckdb, or set "
                              "sql.engines: [sqlite] in --config") from None
    return config


def run(args, beam_args: list[str]) -> int:
    spec = parse_inputs(args.input)  # fail on a bad --input before touching the output folder
    job = common.BeamJob(
        name="sql", tables=tables_for, accounting=ACCOUNTING,
        build=lambda stages, config: build(stages, spec, config),
        card_title="codecorpus text-to-SQL corpus",
        card_description="Runnable SQLite/DuckDB databases normalised from repositories' .sql files, and "
                         "text-to-SQL triples validated by execution, made by `codecorpus sql`.",
        describe_input=lambda args: spec.describe(),
        configure=configure,
        warnings=lambda manifest: [w for w in [database.no_sql_files(manifest["counters"])] if w])
    return common.run_beam_job(job, args, beam_args)


class BuildAndValidate(beam.DoFn):
    """One schema file -> its database (built and closed in a temp folder on the worker), its
    triples and preference pairs. Nothing is emitted for a job that raises: it is dead-lettered."""

    def __init__(self, cfg: dict):
        self.cfg = cfg

    def setup(self):
        self.client = database.client_from_config(self.cfg["llm"])
        self._progress = Progress("sql databases")

    def finish_bundle(self):
        self._progress.report(done=True)

    def process(self, job):
        self._progress.tick()
        try:
            events = list(database.process_database(job, self.cfg, self.client))
        except Exception as e:  # noqa: BLE001 - one bad database must not stop the job
            events = [dead_letter("build_database", "files", repo_files.file_key(job), f"{type(e).__name__}: {e}",
                                  database._summary(job), job.get("path") or "")]
        for event in events:
            if isinstance(event, database.TableRow):
                if event.table == "sql_databases":
                    yield event.row
                else:
                    yield beam.pvalue.TaggedOutput(event.table, event.row)
            else:
                yield from route_events([event], "build_database")


def build(stages: common.Stages, spec: InputSpec, config: dict) -> None:
    cfg = config["sql"]
    files = stages.pipeline | "ReadSqlFiles" >> ReadRepositoryFiles(
        spec, config, stages.ledger, keep_path=database.sql_keep_path, max_bytes=cfg["max_file_bytes"],
        queries=pushdown.queries(database.SQL_SUFFIXES, with_filters=False))
    parsed = stages.step(files, "ParseSqlFiles", lambda record: database.parse_file(record, cfg), "parse_sql", "files",
                         key_of=repo_files.file_key)
    jobs = (parsed
            | "KeyByRepository" >> beam.Map(lambda r: (r["repo_name"], r))
            | "GroupByRepository" >> beam.GroupByKey()
            | "OneJobPerSchemaFile" >> beam.FlatMap(database.plan_repository, cfg["data"]["borrow_from_repository"])
            | "SpreadDatabases" >> beam.Reshuffle())
    outputs = jobs | "BuildAndValidate" >> beam.ParDo(BuildAndValidate(cfg)).with_outputs(DEAD_LETTER, STATS, "sql_triples",
                                                                     "sql_test_suites", "sql_preferences", main="kept")
    by_schema = (stages.take(outputs)
                 | "KeyByFingerprint" >> beam.Map(lambda r: (r["schema_fingerprint"], r))
                 | "GroupNearIdentical" >> beam.GroupByKey())
    stages.write("sql_databases", stages.step(by_schema, "MarkRepresentatives", database.mark_near_identical,
                                              "near_identical", "databases"))
    stages.write("sql_triples", outputs["sql_triples"])
    stages.write("sql_test_suites", outputs["sql_test_suites"])
    if "sql_preferences" in stages.tables:
        stages.write("sql_preferences", outputs["sql_preferences"])
    stages.finish()


# --- accounting identities, checked from the written tables and the counters ------------------


ACCOUNTING = {
    "files": lambda counters, rows: common.balance(
        ("read", counters.get("read/files", 0)), databases=rows["sql_databases"],
        dropped=common.dropped(counters, excluding=("filter/sql_check/",)),
        dead_lettered=common.dead_lettered(counters, "files")),
    "candidates": lambda counters, rows: common.balance(
        ("candidates", counters.get("sql/candidates", 0)), triples=rows["sql_triples"],
        rejected=common.dropped(counters, "filter/sql_check/")),
    "dead_letters": common.dead_letters_identity,
}
