"""Fetching the blobs a commit dump lacks from the commits' own repositories.

BigQuery's ``contents`` table holds only the blobs at each repository's HEAD, so a single-file
commit's old blob is almost never there (OctoPack fetched every commit from GitHub). After the
licence filter and the ``contents`` join, every commit still missing a blob is completed here:

    pending commits  -> light requests (commit sha, missing blob ids, its repositories in order)
    round r = 0, 1 …  -> keyed by the commit's r-th repository, grouped: ONE fetch per repository
                        (``io.git.fetch_repository``: partial fetch of the commits, one batched
                        fetch of the blobs, one ``cat-file --batch``), retried with backoff on
                        transient faults; a commit the repository lacks goes to round r + 1 (its
                        next fork) until ``max_repositories`` are tried
    answers (blobs or the reason it failed) meet their commit on the sha -> ``commitpack.finish``
                        -> a commitpack row (``contents/fetched``), a content-filter drop, or a
                        dead letter at stage ``fetch_contents`` with the reason

Counters: ``fetch/repositories/<outcome>`` (``fetched``, ``full_fetch`` when the server refused
filters, or a failure reason), ``fetch/blobs/fetched``, ``fetch/bytes`` (bytes of the fetched
object stores), ``fetch/retries``. With ``fetch.cache`` every fetched blob is also written there
(Parquet in the ``contents`` shape, keyed by blob id) and read back on the next run as part of
``contents``, so a rerun fetches nothing it has and gives the same rows.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Optional

import apache_beam as beam

from codecorpus.commits import commitpack as cp
from codecorpus.config import ConfigError
from codecorpus.core import blobs as packing
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, dead_letter, route_events, routed
from codecorpus.io import git
from codecorpus.io.records import normalise

STAGE = "fetch_contents"
REASONS = git.FETCH_REASONS
# Failures that another fork may not have: try the commit's next repository.
TRY_NEXT_FORK = {"repository_not_found", "authentication_required", "commit_not_in_repository",
                 "blob_not_in_repository"}


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchSettings:
    """The ``fetch:`` section, resolved (see ``defaults.yaml``)."""

    remote: str
    timeout_seconds: float
    max_bytes_per_repository: int
    concurrency: int
    retries: int
    backoff_seconds: float
    max_repositories: int
    cache: Optional[str]
    max_blob_bytes: int

    @classmethod
    def from_config(cls, config: dict) -> "FetchSettings":
        f = config["fetch"]
        size = config["commits"]["filters"]["size"]
        return cls(remote=f["remote"], timeout_seconds=float(f["timeout_seconds"]),
                   max_bytes_per_repository=int(f["max_bytes_per_repository"]),
                   concurrency=max(1, int(f["concurrency"])), retries=max(0, int(f["retries"])),
                   backoff_seconds=float(f["backoff_seconds"]), max_repositories=max(1, int(f["max_repositories"])),
                   cache=f["cache"] or None,
                   # text above the size filter's bound is not kept (the size filter drops it anyway)
                   max_blob_bytes=int(size["max_bytes"]) if size["enabled"] else git.DEFAULT_MAX_BLOB_BYTES)


def configure(config: dict, input_kind: str, remote: Optional[str] = None, no_fetch: bool = False) -> dict:
    """Resolves ``fetch.enabled`` (``auto``: on for ``bq:`` inputs, and for any input when a
    remote is given on the command line: a local run never reaches the network by surprise)."""
    section = config["fetch"]
    if remote:
        section["remote"] = remote
    enabled = section["enabled"]
    if enabled == "auto":
        enabled = input_kind == "bigquery" or bool(remote)
    if no_fetch:
        enabled = False
    if not isinstance(enabled, bool):
        raise ConfigError(f"fetch.enabled must be true, false or auto, got {section['enabled']!r}")
    section["enabled"] = enabled
    if enabled:
        url = remote_url(section["remote"], "owner/name")
        if "{repo_name}" not in section["remote"] and "{owner}" not in section["remote"]:
            raise ConfigError(f"fetch.remote must name the repository with {{repo_name}} (or {{owner}} and "
                             f"{{name}}), e.g. https://github.com/{{repo_name}}.git; got {url!r}")
    return config


def is_enabled(config: dict) -> bool:
    """Only a resolved ``true`` fetches (``auto`` is resolved by ``configure`` from the input)."""
    return config["fetch"]["enabled"] is True


def describe(config: dict) -> dict:
    """The manifest's ``fetch`` entry (totals are added from the counters by ``totals``)."""
    return {k: config["fetch"][k] for k in sorted(config["fetch"])}


