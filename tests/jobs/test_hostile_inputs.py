"""Hostile inputs of every kind, each job in its own process (issue 14's hostile-input suite):
every run ends, holds its accounting identities, and stays within a memory bound measured on the
process (``ru_maxrss`` from ``wait4``), with a deadline as the guard against a hang. The per-defect
tests live next to each job; this suite is about the bounds, so each case is as bad as it gets in
a small file: symlinks out of the folder, bad values, 10,000-deep nesting, lone surrogates, false
sizes, a quadratic COPY statement, a table bomb, runaway queries, absurd mix amounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DumpBuilder, manifest_of
from test_commits_job import build_dirty_dump

ROOT = Path(__file__).resolve().parents[2]
# What a laptop run of a small hostile input may take. The SQL table bomb alone reached 20.7 GB
# before DuckDB builds had a memory limit; a run of these inputs today stays well under 1 GB.
MAX_RSS_BYTES = 2 * 1024**3
DEADLINE_SECONDS = 600


def run_job(*argv, cwd: Path) -> tuple[int, int, float, str]:
    """(exit code, peak RSS in bytes, wall seconds, stderr) of one CLI run in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1"}
    err = cwd / "stderr.txt"
    started = time.monotonic()
    with err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "codecorpus.cli", *map(str, argv), "--quiet"], cwd=cwd,
                                env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        guard = threading.Timer(DEADLINE_SECONDS, proc.kill)
        guard.start()
        _, status, usage = os.wait4(proc.pid, 0)   # the process's own peak RSS, not the test's
        guard.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if wall >= DEADLINE_SECONDS:
        pytest.fail(f"{argv[0]} did not finish within {DEADLINE_SECONDS} s")
    return proc.returncode, usage.ru_maxrss * 1024, wall, err.read_text()  # ru_maxrss: KiB on Linux


def check_bounded_and_accounted(code: int, rss: int, stderr: str, output: Path, expect_code: int = 0) -> dict:
    assert code == expect_code, stderr[-3000:]
    assert "Traceback" not in stderr
    assert rss < MAX_RSS_BYTES, f"peak RSS {rss / 1024**2:.0f} MB"
    manifest = manifest_of(output)
    assert manifest["accounting"] and all(t["holds"] for t in manifest["accounting"].values()), manifest["accounting"]
    assert (output / "_SUCCESS").exists()
    return manifest


def test_commits_on_a_dirty_dump(tmp_path):
    # malformed JSON, 10,000-deep nesting, "--5" and 5,000-digit integers, a lone surrogate, a
    # 50 MB blob, false sizes, missing and undecodable blobs, duplicate shas
    dump = tmp_path / "dump"
    build_dirty_dump(dump)
    b = DumpBuilder()
    for size in (10, -5, "0"):  # a 2 MB blob that says it is small
        b.commit(f"Fix the lying size {size}", old="x = 1\n", new="y = 2\n" * 350_000,
                 sha=None, repo="acme/tool")
        b.contents[-1]["size"] = size
    b.license("acme/tool", "mit")
    b.write(tmp_path / "liars")
    code, rss, _, err = run_job("commits", "--input", dump, "--input", tmp_path / "liars",
                                "--output", tmp_path / "out", cwd=tmp_path)
    manifest = check_bounded_and_accounted(code, rss, err, tmp_path / "out")
    counters = manifest["counters"]
    assert counters["lines/commits"] == counters["read/commits"]
    assert counters["filter/size/too_large"] >= 4  # the 50 MB blob and the three liars, measured


