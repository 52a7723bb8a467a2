"""``codecorpus commits`` with the fetch stage, end to end, against git servers on 127.0.0.1.

The scenario of issue 13: a dump whose ``contents`` holds only the HEAD blobs (as BigQuery's
does) gives no rows alone, and exactly the full-history dump's rows once the blobs are fetched.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "commits"))
from conftest import manifest_of, read_table, run_cli  # noqa: E402
from gitserve import free_port, git_daemon, make_repo, publish  # noqa: E402

from codecorpus.io import git as gitio  # noqa: E402

pytestmark = pytest.mark.slow

REPOS = ("acme/tool", "acme/lib")
TABLES = ("commitpack", "commitpackft", "instructions")


def head_only(full: Path, out: Path, forked: str | None = None) -> Path:
    """``full`` with ``contents`` cut to the blobs of ``files`` (HEAD), as BigQuery has it; the
    commit ``forked`` is listed first in a repository that does not exist (a gone fork)."""
    out.mkdir()
    head_ids = {json.loads(line)["id"] for line in gzip.open(full / "files.jsonl.gz", "rt")}
    for table in ("commits", "contents", "licenses", "files"):
        lines = gzip.open(full / f"{table}.jsonl.gz", "rt").read().splitlines()
        if table == "contents":
            lines = [line for line in lines if json.loads(line)["id"] in head_ids]
        if table == "commits" and forked:
            records = [json.loads(line) for line in lines]
            for r in records:
                if r["commit"] == forked:
                    r["repo_name"] = ["acme/gone"] + r["repo_name"]
            lines = [json.dumps(r) for r in records]
        (out / f"{table}.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fetchjob")
    served = root / "served"
    commits = {}
    for name in REPOS:
        commits[name] = make_repo(root / "work" / name, name, commits=5)
        publish(root / "work" / name, served, name)
    gitio.export_dump([str(root / "work" / n) for n in REPOS], str(root / "full"))
    forked = commits["acme/lib"][3]
    full = head_only(root / "full", root / "full-forked", forked=None)  # same tables, the fork listed below
    _list_fork(full, forked)
    head = head_only(root / "full", root / "head", forked=forked)
    reference = root / "out-full"
    assert run_cli("commits", "--input", full, "--output", reference, "--quiet") == 0
    return {"root": root, "served": served, "head": head, "reference": reference, "forked": forked}


def _list_fork(dump: Path, forked: str) -> None:
    """The reference dump lists the fork too, so that both give the same ``repos`` column;
    its contents are the full history's."""
    records = [json.loads(line) for line in gzip.open(dump / "commits.jsonl.gz", "rt")]
    for r in records:
        if r["commit"] == forked:
            r["repo_name"] = ["acme/gone"] + r["repo_name"]
    (dump / "commits.jsonl.gz").write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode(),
                                                          mtime=0))
    full_contents = dump.parent / "full" / "contents.jsonl.gz"
    (dump / "contents.jsonl.gz").write_bytes(full_contents.read_bytes())


def table_bytes(output: Path, table: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((output / table).glob("*.parquet"))}


def write_config(path: Path, **fetch_keys) -> Path:
    path.write_text(json.dumps({"fetch": fetch_keys}))  # JSON is YAML
    return path


def test_head_only_contents_alone_give_no_rows(world, tmp_path):
    out = tmp_path / "out"
    assert run_cli("commits", "--input", world["head"], "--output", out, "--quiet") == 0
    manifest = manifest_of(out)
    assert manifest["tables"]["commitpack"]["rows"] == 0 and manifest["config"]["fetch"]["enabled"] is False
    assert manifest["counters"]["dead_letter/commits/join_contents"] == 10


