"""Issue 19, item 2: the bytes each shuffle of a job carries, on the in-memory FnApiRunner.

    PYTHONPATH=/tmp/zstd_base python benchmarks/issue19_shuffle_bytes.py --job commits --out before.json
    PYTHONPATH=.              python benchmarks/issue19_shuffle_bytes.py --job commits --out after.json
    python benchmarks/issue19_shuffle_bytes.py --compare before.json after.json   # a Markdown table

Runs ``codecorpus JOB`` on the shared sample in this process (the tree on ``PYTHONPATH`` is
the code measured). Just before the pipeline runs, every ``GroupByKey`` in it (those inside
CoGroupByKey, CombinePerKey, Reshuffle and the table writers included) gets a tap on its input
PCollection that adds up ``len(coder.encode(element))`` with that PCollection's element coder:
the bytes the shuffle carries, without the per-element window and timestamp the runner adds.
Combiner-lifted GroupByKeys (CombinePerKey, CombineGlobally) shuffle their accumulators, not
these inputs, so they are reported apart. The tap is a side branch: the job's outputs do not
change.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time

SAMPLE = "/work/shared/data/github_repos_sample"
JOB_ARGS = {
    "commits": lambda inp: ["--input", inp],
    "files": lambda inp: ["--input", inp],
    "dedup": lambda inp: ["--input", f"{inp}/contents.jsonl.gz", "--text-field", "content", "--id-field", "id"],
}

BYTES: collections.Counter = collections.Counter()      # GroupByKey label -> encoded input bytes
ELEMENTS: collections.Counter = collections.Counter()


def _count(element, label, coder):
    import __main__  # the in-memory runner runs the tap in this process: count in this module

    __main__.BYTES[label] += len(coder.encode(element))
    __main__.ELEMENTS[label] += 1


def tap_shuffles(pipeline) -> list[str]:
    import apache_beam as beam
    from apache_beam.pipeline import PipelineVisitor

    found = []

    class Visitor(PipelineVisitor):
        def _look(self, node):
            if isinstance(node.transform, beam.GroupByKey):
                found.extend((node.full_label, pcoll) for pcoll in node.inputs)

        visit_transform = enter_composite_transform = _look

    pipeline.visit(Visitor())
    for i, (label, pcoll) in enumerate(found):
        coder = beam.coders.registry.get_coder(pcoll.element_type)
        _ = pcoll | f"ShuffleBytesTap{i}" >> beam.Map(_count, label, coder)
    return [label for label, _ in found]


def group_of(label: str) -> str:
    """A shuffle's part of the job, for the summary."""
    for part, name in (("LookUpBlobs/", "contents join (LookUpBlobs)"), ("JoinOnCommitSha", "join on commit sha"),
                       ("LookUpLicences/", "licence join"), ("JoinContentsOnBlobSha", "contents join"),
                       ("JoinLicence", "licence join"), ("JoinDecisionsById", "dedup: records meet decisions"),
                       ("GroupByRepository", "repo documents: files by repository"),
                       ("FetchMissingBlobs", "fetch"), ("/GroupShard", "table writers (GroupShard)")):
        if part in label:
            return name
    if "Combine" in label or "Sum" in label or "PerKey" in label or "Best" in label:
        return "combiners (lifted: accumulators shuffle, not these inputs)"
    return "other (ids, keys, signatures)"


def run(job: str, inp: str, output: str, extra: list[str]) -> dict:
    import apache_beam as beam

    from codecorpus.cli import main as cli_main

    original = beam.Pipeline.run
    labels = []

    def run_tapped(self, *args, **kwargs):
        if not labels:
            labels.extend(tap_shuffles(self))
        return original(self, *args, **kwargs)

    beam.Pipeline.run = run_tapped
    started = time.monotonic()
    code = cli_main([job, *JOB_ARGS[job](inp), "--output", output, "--overwrite", "--quiet", *extra])
    if code != 0:
        raise SystemExit(code)
    import codecorpus

    return {"job": job, "input": inp, "tree": codecorpus.__file__, "seconds": time.monotonic() - started,
            "shuffles": {label: {"bytes": BYTES[label], "elements": ELEMENTS[label]} for label in labels}}


def summary(result: dict) -> dict:
    groups = collections.Counter()
    for label, v in result["shuffles"].items():
        groups[group_of(label)] += v["bytes"]
    return dict(groups)


def compare(before: dict, after: dict) -> str:
    b, a = summary(before), summary(after)
    lines = [f"| `{before['job']}` shuffles (encoded input bytes) | before | after | ratio |", "|---|---:|---:|---:|"]
    for name in sorted(set(b) | set(a), key=lambda n: -b.get(n, 0)):
        ratio = b.get(name, 0) / a[name] if a.get(name) else float("nan")
        lines.append(f"| {name} | {b.get(name, 0) / 1e6:,.2f} MB | {a.get(name, 0) / 1e6:,.2f} MB | {ratio:.2f}x |")
    tb, ta = sum(b.values()), sum(a.values())
    lines.append(f"| **all** | **{tb / 1e6:,.2f} MB** | **{ta / 1e6:,.2f} MB** | **{tb / ta:.2f}x** |")
    lines += ["", "| shuffle | before | after |", "|---|---:|---:|"]
    for label in sorted(before["shuffles"], key=lambda k: -before["shuffles"][k]["bytes"]):
        vb, va = before["shuffles"][label]["bytes"], after["shuffles"].get(label, {}).get("bytes", 0)
        if vb > 100_000 or va > 100_000:
            lines.append(f"| `{label}` | {vb / 1e6:,.2f} MB | {va / 1e6:,.2f} MB |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", choices=sorted(JOB_ARGS), default="commits")
    ap.add_argument("--input", default=SAMPLE)
    ap.add_argument("--output", default="/tmp/issue19_shuffle_out")
    ap.add_argument("--out", help="write the result here as JSON")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="two results -> a Markdown table")
    ap.add_argument("job_args", nargs="*", help="after --: more arguments for the job")
    args = ap.parse_args(argv)
    if args.compare:
        before, after = (json.load(open(p)) for p in args.compare)
        print(compare(before, after))
        return 0
    result = run(args.job, args.input, args.output, args.job_args)
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(json.dumps(summary(result), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
