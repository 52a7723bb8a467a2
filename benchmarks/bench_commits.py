"""End-to-end throughput and peak memory of ``codecorpus commits`` on a dump.

Runs the job as a subprocess (``python -m codecorpus.cli commits ...``) ``--runs``
times in each mode:

- ``in_memory``: the local FnApiRunner in one process (the CLI's default);
- ``multi_processing``: ``--direct_running_mode=multi_processing --direct_num_workers=N``
  (the launcher plus N SDK worker subprocesses).

Per run it records:

- ``wall_s``: wall-clock seconds from spawning the process to its exit (interpreter and Beam
  import, pipeline construction, ``pipeline.run()``, table finalisation, manifest, card);
- ``pipeline_s``: the ``done in X s`` the CLI prints (``pipeline.run()`` + ``wait_until_finish``);
- ``commits_read``: ``counters["read/commits"]`` from ``OUT/manifest.json``;
- ``peak_tree_pss_mib``: the largest *sum* of PSS (proportional set size) over the job's
  process tree (launcher and every descendant, e.g. SDK workers), sampled every
  ``--sample-interval`` seconds from /proc (psutil, if installed, only lists the tree);
- ``peak_tree_rss_mib``: the same with RSS (double-counts pages a fork shares with its parent);
- ``peak_launcher_rss_mib``: the launcher process's own high-water mark (``VmHWM``);
- ``sum_hwm_rss_mib``: the sum over every process seen of its own ``VmHWM`` (an upper bound
  on the tree total: the processes may peak at different times);
- ``wait4_maxrss_mib``: ``ru_maxrss`` from ``os.wait4`` on the launcher: the peak RSS of the
  single largest process among the launcher and the descendants it reaped (a max, not a sum).

It also runs the job on an *empty* dump (zero commits, contents and licences) in each mode, to
measure the fixed start-up/tear-down cost; the marginal rate is
``commits / (median wall - median empty wall)``.

Writes ``--out``/commits.json (every run) and ``--out``/commits.md (a summary table).

    python benchmarks/bench_commits.py --input ../shared/data/github_repos_sample --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"
MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")

try:  # optional: a faster, more portable tree walk
    import psutil  # type: ignore
except ImportError:  # pragma: no cover - depends on the machine
    psutil = None


# --- process-tree memory sampling ------------------------------------------------------------


def _proc_children(pid: int) -> list[int]:
    """Direct children of ``pid`` from /proc/PID/task/*/children (falls back to a /proc scan)."""
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    found_file = False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found_file = True
                kids.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    if found_file:
        return kids
    for entry in os.listdir("/proc"):  # kernels without CONFIG_PROC_CHILDREN
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids


def _proc_pss(pid: int) -> int | None:
    """Proportional set size in bytes (shared pages split between their users), from
    /proc/PID/smaps_rollup; None where the kernel does not offer it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _proc_mem(pid: int) -> tuple[int, int] | None:
    """(current RSS, high-water RSS) in bytes of one process, from /proc/PID/status."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        return None
    if rss is None:  # a zombie: no memory left
        return None
    return rss, hwm or rss


def _tree(pid: int) -> list[int]:
    if psutil is not None:
        try:
            p = psutil.Process(pid)
            return [pid] + [c.pid for c in p.children(recursive=True)]
        except psutil.Error:
            return []
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_proc_children(p))
    return out


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree until stopped."""

    def __init__(self, root_pid: int, interval: float):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.peak_total = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.hwm: dict[int, int] = {}  # pid -> last seen VmHWM
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            total = pss_total = 0
            pids = _tree(self.root_pid)
            alive = 0
            for pid in pids:
                mem = _proc_mem(pid)
                if mem is None:
                    continue
                alive += 1
                total += mem[0]
                pss = _proc_pss(pid)
                pss_total += pss if pss is not None else mem[0]
                self.hwm[pid] = max(self.hwm.get(pid, 0), mem[1])
            self.samples += 1
            self.peak_total = max(self.peak_total, total)
            self.peak_pss = max(self.peak_pss, pss_total)
            self.peak_procs = max(self.peak_procs, alive)
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()


# --- machine load: other processes share these CPUs --------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_busy_s() -> tuple[float, float]:
    """(busy CPU-seconds, total CPU-seconds) of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def wait_for_quiet(max_wait: float, busy_below: float) -> float:
    """Wait (up to ``max_wait`` s) for a 1-second window in which the machine's CPUs are less
    than ``busy_below`` busy (other jobs skew timings). Returns the busy share last seen."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = cpu_busy_s()
        time.sleep(1.0)
        b1, t1 = cpu_busy_s()
        share = (b1 - b0) / max(1e-9, t1 - t0)
        if share < busy_below or time.monotonic() >= deadline:
            return share


# --- one run ---------------------------------------------------------------------------------

MODES = {
    "in_memory": [],
    "multi_processing": ["--direct_running_mode=multi_processing", "--direct_num_workers={workers}"],
}
_DONE = re.compile(r"done in ([0-9.]+)s")


def job_command(input_path: str, output: str, mode: str, workers: int) -> list[str]:
    extra = [a.format(workers=workers) for a in MODES[mode]]
    return [sys.executable, "-m", "codecorpus.cli", "commits", "--input", input_path,
            "--output", output, "--overwrite", "--quiet", *extra]


def run_once(input_path: str, output: str, mode: str, workers: int, interval: float) -> dict:
    cmd = job_command(input_path, output, mode, workers)
    stderr_path = Path(output + ".stderr")
    busy0, total0 = cpu_busy_s()
    self0 = self_cpu_s()
    with open(stderr_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        sampler = TreeSampler(proc.pid, interval)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
    busy1, total1 = cpu_busy_s()
    bench_cpu = self_cpu_s() - self0  # this script, mostly the RSS sampler
    job_cpu = usage.ru_utime + usage.ru_stime
    background = max(0.0, (busy1 - busy0) - job_cpu - bench_cpu)
    stderr = stderr_path.read_text(errors="replace")
    stderr_path.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}")
    manifest = json.loads((Path(output) / "manifest.json").read_text())
    done = _DONE.search(stderr)
    return {
        "mode": mode,
        "wall_s": round(wall, 3),
        "pipeline_s": float(done.group(1)) if done else None,
        "commits_read": manifest["counters"].get("read/commits", 0),
        "rows": {name: t["rows"] for name, t in manifest["tables"].items()},
        "peak_tree_pss_mib": round(sampler.peak_pss / MIB, 1),
        "peak_tree_rss_mib": round(sampler.peak_total / MIB, 1),
        "peak_launcher_rss_mib": round(sampler.hwm.get(proc.pid, 0) / MIB, 1),
        "sum_hwm_rss_mib": round(sum(sampler.hwm.values()) / MIB, 1),
        "wait4_maxrss_mib": round(usage.ru_maxrss * 1024 / MIB, 1),  # ru_maxrss is in KiB on Linux
        "processes_seen": len(sampler.hwm),
        "max_concurrent_processes": sampler.peak_procs,
        "rss_samples": sampler.samples,
        "user_cpu_s": round(usage.ru_utime, 2),
        "sys_cpu_s": round(usage.ru_stime, 2),
        "sampler_cpu_s": round(bench_cpu, 2),
        # CPU-seconds other processes on the machine used during the run, and as a share of all
        # CPU time available during it: a run with a large share was slowed by a neighbour.
        "background_cpu_s": round(background, 2),
        "background_share": round(background / max(1e-9, total1 - total0), 3),
    }


def make_empty_dump(root: Path) -> Path:
    """A dump with the three tables the job reads, each an empty gzip NDJSON file."""
    root.mkdir(parents=True, exist_ok=True)
    for table in ("commits", "contents", "licenses"):
        with gzip.open(root / f"{table}.jsonl.gz", "wb"):
            pass
    return root


# --- summary ---------------------------------------------------------------------------------


def summarise(runs: list[dict], empty_runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    commits = runs[0]["commits_read"]
    rates = [r["commits_read"] / r["wall_s"] for r in runs]
    pipeline = [r["pipeline_s"] for r in runs if r["pipeline_s"] is not None]
    empty_wall = statistics.median(r["wall_s"] for r in empty_runs) if empty_runs else None
    empty_pipeline = (statistics.median(r["pipeline_s"] for r in empty_runs if r["pipeline_s"] is not None)
                      if empty_runs else None)
    marginal_s = statistics.median(walls) - empty_wall if empty_wall is not None else None
    return {
        "runs": len(runs),
        "commits_read": commits,
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_min": round(min(walls), 3),
        "wall_s_max": round(max(walls), 3),
        "pipeline_s_median": round(statistics.median(pipeline), 3) if pipeline else None,
        "commits_per_s_median": round(statistics.median(rates), 1),
        "commits_per_s_min": round(min(rates), 1),
        "commits_per_s_max": round(max(rates), 1),
        "empty_dump_wall_s_median": round(empty_wall, 3) if empty_wall is not None else None,
        "empty_dump_pipeline_s_median": round(empty_pipeline, 3) if empty_pipeline is not None else None,
        "marginal_s": round(marginal_s, 3) if marginal_s is not None else None,
        "marginal_commits_per_s": round(commits / marginal_s, 1) if marginal_s and marginal_s > 0 else None,
        "peak_tree_pss_mib_max": max(r["peak_tree_pss_mib"] for r in runs),
        "peak_tree_pss_mib_median": statistics.median(r["peak_tree_pss_mib"] for r in runs),
        "peak_tree_rss_mib_max": max(r["peak_tree_rss_mib"] for r in runs),
        "peak_tree_rss_mib_median": statistics.median(r["peak_tree_rss_mib"] for r in runs),
        "sum_hwm_rss_mib_max": max(r["sum_hwm_rss_mib"] for r in runs),
        "peak_launcher_rss_mib_max": max(r["peak_launcher_rss_mib"] for r in runs),
        "wait4_maxrss_mib_max": max(r["wait4_maxrss_mib"] for r in runs),
        "empty_dump_peak_tree_pss_mib_max": max(r["peak_tree_pss_mib"] for r in empty_runs) if empty_runs else None,
        "empty_dump_peak_tree_rss_mib_max": max(r["peak_tree_rss_mib"] for r in empty_runs) if empty_runs else None,
        "processes_seen": max(r["processes_seen"] for r in runs),
        "user_plus_sys_cpu_s_median": round(statistics.median(r["user_cpu_s"] + r["sys_cpu_s"] for r in runs), 2),
        "background_share_max": max(r["background_share"] for r in runs + empty_runs),
    }


def machine() -> dict:
    import apache_beam
    import pyarrow

    mem_total = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "mem_total_gib": mem_total,
        "python": platform.python_version(),
        "apache_beam": apache_beam.__version__,
        "pyarrow": pyarrow.__version__,
        "platform": platform.platform(),
        "rss_sampler": "psutil" if psutil is not None else "/proc",
    }


def code_version() -> str | None:
    """``git describe``-like: the HEAD commit, "+dirty" when package files differ from it."""
    try:
        head = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "codecorpus"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (head + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# `codecorpus commits`: throughput and peak memory",
        "",
        f"Generated by `benchmarks/bench_commits.py` on {report['generated']} "
        f"(code {report['code_version']}). Input: `{report['input']}`, {report['runs_per_mode']} runs per mode.",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total_gib']} GiB RAM, "
        f"Python {m['python']}, apache-beam {m['apache_beam']}, pyarrow {m['pyarrow']}; "
        f"RSS sampled every {report['sample_interval_s']} s via {m['rss_sampler']}.",
        "",
        "| mode | commits | wall s (median / min / max) | pipeline.run s (median) | commits/s (median / min) "
        "| empty-dump wall s | marginal commits/s | peak tree PSS MiB (median / max) | peak tree RSS MiB (max) "
        "| sum of per-process peaks MiB | largest single process MiB (wait4) | empty-dump peak PSS MiB "
        "| CPU s (user+sys, median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, s in report["summary"].items():
        lines.append(
            f"| {mode} | {s['commits_read']:,} | {s['wall_s_median']:.2f} / {s['wall_s_min']:.2f} / {s['wall_s_max']:.2f} "
            f"| {s['pipeline_s_median']:.2f} | {s['commits_per_s_median']:.0f} / {s['commits_per_s_min']:.0f} "
            f"| {s['empty_dump_wall_s_median']:.2f} | {s['marginal_commits_per_s'] or float('nan'):.0f} "
            f"| {s['peak_tree_pss_mib_median']:.0f} / {s['peak_tree_pss_mib_max']:.0f} | {s['peak_tree_rss_mib_max']:.0f} "
            f"| {s['sum_hwm_rss_mib_max']:.0f} | {s['wait4_maxrss_mib_max']:.0f} "
            f"| {s['empty_dump_peak_tree_pss_mib_max'] or 0:.0f} | {s['user_plus_sys_cpu_s_median']:.1f} |")
    lines += [
        "",
        "- commits/s = commits read / wall seconds of the whole command (interpreter start, Beam import, "
        "pipeline construction and run, Parquet finalisation, manifest), so it includes start-up.",
        "- empty-dump wall s: the same command on a dump with empty `commits`, `contents` and `licenses` "
        "files: the fixed cost. marginal commits/s = commits / (median wall - median empty-dump wall).",
        "- peak tree PSS: the largest sum, at one sample, of the proportional set size (shared pages split "
        "between the processes sharing them) over the launcher and all its descendants (the SDK worker "
        "subprocesses in multi_processing; short-lived forks such as `git rev-parse`). This is the headline "
        "peak memory. Peak tree RSS is the same with RSS, which counts pages shared after a fork twice. "
        "Sum of per-process peaks adds each process's own VmHWM (an upper bound: processes peak at "
        "different times). wait4: `ru_maxrss` of the largest single process among the launcher and the "
        "children it reaped (a max, not a sum; exact, not sampled).",
        "- CPU s: user+sys CPU of the launcher and its reaped descendants (from `os.wait4`).",
        "- The machine is shared: each run starts after an idle second and is retaken when other processes "
        "used more than the `--max-background` share of the CPUs during it (measured from /proc/stat minus "
        "the job's and this script's own CPU time); the share is listed per run below.",
        "",
        "## Runs",
        "",
        "| mode | dump | wall s | pipeline.run s | commits | peak tree PSS MiB | peak tree RSS MiB "
        "| launcher VmHWM MiB | processes | CPU s | other processes' CPU share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["runs"]:
        lines.append(f"| {r['mode']} | {r['dump']} | {r['wall_s']:.2f} | {r['pipeline_s']:.2f} | {r['commits_read']:,} "
                     f"| {r['peak_tree_pss_mib']:.0f} | {r['peak_tree_rss_mib']:.0f} | {r['peak_launcher_rss_mib']:.0f} "
                     f"| {r['processes_seen']} "
                     f"| {r['user_cpu_s'] + r['sys_cpu_s']:.1f} | {r['background_share']:.0%} |")
    if report["discarded_runs"]:
        lines += ["", f"{len(report['discarded_runs'])} run(s) were retaken because other processes used more than "
                  f"{report['max_background']:.0%} of the CPUs during them (kept in commits.json, `discarded_runs`)."]
    return "\n".join(lines) + "\n"


def measured(input_path: str, output: str, mode: str, args, discarded: list) -> dict:
    """One run, taken when the machine is quiet and retaken (up to ``--retries`` times) when
    other processes used more than ``--max-background`` of the CPUs during it."""
    for attempt in range(args.retries + 1):
        before = wait_for_quiet(args.quiet_wait, args.quiet_below) if args.quiet_wait > 0 else None
        r = run_once(input_path, output, mode, args.workers, args.sample_interval)
        r["busy_share_before"] = round(before, 3) if before is not None else None
        r["attempt"] = attempt
        if r["background_share"] <= args.max_background or attempt == args.retries:
            return r
        print(f"  {mode}: {r['background_share']:.0%} of the CPUs were busy with other work; retaking",
              file=sys.stderr, flush=True)
        discarded.append({**r, "output": Path(output).name})
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="dump folder (default: the shared sample)")
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (default 3)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for commits.json and commits.md")
    parser.add_argument("--modes", default="in_memory,multi_processing", help="comma-separated modes")
    parser.add_argument("--workers", type=int, default=2, help="--direct_num_workers for multi_processing")
    parser.add_argument("--sample-interval", type=float, default=0.05, help="RSS sampling period, seconds")
    parser.add_argument("--no-empty", action="store_true", help="skip the empty-dump start-up runs")
    parser.add_argument("--workdir", help="where job outputs go (default: a temporary folder, removed)")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="before each run wait up to this many seconds for an idle second (0: never wait)")
    parser.add_argument("--quiet-below", type=float, default=0.10,
                        help="machine busy share under which a second counts as idle (default 0.10)")
    parser.add_argument("--max-background", type=float, default=0.10,
                        help="retake a run when other processes used more than this share of the CPUs")
    parser.add_argument("--retries", type=int, default=3, help="retakes per run at most (default 3)")
    args = parser.parse_args(argv)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    input_path = str(Path(args.input).resolve())
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench_commits_"))
    workdir.mkdir(parents=True, exist_ok=True)
    empty = make_empty_dump(workdir / "empty_dump")

    all_runs, summary, discarded = [], {}, []
    try:
        # Warm the OS page cache and .pyc files once, not measured.
        print("warm-up run (not measured) ...", file=sys.stderr, flush=True)
        run_once(input_path, str(workdir / "warmup"), "in_memory", args.workers, args.sample_interval)
        for mode in modes:
            runs, empty_runs = [], []
            for i in range(args.runs):
                # Interleave sample and empty-dump runs so drift hits both alike.
                r = measured(input_path, str(workdir / f"{mode}_{i}"), mode, args, discarded)
                r.update(dump="sample", run=i)
                runs.append(r)
                print(f"{mode} run {i}: {r['wall_s']:.2f}s wall, {r['commits_read']} commits, "
                      f"peak tree PSS {r['peak_tree_pss_mib']:.0f} MiB, background {r['background_share']:.0%}",
                      file=sys.stderr, flush=True)
                if not args.no_empty:
                    e = measured(str(empty), str(workdir / f"{mode}_empty_{i}"), mode, args, discarded)
                    e.update(dump="empty", run=i)
                    empty_runs.append(e)
                    print(f"{mode} empty-dump run {i}: {e['wall_s']:.2f}s wall, background "
                          f"{e['background_share']:.0%}", file=sys.stderr, flush=True)
            all_runs += runs + empty_runs
            summary[mode] = summarise(runs, empty_runs)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    report = {
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "code_version": code_version(),
        "input": args.input,
        "runs_per_mode": args.runs,
        "workers": args.workers,
        "sample_interval_s": args.sample_interval,
        "max_background": args.max_background,
        "command": " ".join(job_command("INPUT", "OUTPUT", "multi_processing", args.workers)[1:]),
        "machine": machine(),
        "summary": summary,
        "runs": all_runs,
        "discarded_runs": discarded,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "commits.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "commits.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
