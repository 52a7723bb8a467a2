"""codecorpus.io.git: local repositories read as github_repos records, checked against small
repositories built here with the git command line."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess

import pytest

from codecorpus.io import git as gitio
from codecorpus.io.git import GitError, detect_license, export_dump, iter_table, license_of, repo_name
from codecorpus.io.records import normalise
from codecorpus.jobs import export_git

MIT_TEXT = """MIT License

Copyright (c) 2024 Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software.
"""

BINARY_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
LATIN1_BYTES = "café au lait\n".encode("latin-1")  # é is 0xE9: not valid UTF-8

T0 = 1_704_067_200  # 2024-01-01 00:00:00 UTC


def blob_id(data: bytes) -> str:
    """The git blob sha1, computed independently of git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def git(repo, *args: str, when: int = T0, tz: str = "+0000") -> str:
    # Run from a git hook, GIT_DIR / GIT_INDEX_FILE would point at the project's repository.
    inherited = {k: v for k, v in os.environ.items() if k not in gitio._REPOSITORY_ENV_VARS}
    env = {
        **inherited,
        "GIT_CONFIG_GLOBAL": os.devnull,  # the developer's own config must not leak in
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada Author",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Carl Committer",
        "GIT_COMMITTER_EMAIL": "carl@example.com",
        "GIT_AUTHOR_DATE": f"@{when} {tz}",
        "GIT_COMMITTER_DATE": f"@{when} {tz}",
    }
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo, env=env, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def write(repo, path: str, data) -> None:
    full = repo / path
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def commit(repo, message: str, when: int, tz: str = "+0000") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, when=when, tz=tz)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A repository whose commits cover every kind of change; returns its path and commit ids."""
    repo = tmp_path_factory.mktemp("histories") / "demo"
    repo.mkdir()
    git(repo, "init", "-q")
    ids = {}

    write(repo, "LICENSE", MIT_TEXT)
    write(repo, "a.txt", "hello\n")
    write(repo, "old.txt", "to be renamed\n")
    write(repo, "gone.txt", "delete me\n")
    ids["root"] = commit(repo, "Initial import", T0 + 100, tz="+0130")

    write(repo, "a.txt", "hello world\n")
    write(repo, "src/b.py", "print('b')\n")
    ids["modify"] = commit(repo, "Greet the world and add b", T0 + 200)

    (repo / "gone.txt").unlink()
    ids["delete"] = commit(repo, "Remove gone.txt", T0 + 300, tz="-0600")

    git(repo, "mv", "old.txt", "new.txt")
    ids["rename"] = commit(repo, "Rename old.txt to new.txt", T0 + 400)

    write(repo, "img.bin", BINARY_BYTES)
    write(repo, "latin.txt", LATIN1_BYTES)
    os.symlink("a.txt", repo / "link")
    write(repo, "run.sh", "#!/bin/sh\necho hi\n")
    os.chmod(repo / "run.sh", 0o755)
    ids["signed"] = commit(
        repo,
        "Add binary and latin-1 files\n\nThey exercise the contents table.\n\n"
        "Signed-off-by: Ada Author <ada@example.com>\n"
        "Co-authored-by: Bea Helper <bea@example.com>\n",
        T0 + 500,
    )

    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "feature.txt", "feature work\n")
    ids["feature"] = commit(repo, "Add feature", T0 + 600)
    git(repo, "checkout", "-q", "main")
    write(repo, "main.txt", "main work\n")
    ids["main"] = commit(repo, "Add main work", T0 + 700)
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature", when=T0 + 800)
    ids["merge"] = git(repo, "rev-parse", "HEAD")
    return repo, ids


@pytest.fixture(scope="module")
def commits(history):
    repo, _ = history
    return {c["commit"]: c for c in iter_table(str(repo), "commits")}


@pytest.fixture(scope="module")
def contents(history):
    repo, _ = history
    return list(iter_table(str(repo), "contents"))


def by_path(differences: list[dict]) -> dict[str, dict]:
    return {d["new_path"] or d["old_path"]: d for d in differences}


# --- commits -----------------------------------------------------------------------------------

def test_commits_follow_git_log_order(history):
    repo, _ = history
    expected = git(repo, "log", "--format=%H").split("\n")
    assert [c["commit"] for c in iter_table(str(repo), "commits")] == expected
    assert len(expected) == 8


def test_root_commit_is_diffed_against_the_empty_tree(history, commits):
    repo, ids = history
    root = commits[ids["root"]]
    assert root["parent"] == []
    assert root["tree"] == git(repo, "rev-parse", f"{ids['root']}^{{tree}}")
    assert sorted(by_path(root["difference"])) == ["LICENSE", "a.txt", "gone.txt", "old.txt"]
    added = by_path(root["difference"])["a.txt"]
    assert added == {
        "old_mode": None, "new_mode": 33188, "old_path": None, "new_path": "a.txt",
        "old_sha1": None, "new_sha1": blob_id(b"hello\n"), "old_repo": None, "new_repo": "local/demo",
    }


def test_signatures_and_message_fields(history, commits):
    _, ids = history
    root = commits[ids["root"]]
    assert root["author"] == {"name": "Ada Author", "email": "ada@example.com", "time_sec": T0 + 100,
                              "tz_offset": 90, "date": "2024-01-01 00:01:40 UTC"}
    assert root["committer"]["name"] == "Carl Committer"
    assert root["committer"]["email"] == "carl@example.com"
    assert commits[ids["delete"]]["author"]["tz_offset"] == -360
    assert root["subject"] == "Initial import"
    assert root["message"] == "Initial import\n"
    assert root["trailer"] == []
    assert root["difference_truncated"] is None
    assert root["encoding"] is None
    assert root["repo_name"] == ["local/demo"]


def test_modification_and_addition(history, commits):
    _, ids = history
    change = commits[ids["modify"]]
    assert change["parent"] == [ids["root"]]
    diffs = by_path(change["difference"])
    assert sorted(diffs) == ["a.txt", "src/b.py"]
    assert diffs["a.txt"] == {
        "old_mode": 33188, "new_mode": 33188, "old_path": "a.txt", "new_path": "a.txt",
        "old_sha1": blob_id(b"hello\n"), "new_sha1": blob_id(b"hello world\n"),
        "old_repo": "local/demo", "new_repo": "local/demo",
    }
    assert diffs["src/b.py"]["old_sha1"] is None
    assert diffs["src/b.py"]["new_sha1"] == blob_id(b"print('b')\n")


def test_deletion_has_null_new_side(history, commits):
    _, ids = history
    [deleted] = commits[ids["delete"]]["difference"]
    assert deleted == {
        "old_mode": 33188, "new_mode": None, "old_path": "gone.txt", "new_path": None,
        "old_sha1": blob_id(b"delete me\n"), "new_sha1": None, "old_repo": "local/demo", "new_repo": None,
    }


def test_rename_is_a_delete_plus_an_add(history, commits):
    _, ids = history
    diffs = by_path(commits[ids["rename"]]["difference"])
    assert sorted(diffs) == ["new.txt", "old.txt"]
    same_blob = blob_id(b"to be renamed\n")
    assert (diffs["old.txt"]["old_sha1"], diffs["old.txt"]["new_sha1"]) == (same_blob, None)
    assert (diffs["new.txt"]["old_sha1"], diffs["new.txt"]["new_sha1"]) == (None, same_blob)


def test_trailers_are_parsed_with_emails(history, commits):
    _, ids = history
    signed = commits[ids["signed"]]
    assert signed["subject"] == "Add binary and latin-1 files"
    assert signed["message"].startswith("Add binary and latin-1 files\n\nThey exercise")
    assert signed["message"].endswith("Co-authored-by: Bea Helper <bea@example.com>\n")
    assert signed["trailer"] == [
        {"key": "Signed-off-by", "value": "Ada Author <ada@example.com>", "email": "ada@example.com"},
        {"key": "Co-authored-by", "value": "Bea Helper <bea@example.com>", "email": "bea@example.com"},
    ]
    modes = {d["new_path"]: d["new_mode"] for d in signed["difference"]}
    assert modes == {"img.bin": 33188, "latin.txt": 33188, "link": 0o120000, "run.sh": 0o100755}


def test_merge_is_diffed_against_its_first_parent(history, commits):
    _, ids = history
    merge = commits[ids["merge"]]
    assert merge["parent"] == [ids["main"], ids["feature"]]
    assert merge["subject"] == "Merge branch 'feature'"
    [added] = merge["difference"]
    assert (added["new_path"], added["old_sha1"], added["new_sha1"]) == (
        "feature.txt", None, blob_id(b"feature work\n"))


# --- contents ----------------------------------------------------------------------------------

def test_every_difference_blob_is_in_contents(commits, contents):
    ids = [c["id"] for c in contents]
    assert ids == sorted(set(ids))  # each blob once, in id order
    for c in commits.values():
        for d in c["difference"]:
            for sha in (d["old_sha1"], d["new_sha1"]):
                assert sha is None or sha in ids


def test_contents_cover_head_blobs_and_old_versions(contents):
    by_id = {c["id"]: c for c in contents}
    assert by_id[blob_id(b"hello\n")] == {"id": blob_id(b"hello\n"), "size": 6, "content": "hello\n",
                                           "binary": False, "copies": 1}
    assert by_id[blob_id(b"delete me\n")]["content"] == "delete me\n"  # only in history
    assert by_id[blob_id(b"a.txt")]["content"] == "a.txt"  # the symlink's blob


def test_binary_and_non_utf8_blobs_have_null_content(contents):
    by_id = {c["id"]: c for c in contents}
    assert by_id[blob_id(BINARY_BYTES)] == {"id": blob_id(BINARY_BYTES), "size": len(BINARY_BYTES),
                                            "content": None, "binary": True, "copies": 1}
    latin = by_id[blob_id(LATIN1_BYTES)]
    assert (latin["size"], latin["content"], latin["binary"]) == (len(LATIN1_BYTES), None, True)


def test_nul_byte_sniffing_follows_gits_8000_byte_rule(tmp_path):
    repo = tmp_path / "nul"
    repo.mkdir()
    git(repo, "init", "-q")
    early_nul = b"abc\x00def\n"  # valid UTF-8, but a NUL up front: binary
    late_nul = b"x" * 8000 + b"\x00\n"  # NUL past the sniffed prefix: text
    write(repo, "early.dat", early_nul)
    write(repo, "late.dat", late_nul)
    commit(repo, "Add NUL files", T0)
    by_id = {c["id"]: c for c in iter_table(str(repo), "contents")}
    assert (by_id[blob_id(early_nul)]["binary"], by_id[blob_id(early_nul)]["content"]) == (True, None)
    assert (by_id[blob_id(late_nul)]["binary"], by_id[blob_id(late_nul)]["content"]) == (False, late_nul.decode())


def test_blobs_over_the_size_limit_keep_size_but_not_content(history):
    repo, _ = history
    by_id = {c["id"]: c for c in iter_table(str(repo), "contents", max_blob_bytes=10)}
    big = by_id[blob_id(b"hello world\n")]  # 12 bytes
    assert (big["size"], big["content"], big["binary"]) == (12, None, False)
    assert by_id[blob_id(b"hello\n")]["content"] == "hello\n"


# --- files and licences ------------------------------------------------------------------------

def test_files_at_head(history):
    repo, _ = history
    files = list(iter_table(str(repo), "files"))
    assert [f["path"] for f in files] == [
        "LICENSE", "a.txt", "feature.txt", "img.bin", "latin.txt", "link", "main.txt", "new.txt",
        "run.sh", "src/b.py"]
    by_path_ = {f["path"]: f for f in files}
    assert by_path_["a.txt"] == {"repo_name": "local/demo", "ref": "refs/heads/main", "path": "a.txt",
                                 "mode": 33188, "id": blob_id(b"hello world\n"), "symlink_target": None}
    assert by_path_["link"]["mode"] == 0o120000
    assert by_path_["link"]["symlink_target"] == "a.txt"
    assert by_path_["run.sh"]["mode"] == 33261


def test_detached_head_ref_is_head(tmp_path, history):
    repo, ids = history
    clone = tmp_path / "detached"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", "--detach", ids["root"])
    assert {f["ref"] for f in iter_table(str(clone), "files")} == {"HEAD"}


def test_mit_license_is_detected(history):
    repo, _ = history
    assert license_of(str(repo)) == "mit"
    assert list(iter_table(str(repo), "licenses")) == [{"repo_name": "local/demo", "license": "mit"}]


def test_license_file_name_is_case_insensitive(tmp_path):
    repo = tmp_path / "copying"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "Copying.txt", "This is free and unencumbered software released into the public domain.\n")
    commit(repo, "Add licence", T0)
    assert license_of(str(repo)) == "unlicense"


def test_no_license_file_gives_null(tmp_path):
    repo = tmp_path / "nolicence"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "README", "nothing here\n")
    commit(repo, "Add readme", T0)
    assert license_of(str(repo)) is None


# --- every record is a valid github_repos record --------------------------------------------

@pytest.mark.parametrize("table", ["commits", "contents", "licenses", "files"])
def test_records_pass_normalise_with_nothing_to_fix(history, table):
    repo, _ = history
    records = list(iter_table(str(repo), table))
    assert records
    for record in records:
        normalised = normalise(table, record)  # raises RecordError on any unusable field
        # Already in the normalised shape: nothing to fix (normalise may add derived fields).
        assert {key: normalised[key] for key in record} == record


# --- export ------------------------------------------------------------------------------------

def read_table(directory, table: str) -> list[dict]:
    with gzip.open(directory / f"{table}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_export_is_byte_identical_and_matches_iter_table(history, tmp_path):
    repo, _ = history
    first, second = tmp_path / "first", tmp_path / "second"
    counts = export_dump([str(repo)], str(first))
    assert export_dump([str(repo)], str(second)) == counts
    for table in gitio.TABLES:
        name = f"{table}.jsonl.gz"
        assert (first / name).read_bytes() == (second / name).read_bytes()
        assert read_table(first, table) == list(iter_table(str(repo), table))
        assert counts[table] == len(read_table(first, table))
    assert counts["commits"] == 8
    assert counts["licenses"] == 1


def test_export_deduplicates_blobs_across_repositories(history, tmp_path):
    repo, _ = history
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "remote", "set-url", "origin", "https://github.com/someone/fork.git")
    write(clone, "fork-only.txt", "only in the fork\n")
    commit(clone, "Add a fork-only file", T0 + 900)

    out = tmp_path / "dump"
    counts = export_dump([str(repo), str(clone)], str(out))
    ids = [c["id"] for c in read_table(out, "contents")]
    assert ids == sorted(set(ids))
    assert blob_id(b"only in the fork\n") in ids
    assert len(ids) == len(list(iter_table(str(repo), "contents"))) + 1
    assert counts["commits"] == 8 + 9  # commits are per repository: the fork repeats history
    assert read_table(out, "licenses") == [
        {"repo_name": "local/demo", "license": "mit"}, {"repo_name": "someone/fork", "license": "mit"}]


def test_shallow_clone_boundary_commit_has_a_truncated_difference(history, tmp_path):
    repo, ids = history
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{repo}", str(clone))
    commits = list(iter_table(str(clone), "commits"))
    assert [c["commit"] for c in commits] == [ids["merge"], ids["main"], ids["feature"]]
    boundary = {c["commit"]: c for c in commits if c["difference_truncated"]}
    # depth 2 keeps the merge and both of its parents; the parents' own parents are cut off
    assert sorted(boundary) == sorted([ids["main"], ids["feature"]])
    assert all(c["difference"] == [] for c in boundary.values())
    assert [d["new_path"] for d in commits[0]["difference"]] == ["feature.txt"]
    for table in ("contents", "files"):
        assert list(iter_table(str(clone), table))


def test_submodule_entries_do_not_break_the_export(tmp_path):
    repo = tmp_path / "super"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "README", "super project\n")
    commit(repo, "Add readme", T0)
    gitlink = "1234567890abcdef1234567890abcdef12345678"  # a commit of another repository
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{gitlink},vendor/lib")
    git(repo, "commit", "-q", "-m", "Add submodule", when=T0 + 10)

    [head, _] = list(iter_table(str(repo), "commits"))
    assert head["difference"][0]["new_mode"] == 0o160000
    assert head["difference"][0]["new_sha1"] == gitlink
    contents = list(iter_table(str(repo), "contents"))
    assert [c["id"] for c in contents] == [blob_id(b"super project\n")]
    files = {f["path"]: f for f in iter_table(str(repo), "files")}
    assert files["vendor/lib"]["mode"] == 0o160000
    assert files["vendor/lib"]["id"] == gitlink


def test_subject_is_the_first_paragraph_as_git_shows_it(tmp_path):
    # BigQuery's subject is git's %s: the first paragraph on one line (see the sample dump).
    repo = tmp_path / "subject"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "x", "x\n")
    commit(repo, "Wrapped subject\ncontinued here\n\nBody.", T0)
    [record] = list(iter_table(str(repo), "commits"))
    assert record["subject"] == "Wrapped subject continued here"
    assert record["message"] == "Wrapped subject\ncontinued here\n\nBody.\n"


def test_legacy_commit_encoding_is_decoded_and_reported(tmp_path):
    repo = tmp_path / "latin1"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "x", "x\n")
    git(repo, "add", "-A")
    message_file = tmp_path / "message"
    message_file.write_bytes("Café fix\n".encode("latin-1"))
    git(repo, "-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", str(message_file))
    [record] = list(iter_table(str(repo), "commits"))
    assert (record["encoding"], record["subject"], record["message"]) == ("ISO-8859-1", "Café fix", "Café fix\n")


# --- repository names and errors ---------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://github.com/psf/requests.git", "psf/requests"),
    ("https://github.com/psf/requests", "psf/requests"),
    ("git@github.com:pallets/flask.git", "pallets/flask"),
    ("ssh://git@github.com/spf13/cobra.git", "spf13/cobra"),
    ("/srv/git/elsewhere.git", "local/named"),
])
def test_repo_name_from_origin(tmp_path, url, expected):
    repo = tmp_path / "named"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", url)
    assert repo_name(str(repo)) == expected


def test_not_a_repository_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not a git repository.*plain"):
        list(iter_table(str(plain), "commits"))
    with pytest.raises(GitError, match="missing"):
        export_dump([str(tmp_path / "missing")], str(tmp_path / "out"))


def test_repository_without_commits_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(GitError, match="no commits.*empty"):
        list(iter_table(str(empty), "files"))


def test_unknown_table_is_rejected(history):
    repo, _ = history
    with pytest.raises(ValueError, match="unknown table"):
        list(iter_table(str(repo), "languages"))


# --- the export-git command ------------------------------------------------------------------

def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    export_git.add_arguments(parser)
    return parser.parse_args(argv)


def test_export_git_command_writes_the_dump(history, tmp_path, capsys):
    repo, _ = history
    out = tmp_path / "cli-dump"
    assert export_git.run(parse([str(repo), "--output", str(out), "--max-blob-bytes", "100"])) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "_codecorpus_export_git.json", "commits.jsonl.gz", "contents.jsonl.gz", "files.jsonl.gz", "licenses.jsonl.gz"]
    assert "commits: 8 rows" in capsys.readouterr().err


def test_export_git_command_reports_git_errors(tmp_path, capsys):
    args = parse(["--input", str(tmp_path), "--output", str(tmp_path / "out")])
    assert export_git.run(args) == 2
    assert "not a git repository" in capsys.readouterr().err


# --- licence texts -----------------------------------------------------------------------------

LICENSE_EXCERPTS = {
    "mit": MIT_TEXT,
    "apache-2.0": """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/
   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
   1. Definitions. "License" shall mean the terms and conditions for use, reproduction,
      and distribution as defined by Sections 1 through 9 of this document.
