"""``repos:FILE`` inputs: the list's lines, and cloning against real git servers on 127.0.0.1
(``git daemon`` and ``git http-backend``, from ``tests/commits/gitserve.py``)."""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "commits"))
from gitserve import HttpGit, git, git_daemon, make_repo, publish, silent_server  # noqa: E402

from codecorpus.config import ConfigError, default_config  # noqa: E402
from codecorpus.core.routing import Count, DeadLetter  # noqa: E402
from codecorpus.io import git as gitio  # noqa: E402
from codecorpus.io import repos  # noqa: E402
from codecorpus.io.sources import git_table_events, parse_inputs  # noqa: E402

TEMPLATE = "https://github.com/{repo_name}.git"


def settings(**overrides) -> repos.CloneSettings:
    values = {"remote": TEMPLATE, "timeout_seconds": 20, "max_bytes": 1 << 30, "concurrency": 2, "retries": 2,
              "backoff_seconds": 0.0}
    return repos.CloneSettings(**{**values, **overrides})


# --- the list ------------------------------------------------------------------------------------


@pytest.mark.parametrize("line,name,url", [
    ("acme/tool", "acme/tool", "https://github.com/acme/tool.git"),
    ("  acme/tool.git  # the CLI\n", "acme/tool", "https://github.com/acme/tool.git"),
    ("acme/.github", "acme/.github", "https://github.com/acme/.github.git"),
    ("https://github.com/acme/tool", "acme/tool", "https://github.com/acme/tool"),
    ("git://127.0.0.1:9418/acme/tool.git", "acme/tool", "git://127.0.0.1:9418/acme/tool.git"),
    ("ssh://git@example.org:2222/team/app.git", "team/app", "ssh://git@example.org:2222/team/app.git"),
    ("git@github.com:acme/tool.git", "acme/tool", "git@github.com:acme/tool.git"),
    ("https://gitlab.example.org/group/sub/proj.git", "sub/proj", "https://gitlab.example.org/group/sub/proj.git"),
    ("file:///srv/git/acme/lib.git", "acme/lib", "file:///srv/git/acme/lib.git"),
])
def test_a_line_names_a_repository_and_its_url(line, name, url):
    entry = repos.parse_line(line, TEMPLATE, "list.txt", 3)
    assert (entry.name, entry.url, entry.source) == (name, url, "list.txt:3")


@pytest.mark.parametrize("line", ["", "   \n", "# a comment", "   # indented comment\n"])
def test_blank_and_comment_lines_name_nothing(line):
    assert repos.parse_line(line, TEMPLATE) is None


@pytest.mark.parametrize("line", ["acme", "acme/tool/extra", "not a repo", "ftp://example.org/a/b", "acme/to ol",
                                  "../etc", "acme/..", "./x", "ext::sh -c touch% /tmp/x"])
def test_a_line_that_names_no_repository_is_an_error(line):
    with pytest.raises(ValueError, match="not a repository"):
        repos.parse_line(line, TEMPLATE)


def test_owner_name_lines_use_the_remote_template():
    entry = repos.parse_line("acme/tool", "git://127.0.0.1:1/mirror/{owner}--{name}")
    assert entry.url == "git://127.0.0.1:1/mirror/acme--tool" and entry.name == "acme/tool"


def test_credentials_never_reach_what_is_written_down():
    entry = repos.parse_line("https://bot:s3cret@example.org/acme/tool.git", TEMPLATE)
    assert entry.url == "https://bot:s3cret@example.org/acme/tool.git"  # git needs them
    assert "s3cret" not in entry.text and entry.text == "https://example.org/acme/tool.git"
    assert gitio.redact_url("git://tok@h/a/b") == "git://h/a/b"
    assert gitio.redact_url("fatal: repository 'https://u:pw@h.org/a/b/' not found") == (
        "fatal: repository 'https://h.org/a/b/' not found")
    assert gitio.redact_url("ssh://git@example.org/a/b") == "ssh://example.org/a/b"


def test_the_list_is_counted_and_bad_lines_are_dead_letters(tmp_path):
    path = tmp_path / "repos.txt.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf# header\nacme/tool\n\nnot a repo\nhttps://x:pw@h.org/a/b ? bad\n"
                                   b"acme/lib  # trailing\n"))
    events = list(repos.list_events(str(path), TEMPLATE))
    entries = [e for e in events if isinstance(e, repos.RepositoryLine)]
    dead = [e.row for e in events if isinstance(e, DeadLetter)]
    counts = {e.counter: e.value for e in events if isinstance(e, Count)}
    assert [e.name for e in entries] == ["acme/tool", "acme/lib"]
    assert [(d["stage"], d["table"], d["source"]) for d in dead] == [
        ("parse", "repositories", f"{path}:4"), ("parse", "repositories", f"{path}:5")]
    assert "pw" not in dead[1]["raw"] + dead[1]["error"] + dead[1]["key"]
    assert counts == {"lines/repositories": 4, "read/repositories": 4}


