"""Issue 19: CPU-seconds to build a job's graph and to turn it into the runner API, without
running it (``Pipeline.run`` is stopped): the fixed cost every run pays, whatever its input.

    PYTHONPATH=TREE python benchmarks/issue19_build_cost.py commits|files [--input DUMP]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import apache_beam as beam

from codecorpus import cli

SAMPLE = "/work/shared/data/github_repos_sample"


class Built(Exception):
    """Raised from ``Pipeline.run``: the graph is built, nothing runs."""


def built_pipeline(job: str, dump: str, output: str) -> beam.Pipeline:
    def stop(pipeline, *args, **kwargs):
        raise Built(pipeline)

    beam.Pipeline.run = stop
    parser, modules = cli.build_parser(job)
    sub = parser._subparsers._group_actions[0].choices[job]
    args, beam_args = sub.parse_known_args(["--input", dump, "--output", output])
    try:
        modules[job].run(args, beam_args)
    except Built as built:
        return built.args[0]
    raise RuntimeError(f"{job} did not reach Pipeline.run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("job", choices=["commits", "files"])
    ap.add_argument("--input", default=SAMPLE)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.process_time()
        pipeline = built_pipeline(a.job, a.input, f"{tmp}/out")
        built = time.process_time()
        proto = pipeline.to_runner_api()
        converted = time.process_time()
    print(f"{a.job} build {built - started:.2f} to_runner_api {converted - built:.2f} "
          f"transforms {len(proto.components.transforms)}")


if __name__ == "__main__":
    main()