""",
    "gpl-2.0": """
                    GNU GENERAL PUBLIC LICENSE
                       Version 2, June 1991
 Everyone is permitted to copy and distribute verbatim copies of this license
 document, but changing it is not allowed.
 If this is what you want to do, use the GNU Library General Public License
 instead of this License.
""",
    "gpl-3.0": """
                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
  13. Use with the GNU Affero General Public License.
  ...link or combine any covered work with a work licensed under version 3 of the
  GNU Affero General Public License into a single combined work...
  If this is what you want to do, use the GNU Lesser General Public License instead
  of this License.
""",
    "bsd-2-clause": """
Copyright (c) 2024, Example Authors
Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice.
2. Redistributions in binary form must reproduce the above copyright notice.
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
""",
    "bsd-3-clause": """
Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
* Redistributions of source code must retain the above copyright notice.
* Neither the name of the copyright holder nor the names of its
  contributors may be used to endorse or promote products derived from
  this software without specific prior written permission.
""",
    "lgpl-2.1": """
                  GNU LESSER GENERAL PUBLIC LICENSE
                       Version 2.1, February 1999
 [This is the first released version of the Lesser GPL.]
""",
    "agpl-3.0": """
                    GNU AFFERO GENERAL PUBLIC LICENSE
                       Version 3, 19 November 2007
""",
    "mpl-2.0": """
Mozilla Public License Version 2.0
==================================
1.13. "Secondary License" means either the GNU General Public License,
Version 2.0, the GNU Lesser General Public License, Version 2.1, ...
""",
    "isc": """
Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
""",
}


@pytest.mark.parametrize("expected", sorted(LICENSE_EXCERPTS))
def test_detect_license_on_excerpts(expected):
    assert detect_license(LICENSE_EXCERPTS[expected]) == expected


def test_detect_license_notices_and_unknowns():
    assert detect_license("Licensed under the Apache License, Version 2.0 (the \"License\");") == "apache-2.0"
    assert detect_license(
        "This program is free software; you can redistribute it and/or modify it under the terms of the "
        "GNU General Public License as published by the Free Software Foundation; either version 2 of "
        "the License, or (at your option) any later version.") == "gpl-2.0"
    assert detect_license("All rights reserved. Do not copy.") is None
    assert detect_license("") is None
