"""Issue 19: CPU-seconds and peak memory of a job, run from two source trees back to back.

    python benchmarks/issue19_perf.py --tree before=/tmp/perf_base --tree after=. --job commits \
        --runs 2 --out benchmarks/results/issue19_commits.json
    python benchmarks/issue19_perf.py --tree before=/tmp/perf_base --tree after=. --job dedup --runs 2
    python benchmarks/issue19_perf.py --tree before=/tmp/perf_base --tree after=. --job files --runs 2   # also pii
    PYTHONPATH=. python benchmarks/issue19_perf.py --signatures
    PYTHONPATH=. python benchmarks/issue19_perf.py --pardo-cost

Each run is ``python -m codecorpus.cli JOB ... --quiet`` in a subprocess with the tree first on
``PYTHONPATH``; runs of the trees alternate (before, after, before, after …) so a change in the
machine's load hits both alike. Per run: wall seconds, CPU-seconds (user + sys of the job and
every process it waited for, from ``os.wait4``), peak RSS (``ru_maxrss``: the largest single
process), the machine's other load during the run (from ``/proc/stat``: the share of both cores
busy with anything but this job), and chosen manifest counters. ``--compare`` then ``cmp``s every
Parquet file of the last run of each tree.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

SAMPLE = "/work/shared/data/github_repos_sample"
PYTHON = "/work/main/.venv/bin/python"

JOB_ARGS = {
    "commits": lambda dump: ["commits", "--input", dump],
    "commits-no-pii": lambda dump: ["commits", "--input", dump, "--no-pii"],
    "files": lambda dump: ["files", "--input", dump],
    "dedup": lambda dump: ["dedup", "--input", f"{dump}/contents.jsonl.gz", "--text-field", "content",
                           "--id-field", "id"],
    "pii": lambda dump: ["pii", "--input", f"{dump}/commits.jsonl.gz", "--text-field", "message",
                         "--text-field", "subject"],
}


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_once(tree: str, job: str, out: str, extra: list[str], dump: str = SAMPLE) -> dict:
    out = str(pathlib.Path(out).resolve())
    shutil.rmtree(out, ignore_errors=True)
    tree = str(pathlib.Path(tree).resolve())
    env = {**os.environ, "PYTHONPATH": tree}
    cmd = [PYTHON, "-m", "codecorpus.cli", *JOB_ARGS[job](dump), "--output", out, "--quiet", *extra]
    busy0, total0 = cpu_jiffies()
    started = time.monotonic()
    # cwd = the tree: ``python -m`` puts the working directory first on sys.path, before PYTHONPATH.
    proc = subprocess.Popen(cmd, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    busy1, total1 = cpu_jiffies()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed:\n{stderr[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    hz = os.sysconf("SC_CLK_TCK")
    other = max(0.0, (busy1 - busy0) / hz - cpu) / max(1e-9, (total1 - total0) / hz)
    manifest = json.loads(pathlib.Path(out, "manifest.json").read_text())
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "user_s": round(usage.ru_utime, 2),
            "sys_s": round(usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "other_load_share": round(other, 3),
            "counters": {k: v for k, v in manifest["counters"].items()
                         if k.startswith(("read/", "join/", "dedup/", "written/"))},
            # records of the job's first table read per second of wall time (start-up included)
            # and CPU-seconds per 1,000 of them
            **records_rate(manifest["counters"], job, wall, cpu)}


READ_TABLE = {"commits": "commits", "commits-no-pii": "commits", "files": "files", "pii": "records",
              "dedup": "records"}


def records_rate(counters: dict, job: str, wall: float, cpu: float) -> dict:
    table = READ_TABLE.get(job)
    n = counters.get(f"read/{table}", 0) if table else 0
    if not n:
        return {}
    return {"read": n, "per_s": round(n / max(wall, 1e-9), 1), "cpu_s_per_1000": round(1000 * cpu / n, 3)}


def bench_signatures(batch_bytes: int = 1 << 20) -> None:
    """Per-record vs batched MinHash signatures over the sample's blobs (this tree), in-process."""
    import gzip

    from codecorpus.dedup import minhash as mh
    from codecorpus.dedup import near

    blobs = [r.get("content") or "" for r in map(json.loads, gzip.open(f"{SAMPLE}/contents.jsonl.gz", "rt"))]
    hasher = mh.MinHasher()
    for label, texts in (("blobs", blobs), ("blobs cut to 300 chars", [t[:300] for t in blobs])):
        started = time.process_time()
        per_record = [near.signature(hasher, t) for t in texts]
        middle = time.process_time()
        batched, batch, size = [], [], 0
        for t in texts + [None]:
            if t is None or (batch and size + len(t) > batch_bytes):
                batched += near.signatures(hasher, batch)
                batch, size = [], 0
            if t is not None:
                batch.append(t)
                size += len(t)
        done = time.process_time()
        assert batched == per_record, "batched signatures differ"
        print(f"{label}: {len(texts):,} texts, per record {middle - started:.2f} CPU-s, "
              f"batched ({batch_bytes >> 10} KiB) {done - middle:.2f} CPU-s, identical")


