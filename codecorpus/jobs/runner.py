"""What every job shares: the local runner, the output folder contract, the manifest.

Output contract of a job, under ``--output``: one folder of Parquet shards per table, a
``dead_letter/`` table, ``manifest.json`` with every counter and the accounting identity, and a
dataset card ``README.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import apache_beam as beam
import fsspec
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from codecorpus.io import manifest as manifest_io
from codecorpus import schemas
from codecorpus.core.routing import STATS, Ledger, dead_letter_order, routed
from codecorpus.io.parquet import WriteTable, finalise_table, join_path
from codecorpus.io.rows import lines_identity
from codecorpus.io.repos import repositories_identity

_LOG = logging.getLogger("codecorpus")

# Names that mean "run it here". Beam 2.77's DirectRunner first tries to download the Prism
# runner binary (it can hang on a network that drops packets), so these run the FnApiRunner
# directly: in-memory by default, or --direct_running_mode=multi_processing|multi_threading.
LOCAL_RUNNERS = {None, "", "DirectRunner", "direct", "local", "FnApiRunner"}


class OutputExistsError(FileExistsError):
    pass


def make_local_runner(options: PipelineOptions):
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner, worker_handlers
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    # Beam 2.77's FnApiRunner flushes the gRPC streams it feeds workers from a timer thread once
    # a second. A timed flush that waits on a full send queue then clears what the bundle thread
    # wrote meanwhile, so worker processes silently lose whole input chunks of bundles of a few
    # hundred MB (issue 22: rows lost by `dedup` with --direct_running_mode=multi_processing).
    # Without the timer the streams buffer by size only, flushed at element boundaries.
    worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return fn_runner.FnApiRunner(provision_info=provision)


class JobOptions(PipelineOptions):
    """Beam's options with each view built once. Beam asks for a view (``view_as``) two or three
    times per applied transform, and every view re-parses the flags with a new argparse parser of
    every option group: about a third of the CPU of building a 540-transform job. A view shares
    the options' values (``_all_options``) with every other view, so one per class serves all."""

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]


def make_pipeline(beam_args: list[str]) -> tuple[beam.Pipeline, str]:
    options = JobOptions(beam_args)
    runner_name = options.view_as(StandardOptions).runner
    if runner_name in LOCAL_RUNNERS:
        mode = options.get_all_options().get("direct_running_mode") or "in_memory"
        return beam.Pipeline(runner=make_local_runner(options), options=options), f"local FnApiRunner ({mode})"
    return beam.Pipeline(options=options), runner_name


# Written when a run starts: it says the folder is ours, so --overwrite may delete it later.
OWNER_MARKER = ".codecorpus"
# Written last, after the manifest and the card: a folder without it is not a finished output.
SUCCESS_MARKER = "_SUCCESS"