def test_head_only_contents_plus_fetch_give_the_full_history_rows_byte_for_byte(world, tmp_path):
    out = tmp_path / "out"
    with git_daemon(world["served"]) as url:
        assert run_cli("commits", "--input", world["head"], "--output", out, "--quiet",
                       "--fetch-remote", url + "/{repo_name}") == 0
    reference = manifest_of(world["reference"])
    manifest = manifest_of(out)
    assert reference["tables"]["commitpack"]["rows"] == 10 and reference["tables"]["commitpackft"]["rows"] > 0
    for table in TABLES:
        assert table_bytes(out, table) == table_bytes(world["reference"], table), table
    counters = manifest["counters"]
    assert counters["contents/fetched"] == 10 and "contents/from_dump" not in counters
    # one fetch per repository and round: acme/tool and acme/lib, then acme/lib again for the
    # commit whose first repository (acme/gone) does not exist
    assert counters["fetch/repositories/fetched"] == 3
    assert counters["fetch/repositories/repository_not_found"] == 1
    # 5 distinct missing blobs per repository (steps 0-4; step 5 is HEAD), and the forked commit's 2 again
    assert counters["fetch/blobs/fetched"] == 12 and counters["fetch/bytes"] > 0
    assert all(terms["holds"] for terms in manifest["accounting"].values())
    assert manifest["fetch"]["totals"]["contents/fetched"] == 10 and manifest["fetch"]["remote"].startswith("git://")
    forked = next(r for r in read_table(out, "commitpack") if r["commit"] == world["forked"])
    assert forked["repos"] == "acme/gone,acme/lib"


def test_no_server_ends_quickly_with_every_commit_dead_lettered(world, tmp_path):
    out = tmp_path / "out"
    config = write_config(tmp_path / "c.yaml", retries=1, backoff_seconds=0.1, timeout_seconds=10)
    started = time.monotonic()
    assert run_cli("commits", "--input", world["head"], "--output", out, "--quiet", "--config", config,
                   "--fetch-remote", f"git://127.0.0.1:{free_port()}/{{repo_name}}") == 0
    assert time.monotonic() - started < 60
    manifest = manifest_of(out)
    dead = [d for d in read_table(out, "dead_letter") if d["stage"] == "fetch_contents"]
    assert len(dead) == 10 and manifest["tables"]["commitpack"]["rows"] == 0
    assert all(d["error"].startswith("network_error: ") for d in dead)
    assert manifest["counters"]["fetch/repositories/network_error"] == 3  # acme/tool, acme/lib, the fork's next try
    assert manifest["counters"]["fetch/retries"] == 3
    assert all(terms["holds"] for terms in manifest["accounting"].values())


def test_a_second_run_with_the_cache_fetches_nothing_and_writes_the_same_tables(world, tmp_path):
    cache = tmp_path / "cache"
    config = write_config(tmp_path / "c.yaml", cache=str(cache))
    first, second = tmp_path / "first", tmp_path / "second"
    with git_daemon(world["served"]) as url:
        assert run_cli("commits", "--input", world["head"], "--output", first, "--quiet", "--config", config,
                       "--fetch-remote", url + "/{repo_name}") == 0
    assert list(cache.glob("blobs-*.parquet"))
    # the server is gone: everything must come from the cache
    assert run_cli("commits", "--input", world["head"], "--output", second, "--quiet", "--config", config,
                   "--fetch-remote", url + "/{repo_name}") == 0
    counters = manifest_of(second)["counters"]
    assert not [k for k in counters if k.startswith("fetch/")], counters
    assert counters["contents/from_cache"] == 10
    for table in TABLES:
        assert table_bytes(second, table) == table_bytes(first, table) == table_bytes(world["reference"], table)


def test_multi_processing_output_equals_in_memory(world, tmp_path):
    out = tmp_path / "out"
    with git_daemon(world["served"]) as url:
        assert run_cli("commits", "--input", world["head"], "--output", out, "--quiet",
                       "--fetch-remote", url + "/{repo_name}",
                       "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    for table in TABLES:
        assert table_bytes(out, table) == table_bytes(world["reference"], table), table
