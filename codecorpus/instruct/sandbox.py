"""Running untrusted code: bubblewrap when it works, a resource-limited subprocess otherwise.

Every run gets a fresh host folder (``task/`` with the files, read-only inside) and is started
as its own session, so it is killed with its whole process group. Inside bubblewrap
(``isolation: bwrap``) the process sees:

- no network: every namespace is unshared (``--unshare-all``: net, pid, ipc, uts, user, cgroup),
  so only a loopback interface with nothing listening exists;
- a read-only system: ``/usr`` (and the ``/bin``, ``/lib`` … links to it) bound read-only, and
  the interpreter's own prefix when it lives elsewhere; the root itself is remounted read-only;
  nothing else of the host: no ``/etc/passwd``, no home, no ``/work``, no ``/proc`` of the host;
- a private, size-limited tmpfs as its working directory (``/work``, also ``HOME``) and ``/tmp``;
- its own pid namespace, so when its first process dies the kernel kills every other one (a
  daemonised child does not survive), and ``--die-with-parent`` so killing bubblewrap kills it.

Limits (``setrlimit``, inherited by everything started inside): CPU seconds, address space
(memory), processes (``RLIMIT_NPROC``), file size (also bounds what it can print: stdout and
stderr are files, so a gigabyte of output ends with ``SIGXFSZ``), open files, no core dumps.
A wall-clock deadline kills the process group. ``RLIMIT_NPROC`` counts processes per real user
and does not apply to root, so when we run as root every run is started as an unused uid of its
own (``uid_base`` + a slot per worker process): its fork bomb hits its own limit, never another
run's, and after the run every process left with that uid is killed (a plain-subprocess run
that called ``setsid`` cannot escape that way either).

``isolation: none`` is the same minus the namespaces and mounts: a plain subprocess with the
limits, an empty environment, the task folder as working directory. It can read what its uid can
read and open sockets, so it is refused unless ``allow_unisolated`` is set (``auto`` picks
bubblewrap when it works and otherwise refuses, or falls back when allowed). The manifest
records which one ran.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ISOLATIONS = ("auto", "bwrap", "none")
HARNESS = Path(__file__).with_name("harness.py")


class SandboxUnavailable(RuntimeError):
    """The configured isolation cannot run here (and falling back was not allowed)."""


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 10.0       # wall clock, then the process group is killed
    cpu_seconds: int = 10               # RLIMIT_CPU
    memory_mb: int = 512                # RLIMIT_AS
    max_processes: int = 32             # RLIMIT_NPROC (per run: see the module docstring)
    max_file_mb: int = 16               # RLIMIT_FSIZE: any file it writes, stdout and stderr included
    max_open_files: int = 256           # RLIMIT_NOFILE
    tmpfs_mb: int = 64                  # size of the /work and /tmp tmpfs (bubblewrap only)
    max_output_chars: int = 2000        # captured stdout / stderr kept per run

    @classmethod
    def from_config(cls, cfg: dict) -> "Limits":
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


@dataclass
class Run:
    """How one sandboxed process ended."""

    returncode: Optional[int]
    signal: Optional[int] = None        # the signal that ended it (SIGKILL after a deadline …)
    timed_out: bool = False
    stdout: str = ""                    # first max_output_chars characters
    stderr: str = ""
    output_bytes: int = 0               # stdout + stderr bytes written
    report: list = field(default_factory=list)   # the harness's JSON lines (see harness.py)
    seconds: float = 0.0
    isolation: str = "bwrap"


# --- is bubblewrap usable here? -----------------------------------------------------------------


def _system_mounts() -> list:
    """bwrap arguments that show ``/usr`` and the merged-usr links (or folders) read-only."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def default_python() -> str:
    """The interpreter solutions run in: the system's ``python3`` under /usr when there is one
    (a fresh interpreter with the standard library only), else the one running codecorpus."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    import sys

    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _python_mounts(python: str) -> list:
    real = os.path.realpath(python)
    if real.startswith("/usr/"):
        return []
    prefix = str(Path(real).parent.parent)  # …/bin/python3 -> … (its lib/ holds the stdlib)
    return ["--ro-bind", prefix, prefix]


@functools.lru_cache(maxsize=8)
def bwrap_status(bwrap: str = "bwrap", python: Optional[str] = None) -> tuple:
    """``(True, version)`` if bubblewrap runs a Python here with our arguments, else
    ``(False, why)`` (not installed, no user namespaces, a seccomp policy …)."""
    path = shutil.which(bwrap)
    if path is None:
        return False, f"{bwrap} not found (Debian/Ubuntu: apt-get install bubblewrap)"
    python = python or default_python()
    uid = _slot_uid() if os.geteuid() == 0 else None
    try:
        _, version, _ = _output_of([path, "--version"], 10)
        code, out, err = _output_of(
            launcher(python, [path, *_bwrap_args(python, Limits()), python, "-I", "-c", "print(6 * 7)"], uid, None), 30)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"{bwrap} failed to start: {type(e).__name__}: {e}"
    if code != 0 or out.strip() != "42":
        return False, f"{bwrap} cannot create a sandbox here: {err.strip()[:300] or code}"
    return True, version.strip()


def _output_of(argv: list, timeout: float) -> tuple:
    """``(returncode, stdout, stderr)`` of a short command, killed with its group at ``timeout``."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out, err