def bench_pardo_cost(n: int = 20_000, repeats: int = 3) -> None:
    """What one more fused ``routing.Route`` ParDo, and one more shuffle, cost per element on the
    in-memory FnApiRunner (this tree, in-process): ``n`` records of 200 characters through 1 or
    11 chained identity ``routed`` steps, and through 0, 1 or 3 GroupByKeys; best CPU-s of
    ``repeats``. Batching a step pays only if the step's per-element cost is large."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from codecorpus.core.routing import QUIET_ENV, routed
    from codecorpus.jobs.runner import make_local_runner

    os.environ[QUIET_ENV] = "1"

    def run(pardos: int, shuffles: int) -> float:
        options = PipelineOptions([])
        p = beam.Pipeline(runner=make_local_runner(options), options=options)
        rows = p | beam.Create([{"i": i, "text": "x" * 200} for i in range(n)])
        for j in range(pardos):
            rows = (rows | f"Step{j}" >> routed(lambda r: [r], "s", "t"))["kept"]
        for j in range(shuffles):
            rows = (rows | f"Key{j}" >> beam.Map(lambda r: (r["i"], r)) | f"Group{j}" >> beam.GroupByKey()
                    | f"Value{j}" >> beam.Map(lambda kv: kv[1][0]))
        _ = rows | beam.combiners.Count.Globally()
        started = time.process_time()
        p.run().wait_until_finish()
        return time.process_time() - started

    best = {case: min(run(*case) for _ in range(repeats)) for case in ((1, 0), (11, 0), (1, 1), (1, 3))}
    for (pardos, shuffles), cpu in best.items():
        print(f"{n:,} records, {pardos:2d} routed steps, {shuffles} shuffles: {cpu:.2f} CPU-s")
    per_step = (best[(11, 0)] - best[(1, 0)]) / 10 / n * 1e6
    per_shuffle = (best[(1, 3)] - best[(1, 0)]) / 3 / n * 1e6
    print(f"per element: {per_step:.2f} us per fused routed step, {per_shuffle:.1f} us per shuffle")


def same_parquet(a: str, b: str) -> list[str]:
    """Parquet files that differ (or exist on one side only) between two outputs."""
    left = sorted(p.relative_to(a) for p in pathlib.Path(a).rglob("*.parquet"))
    right = sorted(p.relative_to(b) for p in pathlib.Path(b).rglob("*.parquet"))
    diffs = [str(p) for p in set(left) ^ set(right)]
    diffs += [str(p) for p in left if p in right and not filecmp.cmp(pathlib.Path(a, p), pathlib.Path(b, p),
                                                                       shallow=False)]
    return sorted(diffs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--job", choices=sorted(JOB_ARGS), default="commits")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--input", default=SAMPLE, help="the dump (default: the shared sample)")
    ap.add_argument("--workdir", default="/tmp/issue19_runs")
    ap.add_argument("--out", help="write the results here as JSON")
    ap.add_argument("beam_args", nargs="*", help="after --: more arguments for the job (Beam options)")
    ap.add_argument("--signatures", action="store_true",
                    help="only time per-record vs batched MinHash signatures (this tree, in-process)")
    ap.add_argument("--pardo-cost", action="store_true",
                    help="only time one more fused routed step and one more shuffle per element (this tree)")
    args = ap.parse_args(argv)
    if args.signatures:
        bench_signatures()
        return 0
    if args.pardo_cost:
        bench_pardo_cost()
        return 0
    trees = dict(t.split("=", 1) for t in args.tree)
    results = {name: [] for name in trees}
    for i in range(args.runs):
        for name, tree in trees.items():
            r = run_once(tree, args.job, f"{args.workdir}/{args.job}-{name}", args.beam_args, args.input)
            results[name].append(r)
            rate = f"  {r['per_s']:6.1f} {READ_TABLE[args.job]}/s  {r['cpu_s_per_1000']:.2f} CPU-s/1,000" \
                if "per_s" in r else ""
            print(f"run {i + 1} {name:>8}: cpu {r['cpu_s']:6.2f} s  wall {r['wall_s']:6.2f} s  "
                  f"peak rss {r['peak_rss_mb']:7.1f} MB  other load {r['other_load_share']:.0%}{rate}", flush=True)
    names = list(trees)
    report = {"job": args.job, "beam_args": args.beam_args, "runs": results}
    report["differing_parquet"] = {}
    for name in names[1:]:  # every tree against the first
        diffs = same_parquet(f"{args.workdir}/{args.job}-{names[0]}", f"{args.workdir}/{args.job}-{name}")
        report["differing_parquet"][name] = diffs
        print(f"parquet files of {name} that differ from {names[0]}:", diffs or "none")
    for name in names:
        cpus = sorted(r["cpu_s"] for r in results[name])
        print(f"{name}: median cpu {cpus[len(cpus) // 2]:.2f} s, min {cpus[0]:.2f} s; "
              f"max peak rss {max(r['peak_rss_mb'] for r in results[name]):.0f} MB; counters "
              f"{json.dumps(results[name][-1]['counters'], sort_keys=True)}")
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
