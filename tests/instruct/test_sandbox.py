"""The sandbox against hostile solutions: every outcome class, and escape attempts that must fail
(network, reading the host, writing outside, fork bombs, runaway time, memory and output), with
the host checked after each run: no new files, no processes left."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from codecorpus.instruct import sandbox as sb
from codecorpus.instruct.execute import classify, execute, score_of

OK, WHY = sb.bwrap_status()
needs_bwrap = pytest.mark.skipif(not OK, reason=f"bubblewrap cannot run a sandbox here: {WHY}")

LIMITS = sb.Limits(timeout_seconds=4, cpu_seconds=4, memory_mb=256, max_processes=16, max_file_mb=1,
                   tmpfs_mb=8, max_output_chars=500)
TESTS = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(2, 2) == 4\n"


@pytest.fixture(scope="module")
def box():
    return sb.Sandbox(LIMITS, isolation="bwrap")


@pytest.fixture
def host_watch(tmp_path):
    """A sentinel file the solutions try to reach, and a check that nothing changed afterwards."""
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("untouched")
    before = set(os.listdir("/tmp"))
    yield sentinel
    assert sentinel.read_text() == "untouched"
    # Other processes share /tmp: look for ours (left-over task folders, the escape marker).
    created = {n for n in set(os.listdir("/tmp")) - before
               if n.startswith((f"codecorpus-sandbox-{os.getpid()}-", "escaped"))}
    assert not created, f"files appeared in the host /tmp: {created}"
    # this process's runs only: another test process may be running sandboxes at the same time
    assert not sb.processes_of_range(os.getpid()), "sandbox processes survived the run"


def run(box, solution, tests=TESTS, fmt="assert"):
    return execute(box, solution, tests, fmt)


@needs_bwrap
def test_every_outcome_class(box, host_watch):
    assert run(box, "def add(a, b):\n    return a + b\n").outcome == "pass"
    partial = run(box, "def add(a, b):\n    return 3\n")
    assert (partial.outcome, partial.passed, partial.total) == ("partial", 1, 3)
    assert "AssertionError" in partial.detail
    assert run(box, "def add(a, b) return a + b\n").outcome == "compile_error"
    crashed = run(box, "import numpy_that_is_missing\ndef add(a, b):\n    return a + b\n")
    assert crashed.outcome == "runtime_error" and "ModuleNotFoundError" in crashed.detail
    slow = run(box, "def add(a, b):\n    while True:\n        pass\n")
    assert slow.outcome == "timeout"
    assert score_of("compile_error") < score_of("runtime_error") == score_of("timeout") \
        < partial.score < score_of("pass")


@needs_bwrap
def test_wrong_answers_still_run_the_rest_and_sys_exit_is_contained(box, host_watch):
    result = run(box, "import sys\ndef add(a, b):\n    sys.exit(0)\n")
    assert (result.outcome, result.passed, result.total) == ("partial", 0, 3)
    exits_on_load = run(box, "raise SystemExit(0)\n")
    assert exits_on_load.outcome == "runtime_error"


@needs_bwrap
def test_test_functions_and_doctests(box):
    tests = "from solution import add\n\ndef test_small():\n    assert add(1, 2) == 3\n\ndef test_neg():\n" \
            "    assert add(-2, 1) == -1\n"
    assert run(box, "def add(a, b):\n    return a + b\n", tests).outcome == "pass"
    doc = ">>> add(1, 2)\n3\n>>> add(2, 2)\n5\n"
    result = run(box, "def add(a, b):\n    return a + b\n", doc, "doctest")
    assert (result.outcome, result.passed, result.total) == ("partial", 1, 2)


@needs_bwrap
def test_no_network_even_to_a_server_on_the_host(box, host_watch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    solution = f"""
import socket
def add(a, b):
    for host, port in (("127.0.0.1", {port}), ("1.1.1.1", 80), ("8.8.8.8", 53)):
        try:
            socket.create_connection((host, port), timeout=1)
            return "connected"
        except OSError:
            pass
    return a + b
"""
    assert run(box, solution).outcome == "pass"
    time.sleep(0.2)
    server.close()
    assert not accepted


@needs_bwrap
def test_reads_and_writes_outside_fail(box, host_watch):
    home = Path.home()
    solution = f"""