def _bwrap_args(python: str, limits: Limits, task_dir: Optional[str] = None) -> list:
    tmpfs = str(limits.tmpfs_mb << 20)
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox",
            *_system_mounts(), *_python_mounts(python),
            "--proc", "/proc", "--dev", "/dev",
            "--size", tmpfs, "--tmpfs", "/tmp", "--size", tmpfs, "--tmpfs", "/work"]
    if task_dir is not None:
        args += ["--ro-bind", task_dir, "/task"]
    args += ["--remount-ro", "/", "--chdir", "/work", "--clearenv",
             "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/work", "--setenv", "LANG", "C.UTF-8"]
    return args


# --- uids and limits ------------------------------------------------------------------------------

_slots = itertools.count()
_slot_lock = threading.Lock()
UID_BASE = 200_000


def _slot_uid() -> int:
    """An unused uid for one run: per worker process and per concurrent run in it."""
    with _slot_lock:
        slot = next(_slots) % 64
    return UID_BASE + (os.getpid() % 4096) * 64 + slot


# Limits and the uid are set by a small launcher in a fresh interpreter that then execs the
# command, not by a ``preexec_fn``: forking a Beam worker (gRPC threads) to run Python in the
# child aborts in gRPC's fork handlers, so the worker only ever spawns (vfork + exec).
_LAUNCHER = """
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, soft, hard in spec["limits"]:
    resource.setrlimit(getattr(resource, name), (soft, hard))
if spec["uid"] is not None:
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
os.execv(sys.argv[2], sys.argv[2:])
"""


