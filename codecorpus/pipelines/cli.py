"""The ``codecorpus`` command: one tool, several jobs.

Options a job does not know are passed to Apache Beam (``--runner``, ``--project``,
``--direct_running_mode`` …), so the same command runs locally or on Dataflow.
"""

from __future__ import annotations

import argparse
import logging
import sys

from codecorpus import __version__

DESCRIPTION = """\
codecorpus turns public code history into fine-tuning corpora for code LLMs.

Jobs:
  commits      GitHub commits -> CommitPack, CommitPackFT and instruction Parquet tables
  export-git   local git repositories -> a dump in the BigQuery github_repos shape

Every job writes, under --output: Parquet tables (one folder each, part-NNNNN-of-NNNNN.parquet),
dead_letter/ (what failed, and why), manifest.json (every counter) and a dataset card README.md.
Unknown options go to Apache Beam; without --runner the job runs locally on Beam's FnApiRunner
(add --direct_running_mode=multi_processing --direct_num_workers=N to use N processes).
"""

COMMITS_HELP = """\
Build CommitPack-style tables from GitHub commits.

--input is one of:
  PATH or URL            a folder of BigQuery github_repos exports (commits, contents,
                         licenses [, files, languages]) as NDJSON, gzip NDJSON or Parquet,
                         local or on any fsspec filesystem (gs://bucket/dump)
  git:PATH[,PATH...]     local git repositories, read directly (repeat --input for more)
  bq:PROJECT.DATASET     live BigQuery (bq:public = bigquery-public-data.github_repos), with
                         the licence, message and single-file filters pushed into the SQL

Filters (configure them in --config YAML, disable with --disable-filter NAME):
  single_file message lang     on the commit, before contents are joined
  licence binary size          after the licence and contents join      -> commitpack/
  ft_subject ft_bump ft_length CommitPackFT rules                        -> commitpackft/
Training examples from commitpackft                                      -> instructions/

Example:
  codecorpus commits --input ../shared/data/github_repos_sample --output out/commits
"""


def _add_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", required=True, metavar="SPEC",
                        help="input dump path/URL, git:PATH or bq:PROJECT.DATASET (repeatable)")
    parser.add_argument("--output", required=True, metavar="PATH", help="output folder (local or fsspec URL)")
    parser.add_argument("--config", metavar="YAML", help="configuration merged over the defaults "
                        "(see codecorpus/defaults.yaml)")
    parser.add_argument("--disable-filter", action="append", default=[], metavar="NAME",
                        help="turn a filter off (repeatable)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty --output")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codecorpus", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"codecorpus {__version__}")
    jobs = parser.add_subparsers(dest="job", metavar="JOB")
    jobs.required = True

    commits = jobs.add_parser("commits", help="commits -> CommitPack / CommitPackFT / instructions",
                              description=COMMITS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_job_arguments(commits)

    from codecorpus.pipelines import export_git

    export = jobs.add_parser("export-git", help="local git repositories -> github_repos-shaped dump",
                             description="Export local git repositories as a dump in the BigQuery "
                             "github_repos shape (gzip NDJSON: commits, contents, licenses, files), "
                             "readable by every codecorpus job.")
    export_git.add_arguments(export)
    return parser


def run_commits(args, beam_args: list[str]) -> int:
    from codecorpus.config import load_config
    from codecorpus.io.sources import parse_inputs
    from codecorpus.io.manifest import write_dataset_card
    from codecorpus.pipelines import commits, common

    config = load_config(args.config, args.disable_filter)
    spec = parse_inputs(args.input)
    common.prepare_output(args.output, args.overwrite)
    pipeline, runner_label = common.make_pipeline(beam_args)
    commits.build(pipeline, spec, args.output, config)
    elapsed = common.run(pipeline, runner_label)
    manifest = common.finish(args.output, commits.TABLES, config, spec.describe(), commits.ACCOUNTING,
                             job="commits", extra={"beam_args": beam_args})
    licenses = sorted(set(config["commits"]["filters"]["licence"]["allow"]))
    write_dataset_card(args.output, "codecorpus commit corpus",
                       "Single-file GitHub commits turned into CommitPack / CommitPackFT tables and "
                       "instruction-tuning examples by `codecorpus commits`.",
                       manifest["tables"], commits.TABLE_NOTES, manifest, licenses)
    common.print_summary(manifest, elapsed)
    return 0 if all(t["holds"] for t in manifest["accounting"].values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    quiet = getattr(args, "quiet", False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("codecorpus").setLevel(logging.WARNING if quiet else logging.INFO)
    if args.job == "export-git":
        if beam_args:
            parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
        from codecorpus.pipelines import export_git

        return export_git.run(args)
    from codecorpus.config import ConfigError
    from codecorpus.pipelines.common import OutputExistsError

    try:
        return run_commits(args, beam_args)
    except (ConfigError, OutputExistsError, FileNotFoundError, NotADirectoryError, ValueError) as e:
        print(f"codecorpus {args.job}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
