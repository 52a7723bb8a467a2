"""``--input repos:FILE`` end to end: repositories served on 127.0.0.1 are cloned on the workers
and give exactly the tables of ``git:`` inputs of the same repositories; a repository that is
gone is one dead letter; every identity holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "commits"))
from conftest import built_pipeline, manifest_of, read_table, run_cli  # noqa: E402
from gitserve import HttpGit, git, make_repo, publish  # noqa: E402

pytestmark = pytest.mark.slow

REPOS = ("acme/tool", "acme/lib")
SCHEMA_SQL = """CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), total REAL);
INSERT INTO users VALUES (1, 'ada', 36), (2, 'bob', 41), (3, 'cy', 29), (4, 'di', 52);
INSERT INTO orders VALUES (1, 1, 9.5), (2, 1, 20.0), (3, 2, 7.25), (4, 3, 11.0), (5, 4, 3.5);
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("reposjob")
    for name in REPOS:
        make_repo(root / "work" / name, name, commits=4)
    lib = root / "work" / "acme" / "lib"
    (lib / "db").mkdir()
    (lib / "db" / "schema.sql").write_text(SCHEMA_SQL)
    git(lib, "add", "-A")
    git(lib, "commit", "-q", "-m", "Add the database schema", env={
        "GIT_AUTHOR_DATE": "1700009000 +0000", "GIT_COMMITTER_DATE": "1700009000 +0000"})
    for name in REPOS:
        publish(root / "work" / name, root / "served", name)
    return {"root": root, "work": [str(root / "work" / n) for n in REPOS]}


def write_list(path: Path, url: str) -> Path:
    """Both repositories (one by URL, one by owner/name through fetch.remote), a gone one, a
    duplicate, a comment and a blank line."""
    path.write_text(f"# repositories to read\n{url}/acme/tool\n\nacme/lib   # by name\n{url}/acme/gone\n"
                    "acme/tool.git\n")
    return path


def config_for(path: Path, url: str) -> Path:
    path.write_text(json.dumps({"fetch": {"remote": url + "/{repo_name}", "retries": 1, "backoff_seconds": 0.1}}))
    return path


def table_bytes(output: Path, table: str) -> dict:
    return {p.name: p.read_bytes() for p in sorted((output / table).glob("*.parquet"))}


def run_both(job: str, world, tmp_path, *extra, faults: dict | None = None) -> tuple[Path, Path, dict]:
    """The job on ``git:`` inputs of the work trees, then on a repos: list served over HTTP
    (``faults``: HTTP statuses the server answers first, per path prefix)."""
    reference, out = tmp_path / "git", tmp_path / "repos"
    inputs = [a for w in world["work"] for a in ("--input", f"git:{w}")]
    assert run_cli(job, *inputs, "--output", reference, "--quiet", *extra) == 0
    with HttpGit(world["root"] / "served") as http:
        http.faults.update({k: list(v) for k, v in (faults or {}).items()})
        listing = write_list(tmp_path / "repos.txt", http.url)
        assert run_cli(job, "--input", f"repos:{listing}", "--output", out, "--quiet",
                       "--config", config_for(tmp_path / "c.yaml", http.url), *extra) == 0
    manifest = manifest_of(out)
    assert all(terms["holds"] for terms in manifest["accounting"].values()), manifest["accounting"]
    assert manifest["accounting"]["repositories"] == {"read": 4, "cloned": 2, "duplicates": 1, "dead_lettered": 1,
                                                      "holds": True}
    assert manifest["input"] == {"kind": "repos", "paths": [str(tmp_path / "repos.txt")], "dataset": None}
    dead = read_table(out, "dead_letter")
    assert [(d["stage"], d["table"], d["key"]) for d in dead] == [("clone_repository", "repositories", "acme/gone")]
    assert dead[0]["error"].startswith("repository_not_found: ") and dead[0]["source"].endswith("repos.txt:5")
    counters = manifest["counters"]
    assert counters["clone/repositories/cloned"] == 2 and counters["clone/repositories/repository_not_found"] == 1
    # a 404 is not retried; a 503 is, with backoff
    assert counters.get("clone/retries", 0) == sum(len(v) for v in (faults or {}).values())
    assert read_table(reference, "dead_letter") == []
    return reference, out, manifest