def _limit_triples(limits: Optional[Limits]) -> list:
    if limits is None:
        return []
    mb = 1 << 20
    # CPU: SIGXCPU at the soft limit (classified as a timeout), SIGKILL a second later.
    triples = [("RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1)]
    for name, value in (("RLIMIT_AS", limits.memory_mb * mb), ("RLIMIT_NPROC", limits.max_processes),
                        ("RLIMIT_FSIZE", limits.max_file_mb * mb), ("RLIMIT_NOFILE", limits.max_open_files),
                        ("RLIMIT_CORE", 0)):
        triples.append((name, value, value))
    return triples


def launcher(python: str, argv: list, uid: Optional[int], limits: Optional[Limits]) -> list:
    """``argv`` run under ``limits`` as ``uid`` (None: unchanged)."""
    import json

    spec = json.dumps({"limits": _limit_triples(limits), "uid": uid})
    return [python, "-I", "-S", "-c", _LAUNCHER, spec, *argv]


def processes_of(uid: int) -> list:
    """Pids of live processes whose real uid is ``uid`` (from /proc)."""
    return _processes(lambda u: u == uid)


def processes_of_range(pid: Optional[int] = None) -> list:
    """Pids of live processes run by any sandbox uid (a check that nothing survived), or only by
    the uids of the runs started by process ``pid``."""
    if pid is None:
        return _processes(lambda u: UID_BASE <= u < UID_BASE + 4096 * 64)
    first = UID_BASE + (pid % 4096) * 64
    return _processes(lambda u: first <= u < first + 64)


def _processes(wanted) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                        break  # a zombie waiting for its (re)parent to reap it: already dead
                    if line.startswith("Uid:"):
                        if wanted(int(line.split()[1])):
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def _kill_uid(uid: int) -> None:
    for _ in range(5):  # a fork bomb may be spawning while we sweep: sweep until empty
        pids = processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


# --- the sandbox ------------------------------------------------------------------------------------


class Sandbox:
    """Runs a Python program over a folder of files under ``limits``; see the module docstring."""

    def __init__(self, limits: Limits = Limits(), isolation: str = "auto", allow_unisolated: bool = False,
                 python: Optional[str] = None, bwrap: str = "bwrap"):
        if isolation not in ISOLATIONS:
            raise ValueError(f"sandbox isolation must be one of {', '.join(ISOLATIONS)}; got {isolation!r}")
        self.limits = limits
        self.python = os.path.realpath(shutil.which(python) or python) if python else default_python()
        self.bwrap = shutil.which(bwrap) or bwrap
        ok, detail = bwrap_status(bwrap, self.python) if isolation in ("auto", "bwrap") else (False, "not asked for")
        if isolation == "bwrap" and not ok:
            raise SandboxUnavailable(f"sandbox isolation bwrap does not work here: {detail}")
        if isolation == "none" or (isolation == "auto" and not ok):
            if not allow_unisolated:
                raise SandboxUnavailable(
                    "refusing to run untrusted code without isolation: bubblewrap does not work here "
                    f"({detail}); install bubblewrap, or set instruct.sandbox.allow_unisolated: true to run it in "
                    "a plain resource-limited subprocess")
            self.isolation = "none"
        else:
            self.isolation = "bwrap"
        self.detail = detail

    def describe(self) -> dict:
        return {"isolation": self.isolation, "detail": self.detail, "python": self.python,
                "run_as_dedicated_uid": os.geteuid() == 0, "limits": self.limits.__dict__}

    def run_harness(self, solution: str, tests: str, fmt: str) -> Run:
        """Run ``harness.py`` over one (solution, tests) pair."""
        files = {"harness.py": HARNESS.read_text("utf-8"), "solution.py": solution, "tests.txt": tests,
                 "format": fmt}
        return self.run(files, "harness.py")

    def run(self, files: dict, script: str) -> Run:
        """Write ``files`` into a fresh task folder and run ``python -I task/script TASK_DIR FD``
        (``FD``: a file descriptor for the program's report lines)."""
        root = tempfile.mkdtemp(prefix=f"codecorpus-sandbox-{os.getpid()}-")
        uid = _slot_uid() if os.geteuid() == 0 else None
        try:
            task = os.path.join(root, "task")
            os.mkdir(task)
            os.chmod(root, 0o755)
            for name, text in files.items():
                with open(os.path.join(task, name), "w", encoding="utf-8") as f:
                    f.write(text)
            if uid is not None:
                os.chown(root, uid, uid)
            return self._run(root, task, script, uid)
        finally:
            if uid is not None:
                _kill_uid(uid)
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, root: str, task: str, script: str, uid: Optional[int]) -> Run:
        limits = self.limits
        with open(os.path.join(root, "stdout"), "w+b") as out, open(os.path.join(root, "stderr"), "w+b") as err, \
                open(os.path.join(root, "report"), "w+b") as report:
            fd = report.fileno()
            if self.isolation == "bwrap":
                argv = [self.bwrap, *_bwrap_args(self.python, limits, task), self.python, "-I",
                        f"/task/{script}", "/task", str(fd)]
                cwd, env = "/", {}
            else:
                work = os.path.join(root, "work")
                os.mkdir(work)
                if uid is not None:
                    os.chown(work, uid, uid)
                argv = [self.python, "-I", os.path.join(task, script), task, str(fd)]
                cwd, env = work, {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8"}

            started = time.monotonic()
            proc = subprocess.Popen(launcher(self.python, argv, uid, limits), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, cwd=cwd, env=env, pass_fds=(fd,), start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=limits.timeout_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            if timed_out or self.isolation == "none":
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            proc.wait()
            seconds = time.monotonic() - started
            code = proc.returncode
            sig = -code if code is not None and code < 0 else None
            if sig is None and self.isolation == "bwrap" and code is not None and code > 128:
                sig = code - 128  # bubblewrap exits with 128 + the signal that ended its child
            run = Run(code, sig, timed_out, isolation=self.isolation, seconds=seconds)
            run.stdout, n_out = _head(out, limits.max_output_chars)
            run.stderr, n_err = _head(err, limits.max_output_chars)
            run.output_bytes = n_out + n_err
            run.report = _report_lines(report)
        return run


def _head(f, chars: int) -> tuple:
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    text = f.read(chars * 4).decode("utf-8", "replace")[:chars]
    return text, size


def _report_lines(f) -> list:
    import json

    f.seek(0)
    lines = []
    for raw in f.read(4 << 20).splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            lines.append(event)
    return lines
