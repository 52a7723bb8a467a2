"""One (solution, tests) pair run in the sandbox -> an outcome class and an RRTF score.

Outcome classes (PanGu-Coder2's RRTF order, worst first):

- ``compile_error``: the solution does not compile;
- ``runtime_error``: executing it raised, the tests' own setup failed on it, or the process died
  before the tests finished (memory, a signal, the output limit, ``os._exit``);
- ``timeout``: the wall-clock deadline or the CPU limit ended it;
- ``partial``: the tests ran and ``k`` of ``n`` passed, ``k < n`` (``k`` may be 0: wrong answers);
- ``pass``: all ``n`` passed.

Scores order them for ranking: compile_error 0 < runtime_error = timeout 1 < partial 2 + k/n
< pass 3 — a solution that runs and passes some tests beats one that crashes, and passing more
tests beats passing fewer.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from codecorpus.instruct.sandbox import Run, Sandbox

OUTCOMES = ("compile_error", "runtime_error", "timeout", "partial", "pass")


@dataclass(frozen=True)
class Execution:
    outcome: str
    passed: int
    total: int
    score: float
    detail: str          # why: the first error, the limit that was hit …
    output: str          # captured stdout + stderr, truncated
    isolation: str


def score_of(outcome: str, passed: int = 0, total: int = 0) -> float:
    if outcome == "pass":
        return 3.0
    if outcome == "partial":
        return 2.0 + (passed / total if total else 0.0)
    if outcome in ("runtime_error", "timeout"):
        return 1.0
    return 0.0


def classify(run: Run, limits_cpu_signal: int = signal.SIGXCPU) -> tuple:
    """``(outcome, passed, total, detail)`` from the harness's report and how the process ended."""
    events = {e.get("event") for e in run.report}
    tests = [e for e in run.report if e.get("event") == "test"]
    passed = sum(1 for e in tests if e.get("ok"))
    first_error = next((e.get("error", "") for e in run.report if e.get("error")), "")
    if "compile_error" in events:
        return "compile_error", 0, 0, first_error
    if run.timed_out or run.signal == limits_cpu_signal:
        why = "wall-clock deadline" if run.timed_out else "CPU time limit"
        return "timeout", passed, len(tests), f"{why} after {len(tests)} test(s)"
    done = next((e for e in run.report if e.get("event") == "done"), None)
    if "load_error" in events or "tests_error" in events:
        return "runtime_error", 0, len(tests), first_error
    if done is None:
        if run.signal == signal.SIGXFSZ:
            why = "output or file size limit"
        elif run.signal is not None:
            why = f"killed by {signal.Signals(run.signal).name}" if run.signal in signal.Signals._value2member_map_ \
                else f"killed by signal {run.signal}"
        else:
            why = f"exited with {run.returncode} before the tests finished"
        if "compiled" not in events:
            why = f"harness did not start: {why}: {run.stderr.strip()[-300:]}"
        return "runtime_error", passed, len(tests), why
    total = int(done.get("total", 0))
    passed = int(done.get("passed", 0))
    if total == 0:
        return "runtime_error", 0, 0, "no tests ran"
    if passed == total:
        return "pass", passed, total, ""
    return "partial", passed, total, first_error


def execute(sandbox: Sandbox, solution: str, tests: str, fmt: str = "assert") -> Execution:
    run = sandbox.run_harness(solution, tests, fmt)
    outcome, passed, total, detail = classify(run)
    output = run.stdout
    if run.stderr:
        output = (output + "\n--- stderr ---\n" if output else "") + run.stderr
    limit = sandbox.limits.max_output_chars
    return Execution(outcome, passed, total, score_of(outcome, passed, total), detail[:limit], output[:limit],
                     run.isolation)