def totals(manifest: dict) -> dict:
    counters = manifest["counters"]
    picked = {k: v for k, v in sorted(counters.items()) if k.startswith(("fetch/", "contents/"))}
    return {"fetch": {**manifest.get("fetch", {}), "totals": picked}}


def remote_url(template: str, repo: str) -> str:
    """The URL of ``owner/name`` (a ``repo_name``); a repo_name that is already a URL or path is kept."""
    if "://" in repo or repo.startswith(("/", "git@")):
        return repo
    owner, _, name = repo.partition("/")
    return template.format(repo_name=repo, owner=owner, name=name)


# --- what travels between the steps ---------------------------------------------------------------


@dataclass(frozen=True)
class FetchRequest:
    """One commit's missing blobs (``missing``: ((side, blob id), …)), its repositories in the
    order they are tried, which one is next, and why the earlier ones failed."""

    commit: str
    missing: tuple
    repos: tuple
    attempt: int = 0
    failures: tuple = ()  # ((repo, reason, message), …)

    @property
    def repo(self) -> str:
        return self.repos[self.attempt]


@dataclass(frozen=True)
class FetchAnswer:
    """The outcome for one commit: its fetched blobs (side -> blob record), or the failures."""

    blobs: tuple = ()      # ((side, blob record), …)
    failures: tuple = ()   # ((repo, reason, message), …), the last one decisive


def request_of(commit: dict, max_repositories: int) -> FetchRequest:
    repos = tuple(dict.fromkeys(commit["repo_name"]))[:max_repositories]
    return FetchRequest(commit["commit"], tuple(sorted(commit["_fetch"].items())), repos)


def wants_of(requests: Iterable[FetchRequest]) -> dict[str, set]:
    wants: dict[str, set] = {}
    for request in requests:
        wants.setdefault(request.commit, set()).update(blob_id for _side, blob_id in request.missing)
    return wants


def blob_record(blob_id: str, data: bytes, max_blob_bytes: int) -> dict:
    """A fetched blob in the normalised ``contents`` shape, as a dump would hold it."""
    return normalise("contents", git.content_record(blob_id, data, max_blob_bytes))


# --- one repository, as a pure-ish function (git on local disk, no Beam) ----------------------------


def fetch_with_retries(url: str, wants: dict, directory: str, settings: FetchSettings,
                       fetcher=git.fetch_repository, sleep=time.sleep):
    """``(FetchedRepository or None, FetchError or None, retries used)``; a transient failure is
    retried ``settings.retries`` times with exponential backoff, each try in a fresh directory."""
    for attempt in range(settings.retries + 1):
        target = os.path.join(directory, f"try-{attempt}")
        try:
            return fetcher(url, wants, target, settings.timeout_seconds, settings.max_bytes_per_repository), None, attempt
        except git.FetchError as e:
            shutil.rmtree(target, ignore_errors=True)
            if not e.transient or attempt == settings.retries:
                return None, e, attempt
            sleep(settings.backoff_seconds * (2 ** attempt))
    raise AssertionError("unreachable")


def fetch_group(repo: str, requests: list[FetchRequest], settings: FetchSettings, workdir: str,
                fetcher=git.fetch_repository, sleep=time.sleep) -> Iterator:
    """Events for one repository's requests: ``("answer", sha, FetchAnswer)``,
    ``("retry", FetchRequest)`` (the commit's next fork) and ``Count``s."""
    requests = sorted(requests, key=lambda r: (r.commit, r.missing))
    url = remote_url(settings.remote, repo)
    directory = tempfile.mkdtemp(prefix="repo-", dir=workdir)
    try:
        fetched, error, retries = fetch_with_retries(url, wants_of(requests), directory, settings, fetcher, sleep)
        if retries:
            yield Count("fetch/retries", retries)
        if error is not None:
            yield Count(f"fetch/repositories/{error.reason}")
            for request in requests:
                yield from _failed(request, error.reason, error.message)
            return
        yield Count("fetch/repositories/fetched")
        if fetched.full_fetch:
            yield Count("fetch/repositories/full_fetch")
        yield Count("fetch/bytes", fetched.bytes_fetched)
        needed = {b for r in requests if r.commit not in fetched.missing_commits for _s, b in r.missing}
        blobs = {blob_id: blob_record(blob_id, data, settings.max_blob_bytes)
                 for blob_id, data in fetched.read_blobs(needed)}
        yield Count("fetch/blobs/fetched", len(blobs))
        for request in requests:
            if request.commit in fetched.missing_commits:
                yield from _failed(request, "commit_not_in_repository", f"commit {request.commit} is not in {url}")
                continue
            lacking = [b for _s, b in request.missing if b not in blobs]
            if lacking:
                yield from _failed(request, "blob_not_in_repository", f"blob {lacking[0]} is not in {url}")
                continue
            yield "answer", request.commit, FetchAnswer(blobs=tuple((side, blobs[b]) for side, b in request.missing))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _failed(request: FetchRequest, reason: str, message: str):
    failures = request.failures + ((request.repo, reason, message),)
    if reason in TRY_NEXT_FORK and request.attempt + 1 < len(request.repos):
        yield "retry", replace(request, attempt=request.attempt + 1, failures=failures)
    else:
        yield "answer", request.commit, FetchAnswer(failures=failures)


