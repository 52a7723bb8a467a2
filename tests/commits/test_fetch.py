"""The blob fetcher against real git servers on 127.0.0.1 (``git daemon``, ``git http-backend``),
and the fetch stage's pure parts (grouping, forks, retries, the salted hot-key lookup)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

sys.path.insert(0, str(Path(__file__).parent))
from gitserve import HttpGit, git, git_daemon, make_repo, publish, silent_server  # noqa: E402

from codecorpus.commits import commitpack as cp  # noqa: E402
from codecorpus.core import blobs as packing  # noqa: E402
from codecorpus.commits import fetch  # noqa: E402
from codecorpus.config import default_config  # noqa: E402
from codecorpus.io import git as gitio  # noqa: E402


def wants_of_repo(repo: Path, commits: list[str]) -> dict[str, set]:
    """commit -> the old and new blob ids of its single-file change, as a dump names them."""
    wants = {}
    for commit in commits:
        line = git(repo, "diff-tree", "-r", "--no-commit-id", commit, "--", "src/app.py")
        _old_mode, _new_mode, old, new = line.split()[:4]
        wants[commit] = {old, new}
    return wants


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    work = root.parent / f"{root.name}-work"
    commits = make_repo(work / "acme" / "tool", "acme/tool", commits=6)
    bare = publish(work / "acme" / "tool", root, "acme/tool")
    return {"root": root, "bare": bare, "commits": commits[1:], "wants": wants_of_repo(bare, commits[1:])}


def blob_count(repo: str) -> int:
    out = subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"],
                         capture_output=True, text=True, check=True).stdout.split()
    return out.count("blob")


def test_partial_fetch_brings_exactly_the_requested_blobs(served, tmp_path):
    with git_daemon(served["root"]) as url:
        result = gitio.fetch_repository(f"{url}/acme/tool", served["wants"], str(tmp_path / "r"), 20, 1 << 30)
    needed = set().union(*served["wants"].values())
    got = dict(result.read_blobs(needed))
    assert set(got) == needed and not result.missing_commits and not result.missing_blobs
    for blob_id, data in got.items():
        assert data == subprocess.run(["git", "-C", served["bare"], "cat-file", "blob", blob_id],
                                      capture_output=True, check=True).stdout
    # partial: the LICENSE and every blob nobody asked for stayed on the server
    assert blob_count(result.path) == len(needed) and not result.full_fetch
    assert result.bytes_fetched > 0


def test_a_missing_commit_and_a_missing_blob_are_named_the_rest_fetched(served, tmp_path):
    wants = dict(served["wants"])
    first, second = served["commits"][:2]
    wants["1" * 40] = {"2" * 40}
    wants[second] = wants[second] | {"3" * 40}
    with git_daemon(served["root"]) as url:
        result = gitio.fetch_repository(f"{url}/acme/tool", wants, str(tmp_path / "r"), 20, 1 << 30)
    assert result.missing_commits == {"1" * 40}
    assert result.missing_blobs == {"3" * 40}
    assert set(dict(result.read_blobs(wants[first]))) == wants[first]


def test_a_server_refusing_filters_gets_a_full_fetch(served, tmp_path):
    with git_daemon(served["root"], allow_filter=False) as url:
        result = gitio.fetch_repository(f"{url}/acme/tool", served["wants"], str(tmp_path / "r"), 20, 1 << 30)
    needed = set().union(*served["wants"].values())
    assert result.full_fetch and set(dict(result.read_blobs(needed))) == needed
    assert blob_count(result.path) > len(needed)  # the whole trees came along (LICENSE included)


def test_a_rewritten_history_loses_the_commit(served, tmp_path):
    root = tmp_path / "srv"
    bare = publish(served["bare"], root, "acme/tool")
    git(bare, "update-ref", "refs/heads/main", served["commits"][1])  # force-push to an older commit
    git(bare, "reflog", "expire", "--expire=now", "--all")
    git(bare, "gc", "-q", "--prune=now")
    gone = served["commits"][-1]
    with git_daemon(root) as url:
        result = gitio.fetch_repository(f"{url}/acme/tool", {gone: served["wants"][gone]}, str(tmp_path / "r"), 20,
                                        1 << 30)
    assert result.missing_commits == {gone}


def test_http_not_found_and_authentication(served, tmp_path):
    with HttpGit(served["root"]) as server:
        server.faults["/acme/private"] = [401] * 20
        with pytest.raises(gitio.FetchError) as gone:
            gitio.fetch_repository(f"{server.url}/acme/nothing", served["wants"], str(tmp_path / "a"), 20, 1 << 30)
        with pytest.raises(gitio.FetchError) as private:
            gitio.fetch_repository(f"{server.url}/acme/private", served["wants"], str(tmp_path / "b"), 20, 1 << 30)
        ok = gitio.fetch_repository(f"{server.url}/acme/tool", served["wants"], str(tmp_path / "c"), 20, 1 << 30)
    assert gone.value.reason == "repository_not_found" and not gone.value.transient
    assert private.value.reason == "authentication_required" and not private.value.transient
    assert not ok.missing_blobs and not ok.full_fetch


def test_a_transient_error_is_retried_with_backoff(served, tmp_path):
    settings = fetch.FetchSettings.from_config(fetch.configure(default_config(), "dump", "x/{repo_name}"))
    naps = []
    with HttpGit(served["root"]) as server:
        server.faults["/acme/tool"] = [503, 503]
        fetched, error, retries = fetch.fetch_with_retries(
            f"{server.url}/acme/tool", served["wants"], str(tmp_path / "a"), settings, sleep=naps.append)
        assert error is None and retries == 2 and naps == [2.0, 4.0]
        assert not fetched.missing_blobs
        server.faults["/acme/tool"] = [503] * 10
        fewer = settings.__class__(**{**settings.__dict__, "retries": 1})
        fetched, error, retries = fetch.fetch_with_retries(
            f"{server.url}/acme/tool", served["wants"], str(tmp_path / "b"), fewer, sleep=naps.append)
    assert fetched is None and error.reason == "network_error" and error.transient and retries == 1


def test_a_server_that_never_answers_hits_the_deadline(tmp_path):
    with silent_server() as url:
        started = time.monotonic()
        with pytest.raises(gitio.FetchError) as hung:
            gitio.fetch_repository(f"{url}/acme/tool", {"a" * 40: {"b" * 40}}, str(tmp_path / "r"), 1.5, 1 << 30)
    assert hung.value.reason == "timeout" and time.monotonic() - started < 6


def test_a_repository_over_the_size_limit_is_cut_off(served, tmp_path):
    with git_daemon(served["root"], allow_filter=False) as url:
        with pytest.raises(gitio.FetchError) as big:
            gitio.fetch_repository(f"{url}/acme/tool", served["wants"], str(tmp_path / "r"), 20, 2_000)
    assert big.value.reason == "too_large"


def test_no_server_is_a_network_error():
    from gitserve import free_port

    reason, transient = gitio.classify_fetch_error("fatal: unable to connect to 127.0.0.1:\n"
                                                   "127.0.0.1[0: 127.0.0.1]: errno=Connection refused")
    assert (reason, transient) == ("network_error", True)
    with pytest.raises(gitio.FetchError) as refused:
        gitio.fetch_repository(f"git://127.0.0.1:{free_port()}/a/b", {"a" * 40: {"b" * 40}},
                               str(Path(__import__("tempfile").mkdtemp()) / "r"), 10, 1 << 30)
    assert refused.value.reason == "network_error" and refused.value.transient


@pytest.mark.parametrize("stderr,reason", [
    ("remote: Repository not found.\nfatal: repository 'https://github.com/a/b.git/' not found", "repository_not_found"),
    ("fatal: remote error: access denied or repository not exported: /a/b", "repository_not_found"),
    ("fatal: could not read Username for 'https://github.com': terminal prompts disabled", "authentication_required"),
    ("fatal: unable to access 'https://x/': The requested URL returned error: 503", "network_error"),
    ("fatal: unable to access 'https://x/': Could not resolve host: x", "network_error"),
])
def test_git_messages_become_reasons(stderr, reason):
    assert gitio.classify_fetch_error(stderr)[0] == reason


# --- the stage's pure parts -------------------------------------------------------------------------


class FakeFetcher:
    """Stands in for git: which repositories exist and which commits each has."""

    def __init__(self, repos: dict[str, set], errors: dict | None = None):
        self.repos = repos
        self.errors = errors or {}
        self.calls = []

    def __call__(self, url, wants, directory, timeout, max_bytes):
        self.calls.append((url, sorted(wants)))
        if url in self.errors:
            raise self.errors[url].pop(0) if isinstance(self.errors[url], list) else self.errors[url]
        if url not in self.repos:
            raise gitio.FetchError("repository_not_found", f"{url} not found")
        return _Fetched(set(wants) - self.repos[url])


class _Fetched:
    def __init__(self, missing):
        self.missing_commits, self.missing_blobs, self.full_fetch, self.bytes_fetched = missing, set(), False, 10

    def read_blobs(self, ids):
        for blob_id in sorted(ids):
            yield blob_id, f"text of {blob_id}\n".encode()


def settings(**overrides):
    config = fetch.configure(default_config(), "dump", "mem://{repo_name}")
    return fetch.FetchSettings(**{**fetch.FetchSettings.from_config(config).__dict__, **overrides})


def request(commit, repos, attempt=0):
    return fetch.FetchRequest(commit, (("new", f"{commit}n"), ("old", f"{commit}o")), tuple(repos), attempt)


def test_one_fetch_per_repository_and_the_next_fork_on_a_miss(tmp_path):
    fetcher = FakeFetcher({"mem://a/one": {"c1"}, "mem://b/two": {"c2"}})
    events = list(fetch.fetch_group("a/one", [request("c2", ["a/one", "b/two"]), request("c1", ["a/one"])],
                                    settings(), str(tmp_path), fetcher))
    assert fetcher.calls == [("mem://a/one", ["c1", "c2"])]  # one fetch for both commits
    answers = {e[1]: e[2] for e in events if isinstance(e, tuple) and e[0] == "answer"}
    retries = [e[1] for e in events if isinstance(e, tuple) and e[0] == "retry"]
    assert dict(answers["c1"].blobs)["old"]["content"] == "text of c1o\n"
    assert [(r.commit, r.repo, r.failures[0][1]) for r in retries] == [("c2", "b/two", "commit_not_in_repository")]
    second = list(fetch.fetch_group("b/two", retries, settings(), str(tmp_path), fetcher))
    assert [e[1] for e in second if isinstance(e, tuple)] == ["c2"]
    counters = [e.counter for e in events + second if not isinstance(e, tuple)]
    assert counters.count("fetch/repositories/fetched") == 2 and list(tmp_path.iterdir()) == []


def test_a_repository_failure_fails_its_commits_with_the_reason(tmp_path):
    fetcher = FakeFetcher({}, errors={"mem://a/one": gitio.FetchError("timeout", "no answer within 1 s")})
    events = list(fetch.fetch_group("a/one", [request("c1", ["a/one"])], settings(), str(tmp_path), fetcher))
    answer = next(e[2] for e in events if isinstance(e, tuple))
    assert answer.failures == (("a/one", "timeout", "no answer within 1 s"),)
    assert "fetch/repositories/timeout" in [e.counter for e in events if not isinstance(e, tuple)]


def test_transient_errors_are_retried_then_counted(tmp_path):
    flaky = [gitio.FetchError("network_error", "reset", transient=True)] * 2
    fetcher = FakeFetcher({"mem://a/one": {"c1"}}, errors={"mem://a/one": list(flaky)})
    naps = []
    events = list(fetch.fetch_group("a/one", [request("c1", ["a/one"])], settings(retries=1), str(tmp_path),
                                    fetcher, sleep=naps.append))
    answer = next(e[2] for e in events if isinstance(e, tuple))
    assert answer.failures[-1][1] == "network_error" and len(fetcher.calls) == 2 and naps == [2.0]
    assert {e.counter: e.value for e in events if not isinstance(e, tuple)}["fetch/retries"] == 1


def test_fetching_is_off_for_local_inputs_unless_a_remote_is_given():
    assert fetch.configure(default_config(), "bigquery")["fetch"]["enabled"] is True
    assert fetch.configure(default_config(), "dump")["fetch"]["enabled"] is False
    assert fetch.configure(default_config(), "git")["fetch"]["enabled"] is False
    assert fetch.configure(default_config(), "git", "git://h/{repo_name}")["fetch"]["enabled"] is True
    assert fetch.configure(default_config(), "bigquery", no_fetch=True)["fetch"]["enabled"] is False
    with pytest.raises(ValueError, match="repo_name"):
        fetch.configure(default_config(), "dump", "https://example.org/fixed.git")
    assert fetch.remote_url("https://github.com/{repo_name}.git", "psf/requests") == "https://github.com/psf/requests.git"


def test_salted_lookup_answers_a_hot_key_like_a_plain_join():
    # one blob requested by 200 commits, a cold one by one, an absent one by one
    requests = [("hot", (f"c{i:03d}", "old")) for i in range(200)] + [("cold", ("c999", "new")), ("gone", ("c998", "new"))]
    table = [("hot", {"id": "hot", "content": None}), ("hot", {"id": "hot", "content": "x"}),
             ("cold", {"id": "cold", "content": "y"})]
    expected = [(sha, (key, side, {"hot": {"id": "hot", "content": "x"}, "cold": {"id": "cold", "content": "y"}}.get(key)))
                for key, (sha, side) in requests]
    with beam.Pipeline() as p:
        answers = (p | "R" >> beam.Create(requests)
                   | cp.SaltedLookup(p | "T" >> beam.Create(table), packing.pick_blob, fanout=8))
        assert_that(answers, equal_to(expected))
    # the hot key's requests are spread over its salts: no group holds more than about 1/8 + slack
    groups = {}
    for key, (sha, _side) in requests:
        groups.setdefault((key, cp.salt_of(sha, 8)), []).append(sha)
    assert len([g for g in groups if g[0] == "hot"]) == 8
    assert max(len(v) for v in groups.values()) < 200 / 8 * 2
