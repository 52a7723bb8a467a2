"""The commits job on the real sample in ../shared (skipped where it is absent), and on a local
git repository read directly."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest

from codecorpus.commits.filters import COMMITPACK_LICENSES, in_place_modifications, single_difference
from conftest import SHARED_SAMPLE, manifest_of, read_table, run_cli


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    if not SHARED_SAMPLE.is_dir():
        pytest.skip("../shared/data/github_repos_sample is not available")
    output = tmp_path_factory.mktemp("sample") / "out"
    assert run_cli("commits", "--input", SHARED_SAMPLE, "--output", output, "--quiet") == 0
    return output


def sample_commits() -> list[dict]:
    with gzip.open(SHARED_SAMPLE / "commits.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_sample_produces_every_table_and_the_identity_holds(sample_run):
    manifest = manifest_of(sample_run)
    accounting = manifest["accounting"]
    assert accounting["commits"]["read"] == len(sample_commits())
    assert all(terms["holds"] for terms in accounting.values())
    for table in ("commitpack", "commitpackft", "instructions"):
        assert manifest["tables"][table]["rows"] > 0, table
    commitpack = read_table(sample_run, "commitpack")
    ft = read_table(sample_run, "commitpackft")
    assert {r["commit"] for r in ft} <= {r["commit"] for r in commitpack}
    assert len(read_table(sample_run, "instructions")) == 2 * len(ft)


def test_sample_rows_follow_the_commitpack_rules(sample_run):
    commitpack = read_table(sample_run, "commitpack")
    assert all(r["license"] in COMMITPACK_LICENSES for r in commitpack)
    assert not any("htop-dev/htop" in r["repos"] for r in commitpack)       # gpl-2.0
    assert not any(r["message"].lower().startswith("merge") for r in commitpack)
    by_sha = {c["commit"]: c for c in sample_commits()}
    for row in commitpack:
        commit = by_sha[row["commit"]]
        # sql_4 + sql_5: exactly one in-place modification; other entries may add, delete, rename.
        [d] = in_place_modifications(commit)
        assert d["old_path"] == d["new_path"] == row["new_file"]
    counters = manifest_of(sample_run)["counters"]
    # Counted when the commit filters keep them: some are dropped later (licence, size, dedup).
    assert counters["single_file/kept_with_other_changes"] >= sum(
        len(by_sha[r["commit"]]["difference"]) > 1 for r in commitpack) > 0
    htop = sum(1 for c in by_sha.values() if "htop-dev/htop" in c["repo_name"])
    assert 0 < counters["filter/licence/licence_not_allowed"] <= htop


def test_sample_contents_are_joined_from_the_right_blobs(sample_run):
    from codecorpus.config import load_config
    from codecorpus.jobs.commits import PII_FIELDS
    from codecorpus.pii.redact import Redactor

    # PII is redacted by default, per record (a secret found in one field is removed from the
    # others): compare with the raw record redacted the same way.
    redactor = Redactor(load_config())
    commitpack = {r["commit"]: r for r in read_table(sample_run, "commitpack")}
    sides = {}
    for commit in sample_commits():
        if commit["commit"] in commitpack:
            d = single_difference(commit)
            sides[commit["commit"]] = (d["old_sha1"], d["new_sha1"], commit)
    wanted = {sha for old, new, _c in sides.values() for sha in (old, new)}
    blobs = {}
    with gzip.open(SHARED_SAMPLE / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            blob = json.loads(line)
            if blob["id"] in wanted:
                blobs[blob["id"]] = blob["content"]
    for sha, (old, new, commit) in sides.items():
        record = {"old_contents": blobs[old], "new_contents": blobs[new], "subject": commit["subject"],
                  "message": commit["message"]}
        expected = redactor.redact_record(record, PII_FIELDS).record
        assert commitpack[sha]["old_contents"] == expected["old_contents"]
        assert commitpack[sha]["new_contents"] == expected["new_contents"]
    assert len(sides) == len(commitpack)


def _git(repo, *args, when=1_700_000_000):
    env = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.org", "GIT_AUTHOR_DATE": f"@{when} +0000",
           "GIT_COMMITTER_DATE": f"@{when} +0000", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(repo)}
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=repo,
                   env=env, check=True, capture_output=True)


def test_git_input_and_export_git_give_the_same_tables(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, to any person "
                                  "obtaining a copy of this software\n")
    (repo / "app.py").write_text("def main():\n    return 1\n" * 10)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "Initial commit")
    for i in range(3):
        (repo / "app.py").write_text(f"def main():\n    return {i + 2}\n" * 10)
        _git(repo, "commit", "-q", "-am", f"Change the return value of main to {i + 2}", when=1_700_000_100 + i)

    assert run_cli("commits", "--input", f"git:{repo}", "--output", tmp_path / "direct", "--quiet") == 0
    assert run_cli("export-git", repo, "--output", tmp_path / "dump") == 0
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "via-dump", "--quiet") == 0

    direct = read_table(tmp_path / "direct", "commitpack")
    assert len(direct) == 3 and {r["license"] for r in direct} == {"mit"}
    assert {r["repos"] for r in direct} == {"local/repo"}
    assert direct == read_table(tmp_path / "via-dump", "commitpack")
    assert manifest_of(tmp_path / "direct")["input"] == {"kind": "git", "paths": [str(repo)], "dataset": None}
    counters = manifest_of(tmp_path / "direct")["counters"]
    assert counters["read/commits"] == 4 and counters["filter/single_file/no_modified_file"] == 1  # the root adds two files