def test_files_and_sql_on_a_hostile_folder(tmp_path):
    folder = tmp_path / "checkout"
    (folder / "src").mkdir(parents=True)
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (folder / "leak.py").symlink_to(secret)
    (folder / "home").symlink_to(secret.parent, target_is_directory=True)
    (folder / "src" / "ok.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    (folder / "src" / "cut.py").write_bytes("s = '\U0001F600'\n".encode()[:-3] + b"\n")  # an emoji cut in half
    (folder / "src" / "nul.py").write_bytes(b"x = 1\x00\x01\n" * 100)
    # SQL: a quadratic COPY statement, a table bomb, runaway queries, a file-writing VACUUM
    copies = "SELECT 1 FROM t WHERE " + "COPY " * 42_000 + ";\n"
    bomb = "".join(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT);\n" for i in range(10_000))
    runaway = ("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);\n"
               "INSERT INTO t VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6);\n"
               + "".join(f"SELECT COUNT(*) FROM t a, t b, t c, t d, t e, t f, t g, t h, t i, t j WHERE a.n > {i};\n"
                         for i in range(30))
               + "VACUUM INTO '/tmp/codecorpus-escaped.db';\n")
    (folder / "copies.sql").write_text("CREATE TABLE t (id INTEGER);\n" + copies)
    (folder / "bomb.sql").write_text(bomb)
    (folder / "runaway.sql").write_text(runaway)

    code, rss, _, err = run_job("files", "--input", folder, "--output", tmp_path / "files", cwd=tmp_path)
    manifest = check_bounded_and_accounted(code, rss, err, tmp_path / "files")
    assert manifest["counters"]["filter/file_kind/symlink"] == 2
    assert "root:x:0:0" not in "".join(p.read_bytes().decode("latin-1")
                                       for p in (tmp_path / "files").rglob("*.parquet"))

    cfg = tmp_path / "sql.yaml"
    cfg.write_text("sql:\n  sandbox:\n    timeout_seconds: 0.5\n    file_budget_seconds: 5.0\n"
                   "  test_suite:\n    size: 2\n")
    code, rss, _, err = run_job("sql", "--input", folder, "--output", tmp_path / "sql", "--config", cfg,
                                cwd=tmp_path)
    manifest = check_bounded_and_accounted(code, rss, err, tmp_path / "sql")
    counters = manifest["counters"]
    assert counters["sql/limits/max_tables"] == 1                       # the bomb, capped
    assert counters["sql/limits/duckdb_memory_limit"] == 1              # ... and its DuckDB build, bounded
    assert counters["filter/sql_check/timeout"] >= 1                    # runaway queries, stopped
    assert counters["sql/hostile/file_access"] == 1                     # VACUUM INTO, never run
    assert not Path("/tmp/codecorpus-escaped.db").exists()


def test_pii_and_dedup_on_hostile_records(tmp_path):
    lines = [json.dumps({"id": "deep", "text": "x"})[:-1] + ', "nest": ' + "[" * 10_000 + "]" * 10_000 + "}",
             '{"id": "surrogate", "text": "mail jane@corp-mail.com \\ud800 cut"}',
             '{"id": "broken", "text": "unterminated',
             json.dumps({"id": "huge", "text": "token=" + "a1B2" * 250_000}),
             json.dumps({"id": "fine", "text": "print('hello')\n" * 10}),
             json.dumps({"id": "fine", "text": "a different record with the same id"}),
             "[1, 2, 3]", "\x00\x01\x02"]   # (blank lines are not records, and not counted)
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    for job, extra in (("pii", ["--text-field", "text"]), ("dedup", ["--text-field", "text", "--id-field", "id"])):
        code, rss, _, err = run_job(job, "--input", tmp_path / "records.jsonl", *extra,
                                    "--output", tmp_path / job, cwd=tmp_path)
        manifest = check_bounded_and_accounted(code, rss, err, tmp_path / job)
        assert manifest["counters"]["lines/records"] == len(lines)


@pytest.mark.parametrize("amount", ["repeat: 1.0e+7", "weight: .inf", "repeat: .nan"])
def test_mix_refuses_absurd_amounts_before_running(tmp_path, amount):
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "part.jsonl").write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(40)))
    (tmp_path / "mix.yaml").write_text(
        "mix:\n  sources:\n    - {name: a, kind: custom, path: " + str(rows) + ", " + amount + "}\n")
    code, rss, wall, err = run_job("mix", "--config", tmp_path / "mix.yaml", "--output", tmp_path / "out",
                                   cwd=tmp_path)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert rss < MAX_RSS_BYTES and not (tmp_path / "out" / "_SUCCESS").exists()