def complete(element, licence_chain, content_chain):
    """A pending commit and its fetch answer -> ``commitpack.finish`` or a dead letter."""
    sha, grouped = element
    commits, answers = grouped["commit"], grouped["answer"]
    if not commits:
        return
    commit = commits[0]
    answer = answers[0] if answers else FetchAnswer(failures=(("", "network_error", "no answer from the fetch"),))
    if answer.failures:
        _repo, reason, _message = answer.failures[-1]
        tried = "; ".join(f"{repo}: {why}: {message}" for repo, why, message in answer.failures)
        raw = {k: v for k, v in commit.items() if not k.startswith("_")}
        yield dead_letter(STAGE, "commits", sha, f"{reason}: {tried}", raw, commit.get("_source", ""))
        return
    fetched = {side: packing.unpack(blob, packing.BLOB_TEXT) for side, blob in answer.blobs}
    found = {side: packing.unpack(blob, packing.BLOB_TEXT) for side, blob in commit["_found"].items()}
    blobs = {side: (commit["_fetch"][side], fetched[side]) if side in commit["_fetch"] else
             (None, found.get(side)) for side in ("old", "new")}
    yield from cp.finish(commit, blobs, licence_chain, content_chain, "contents/fetched")


# --- Beam -------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _worker_slots(concurrency: int) -> threading.BoundedSemaphore:
    """One semaphore per worker process: Beam runs several bundles at once on a worker's threads,
    and ``fetch.concurrency`` bounds how many of them are fetching."""
    return threading.BoundedSemaphore(concurrency)


class FetchRepositories(beam.DoFn):
    """``(repo, [FetchRequest])`` -> answers, ``retry`` (next fork) and ``stats``. Clones live
    in a temporary folder of the bundle, removed when the bundle ends."""

    RETRY = "retry"

    def __init__(self, settings: FetchSettings):
        self.settings = settings

    def start_bundle(self):
        self._workdir = tempfile.mkdtemp(prefix="codecorpus-fetch-")

    def finish_bundle(self):
        shutil.rmtree(self._workdir, ignore_errors=True)

    def teardown(self):
        with contextlib.suppress(AttributeError):
            shutil.rmtree(self._workdir, ignore_errors=True)

    def process(self, element):
        repo, requests = element
        with _worker_slots(self.settings.concurrency):
            events = list(fetch_group(repo, list(requests), self.settings, self._workdir))
        for event in events:
            if isinstance(event, tuple) and event[0] == "answer":
                yield (event[1], event[2])
            elif isinstance(event, tuple) and event[0] == "retry":
                yield beam.pvalue.TaggedOutput(self.RETRY, event[1])
            else:
                yield from route_events([event], STAGE)


def packed_answer(answer: FetchAnswer) -> FetchAnswer:
    """An answer as it crosses the join with its commit: the fetched blobs' text packed
    (``core.blobs``; the commit's ``_found`` blobs are packed already, by the contents join)."""
    if not answer.blobs:
        return answer
    return replace(answer, blobs=tuple((side, packing.pack(blob, packing.BLOB_TEXT)) for side, blob in answer.blobs))


def _is_pending(record) -> bool:
    return isinstance(record, dict) and "_fetch" in record