def test_the_first_line_of_a_name_wins_and_duplicates_are_counted():
    lines = [repos.parse_line(text, TEMPLATE, "l", n) for n, text in
             ((7, "acme/tool"), (2, "https://github.com/acme/tool"), (9, "acme/tool.git"))]
    out = list(repos.first_of_name(("acme/tool", lines)))
    assert out[0].source == "l:2" and out[1] == Count("repositories/duplicate", 2)
    assert list(repos.first_of_name(("x/y", lines[:1]))) == [lines[0]]


def test_parse_inputs_takes_repos_lists(tmp_path):
    (tmp_path / "r.txt").write_text("acme/tool\n")
    spec = parse_inputs([f"repos:{tmp_path / 'r.txt'}"])
    assert spec.kind == "repos" and spec.paths == (str(tmp_path / "r.txt"),)
    assert spec.describe() == {"kind": "repos", "paths": [str(tmp_path / "r.txt")], "dataset": None}
    with pytest.raises(FileNotFoundError, match="repos:"):
        parse_inputs([f"repos:{tmp_path / 'missing.txt'}"])
    with pytest.raises(ValueError, match="mix kinds"):
        parse_inputs([f"repos:{tmp_path / 'r.txt'}", str(tmp_path)])
    with pytest.raises(ValueError, match="repos: needs"):
        parse_inputs(["repos:"])


def test_settings_come_from_the_fetch_section():
    config = default_config()
    s = repos.CloneSettings.from_config(config)
    assert (s.remote, s.timeout_seconds, s.retries) == (config["fetch"]["remote"], 300.0, 3)
    config["fetch"]["remote"] = "https://github.com/fixed.git"
    with pytest.raises(ConfigError, match="repo_name"):
        repos.CloneSettings.from_config(config)


# --- cloning ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    work = root.parent / f"{root.name}-work"
    make_repo(work / "acme" / "tool", "acme/tool", commits=4)
    publish(work / "acme" / "tool", root, "acme/tool")
    empty = root / "acme" / "empty"
    empty.mkdir(parents=True)
    git(empty, "init", "-q", "--bare")
    return {"root": root, "work": work / "acme" / "tool"}


def records(repo_path, table: str, name: str | None = None) -> list:
    out = []
    for event in git_table_events(str(repo_path), table, name=name, source="s"):
        if isinstance(event, dict):
            out.append({k: v for k, v in event.items() if k != "_source"})
    return out


def test_a_clone_reads_exactly_as_the_repository_itself(served, tmp_path):
    with git_daemon(served["root"]) as url:
        cloned = gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "c"), 20, 1 << 30, history=True)
    assert cloned.bytes_fetched > 0
    for table in ("commits", "licenses", "contents", "files"):
        assert records(cloned.path, table, "acme/tool") == records(served["work"], table), table


def test_without_history_only_the_last_commit_is_cloned(served, tmp_path):
    with git_daemon(served["root"]) as url:
        shallow = gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "s"), 20, 1 << 30, history=False)
        full = gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "f"), 20, 1 << 30, history=True)
    assert len(records(shallow.path, "commits", "acme/tool")) == 1 < len(records(full.path, "commits", "acme/tool"))
    assert shallow.bytes_fetched < full.bytes_fetched
    assert records(shallow.path, "files", "acme/tool") == records(served["work"], "files")


@pytest.mark.parametrize("fault,reason,transient", [
    (None, "repository_not_found", False), (401, "authentication_required", False), (503, "network_error", True)])
def test_failures_over_http_are_classified(served, tmp_path, fault, reason, transient):
    with HttpGit(served["root"]) as http:
        path = "/acme/gone" if fault is None else "/acme/tool"
        if fault:
            http.faults[path] = [fault] * 10
        with pytest.raises(gitio.FetchError) as caught:
            gitio.clone_repository(http.url + path, str(tmp_path / "c"), 20, 1 << 30)
    assert (caught.value.reason, caught.value.transient) == (reason, transient)


def test_a_transient_fault_is_retried_with_backoff(served, tmp_path):
    waits = []
    with HttpGit(served["root"]) as http:
        http.faults["/acme/tool"] = [503]
        entry = repos.RepositoryLine("l:1", ("l", 1), "acme/tool", http.url + "/acme/tool", "acme/tool")
        cloned, error, retries = repos.clone_with_retries(entry, str(tmp_path), settings(backoff_seconds=0.5), True,
                                                          sleep=waits.append)
    assert error is None and retries == 1 and waits == [0.5]
    assert records(cloned.path, "commits", "acme/tool") == records(served["work"], "commits")


