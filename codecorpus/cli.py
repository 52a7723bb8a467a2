"""The ``codecorpus`` command: one tool, several jobs.

Each job is a module in ``codecorpus/jobs/`` with ``SUMMARY``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(args, beam_args)``. Options a job does not know are passed
to Apache Beam (``--runner``, ``--project``, ``--direct_running_mode`` …), so the same command
runs locally or on Dataflow.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib
import logging
import os
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
    "instruct": "codecorpus.jobs.instruct",
}
# One line per job for `codecorpus --help`, without importing the jobs (and Beam). test_cli
# checks they match the modules' own SUMMARY.
SUMMARIES = {
    "commits": "commits -> CommitPack / CommitPackFT / instructions",
    "export-git": "local git repositories -> github_repos-shaped dump",
    "pii": "redact PII (emails, IPs, keys, passwords, names, usernames) in JSONL/Parquet records",
    "dedup": "any JSONL/Parquet table -> decontaminated, exact- and near-deduplicated records",
    "files": "repository files -> filtered, PII-redacted, deduplicated file corpus + FIM examples",
    "sql": "SQL files -> runnable SQLite/DuckDB databases and execution-validated text-to-SQL triples",
    "mix": "our tables -> one training set: mixture weights, leak-free splits, balanced shuffled shards, packing",
    "instruct": "instructions, code snippets, generated questions or doctests -> code instructions validated by "
                "running tests",
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (what is wrong, what to do), and a mistyped option is
    named with the closest one we know."""

    known_options: list[str] = []
    argv: list[str] = []   # the command line being parsed (set by main)

    def error(self, message: str):
        unknown = unknown_options([a for a in self.argv if a.startswith("--")], self.known_options)
        hint = ""
        if unknown and "required" in message:
            hint = "; " + "; ".join(_unknown_message(u, self.known_options) for u in unknown)
        self.exit(2, f"{self.prog}: error: {message}{hint} (see {self.prog} --help)\n")


def _options_of(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings if s.startswith("--")]


@functools.lru_cache(maxsize=1)
def _beam_options() -> frozenset:
    """Every option Beam's PipelineOptions (and its runners' option classes) understands."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(add_help=False)
    seen, todo = set(), [PipelineOptions]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                try:
                    sub._add_argparse_args(parser)
                except argparse.ArgumentError:  # two classes declare the same option
                    pass
    return frozenset(_options_of(parser))


def _unknown_message(option: str, job_options: list[str]) -> str:
    close = difflib.get_close_matches(option, list(job_options) + sorted(_beam_options()), n=1, cutoff=0.75)
    return f"unknown option {option}" + (f" (did you mean {close[0]}?)" if close else "")


def unknown_options(beam_args: list[str], job_options: list[str], uses_beam: bool = True) -> list[str]:
    """Options on the command line that neither the job nor Beam know (they would be ignored)."""
    known = set(job_options) | (_beam_options() if uses_beam else frozenset())
    return [a.split("=", 1)[0] for a in beam_args if a.startswith("-") and a.split("=", 1)[0] not in known] + \
           [a for a in beam_args if not a.startswith("-") and not uses_beam]


def build_parser(job: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The parser with every job's module; with ``job``, only that job's ("": none, for
    `codecorpus --help`: importing Beam takes seconds)."""
    parser = _Parser(prog="codecorpus", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"codecorpus {__version__}")
    subparsers = parser.add_subparsers(dest="job", metavar="JOB", title="jobs", parser_class=_Parser)
    subparsers.required = True
    modules = {}
    for name, module_name in JOBS.items():
        if job is not None and name != job:
            subparsers.add_parser(name, help=SUMMARIES[name])
            continue
        module = modules[name] = importlib.import_module(module_name)
        job_parser = subparsers.add_parser(name, help=module.SUMMARY, description=module.DESCRIPTION,
                                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(job_parser)
        job_parser.known_options = _options_of(job_parser)
        if getattr(module, "USES_BEAM", True):
            job_parser.add_argument("--strict", action="store_true",
                                    help="exit 1 when the run ends with warnings (an empty headline table, "
                                         "no input records …), not only when an accounting identity fails")
            job_parser.known_options = _options_of(job_parser)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    argv = _Parser.argv = sys.argv[1:] if argv is None else list(argv)
    parser, modules = build_parser(next((a for a in argv if a in JOBS), ""))
    try:
        args, beam_args = parser.parse_known_args(argv)
    except SystemExit as e:  # --help, --version, or a mistake argparse has already explained in one line
        return e.code if isinstance(e.code, int) else 2
    module = modules[args.job]
    job_parser = parser._subparsers._group_actions[0].choices[args.job]
    unknown = unknown_options(beam_args, job_parser.known_options, getattr(module, "USES_BEAM", True))
    if unknown:
        print(f"codecorpus {args.job}: error: " + "; ".join(_unknown_message(u, job_parser.known_options)
                                                            for u in unknown)
              + f" (see codecorpus {args.job} --help)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("codecorpus").setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    quiet_before = os.environ.pop("CODECORPUS_QUIET", None)
    if getattr(args, "quiet", False):
        os.environ["CODECORPUS_QUIET"] = "1"  # core.routing.QUIET_ENV: reaches worker processes too
    try:
        return _run(module, args, beam_args)
    finally:
        os.environ.pop("CODECORPUS_QUIET", None)
        if quiet_before is not None:
            os.environ["CODECORPUS_QUIET"] = quiet_before


def _run(module, args, beam_args: list[str]) -> int:

    from codecorpus.config import ConfigError
    from codecorpus.jobs.runner import IncompleteRunError, OutputExistsError

    def fail(message: str, code: int) -> int:
        message = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
        print(f"codecorpus {args.job}: error: {message}", file=sys.stderr)
        return code

    try:
        return module.run(args, beam_args)
    except (ConfigError, OutputExistsError, FileNotFoundError, NotADirectoryError, ValueError) as e:
        return fail(str(e), 2)
    except ImportError as e:  # an optional extra a chosen input or option needs
        return fail(f"{e} (install the extra it needs, e.g. pip install 'codecorpus[gcp]')", 2)
    except IncompleteRunError as e:
        return fail(str(e), 1)
    except KeyboardInterrupt:
        return fail("interrupted; the output folder is incomplete (no _SUCCESS marker)", 130)
    except OSError as e:  # read-only output, full disk …: the run cannot go on
        return fail(f"{e.strerror or e} ({e.filename or getattr(args, 'output', '')}); the output folder is "
                    "incomplete (no _SUCCESS marker)", 1)


if __name__ == "__main__":
    sys.exit(main())
