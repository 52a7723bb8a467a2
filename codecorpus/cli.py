"""The ``codecorpus`` command: one tool, several jobs.

Each job is a module in ``codecorpus/jobs/`` with ``SUMMARY``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(args, beam_args)``. Options a job does not know are passed
to Apache Beam (``--runner``, ``--project``, ``--direct_running_mode`` …), so the same command
runs locally or on Dataflow.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from codecorpus import __version__


class _BeamImportNoise(logging.Filter):
    """Beam warns on import that apitools is missing: true, and irrelevant unless a job reads
    BigQuery with ReadFromBigQuery, which says so itself (codecorpus/io/bigquery.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_BeamImportNoise())

# Job name -> module. Add a job here and nowhere else.
JOBS = {
    "commits": "codecorpus.jobs.commits",
    "export-git": "codecorpus.jobs.export_git",
    "pii": "codecorpus.jobs.pii",
    "dedup": "codecorpus.jobs.dedup",
    "files": "codecorpus.jobs.files",
    "sql": "codecorpus.jobs.sql",
    "mix": "codecorpus.jobs.mix",
}

DESCRIPTION = """\
codecorpus turns public code history into fine-tuning corpora for code LLMs.

Every Beam job writes, under --output: Parquet tables (one folder each,
part-NNNNN-of-NNNNN.parquet), dead_letter/ (what failed, and why), manifest.json (every counter)
and a dataset card README.md. Unknown options go to Apache Beam; without --runner a job runs
locally on Beam's FnApiRunner in one process (--direct_running_mode=multi_processing
--direct_num_workers=N runs N worker processes: worth it with more cores than workers; on 2 cores
it is slower, see benchmarks/). `codecorpus JOB --help` explains a job.
"""


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="codecorpus", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"codecorpus {__version__}")
    subparsers = parser.add_subparsers(dest="job", metavar="JOB", title="jobs")
    subparsers.required = True
    modules = {}
    for name, module_name in JOBS.items():
        module = modules[name] = importlib.import_module(module_name)
        job_parser = subparsers.add_parser(name, help=module.SUMMARY, description=module.DESCRIPTION,
                                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(job_parser)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    module = modules[args.job]
    if not getattr(module, "USES_BEAM", True) and beam_args:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("codecorpus").setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)

    from codecorpus.config import ConfigError
    from codecorpus.jobs.runner import OutputExistsError

    try:
        return module.run(args, beam_args)
    except (ConfigError, OutputExistsError, FileNotFoundError, NotADirectoryError, ValueError) as e:
        print(f"codecorpus {args.job}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