def test_files_job_on_repos_equals_git_inputs_of_the_same_repositories(world, tmp_path):
    reference, out, manifest = run_both("files", world, tmp_path)
    for table in ("files", "fim", "clusters", "repo_documents"):
        assert table_bytes(out, table) == table_bytes(reference, table), table
    # worker processes clone and read as the in-memory runner does
    parallel = tmp_path / "parallel"
    with HttpGit(world["root"] / "served") as http:
        assert run_cli("files", "--input", f"repos:{write_list(tmp_path / 'repos.txt', http.url)}", "--output",
                       parallel, "--quiet", "--config", config_for(tmp_path / "c.yaml", http.url),
                       "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    for table in ("files", "fim", "clusters", "repo_documents"):
        assert table_bytes(parallel, table) == table_bytes(out, table), table
    where = lambda d: (d["stage"], d["table"], d["key"], d["source"])  # noqa: E731 - the URL names another port
    assert [where(d) for d in read_table(parallel, "dead_letter")] == [where(d) for d in read_table(out, "dead_letter")]
    rows = read_table(out, "files")
    # LICENSE and src/app.py in each, db/schema.sql in acme/lib; the LICENSE both share is kept once
    assert {r["repo"] for r in rows} == set(REPOS) and len(rows) == 4
    for table in ("files", "fim"):
        assert manifest["tables"][table]["rows"] == manifest_of(reference)["tables"][table]["rows"]


def test_commits_job_on_repos_equals_git_inputs_of_the_same_repositories(world, tmp_path):
    reference, out, manifest = run_both("commits", world, tmp_path, faults={"/acme/lib": [503]})
    for table in ("commitpack", "commitpackft", "instructions", "clusters"):
        assert table_bytes(out, table) == table_bytes(reference, table), table
    assert manifest["tables"]["commitpack"]["rows"] == 8  # 4 single-file changes per repository
    assert manifest["counters"]["read/commits"] == manifest_of(reference)["counters"]["read/commits"] == 11


def test_sql_job_on_repos_equals_git_inputs_of_the_same_repositories(world, tmp_path):
    reference, out, manifest = run_both("sql", world, tmp_path)
    for table in ("sql_databases", "sql_triples", "sql_test_suites"):
        assert table_bytes(out, table) == table_bytes(reference, table), table
    assert manifest["tables"]["sql_databases"]["rows"] == 1 and manifest["tables"]["sql_triples"]["rows"] > 0
    # only the .sql and licence blobs were cloned: 2 LICENSEs and db/schema.sql, not the 2 src/app.py
    assert manifest["counters"]["read/contents"] == 3 and manifest["counters"]["read/files"] == 5


@pytest.mark.parametrize("job", ["files", "sql", "commits"])
def test_the_clone_stage_keeps_pipeline_hygiene(job, tmp_path, monkeypatch):
    """Built, not run: the clone stage pickles small, gathers nothing, and survives the portable graph."""
    from test_hygiene import walk

    listing = tmp_path / "repos.txt"
    listing.write_text("acme/tool\n")
    visitor = walk(job, built_pipeline(job, ["--input", f"repos:{listing}", "--output", tmp_path / "o", "--quiet"],
                                       monkeypatch))
    labels = list(visitor.sizes)
    assert any("CloneAndRead" in label for label in labels), labels
    assert sum("CloneAndRead" in label for label in labels) == 1  # one clone for all the tables a job reads
    assert not visitor.findings, [f.detail for f in visitor.findings]
