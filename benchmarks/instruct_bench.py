"""Benchmarks of `codecorpus instruct`: the sandbox, and the offline doctest mode.

Sandbox (one process, runs one after another: per-core numbers):
- executions per second of a passing (solution, tests) pair, with bubblewrap and with the plain
  resource-limited subprocess;
- start-up cost: a solution that does nothing, minus the same run without the harness's work;
- worst case per execution: hostile solutions (infinite loop, fork bomb, memory bomb, output
  bomb, sleeping forever, a daemonised child) under the default limits (10 s wall clock): each is
  bounded by the deadline, never by the solution.
Doctest mode: the job over an input (the shared sample dump, a fresh clone of a repository, a
folder such as the standard library): functions found, with doctests, kept.

    python benchmarks/instruct_bench.py sandbox [--runs 40]
    python benchmarks/instruct_bench.py doctests --input ../shared/data/github_repos_sample [--input git:CLONE ...]

Results go to benchmarks/results/instruct.json (merged per section).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codecorpus.instruct import sandbox as sb  # noqa: E402
from codecorpus.instruct.execute import execute  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "instruct.json"
PASS = ("def add(a, b):\n    return a + b\n", "assert add(1, 2) == 3\nassert add(2, 2) == 4\n")
HOSTILE = {
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "sleep_forever": "import time\ndef add(a, b):\n    time.sleep(3600)\n",
    "fork_bomb": "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n"
                 "            pass\n",
    "memory_bomb": "def add(a, b):\n    x = []\n    while True:\n        x.append(bytearray(1 << 20))\n",
    "output_bomb": "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('x' * 65536)\n",
    "daemon_child": "import os, time\ndef add(a, b):\n    if os.fork() == 0:\n        os.setsid()\n"
                    "        time.sleep(3600)\n    return a + b\n",
}


def _save(section: str, data: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current[section] = data
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def _rate(box, runs: int) -> dict:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = execute(box, *PASS)
        times.append(time.perf_counter() - started)
        assert result.outcome == "pass", result
    return {"runs": runs, "executions_per_second": round(runs / sum(times), 2),
            "median_ms": round(statistics.median(times) * 1000, 1), "p95_ms": round(sorted(times)[int(runs * .95) - 1] * 1000, 1)}


def _bare_python_ms(python: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-I", "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def sandbox_bench(args) -> dict:
    limits = sb.Limits()
    out = {"limits": limits.__dict__, "python": sb.default_python()}
    ok, why = sb.bwrap_status()
    out["bwrap"] = why
    out["bare_python_startup_ms"] = _bare_python_ms(sb.default_python(), args.runs)
    plain = sb.Sandbox(limits, "none", allow_unisolated=True)
    out["unisolated"] = _rate(plain, args.runs)
    if ok:
        box = sb.Sandbox(limits, "bwrap")
        out["bwrap_run"] = _rate(box, args.runs)
        out["bwrap_startup_cost_ms"] = round(out["bwrap_run"]["median_ms"] - out["unisolated"]["median_ms"], 1)
        worst = {}
        for name, solution in HOSTILE.items():
            started = time.perf_counter()
            result = execute(box, solution, PASS[1])
            worst[name] = {"seconds": round(time.perf_counter() - started, 2), "outcome": result.outcome,
                           "detail": result.detail[:80]}
            assert not sb.processes_of_range(), f"{name} left processes behind"
        out["hostile"] = worst
        out["worst_case_seconds"] = max(w["seconds"] for w in worst.values())
    return out


def doctest_bench(args) -> dict:
    results = {}
    for spec in args.input:
        with tempfile.TemporaryDirectory() as tmp:
            output = Path(tmp) / "out"
            started = time.perf_counter()
            code = subprocess.run([sys.executable, "-m", "codecorpus.cli", "instruct", "--from", "doctests",
                                   "--input", spec, "--output", str(output), "--quiet"], cwd=ROOT,
                                  capture_output=True, text=True).returncode
            seconds = time.perf_counter() - started
            manifest = json.loads((output / "manifest.json").read_text())
        c = manifest["counters"]
        results[spec] = {
            "exit": code, "seconds": round(seconds, 1), "python_files": c.get("instruct/doctests/files", 0),
            "functions": c.get("instruct/doctests/functions", 0),
            "with_doctests": c.get("instruct/doctests/with_doctests", 0),
            "dropped_before_running": {k.split("/")[-1]: v for k, v in c.items() if k.startswith("filter/doctest/")},
            "executed": c.get("instruct/executions", 0),
            "outcomes": {k.split("/")[-1]: v for k, v in c.items() if k.startswith("instruct/outcome/")},
            "near_or_exact_duplicates": c.get("filter/exact_dedup/duplicate", 0) + c.get("filter/near_dedup/near_duplicate", 0),
            "kept": manifest["tables"]["code_instructions"]["rows"],
            "accounting_holds": all(t["holds"] for t in manifest["accounting"].values()),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sandbox")
    s.add_argument("--runs", type=int, default=40)
    d = sub.add_parser("doctests")
    d.add_argument("--input", action="append", required=True)
    args = parser.parse_args()
    data = sandbox_bench(args) if args.what == "sandbox" else doctest_bench(args)
    _save(args.what, data)
    print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
