"""What every job shares: the local runner, the output folder contract, the manifest.

Output contract of a job, under ``--output``: one folder of Parquet shards per table, a
``dead_letter/`` table, ``manifest.json`` with every counter and the accounting identity, and a
dataset card ``README.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import apache_beam as beam
import fsspec
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from codecorpus.io import manifest as manifest_io
from codecorpus.io.parquet import finalise_table

_LOG = logging.getLogger("codecorpus")

# Names that mean "run it here". Beam 2.77's DirectRunner first tries to download the Prism
# runner binary (it can hang on a network that drops packets), so these run the FnApiRunner
# directly: in-memory by default, or --direct_running_mode=multi_processing|multi_threading.
LOCAL_RUNNERS = {None, "", "DirectRunner", "direct", "local", "FnApiRunner"}


class OutputExistsError(FileExistsError):
    pass


def make_local_runner(options: PipelineOptions):
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return fn_runner.FnApiRunner(provision_info=provision)


def make_pipeline(beam_args: list[str]) -> tuple[beam.Pipeline, str]:
    options = PipelineOptions(beam_args)
    runner_name = options.view_as(StandardOptions).runner
    if runner_name in LOCAL_RUNNERS:
        mode = options.get_all_options().get("direct_running_mode") or "in_memory"
        return beam.Pipeline(runner=make_local_runner(options), options=options), f"local FnApiRunner ({mode})"
    return beam.Pipeline(options=options), runner_name


def prepare_output(output: str, overwrite: bool) -> None:
    fs, path = fsspec.core.url_to_fs(output)
    if fs.exists(path) and fs.ls(path):
        if not overwrite:
            raise OutputExistsError(f"output {output} exists and is not empty; pass --overwrite to replace it")
        fs.rm(path, recursive=True)
    fs.makedirs(path, exist_ok=True)


def run(pipeline: beam.Pipeline, runner_label: str) -> float:
    print(f"codecorpus: running on {runner_label} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = pipeline.run()
    state = result.wait_until_finish()
    elapsed = time.monotonic() - started
    if state not in ("DONE", beam.runners.runner.PipelineState.DONE):
        raise RuntimeError(f"pipeline finished in state {state}")
    return elapsed


def finish(output: str, tables: dict, config: dict, input_description: dict, accounting: dict,
           job: str, extra: dict | None = None, finalisers: dict | None = None,
           summarise: Callable | None = None) -> dict:
    """Finalise every table, write ``manifest.json``; returns the manifest.

    ``tables`` maps table name -> pyarrow schema. ``accounting`` maps an identity name ->
    a function (counters, rows per table) -> dict with the identity's terms and ``holds``.
    ``finalisers`` names tables whose shards are not ``part-i-of-N`` (table -> fn(output, table,
    schema, compression) -> files); ``summarise(manifest)`` adds entries computed from the counters.
    """
    counters = manifest_io.read_stats(output)
    finalisers = finalisers or {}
    files = {name: finalisers.get(name, finalise_table)(output, name, schema, config["output"]["compression"])
             for name, schema in tables.items()}
    rows = {name: sum(f["rows"] for f in fs) for name, fs in files.items()}
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
    manifest_io.write_manifest(output, manifest)
    manifest_io.cleanup_tmp(output)
    return manifest


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


@dataclass
class BeamJob:
    """What a job module declares so ``run_beam_job`` can run it with the common contract."""

    name: str
    tables: dict                      # table name -> pyarrow schema (dead_letter included)
    accounting: dict                  # identity name -> fn(counters, rows) -> terms with "holds"
    build: Callable                   # build(pipeline, args, config) -> None
    card_title: str
    card_description: str
    table_notes: dict = field(default_factory=dict)
    card_licenses: Callable = lambda config: []
    describe_input: Callable = lambda args: {"paths": list(args.input)}
    configure: Callable = lambda args, config: config      # command-line switches -> config
    manifest_extra: Callable = lambda args, config: {}     # more top-level manifest entries
    finalisers: dict = field(default_factory=dict)          # table -> its own finaliser (see finish)
    summarise: Callable | None = None                       # manifest -> entries from the counters
    write_card: Callable | None = None                      # (output, manifest) -> its own dataset card


def run_beam_job(job: BeamJob, args: argparse.Namespace, beam_args: list[str]) -> int:
    """Config -> output folder -> pipeline -> run -> finalise tables, manifest, card, summary."""
    from codecorpus.config import load_config

    config = job.configure(args, load_config(args.config, args.disable_filter))
    extra = job.manifest_extra(args, config)  # before the output folder is touched: may raise
    prepare_output(args.output, args.overwrite)
    pipeline, runner_label = make_pipeline(beam_args)
    job.build(pipeline, args, config)
    elapsed = run(pipeline, runner_label)
    manifest = finish(args.output, job.tables, config, job.describe_input(args), job.accounting,
                      job=job.name, extra={"beam_args": beam_args, **extra}, finalisers=job.finalisers,
                      summarise=job.summarise)
    if job.write_card is not None:
        job.write_card(args.output, manifest)
    else:
        manifest_io.write_dataset_card(args.output, job.card_title, job.card_description, manifest["tables"],
                                       job.table_notes, manifest, job.card_licenses(config))
    print_summary(manifest, elapsed)
    return 0 if all(t["holds"] for t in manifest["accounting"].values()) else 1