class FetchMissingBlobs(beam.PTransform):
    """Assembled commits (rows, and commits marked ``_fetch``) -> rows, with the marked ones
    completed from their repositories. Returns ``kept`` / ``dead_letter`` / ``stats`` like a
    routed stage, for the job's ledger."""

    def __init__(self, settings: FetchSettings, licence_chain, content_chain):
        super().__init__()
        self.settings = settings
        self.licence_chain = licence_chain
        self.content_chain = content_chain

    def expand(self, assembled):
        settings = self.settings
        rows = assembled | "CompleteRows" >> beam.Filter(lambda r: not _is_pending(r))
        pending = assembled | "MissingBlobs" >> beam.Filter(_is_pending)
        requests = pending | "RequestFetch" >> beam.Map(request_of, settings.max_repositories)
        answers, stats = [], []
        for r in range(settings.max_repositories):
            fetched = (requests
                       | f"ByRepository{r}" >> beam.Map(lambda q: (q.repo, q))
                       | f"GroupByRepository{r}" >> beam.GroupByKey()
                       | f"FetchRepositories{r}" >> beam.ParDo(FetchRepositories(settings))
                       .with_outputs(FetchRepositories.RETRY, STATS, main="answers"))
            answers.append(fetched["answers"])
            stats.append(fetched[STATS])
            requests = fetched[FetchRepositories.RETRY]  # empty after the last round (max_repositories)
        answers = tuple(answers) | "AllAnswers" >> beam.Flatten()
        if settings.cache:
            _ = answers | "WriteBlobCache" >> beam.ParDo(WriteBlobCache(settings.cache))
        completed = ({"commit": pending | "KeyPendingBySha" >> beam.Map(lambda c: (c["commit"], c)),
                      "answer": answers | "PackFetchedBlobs" >> beam.MapTuple(
                          lambda sha, answer: (sha, packed_answer(answer)))}
                     | "JoinAnswersOnSha" >> beam.CoGroupByKey()
                     | "FinishFetched" >> routed(
                         lambda e: complete(e, self.licence_chain, self.content_chain),
                         STAGE, "commits", key_of=lambda e: e[0]))
        return {
            "kept": (rows, completed["kept"]) | "RowsAndFetched" >> beam.Flatten(),
            DEAD_LETTER: completed[DEAD_LETTER],
            STATS: tuple(stats + [completed[STATS]]) | "FetchCounters" >> beam.Flatten(),
        }


# --- the blob cache ------------------------------------------------------------------------------------

CACHE_COLUMNS = ("id", "size", "content", "binary", "copies")


def cache_files(cache: str) -> list[str]:
    """The Parquet files of a cache folder (local or fsspec URL); none when it does not exist."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(cache)
    if not fs.exists(root):
        return []
    protocol = cache.split("://", 1)[0] + "://" if "://" in cache else ""
    return sorted(protocol + p if protocol and not p.startswith(protocol) else p
                  for p in fs.glob(posixpath.join(root, "*.parquet")))


def _read_cache_file(path: str):
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as f:
        for batch in pq.ParquetFile(f).iter_batches(columns=list(CACHE_COLUMNS)):
            for row in batch.to_pylist():
                yield {**normalise("contents", row), "_cached": True}


def with_cache(pipeline, contents, config: dict):
    """``contents`` plus the blobs of ``fetch.cache`` (when fetching and the cache has files)."""
    if not is_enabled(config) or not config["fetch"]["cache"]:
        return contents
    files = cache_files(config["fetch"]["cache"])
    if not files:
        return contents
    cached = (pipeline | "ListCacheFiles" >> beam.Create(files) | "SpreadCacheFiles" >> beam.Reshuffle()
              | "ReadBlobCache" >> beam.FlatMap(_read_cache_file))
    return (contents, cached) | "ContentsAndCache" >> beam.Flatten()


class WriteBlobCache(beam.DoFn):
    """Writes fetched blobs to ``cache`` as Parquet, one file per ``flush_bytes`` of a bundle,
    named by a hash of its blob ids (a rerun writing the same blobs writes the same file)."""

    def __init__(self, cache: str, flush_bytes: int = 64 << 20):
        self.cache = cache
        self.flush_bytes = flush_bytes

    def start_bundle(self):
        self._rows, self._bytes = {}, 0

    def process(self, element):
        _sha, answer = element
        for _side, blob in answer.blobs:
            self._rows[blob["id"]] = {c: blob.get(c) for c in CACHE_COLUMNS}
            self._bytes += len(blob.get("content") or "")
        if self._bytes >= self.flush_bytes:
            self._flush()

    def finish_bundle(self):
        self._flush()

    def _flush(self):
        if not self._rows:
            return
        import hashlib

        import fsspec
        import pyarrow as pa
        import pyarrow.parquet as pq

        from codecorpus import schemas

        ids = sorted(self._rows)
        name = hashlib.sha1("\n".join(ids).encode("ascii")).hexdigest()[:20]
        table = pa.Table.from_pylist([self._rows[i] for i in ids], schema=schemas.CONTENTS)
        fs, root = fsspec.core.url_to_fs(self.cache)
        fs.makedirs(root, exist_ok=True)
        path = posixpath.join(root, f"blobs-{name}.parquet")
        with fs.open(path + ".tmp", "wb") as f:  # renamed into place: a reader never sees half a file
            pq.write_table(table, f, compression="zstd")
        fs.mv(path + ".tmp", path)
        self._rows, self._bytes = {}, 0