def test_a_server_that_never_answers_meets_the_deadline(tmp_path):
    with silent_server() as url:
        started = time.monotonic()
        with pytest.raises(gitio.FetchError) as caught:
            gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "c"), 1.5, 1 << 30)
    assert caught.value.reason == "timeout" and time.monotonic() - started < 10


def test_a_repository_over_the_byte_cap_is_too_large(served, tmp_path):
    with git_daemon(served["root"]) as url:
        with pytest.raises(gitio.FetchError) as caught:
            gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "c"), 20, 200)
    assert caught.value.reason == "too_large"


def test_an_empty_repository_is_named(served, tmp_path):
    with git_daemon(served["root"]) as url:
        with pytest.raises(gitio.FetchError) as caught:
            gitio.clone_repository(f"{url}/acme/empty", str(tmp_path / "c"), 20, 1 << 30)
    assert caught.value.reason == "empty_repository"


def test_repository_events_read_every_table_or_dead_letter_the_repository(served, tmp_path):
    tables = repos.TABLE_FAMILIES["files"]
    with git_daemon(served["root"]) as url:
        good = repos.parse_line(f"{url}/acme/tool", TEMPLATE, "l", 1)
        gone = repos.parse_line(f"{url}/acme/gone", TEMPLATE, "l", 2)
        events = list(repos.repository_events(good, tables, settings(), str(tmp_path)))
        failed = list(repos.repository_events(gone, tables, settings(), str(tmp_path)))
    got = {table: [e for t, e in events if t == table and isinstance(e, dict)] for table in tables}
    assert got["files"] == records(served["work"], "files") and got["licenses"] == records(served["work"], "licenses")
    # files family: the last commit only, so contents are exactly the blobs at HEAD
    head = {f["id"] for f in got["files"]}
    assert got["contents"] == [c for c in records(served["work"], "contents") if c["id"] in head]
    counts = {e.counter: e.value for _t, e in events if isinstance(e, Count)}
    assert counts["clone/repositories/cloned"] == 1 and counts["read/files"] == 2 and counts["clone/bytes"] > 0
    assert [(t, type(e).__name__) for t, e in failed] == [("files", "Count"), ("files", "DeadLetter")]
    dead = failed[1][1].row
    assert (dead["stage"], dead["table"], dead["key"], dead["source"]) == (
        "clone_repository", "repositories", "acme/gone", "l:2")
    assert dead["error"].startswith("repository_not_found: ") and failed[0][1].counter == (
        "clone/repositories/repository_not_found")
    assert list(tmp_path.iterdir()) == []  # every clone removed


def test_the_repositories_identity():
    counters = {"read/repositories": 5, "clone/repositories/cloned": 2, "repositories/duplicate": 1,
                "dead_letter/repositories/parse": 1, "dead_letter/repositories/clone_repository": 1}
    assert repos.repositories_identity(counters, {})["holds"]
    assert not repos.repositories_identity({**counters, "read/repositories": 6}, {})["holds"]


def _blobs_in(repo: str) -> set:
    import subprocess

    out = subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return {line.split()[0] for line in out if line.endswith(" blob")}


@pytest.mark.parametrize("allow_filter", [True, False])
def test_a_path_filter_clones_only_the_blobs_it_keeps(served, tmp_path, allow_filter):
    head = {f["path"]: f["id"] for f in records(served["work"], "files")}
    with git_daemon(served["root"], allow_filter=allow_filter) as url:
        whole = gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "w"), 20, 1 << 30, history=False)
        partial = gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "p"), 20, 1 << 30, history=False,
                                         wanted_path=lambda path: path.endswith(".py"))
        only_licence = gitio.clone_repository(f"{url}/acme/tool", str(tmp_path / "l"), 20, 1 << 30, history=False,
                                              wanted_path=lambda path: path.endswith(".sql"))
    # the server is gone: nothing below may try to fetch (no promisor remote left behind)
    assert records(only_licence.path, "files", "acme/tool") == records(served["work"], "files")
    if allow_filter:
        assert _blobs_in(only_licence.path) == {head["LICENSE"]}  # licence files always: license_of reads them
        assert _blobs_in(partial.path) == set(head.values())
    else:  # a server that refuses filters sends the whole last commit
        assert _blobs_in(only_licence.path) == set(head.values()) == _blobs_in(whole.path)
    present = list(gitio.iter_table(only_licence.path, "contents", name="acme/tool", present_only=True))
    assert {c["id"] for c in present} == _blobs_in(only_licence.path)
    assert records(only_licence.path, "licenses", "acme/tool") == records(served["work"], "licenses")
    if allow_filter:  # without present_only a blob the partial clone lacks is an error, not a lazy fetch
        with pytest.raises(gitio.GitError, match="missing"):
            list(gitio.iter_table(only_licence.path, "contents", name="acme/tool"))