def is_local_path(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def check_output_location(output: str, runner_name, environment_type=None) -> None:
    """Workers of a remote runner (Dataflow, Flink, Spark, a portable worker pool) have disks of
    their own: a local --output would leave the shards there and the launcher would see nothing.
    LOOPBACK workers run inside the launcher, so they share its disk."""
    if runner_name in LOCAL_RUNNERS or not is_local_path(output) or (environment_type or "").upper() == "LOOPBACK":
        return
    raise OutputExistsError(f"--output {output} is a local path, but --runner={runner_name} runs on workers that "
                            "cannot write to this machine's disk; give a path they share (gs://, s3://, hdfs:// …)")


def prepare_output(output: str, overwrite: bool, job: str = "") -> None:
    """Make ``output`` ready for a run. An existing non-empty folder is replaced only with
    --overwrite, and only when it is a codecorpus output (it holds our marker or a manifest):
    a typo in --output must never delete someone's data."""
    fs, path = fsspec.core.url_to_fs(output)
    if fs.exists(path) and not fs.isdir(path):
        raise OutputExistsError(f"--output {output} is a file, not a folder")
    if fs.exists(path) and fs.ls(path):
        if not overwrite:
            raise OutputExistsError(f"output {output} exists and is not empty; pass --overwrite to replace it")
        if not (fs.exists(join_path(path, OWNER_MARKER)) or fs.exists(join_path(path, "manifest.json"))):
            raise OutputExistsError(f"refusing to --overwrite {output}: it is not a codecorpus output (no "
                                    f"{OWNER_MARKER} marker or manifest.json in it); remove it yourself or choose "
                                    "another --output")
        fs.rm(path, recursive=True)
    fs.makedirs(path, exist_ok=True)
    with fs.open(join_path(path, OWNER_MARKER), "w") as f:
        f.write(json.dumps({"job": job, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")


def mark_success(output: str) -> None:
    fs, path = fsspec.core.url_to_fs(output)
    with fs.open(join_path(path, SUCCESS_MARKER), "w") as f:
        f.write("")


def run(pipeline: beam.Pipeline, runner_label: str) -> float:
    print(f"codecorpus: running on {runner_label} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = pipeline.run()
    state = result.wait_until_finish()
    elapsed = time.monotonic() - started
    if state not in ("DONE", beam.runners.runner.PipelineState.DONE):
        raise RuntimeError(f"pipeline finished in state {state}")
    return elapsed


class IncompleteRunError(RuntimeError):
    """The pipeline reported success, but its output is not all where the launcher can see it."""


def finish(output: str, tables: dict, config: dict, input_description: dict, accounting: dict,
           job: str, extra: dict | None = None, finalisers: dict | None = None,
           summarise: Callable | None = None, warnings: Callable | None = None) -> dict:
    """Finalise every table, write ``manifest.json``; returns the manifest.

    ``tables`` maps table name -> pyarrow schema. ``accounting`` maps an identity name ->
    a function (counters, rows per table) -> dict with the identity's terms and ``holds``.
    ``finalisers`` names tables whose shards are not ``part-i-of-N`` (table -> fn(output, table,
    schema, compression) -> files); ``summarise(manifest)`` adds entries computed from the counters;
    ``warnings(manifest)`` lists the job's own warnings, after the common ones (``warnings_of``).

    Before anything is written it proves the run finished: the counters exist, and every table
    has as many rows in its files as the pipeline counted going in (``written/<table>``).
    """
    counters = manifest_io.read_stats(output)
    if counters is None:
        raise IncompleteRunError(
            f"the run finished but its counters ({output}/_tmp/stats.json) are missing: the workers could not "
            "write to --output (a local path on remote workers?) or the run was cut short; nothing was published")
    if any(name.startswith("lines/") for name in counters):  # the file readers count their lines
        accounting = {**accounting, "lines": lines_identity}
    if "read/repositories" in counters:  # a repos: input: every list line cloned, a duplicate or a dead letter
        accounting = {**accounting, "repositories": repositories_identity}
    finalisers = finalisers or {}
    files = {name: finalisers.get(name, finalise_table)(output, name, schema, config["output"]["compression"])
             for name, schema in tables.items()}
    rows = {name: sum(f["rows"] for f in fs) for name, fs in files.items()}
    short = {name: (rows[name], counters[f"written/{name}"]) for name in tables
             if f"written/{name}" in counters and counters[f"written/{name}"] != rows[name]}
    if short:
        detail = ", ".join(f"{name}: {got:,} rows in files, {want:,} written" for name, (got, want) in short.items())
        raise IncompleteRunError(f"table files are missing rows ({detail}): the workers' files did not all reach "
                                 f"{output}")
    manifest = {
        "job": job,
        "input": input_description,
        "config": config,
        "code_version": manifest_io.code_version(),
        "tables": {name: {"rows": rows[name], "files": fs} for name, fs in files.items()},
        "counters": counters,
        "accounting": {name: identity(counters, rows) for name, identity in accounting.items()},
    }
    manifest.update(extra or {})
    if summarise is not None:
        manifest.update(summarise(manifest))
    manifest["warnings"] = warnings_of(manifest) + (list(warnings(manifest)) if warnings is not None else [])
    manifest_io.write_manifest(output, manifest)
    manifest_io.cleanup_tmp(output)
    return manifest


def warnings_of(manifest: dict) -> list[str]:
    """Results that are almost certainly a mistake, though nothing failed: no input records, an
    empty headline table, a mixture source that contributed nothing."""
    warnings = []
    identities = list(manifest["accounting"].values())
    first_term = next((v for k, v in identities[0].items() if k != "holds"), None) if identities else None
    if first_term == 0:
        warnings.append(f"no input records were read from {manifest['input'].get('paths', manifest['input'])}: "
                        "is --input the right folder, with the tables this job reads?")
    headline = next(iter(manifest["tables"]), None)
    if headline and first_term and manifest["tables"][headline]["rows"] == 0:
        warnings.append(f"table {headline}/ is empty: all {first_term:,} input records were dropped or dead-lettered "
                        "(see the filter/ and dead_letter/ counters in manifest.json)")
    for name, source in (manifest.get("mixture") or {}).items():
        rows = sum(split.get("rows", 0) for split in source.get("splits", {}).values())
        if rows == 0 and source.get("rate", 1) != 0:
            warnings.append(f"mixture source {name!r} contributed no rows ({source.get('rows_available', 0):,} "
                            "available): check its path, kind and where")
    return warnings


def print_summary(manifest: dict, elapsed: float) -> None:
    out = sys.stderr
    print(f"codecorpus {manifest['job']}: done in {elapsed:.1f}s", file=out)
    for name, table in manifest["tables"].items():
        print(f"  {name:<14} {table['rows']:>10,} rows in {len(table['files'])} file(s)", file=out)
    for name, terms in manifest["accounting"].items():
        ok = "holds" if terms["holds"] else "DOES NOT HOLD"
        detail = ", ".join(f"{k}={v:,}" for k, v in terms.items() if k != "holds")
        print(f"  accounting {name}: {detail} ({ok})", file=out)
    for name, value in sorted(manifest["counters"].items()):
        if name.startswith(("filter/", "dead_letter/", "pii/")):
            print(f"    {name:<48} {value:>10,}", file=out)
    for warning in manifest.get("warnings", ()):
        print(f"  WARNING: {warning}", file=out)
    out.flush()


def add_job_arguments(parser: argparse.ArgumentParser, input_help: str) -> None:
    """The options every Beam job takes; anything else on the command line goes to Beam."""
    parser.add_argument("--input", action="append", required=True, metavar="SPEC", help=input_help)
    parser.add_argument("--output", required=True, metavar="PATH", help="output folder (local or fsspec URL)")
    parser.add_argument("--config", metavar="YAML", help="configuration merged over the defaults "
                        "(codecorpus/defaults.yaml)")
    parser.add_argument("--disable-filter", action="append", default=[], metavar="NAME",
                        help="turn a filter off (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty --output")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")


@dataclass(frozen=True)
class Table:
    """One output table of a job: its schema, the order of its rows in the files (so reruns give
    identical bytes), and a line for the dataset card."""

    schema: object
    sort_key: Callable = dead_letter_order
    note: str = ""


DEAD_LETTER_TABLE = Table(schemas.DEAD_LETTER, dead_letter_order,
                          "records that could not be processed: stage, error and raw input (redacted when the job redacts)")


class Stages:
    """The plumbing of one job's pipeline, so a recipe says only what happens to the data.

    Every stage's dead letters and counters are collected here (``read``, ``step``, ``take``);
    ``write`` writes a table and counts its rows (``written/<table>``, which the launcher checks
    against the files); ``finish`` sends every dead letter through one sink (PII redaction when
    the job redacts, then truncation of ``raw`` to ``dead_letter.max_raw_chars``) into
    ``dead_letter/``, writes the tables no stage wrote as empty ones, and the counters."""

    def __init__(self, pipeline: beam.Pipeline, output: str, config: dict, tables: dict, redactor=None):
        self.pipeline, self.output, self.config, self.tables = pipeline, output, config, tables
        self.redactor = redactor
        self.ledger = Ledger()
        self._written = set()

    def read(self, label: str, source: beam.PTransform):
        """A reader with kept / dead-letter / stats outputs, applied to the pipeline."""
        return self.ledger.take(self.pipeline | label >> source)

    def step(self, rows, label: str, fn: Callable, stage: str, table: str, key_of=lambda _: None, side_inputs=()):
        """``fn(record) -> events`` on every record (see ``core.routing``): the kept records."""
        return self.ledger.take(rows | label >> routed(fn, stage, table, key_of, side_inputs=side_inputs))

    def take(self, outputs):
        """The kept records of a stage that routes its own events (its dead letters and stats are kept)."""
        return self.ledger.take(outputs)

    def count(self, stats) -> None:
        """More ``(counter, n)`` pairs for the manifest."""
        self.ledger.add_stats(stats)

    def write(self, name: str, rows) -> None:
        table = self.tables[name]
        shards = rows | f"Write_{name}" >> WriteTable(self.output, name, table.schema, table.sort_key,
                                                      self.config["output"])
        # The writers' own row counts (one (path, rows) per shard file), not a second pass over the rows.
        self.count(shards | f"Written_{name}" >> beam.Map(lambda shard, name=name: (f"written/{name}", shard[1])))
        self._written.add(name)

    def written_elsewhere(self, name: str) -> None:
        """A table the job writes with its own writer (and finaliser), not ``write``."""
        self._written.add(name)

    def finish(self) -> None:
        dead = tuple(self.ledger.dead_letters) | "AllDeadLetters" >> beam.Flatten()
        if self.redactor is not None:
            from codecorpus.pii.redact import RedactDeadLetters

            redacted = dead | "RedactDeadLetters" >> RedactDeadLetters(self.redactor)
            self.count(redacted[STATS])
            dead = redacted["kept"]
        limit = self.config["dead_letter"]["max_raw_chars"]
        self.write("dead_letter", dead | "TruncateRaw" >> beam.Map(truncate_raw, limit))
        for name in self.tables:
            if name not in self._written:  # a stage turned off (--no-dedup …): the table is written empty
                self.write(name, self.pipeline | f"No_{name}" >> beam.Create([]))
        _ = tuple(self.ledger.stats) | "AllCounters" >> beam.Flatten() | "WriteCounters" >> manifest_io.WriteStats(
            self.output)


def truncate_raw(row: dict, max_raw_chars: int) -> dict:
    """Dead letters carry their whole raw input until here, so redaction sees all of it."""
    raw = row["raw"]
    if raw is None or len(raw) <= max_raw_chars:
        return row
    return {**row, "raw": raw[:max_raw_chars], "raw_truncated": True}


# --- accounting: identities the manifest checks, from the written tables and the counters -------


def balance(source: tuple[str, int], **sinks: int) -> dict:
    """``source`` = (name, count) must equal the sum of ``sinks``: the terms and whether it holds."""
    name, count = source
    return {name: count, **sinks, "holds": count == sum(sinks.values())}


def dropped(counters: dict, prefix: str = "filter/", *, excluding: tuple = ()) -> int:
    return manifest_io.sum_prefix(counters, prefix) - sum(manifest_io.sum_prefix(counters, p) for p in excluding)


def dead_lettered(counters: dict, table: str = "") -> int:
    return manifest_io.sum_prefix(counters, f"dead_letter/{table}/" if table else "dead_letter/")


def records_identity(table: str, kept_table: str, excluding: tuple = ()):
    """Every ``read/<table>`` record is in ``kept_table``, dropped by a filter, or dead-lettered."""
    def identity(counters: dict, rows: dict) -> dict:
        return balance(("read", counters.get(f"read/{table}", 0)), kept=rows[kept_table],
                       dropped=dropped(counters, excluding=excluding), dead_lettered=dead_lettered(counters, table))
    return identity


def dead_letters_identity(counters: dict, rows: dict) -> dict:
    """Every dead letter counted is a row of ``dead_letter/``."""
    return balance(("dead_letter_rows", rows["dead_letter"]), counted=dead_lettered(counters))


@dataclass
class BeamJob:
    """What a job module declares so ``run_beam_job`` can run it with the common contract."""

    name: str
    tables: dict | Callable           # table name -> Table (dead_letter included), or fn(config) -> that
    accounting: dict | Callable       # identity name -> fn(counters, rows) -> terms with "holds", or fn(config)
    build: Callable                   # build(stages, config) -> None
    card_title: str
    card_description: str
    card_licenses: Callable = lambda config: []
    describe_input: Callable = lambda args: {"paths": list(args.input)}
    configure: Callable = lambda args, config: config      # command-line switches -> config, checked
    manifest_extra: Callable = lambda args, config: {}     # more top-level manifest entries
    redactor: Callable = lambda config: None                # the dead-letter redactor, when the job redacts
    filters: str = "commits"                                # whose filters --disable-filter names
    finalisers: dict = field(default_factory=dict)          # table -> its own finaliser (see finish)
    summarise: Callable | None = None                       # manifest -> entries from the counters
    write_card: Callable | None = None                      # (output, manifest) -> its own dataset card
    warnings: Callable | None = None                        # manifest -> the job's own warnings (--strict: exit 1)


def run_beam_job(job: BeamJob, args: argparse.Namespace, beam_args: list[str]) -> int:
    """Config (loaded and checked once) -> output folder -> pipeline -> run -> finalise tables,
    manifest, card, summary, success marker. Nothing touches the output before every argument
    and the config have been checked."""
    from codecorpus.config import load_config

    config = job.configure(args, load_config(args.config, getattr(args, "disable_filter", ()), job.filters))
    tables = job.tables(config) if callable(job.tables) else job.tables
    accounting = job.accounting(config) if callable(job.accounting) else job.accounting
    extra = job.manifest_extra(args, config)  # before the output folder is touched: may raise
    options = PipelineOptions(beam_args).get_all_options()
    check_output_location(args.output, options.get("runner"), options.get("environment_type"))
    pipeline, runner_label = make_pipeline(beam_args)
    # The graph is built before the output is touched: whatever building it can refuse (a missing
    # extra, an unreadable input listing) refuses while the previous output is still there.
    job.build(Stages(pipeline, args.output, config, tables, job.redactor(config)), config)
    prepare_output(args.output, args.overwrite, job.name)
    elapsed = run(pipeline, runner_label)
    schemas_of = {name: t.schema for name, t in tables.items()}
    manifest = finish(args.output, schemas_of, config, job.describe_input(args), accounting,
                      job=job.name, extra={"beam_args": beam_args, **extra}, finalisers=job.finalisers,
                      summarise=job.summarise, warnings=job.warnings)
    if job.write_card is not None:
        job.write_card(args.output, manifest)
    else:
        manifest_io.write_dataset_card(args.output, job.card_title, job.card_description, manifest["tables"],
                                       {name: t.note for name, t in tables.items()}, manifest,
                                       job.card_licenses(config))
    mark_success(args.output)
    print_summary(manifest, elapsed)
    if not all(t["holds"] for t in manifest["accounting"].values()):
        return 1
    return 1 if manifest["warnings"] and getattr(args, "strict", False) else 0
