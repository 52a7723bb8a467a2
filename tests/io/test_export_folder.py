"""15.4: `export-git` into an existing folder: refused unless --overwrite, and then only for a
folder that is an export-git dump; stale table files (which the next run would read) removed."""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess

import pytest

from codecorpus.io.dump import EXPORT_MARKER, table_files
from codecorpus.jobs import export_git


def make_repo(path, text="print('hi')\n"):
    path.mkdir(parents=True)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.com",
           "GIT_AUTHOR_DATE": "@1700000000 +0000", "GIT_COMMITTER_DATE": "@1700000000 +0000"}
    (path / "app.py").write_text(text)
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "Add the app"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env)
    return path


def run(*argv) -> int:
    parser = argparse.ArgumentParser()
    export_git.add_arguments(parser)
    return export_git.run(parser.parse_args([str(a) for a in argv]))


def test_existing_dump_is_refused_without_overwrite_and_stale_files_go_with_it(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo")
    out = tmp_path / "dump"
    assert run(repo, "--output", out) == 0
    assert (out / EXPORT_MARKER).is_file()
    first = (out / "commits.jsonl.gz").read_bytes()

    # a stale shard (e.g. from an earlier BigQuery export copied in) that the next job would read
    (out / "commits-000000000001.json.gz").write_bytes(gzip.compress(b'{"commit": "stale"}\n'))
    (out / "files").mkdir()
    (out / "files" / "000000000000.ndjson").write_text('{"repo_name": "stale/repo", "path": "x"}\n')
    (out / "NOTES.md").write_text("mine")  # not a table: no reader reads it, so it stays

    capsys.readouterr()
    assert run(repo, "--output", out) == 2                      # silently overwritten before
    assert "exists and is not empty; pass --overwrite" in capsys.readouterr().err
    assert len(table_files(str(out), "commits")) == 2           # nothing touched

    assert run(repo, "--output", out, "--overwrite") == 0
    assert "removed stale" in capsys.readouterr().err
    assert [p.rsplit("/", 1)[1] for p in table_files(str(out), "commits")] == ["commits.jsonl.gz"]
    assert [p.rsplit("/", 1)[1] for p in table_files(str(out), "files")] == ["files.jsonl.gz"]
    assert (out / "commits.jsonl.gz").read_bytes() == first and (out / "NOTES.md").read_text() == "mine"


def test_overwrite_refuses_a_folder_that_is_not_an_export_git_dump(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo")
    other = tmp_path / "project"
    other.mkdir()
    (other / "commits.jsonl.gz").write_bytes(b"")
    (other / "thesis.tex").write_text("years of work")
    assert run(repo, "--output", other, "--overwrite") == 2
    assert "is not an export-git dump" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["commits.jsonl.gz", "thesis.tex"]


def test_a_dump_from_before_the_marker_can_be_replaced_and_a_typo_deletes_nothing(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo")
    out = tmp_path / "dump"
    assert run(repo, "--output", out) == 0
    (out / EXPORT_MARKER).unlink()                               # as export-git wrote it before
    assert run(tmp_path / "no-such-repo", "--output", out, "--overwrite") == 2
    assert "not a git repository" in capsys.readouterr().err
    assert (out / "commits.jsonl.gz").is_file()                  # the typo cost nothing
    assert run(repo, "--output", out, "--overwrite") == 0 and (out / EXPORT_MARKER).is_file()


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "f").write_text("x")
    assert run(repo, "--output", tmp_path / "f") == 2 and "is a file" in capsys.readouterr().err


@pytest.mark.parametrize("overwrite", [False, True])
def test_empty_or_missing_folder_needs_no_overwrite(tmp_path, overwrite):
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "empty").mkdir()
    flags = ["--overwrite"] if overwrite else []
    assert run(repo, "--output", tmp_path / "empty", *flags) == 0
    assert run(repo, "--output", tmp_path / "new", *flags) == 0
