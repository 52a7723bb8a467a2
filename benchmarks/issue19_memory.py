"""Issue 19, item 4: where the commit job's memory goes on the in-memory FnApiRunner.

    PYTHONPATH=. python benchmarks/issue19_memory.py --out benchmarks/results/issue19_memory.md
    PYTHONPATH=. python benchmarks/issue19_memory.py --tracemalloc --out benchmarks/results/issue19_memory_tm.md

Runs ``codecorpus commits`` on the shared sample in this process (in-memory runner: the SDK
worker is a thread here, so one process holds everything) and, after every bundle the runner
executes, records

- the stage, this process's RSS (``VmRSS``) and peak (``VmHWM``) from ``/proc/self/status``;
- what the runner's shuffle buffers hold at that moment: every live ``ListBuffer`` (encoded
  elements between fused stages, bytes counted exactly) and ``GroupingBuffer`` (a
  GroupByKey's table of decoded values: counted in values, sized by tracemalloc when on),
  found with ``gc``, summed per PCollection;
- with ``--tracemalloc``: Python's traced memory after the bundle and its peak during it, and at the bundle where it peaks the top
  allocation sites (file:line), which says which stage's data is alive at the peak. tracemalloc
  makes the run about 3x slower and does not see NumPy's or Arrow's own allocators' pools.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import sys
import time
import tracemalloc

SAMPLE = "/work/shared/data/github_repos_sample"


def status_kb(field: str) -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def live_buffers():
    """(ListBuffer bytes, GroupingBuffer values, [(kind, bytes or values, sample pcoll id)]) now."""
    from apache_beam.runners.portability.fn_api_runner import execution

    list_bytes = group_values = 0
    per_buffer = []
    for obj in gc.get_objects():
        if isinstance(obj, execution.ListBuffer):
            n = sum(len(x) for x in obj._inputs)
            list_bytes += n
            if n:
                per_buffer.append(("list", n, len(obj._inputs)))
        elif isinstance(obj, execution.GroupingBuffer):
            n = sum(len(v) for v in obj._table.values())
            group_values += n
            if n:
                per_buffer.append(("group", n, len(obj._table)))
    return list_bytes, group_values, per_buffer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=SAMPLE)
    ap.add_argument("--output", default="/tmp/issue19_memory_out")
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--out", help="write the Markdown report here")
    ap.add_argument("job_args", nargs="*", help="after --: more arguments for `codecorpus commits`")
    args = ap.parse_args(argv)

    from apache_beam.runners.portability.fn_api_runner import fn_runner

    rows, peak = [], {"traced": 0, "snapshot": None, "stage": None}
    original = fn_runner.FnApiRunner._execute_bundle

    def execute_bundle(self, runner_context, bundle_manager, bundle_input):
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        result = original(self, runner_context, bundle_manager, bundle_input)
        bundle_peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0
        stage = bundle_manager.stage.name
        list_bytes, group_values, per_buffer = live_buffers()
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        rows.append({"stage": stage, "rss_mb": status_kb("VmRSS") / 1024, "hwm_mb": status_kb("VmHWM") / 1024,
                     "list_mb": list_bytes / 2**20, "group_values": group_values, "traced_mb": traced / 2**20,
                     "bundle_peak_mb": bundle_peak / 2**20,
                     "buffers": sorted(per_buffer, key=lambda b: -b[1])[:4]})
        if tracemalloc.is_tracing() and traced > peak["traced"]:
            peak.update(traced=traced, snapshot=tracemalloc.take_snapshot(), stage=stage)
        return result

    fn_runner.FnApiRunner._execute_bundle = execute_bundle
    if args.tracemalloc:
        tracemalloc.start(1)
    from codecorpus.cli import main as cli_main

    started = time.monotonic()
    code = cli_main(["commits", "--input", args.input, "--output", args.output, "--overwrite", "--quiet",
                     *args.job_args])
    elapsed = time.monotonic() - started
    if code != 0:
        return code

    lines = [f"# Memory by stage: `codecorpus commits {' '.join(args.job_args)}` on {args.input}", "",
             f"In-process, in-memory FnApiRunner; {len(rows)} bundles in {elapsed:.1f} s wall "
             f"({'with' if args.tracemalloc else 'without'} tracemalloc). Peak RSS (VmHWM) "
             f"**{status_kb('VmHWM') / 1024:.0f} MB**.", "",
             "| # | stage (fused) | RSS MB | peak MB | ListBuffer MB | GroupingBuffer values | traced MB after | "
             "traced MB peak in bundle |",
             "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        stage = r["stage"] if len(r["stage"]) < 90 else r["stage"][:87] + "…"
        lines.append(f"| {i} | `{stage}` | {r['rss_mb']:.0f} | {r['hwm_mb']:.0f} | {r['list_mb']:.1f} | "
                     f"{r['group_values']:,} | {r['traced_mb']:.0f} | {r['bundle_peak_mb']:.0f} |")
    top = max(rows, key=lambda r: r["rss_mb"])
    lines += ["", f"Largest RSS after stage `{top['stage'][:120]}`: {top['rss_mb']:.0f} MB; "
              f"largest live buffers then (kind, bytes or values, elements or keys): {top['buffers']}"]
    if peak["snapshot"] is not None:
        lines += ["", f"tracemalloc peak {peak['traced'] / 2**20:.0f} MB after `{peak['stage'][:120]}`; top sites:", "",
                  "| size MB | blocks | site |", "|---|---|---|"]
        for stat in peak["snapshot"].statistics("lineno")[:args.top]:
            frame = stat.traceback[0]
            where = frame.filename.split("site-packages/")[-1].split("/perf/")[-1]
            lines.append(f"| {stat.size / 2**20:.1f} | {stat.count:,} | `{where}:{frame.lineno}` |")
    text = "\n".join(lines) + "\n"
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
