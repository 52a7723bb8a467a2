"""Dataflow Flex Template entry point (``FLEX_TEMPLATE_PYTHON_PY_FILE``): template parameters ->
a ``codecorpus JOB`` command line.

The template launcher calls ``python main.py --job=commits --input=gs://… --output=gs://…
--disable_filter=lang,size --overwrite=true --runner=… --project=… --region=… --temp_location=…
--sdk_container_image=…``. This file turns the job's own parameters back into the CLI's options
(``disable_filter`` -> ``--disable-filter``; a comma-separated value -> a repeated option;
``true``/``false`` -> a switch present or absent) and passes everything else to Beam unchanged.
Without ``--runner`` it uses ``DataflowRunner``.

``--mode`` (default ``$CODECORPUS_FLEX_MODE``, else ``run``):

- ``run``: exactly the CLI: submit, wait for the job, then finalise (rename the shards, write
  ``manifest.json`` and the dataset card, exit 1 if an accounting identity fails);
- ``submit``: submit the job and return. A Flex Template launcher stops once the job is created,
  so the image sets ``submit``: the shards stay under ``OUTPUT/_tmp/`` until ``finalise``;
- ``finalise``: after the job has succeeded, do what ``run`` does after waiting. Pass the same
  job parameters (``input``, ``config``, ``disable_filter`` …): they are recorded in the manifest
  and some jobs read their input's schema. Runs anywhere with codecorpus installed, e.g.
  ``docker run --rm --entrypoint python IMAGE /template/main.py --mode=finalise --job=commits …``.
"""

from __future__ import annotations

import argparse
import os
import sys

MODES = ("run", "submit", "finalise")
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


class FlexError(ValueError):
    pass


class _Submitted(Exception):
    """Raised after ``pipeline.run()`` in ``submit`` mode, to skip waiting and finalising."""


def job_parser(job: str) -> argparse.ArgumentParser:
    """The ``codecorpus JOB`` sub-parser (options and their kinds come from the CLI itself)."""
    from codecorpus import cli

    parser, modules = cli.build_parser()
    if job not in modules:
        raise FlexError(f"unknown job {job!r}; jobs: {', '.join(modules)}")
    if not getattr(modules[job], "USES_BEAM", True):
        raise FlexError(f"job {job!r} does not run on Beam and cannot be a Dataflow template")
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[job]


def job_options(job: str) -> dict[str, argparse.Action]:
    """Template parameter name (the option's ``dest``) -> its argparse action."""
    return {a.dest: a for a in job_parser(job)._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)}


def to_cli_argv(job: str, argv: list[str], default_runner: str | None = "DataflowRunner") -> list[str]:
    """Launcher arguments -> ``codecorpus JOB`` arguments (job options first, then Beam's).
    ``default_runner`` is added when no ``--runner`` is given; ``None`` drops any ``--runner``."""
    options = job_options(job)
    own, beam = [], []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        name, has_value, value = token[2:].partition("=") if token.startswith("--") else ("", False, "")
        action = options.get(name.replace("-", "_")) if name else None
        if action is None:
            beam.append(token)
            continue
        flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            if not has_value:  # a bare switch, or `--overwrite true`
                value = "true"
                if i < len(argv) and argv[i].lower() in TRUE | FALSE - {""}:
                    value, i = argv[i], i + 1
            if value.lower() not in TRUE | FALSE:
                raise FlexError(f"parameter {name} must be true or false, got {value!r}")
            if value.lower() in TRUE:
                own.append(flag)
            continue
        if not has_value:
            if i >= len(argv):
                raise FlexError(f"parameter {name} needs a value")
            value, i = argv[i], i + 1
        values = [v for v in value.split(",") if v] if isinstance(action, argparse._AppendAction) else [value]
        for v in values:
            own += [flag, v]
    if default_runner is None:
        beam = _without_option(beam, "--runner")
    elif not any(t == "--runner" or t.startswith("--runner=") for t in beam):
        beam.append(f"--runner={default_runner}")
    return own + beam


def _without_option(argv: list[str], option: str) -> list[str]:
    out, skip = [], False
    for i, token in enumerate(argv):
        if skip:
            skip = False
        elif token == option:
            skip = i + 1 < len(argv) and not argv[i + 1].startswith("--")
        elif not token.startswith(option + "="):
            out.append(token)
    return out


def run(job: str, cli_argv: list[str], mode: str) -> int:
    """Run ``codecorpus JOB`` in ``mode`` (the CLI's own code, with its run or set-up step
    replaced for ``submit`` and ``finalise``)."""
    from codecorpus import cli
    from codecorpus.jobs import runner as common

    if mode not in MODES:
        raise FlexError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    saved = {name: getattr(common, name) for name in ("run", "prepare_output")}
    if mode == "submit":
        def submit(pipeline, runner_label):
            print(f"codecorpus: submitting to {runner_label} ...", file=sys.stderr, flush=True)
            result = pipeline.run()
            job_id = getattr(result, "job_id", None)
            print(f"codecorpus: submitted{f' job {job_id()}' if callable(job_id) else ''}; when it has "
                  "succeeded, run this again with --mode=finalise", file=sys.stderr, flush=True)
            raise _Submitted()

        common.run = submit
    elif mode == "finalise":
        def keep_output(output, overwrite, job=""):
            import fsspec

            from codecorpus.io.parquet import TMP_DIR, join_path

            stats = join_path(output, TMP_DIR, "stats.json")
            fs, _ = fsspec.core.url_to_fs(stats)
            if not fs.exists(stats):
                raise FileNotFoundError(f"nothing to finalise: {stats} does not exist (has the job succeeded, "
                                        "and was it submitted with this --output?)")

        common.prepare_output = keep_output
        common.run = lambda pipeline, runner_label: 0.0  # the job graph is built, never run
    try:
        return cli.main([job, *cli_argv])
    except _Submitted:
        return 0
    finally:
        for name, value in saved.items():
            setattr(common, name, value)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    head = argparse.ArgumentParser(add_help=False)
    head.add_argument("--job", required=True)
    head.add_argument("--mode", default=os.environ.get("CODECORPUS_FLEX_MODE") or "run")
    known, rest = head.parse_known_args(argv)
    try:
        # finalise submits nothing: its job graph is built for a local runner and never run
        cli_argv = to_cli_argv(known.job, rest, None if known.mode == "finalise" else "DataflowRunner")
        return run(known.job, cli_argv, known.mode)
    except FlexError as e:
        print(f"codecorpus flex template: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
