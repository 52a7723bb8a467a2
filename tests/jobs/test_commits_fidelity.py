"""End to end: inputs the commits job used to mishandle, each reproduced first (issue 14 items 6
and 10, issue 15 items 7 and 8), and CommitPack's selection rules through the whole job."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import manifest_of, read_table, run_cli

pytestmark = pytest.mark.slow

LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
               "size 52000000\n")
MESSAGE = "Fix the parser for nested lists\n"


def _modify(builder, path, old, new, old_mode=33188, new_mode=33188, repo="acme/tool"):
    return {"old_mode": old_mode, "new_mode": new_mode, "old_path": path, "new_path": path,
            "old_sha1": builder.blob(old), "new_sha1": builder.blob(new), "old_repo": repo, "new_repo": repo}


def test_hostile_dump_rows_are_dropped_with_counted_reasons(tmp_path, dump_builder):
    b = dump_builder
    b.license("acme/tool", "mit")
    b.commit(MESSAGE, sha="a" * 40)                                              # kept
    # A symlink retargeted, and a file turned into a symlink: blobs are link targets.
    b.commit(MESSAGE, sha="b" * 40, difference=[_modify(b, "link", "/etc/passwd", "/etc/shadow", 0o120000, 0o120000)])
    b.commit(MESSAGE, sha="c" * 40, difference=[_modify(b, "a.py", "print(1)\n" * 20, "/etc/passwd", 33188, 0o120000)])
    # A Git LFS pointer file in place of the contents.
    b.commit(MESSAGE, sha="d" * 40, difference=[_modify(b, "model.py", "x = 1\n" * 30, LFS_POINTER)])
    # A submodule (gitlink) update: its ids are commits of another repository, not blobs here.
    b.commit(MESSAGE, sha="e" * 40, difference=[{
        "old_mode": 0o160000, "new_mode": 0o160000, "old_path": "vendor/lib", "new_path": "vendor/lib",
        "old_sha1": "1" * 40, "new_sha1": "2" * 40, "old_repo": "acme/tool", "new_repo": "acme/tool"}])
    # A blob whose `size` field lies: 2 MB of text claiming 10 bytes.
    big = b.blob("y = 2\n" * 350_000, size=10)
    small = b.blob("y = 1\n" * 40)
    b.commit(MESSAGE, sha="f" * 40, difference=[{
        "old_mode": 33188, "new_mode": 33188, "old_path": "big.py", "new_path": "big.py",
        "old_sha1": small, "new_sha1": big, "old_repo": "acme/tool", "new_repo": "acme/tool"}])
    # Control characters in a path and in a subject.
    b.commit(MESSAGE, sha="0" * 39 + "1", path="src/\x1b[31mred\x1b[0m.py")
    b.commit("Fix the parser\x00 for nested lists\n", sha="0" * 39 + "2", path="src/nul.py")
    b.commit(MESSAGE, sha="0" * 39 + "3", path="src/new\nline.py")
    dump = b.write(tmp_path / "dump")

    out = tmp_path / "out"
    assert run_cli("commits", "--input", dump, "--output", out, "--quiet", "--no-dedup") == 0
    counters = manifest_of(out)["counters"]
    assert [r["commit"] for r in read_table(out, "commitpack")] == ["a" * 40]
    assert counters["filter/single_file/symlink"] == 2
    assert counters["filter/single_file/submodule"] == 1
    assert counters["filter/binary/lfs_pointer"] == 1
    assert counters["filter/size/too_large"] == 1
    assert counters["filter/control_chars/path"] == 2
    assert counters["filter/control_chars/subject"] == 1
    assert read_table(out, "dead_letter") == []            # the gitlink is no "missing blob"
    assert manifest_of(out)["accounting"]["commits"]["holds"]


def _git(repo, *args, when=1_700_000_000):
    env = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org", "GIT_COMMITTER_NAME": "Ada",
           "GIT_COMMITTER_EMAIL": "ada@example.org", "GIT_AUTHOR_DATE": f"@{when} +0000",
           "GIT_COMMITTER_DATE": f"@{when} +0000", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                           "-c", "protocol.file.allow=always", *args], cwd=repo, env=env, check=True,
                          capture_output=True)


def test_git_submodules_symlinks_and_shallow_boundaries(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    _git(lib, "init", "-q")
    (lib / "lib.c").write_text("int f(void) { return 1; }\n")
    _git(lib, "add", ".")
    _git(lib, "commit", "-q", "-m", "Initial commit")

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, to any person "
                                  "obtaining a copy of this software\n")
    (repo / "app.py").write_text("def main():\n    return 1\n" * 10)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "Initial commit")
    _git(repo, "submodule", "add", "-q", str(lib), "vendor/lib", when=1_700_000_010)
    _git(repo, "commit", "-q", "-m", "Add the library as a submodule", when=1_700_000_010)
    (lib / "lib.c").write_text("int f(void) { return 2; }\n")
    _git(lib, "commit", "-q", "-am", "Return two")
    _git(repo / "vendor" / "lib", "pull", "-q", "origin", "main", when=1_700_000_020)
    _git(repo, "commit", "-q", "-am", "Update the library to return two", when=1_700_000_020)   # a gitlink update
    os.symlink("app.py", repo / "link.py")
    _git(repo, "add", "link.py", when=1_700_000_030)
    _git(repo, "commit", "-q", "-m", "Add a link to the app", when=1_700_000_030)
    (repo / "link.py").unlink()
    os.symlink("LICENSE", repo / "link.py")
    _git(repo, "commit", "-q", "-am", "Point the link at the licence", when=1_700_000_040)    # symlink edit
    for i in range(2):
        (repo / "app.py").write_text(f"def main():\n    return {i + 2}\n" * 10)
        _git(repo, "commit", "-q", "-am", f"Change the return value of main to {i + 2}", when=1_700_000_050 + i)

    out = tmp_path / "out"
    assert run_cli("commits", "--input", f"git:{repo}", "--output", out, "--quiet", "--no-dedup") == 0
    counters = manifest_of(out)["counters"]
    assert counters["filter/single_file/submodule"] == 1
    assert counters["filter/single_file/symlink"] == 1
    assert read_table(out, "dead_letter") == []
    assert len(read_table(out, "commitpack")) == 2

    # A shallow clone: its boundary commit's parent is not there, so its change is unknown.
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "2", f"file://{repo}", str(shallow))
    out = tmp_path / "out-shallow"
    assert run_cli("commits", "--input", f"git:{shallow}", "--output", out, "--quiet", "--no-dedup") == 0
    counters = manifest_of(out)["counters"]
    assert counters["read/commits"] == 2
    assert counters["filter/single_file/shallow_boundary"] == 1
    assert "filter/single_file/no_files" not in counters
    assert len(read_table(out, "commitpack")) == 1