import os
def add(a, b):
    leaks = []
    for path in ("/etc/passwd", "/etc/shadow", {str(host_watch)!r}, {str(home / ".bashrc")!r}):
        try:
            open(path).read()
            leaks.append(path)
        except OSError:
            pass
    if len([p for p in os.listdir("/proc") if p.isdigit()]) > 3:
        leaks.append("/proc shows the host's processes")
    open("/tmp/escaped", "w").write("the sandbox's own /tmp: fine")
    for path in ("/usr/evil", "/evil", "/etc/evil", {str(host_watch)!r}, {str(host_watch.parent / "new")!r},
                 "/task/solution.py"):
        try:
            with open(path, "w") as f:
                f.write("x")
            leaks.append(path)
        except OSError:
            pass
    open("scratch.txt", "w").write("own folder is fine")
    return a + b if not leaks else leaks
"""
    result = run(box, solution)
    assert result.outcome == "pass", result
    assert not (host_watch.parent / "new").exists()


@needs_bwrap
def test_fork_bomb_is_bounded_and_leaves_nothing(box, host_watch):
    solution = """
import os, time
def add(a, b):
    while True:
        try:
            if os.fork() == 0:
                time.sleep(60)
        except OSError:
            time.sleep(60)
"""
    started = time.monotonic()
    result = run(box, solution)
    assert result.outcome == "timeout"
    assert time.monotonic() - started < LIMITS.timeout_seconds + 3


@needs_bwrap
def test_daemonised_child_does_not_survive(box, host_watch, tmp_path):
    solution = """
import os, time
def add(a, b):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(120)
        os._exit(0)
    return a + b
"""
    assert run(box, solution).outcome == "pass"


@needs_bwrap
def test_memory_and_output_bombs_are_contained(box, host_watch):
    memory = run(box, "def add(a, b):\n    x = bytearray(10 ** 10)\n    return a + b\n")
    assert memory.outcome == "partial" and "MemoryError" in memory.detail
    hog = run(box, "blob = bytearray(10 ** 10)\ndef add(a, b):\n    return a + b\n")
    assert hog.outcome == "runtime_error" and "MemoryError" in hog.detail
    loud = run(box, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert loud.outcome == "runtime_error" and "File too large" in loud.detail
    assert len(loud.output) <= LIMITS.max_output_chars
    disk = run(box, "def add(a, b):\n    i = 0\n    while True:\n        open(f'f{i}', 'w').write('x' * 500000)\n"
                    "        i += 1\n")
    assert disk.outcome == "partial" and "No space left" in disk.detail


@needs_bwrap
def test_cpu_limit_without_wall_clock(tmp_path):
    box = sb.Sandbox(sb.Limits(timeout_seconds=20, cpu_seconds=1), isolation="bwrap")
    started = time.monotonic()
    result = execute(box, "def add(a, b):\n    while True:\n        pass\n", TESTS)
    assert result.outcome == "timeout" and "CPU" in result.detail
    assert time.monotonic() - started < 10


def test_classify_a_run_killed_before_reporting():
    run_ = sb.Run(returncode=-9, signal=9, report=[{"event": "compiled"}, {"event": "loaded"}])
    assert classify(run_)[0] == "runtime_error"
    assert classify(sb.Run(returncode=0, report=[{"event": "compiled"}, {"event": "loaded"},
                                                 {"event": "done", "passed": 0, "total": 0}]))[0] == "runtime_error"


def test_refuses_to_run_unisolated_unless_allowed():
    with pytest.raises(sb.SandboxUnavailable, match="allow_unisolated"):
        sb.Sandbox(LIMITS, isolation="none")
    with pytest.raises(sb.SandboxUnavailable, match="does not work"):
        sb.Sandbox(LIMITS, isolation="bwrap", bwrap="no-such-bwrap")
    plain = sb.Sandbox(LIMITS, isolation="auto", allow_unisolated=True, bwrap="no-such-bwrap")
    assert plain.isolation == "none" and "not found" in plain.detail


def test_unisolated_fallback_still_has_limits_and_kills_its_group():
    plain = sb.Sandbox(LIMITS, isolation="none", allow_unisolated=True)
    assert execute(plain, "def add(a, b):\n    return a + b\n", TESTS).outcome == "pass"
    assert execute(plain, "def add(a, b):\n    while True:\n        pass\n", TESTS).outcome == "timeout"
    assert execute(plain, "def add(a, b) return\n", TESTS).outcome == "compile_error"
    assert not sb.processes_of_range(os.getpid())
