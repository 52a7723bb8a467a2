"""Issue 19, item 4: where the commit job's memory goes with ``multi_processing`` (per process, per stage).

    PYTHONPATH=. python benchmarks/issue19_mp_trace.py --input /tmp/mem4x --out /tmp/trace4.md \
        -- --direct_running_mode=multi_processing --direct_num_workers=2

Runs ``codecorpus commits`` in this process (the launcher: the FnApiRunner and its shuffle
buffers) and samples, every 0.25 s, the RSS of this process and of each SDK worker subprocess,
tagged with the stage the runner is executing. After every bundle it also records the bytes held
in the runner's live ``ListBuffer``s and the values in its ``GroupingBuffer``s. Stops itself
(exit 3) when the tree passes ``--limit-mb``. Run it under ``issue19_treemem.sh`` anyway.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from issue19_memory import live_buffers  # noqa: E402


def rss_kb(pid: int) -> int:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            out += [int(c) for c in pathlib.Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return out + [g for c in out for g in children(c)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", default="/tmp/issue19_mp_trace_out")
    ap.add_argument("--out", help="write the Markdown report here")
    ap.add_argument("--limit-mb", type=int, default=13000)
    ap.add_argument("job_args", nargs="*")
    args = ap.parse_args(argv)

    from apache_beam.runners.portability.fn_api_runner import fn_runner

    state = {"stage": "(start)", "done": False}
    samples, bundles = [], []
    me = os.getpid()

    def sample():
        while not state["done"]:
            kids = children(me)
            row = (time.monotonic(), state["stage"], rss_kb(me), sorted((rss_kb(k) for k in kids), reverse=True))
            samples.append(row)
            if (row[2] + sum(row[3])) / 1024 > args.limit_mb:
                print(f"tree above {args.limit_mb} MB in {state['stage']}: stopping", file=sys.stderr)
                for k in kids:
                    try:
                        os.kill(k, 9)
                    except OSError:
                        pass
                os._exit(3)
            time.sleep(0.25)

    original = fn_runner.FnApiRunner._execute_bundle

    def execute_bundle(self, runner_context, bundle_manager, bundle_input):
        state["stage"] = bundle_manager.stage.name
        started = time.monotonic()
        result = original(self, runner_context, bundle_manager, bundle_input)
        list_bytes, group_values, _ = live_buffers()
        bundles.append((state["stage"], time.monotonic() - started, rss_kb(me) / 1024, list_bytes / 2**20,
                        group_values))
        return result

    fn_runner.FnApiRunner._execute_bundle = execute_bundle
    threading.Thread(target=sample, daemon=True).start()
    from codecorpus.cli import main as cli_main

    started = time.monotonic()
    code = cli_main(["commits", "--input", args.input, "--output", args.output, "--overwrite", "--quiet",
                     *args.job_args])
    state["done"] = True
    elapsed = time.monotonic() - started

    # per stage: max launcher RSS, max worker RSS, max tree RSS while it ran
    per_stage: dict[str, list] = {}
    for _, stage, launcher, workers in samples:
        s = per_stage.setdefault(stage, [0, 0, 0, 0])
        s[0] = max(s[0], launcher)
        s[1] = max(s[1], workers[0] if workers else 0)
        s[2] = max(s[2], launcher + sum(workers))
        s[3] += 1
    buffers = {}
    for stage, secs, rss, lmb, gv in bundles:
        b = buffers.setdefault(stage, [0, 0.0, 0.0, 0])
        b[0] += 1
        b[1] += secs
        b[2] = max(b[2], lmb)
        b[3] = max(b[3], gv)
    tree_peak = max((l + sum(w) for _, _, l, w in samples), default=0) / 1024
    lines = [f"# Memory by process and stage: `codecorpus commits {' '.join(args.job_args)}` on {args.input}", "",
             f"exit {code}, {elapsed:.1f} s wall, {len(bundles)} bundles, {len(samples)} samples; tree peak "
             f"**{tree_peak:.0f} MB**, launcher peak {max(s[0] for s in per_stage.values()) / 1024:.0f} MB, "
             f"largest worker peak {max(s[1] for s in per_stage.values()) / 1024:.0f} MB.", "",
             "| stage (in order first run) | bundles | s | launcher max MB | largest worker max MB | tree max MB | "
             "ListBuffer MB after (max) | GroupingBuffer values (max) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for stage, s in per_stage.items():
        b = buffers.get(stage, [0, 0, 0, 0])
        name = stage if len(stage) < 80 else stage[:77] + "…"
        lines.append(f"| `{name}` | {b[0]} | {b[1]:.1f} | {s[0] / 1024:.0f} | {s[1] / 1024:.0f} | {s[2] / 1024:.0f} | "
                     f"{b[2]:.1f} | {b[3]:,} |")
    text = "\n".join(lines) + "\n"
    if args.out:
        pathlib.Path(args.out).write_text(text)
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
