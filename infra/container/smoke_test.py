"""Checks an installed codecorpus the way a Dataflow worker and the Flex launcher will use it.

Run by the Dockerfile (``RUN python smoke_test.py --beam-version X``) and by
``tests/test_packaging.py`` in a fresh virtualenv. It fails (exit 1) unless:

- ``codecorpus`` is an installed distribution whose files are the ones imported;
- Beam is the version the image was built for, and the one ``codecorpus`` pins;
- every job module of the CLI imports and its parser builds, and the packaged defaults load;
- a DoFn of the package survives Beam's pickler (what crosses from launcher to worker);
- every requirement of the extras the image installs (``--extras gcp,tokenizers``) is installed,
  the extras' own extras too (``apache-beam[gcp]``): without ``tokenizers`` a worker fails on
  ``mix --tokenizer``, without Beam's gcp packages on ``bq:``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from pathlib import Path


def _requirement_class():
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip's own copy, always there where pip is
        from pip._vendor.packaging.requirements import Requirement
    return Requirement


def missing_extras(dist_name: str, extras: list[str], seen: set | None = None) -> list[str]:
    """What is not installed of the requirements ``dist_name[extras]`` adds, recursively."""
    Requirement = _requirement_class()
    seen = set() if seen is None else seen
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return [f"{dist_name} is not installed"]
    provided = set(dist.metadata.get_all("Provides-Extra") or [])
    problems = []
    for extra in extras:
        if (dist_name.lower(), extra) in seen:
            continue
        seen.add((dist_name.lower(), extra))
        if extra not in provided:
            problems.append(f"{dist_name} has no extra {extra!r} (it provides: {', '.join(sorted(provided))})")
            continue
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or not req.marker.evaluate({"extra": extra}):
                continue  # a base requirement, another extra's, or not for this platform
            try:
                importlib.metadata.distribution(req.name)
            except importlib.metadata.PackageNotFoundError:
                problems.append(f"{dist_name}[{extra}] needs {req.name}, which is not installed")
                continue
            problems += missing_extras(req.name, sorted(req.extras), seen)
    return problems


def check(beam_version: str | None, extras: list[str] = ()) -> list[str]:
    import apache_beam
    import codecorpus
    from apache_beam.internal import pickler
    from codecorpus.config import default_config
    from codecorpus import cli
    from codecorpus.core.routing import Route

    problems = []
    dist = importlib.metadata.distribution("codecorpus")
    installed = Path(dist.locate_file("codecorpus/__init__.py")).resolve()
    if Path(codecorpus.__file__).resolve() != installed:
        problems.append(f"codecorpus imported from {codecorpus.__file__}, installed at {installed}")
    pins = [r for r in (dist.requires or []) if r.replace(" ", "").startswith("apache-beam==")]
    pinned = pins[0].split("==", 1)[1].split(";")[0].strip() if pins else None
    if pinned != apache_beam.__version__:
        problems.append(f"codecorpus pins apache-beam=={pinned}, apache_beam is {apache_beam.__version__}")
    if beam_version and beam_version != apache_beam.__version__:
        problems.append(f"image built for Beam {beam_version}, apache_beam is {apache_beam.__version__}")
    for name, module in cli.JOBS.items():
        try:
            importlib.import_module(module)
        except Exception as e:  # noqa: BLE001 - report every broken job, not only the first
            problems.append(f"job {name}: import {module} failed: {type(e).__name__}: {e}")
    cli.build_parser()
    if "commits" not in default_config():
        problems.append("packaged defaults.yaml has no commits section")
    fn = pickler.loads(pickler.dumps(Route(len, "smoke", "records")))
    if fn.fn("abc") != 3:
        problems.append("a pickled Route DoFn did not come back intact")
    problems += missing_extras("codecorpus", list(extras))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beam-version", help="the Beam version the image was built for")
    parser.add_argument("--extras", default="", help="the extras installed with codecorpus, comma-separated")
    args = parser.parse_args(argv)
    problems = check(args.beam_version, [e.strip() for e in args.extras.split(",") if e.strip()])
    import apache_beam
    import codecorpus

    print(f"codecorpus {codecorpus.__version__} at {Path(codecorpus.__file__).parent}; "
          f"apache-beam {apache_beam.__version__}; Python {sys.version.split()[0]}")
    for problem in problems:
        print(f"smoke test: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
