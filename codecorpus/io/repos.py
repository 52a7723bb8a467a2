"""``repos:FILE`` inputs: remote repositories, cloned on the workers and read like ``git:`` inputs.

FILE (a local path or an fsspec URL) names one repository a line: ``owner/name``, cloned from
``fetch.remote`` (default ``https://github.com/{repo_name}.git``), or a git URL (``https://``,
``http://``, ``git://``, ``ssh://``, ``file://``, ``git@host:owner/name``). Blank lines and ``#``
comments are ignored. The pipeline:

    the list         one entry per line (``lines/repositories``, ``read/repositories``); a line
                     that names no repository is a dead letter (stage ``parse``)
    by repo_name     grouped, so each repository is cloned once: the first line of a name wins,
                     the others are counted ``repositories/duplicate``
    on a worker      a bare clone of the default branch (``io.git.clone_repository``: the blob
                     fetcher's deadline ``fetch.timeout_seconds`` and byte cap
                     ``fetch.max_bytes_per_repository``; ``fetch.concurrency`` clones at once per
                     worker process; ``fetch.retries`` with backoff for transient faults only).
                     A failure is a dead letter at stage ``clone_repository``, table
                     ``repositories``, its error starting with the reason (``io.git.CLONE_REASONS``)
                  -> the tables the job reads, from the clone, exactly as a ``git:`` input reads
                     them (``sources.git_table_events``); the clone is removed

The job's first table decides the family and so the depth: ``commits`` clones the whole history
of the default branch, ``files`` (the ``files`` and ``sql`` jobs) only its last commit; a job that
keeps only some paths (``sql``: ``.sql`` files) gets only their blobs (and those of symlinks and
licence files), in a partial clone (``io.git.clone_repository``'s ``wanted_path``).

Counters: ``clone/repositories/<outcome>`` (``cloned`` or a reason), ``clone/bytes``,
``clone/retries``. Accounting (``repositories_identity``): every list line is cloned, a
duplicate, or a dead letter of table ``repositories``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Optional
from urllib.parse import urlsplit

import apache_beam as beam

from codecorpus.config import ConfigError
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, dead_letter, route_events, route_stream
from codecorpus.io import git
from codecorpus.io.sources import git_table_events

TABLE = "repositories"
STAGE = "clone_repository"
PARSE_STAGE = "parse"

# The tables a job reads, by the first one it asks for, and whether they need the history.
TABLE_FAMILIES = {"commits": ("commits", "licenses", "contents"), "files": ("files", "licenses", "contents")}
NEEDS_HISTORY = {"commits"}


@dataclass(frozen=True)
class CloneSettings:
    """The parts of the ``fetch:`` section a clone uses (see ``defaults.yaml``)."""

    remote: str
    timeout_seconds: float
    max_bytes: int
    concurrency: int
    retries: int
    backoff_seconds: float

    @classmethod
    def from_config(cls, config: dict) -> "CloneSettings":
        f = config["fetch"]
        if "{repo_name}" not in f["remote"] and "{owner}" not in f["remote"]:
            raise ConfigError(f"fetch.remote must name the repository with {{repo_name}} (or {{owner}} and {{name}}), "
                              f"e.g. https://github.com/{{repo_name}}.git; got {f['remote']!r}")
        return cls(remote=f["remote"], timeout_seconds=float(f["timeout_seconds"]),
                   max_bytes=int(f["max_bytes_per_repository"]), concurrency=max(1, int(f["concurrency"])),
                   retries=max(0, int(f["retries"])), backoff_seconds=float(f["backoff_seconds"]))


# --- the list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryLine:
    """One repository of a list: where it was named, the ``repo_name`` its records get, its URL."""

    source: str   # "<list file>:<line number>"
    order: tuple  # (list file, line number): the first line naming a repository wins
    name: str
    url: str
    text: str     # the line, credentials removed


# GitHub's owner/name characters; "." and ".." are not names (they would walk a URL template's path).
_OWNER_NAME = re.compile(r"^(?!\.\.?/)[A-Za-z0-9_.-]+/(?!\.\.?$)[A-Za-z0-9_.-]+$")
_URL = re.compile(r"^(?:https?|git|ssh|git\+ssh|file)://[^\s]+$", re.IGNORECASE)
_SCP = re.compile(r"^[^@/\s]+@[^/:\s]+:[^\s]+$")
_INLINE_COMMENT = re.compile(r"\s+#.*$")


def strip_comment(text: str) -> str:
    """The line without its ``#`` comment and surrounding blanks ("" for a blank or comment line)."""
    text = text.strip()
    return "" if text.startswith("#") else _INLINE_COMMENT.sub("", text)


def name_of_url(url: str) -> str:
    """``owner/name`` of a git URL: its last two path segments, without ``.git``."""
    path = url.split(":", 1)[1] if _SCP.match(url) else urlsplit(url).path
    path = path.strip("/")
    path = path[: -len(".git")] if path.endswith(".git") else path
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ValueError(f"no repository path in {git.redact_url(url)!r}")
    return "/".join(parts[-2:]) if len(parts) > 1 else f"local/{parts[0]}"


def repository_url(template: str, name: str) -> str:
    owner, _, short = name.partition("/")
    return template.format(repo_name=name, owner=owner, name=short)


def parse_line(text: str, remote: str, list_path: str = "", number: int = 0) -> Optional[RepositoryLine]:
    """The repository a list line names, or None for a blank or comment line; ``ValueError`` for
    a line that names none."""
    value = strip_comment(text)
    if not value:
        return None
    where = (list_path, number)
    source = f"{list_path}:{number}"
    if _URL.match(value) or _SCP.match(value):
        return RepositoryLine(source, where, name_of_url(value), value, git.redact_url(value))
    if _OWNER_NAME.match(value):
        name = value[: -len(".git")] if value.endswith(".git") else value
        return RepositoryLine(source, where, name, repository_url(remote, name), value)
    raise ValueError(f"not a repository: expected owner/name or a git URL (https://, git://, ssh://, file://, "
                     f"git@host:owner/name), got {git.redact_url(value)!r}")


def list_events(list_path: str, remote: str) -> Iterator:
    """The entries of one repository list, dead letters for lines naming no repository, and the
    ``lines/repositories`` and ``read/repositories`` counts."""
    import fsspec

    lines = 0
    with fsspec.open(list_path, "rt", encoding="utf-8-sig", errors="replace", compression="infer") as f:
        for number, text in enumerate(f, 1):
            if not strip_comment(text):
                continue
            lines += 1
            try:
                yield parse_line(text, remote, list_path, number)
            except ValueError as e:
                yield dead_letter(PARSE_STAGE, TABLE, git.redact_url(strip_comment(text)), str(e),
                                  git.redact_url(text.rstrip("\n")), f"{list_path}:{number}")
    yield Count(f"lines/{TABLE}", lines)
    yield Count(f"read/{TABLE}", lines)


def first_of_name(element) -> Iterator:
    """One entry per ``repo_name``: the first line naming it; later ones are counted."""
    _name, entries = element
    entries = sorted(entries, key=lambda e: e.order)
    yield entries[0]
    if len(entries) > 1:
        yield Count(f"{TABLE}/duplicate", len(entries) - 1)


# --- one repository: clone, then read it like a git: input ---------------------------------------


@functools.lru_cache(maxsize=None)
def _worker_slots(concurrency: int) -> threading.BoundedSemaphore:
    """One semaphore per worker process: ``fetch.concurrency`` bounds the clones running at once
    over all the bundles Beam runs on the worker's threads."""
    return threading.BoundedSemaphore(concurrency)


class WantedPath:
    """``keep_path`` (path -> drop reason or None) as the clone's ``wanted_path`` (path -> bool)."""

    def __init__(self, keep_path):
        self.keep_path = keep_path

    def __call__(self, path: str) -> bool:
        return self.keep_path(path) is None


def clone_with_retries(entry: RepositoryLine, directory: str, settings: CloneSettings, history: bool,
                       cloner=git.clone_repository, sleep=time.sleep, keep_path=None):
    """``(ClonedRepository or None, FetchError or None, retries used)``; each try in a fresh folder.
    With ``keep_path`` (last commit only) just the blobs of the paths it keeps are cloned."""
    wanted = WantedPath(keep_path) if keep_path is not None and not history else None

    def attempt(i: int):
        target = os.path.join(directory, f"try-{i}")
        try:
            return cloner(entry.url, target, settings.timeout_seconds, settings.max_bytes, history, wanted)
        except git.FetchError:
            shutil.rmtree(target, ignore_errors=True)
            raise

    return git.with_retries(attempt, settings.retries, settings.backoff_seconds, sleep)


def repository_events(entry: RepositoryLine, tables: tuple, settings: CloneSettings, workdir: str,
                      cloner=git.clone_repository, sleep=time.sleep, keep_path=None) -> Iterator:
    """``(table, event)`` pairs for one repository: the records of each of ``tables`` read from
    its clone, or (under ``tables[0]``) the dead letter of a clone that failed, and the counts."""
    primary = tables[0]
    directory = tempfile.mkdtemp(prefix="repo-", dir=workdir)
    try:
        with _worker_slots(settings.concurrency):  # the network part only; reading is local
            history = primary in NEEDS_HISTORY
            cloned, error, retries = clone_with_retries(entry, directory, settings, history, cloner, sleep, keep_path)
        if retries:
            yield primary, Count("clone/retries", retries)
        if error is not None:
            yield primary, Count(f"clone/repositories/{error.reason}")
            yield primary, dead_letter(STAGE, TABLE, entry.name, f"{error.reason}: {error.message}", entry.text,
                                       entry.source)
            return
        yield primary, Count("clone/repositories/cloned")
        yield primary, Count("clone/bytes", cloned.bytes_fetched)
        source = f"repos:{git.redact_url(entry.url)}"
        for table in tables:
            for event in git_table_events(cloned.path, table, name=entry.name, source=source,
                                          present_only=keep_path is not None and not history):
                yield table, event
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def output_tags(tables: tuple) -> dict:
    """table -> its (kept, dead letter, stats) output tags of the clone stage."""
    return {t: {"kept": t, DEAD_LETTER: f"{t}/{DEAD_LETTER}", STATS: f"{t}/{STATS}"} for t in tables}


def _retag(outputs, tags: dict):
    for output in outputs:
        if isinstance(output, beam.pvalue.TaggedOutput):
            yield beam.pvalue.TaggedOutput(tags[output.tag], output.value)
        else:
            yield beam.pvalue.TaggedOutput(tags["kept"], output)


# --- Beam ------------------------------------------------------------------------------------------


class _ReadList(beam.DoFn):
    def __init__(self, remote: str):
        self.remote = remote

    def process(self, list_path):
        for output in route_stream(list_events(list_path, self.remote), f"read {TABLE}"):
            if isinstance(output, RepositoryLine):
                yield output.name, output
            else:
                yield output


class CloneAndRead(beam.DoFn):
    """A repository entry -> the records of its tables, each table on its own tagged outputs.
    Clones live in a temporary folder of the worker, each removed once read."""

    def __init__(self, tables: tuple, settings: CloneSettings, keep_path=None):
        self.tables, self.settings, self.keep_path = tables, settings, keep_path

    def setup(self):
        self._workdir = tempfile.mkdtemp(prefix="codecorpus-clone-")

    def teardown(self):
        shutil.rmtree(getattr(self, "_workdir", ""), ignore_errors=True)

    def process(self, entry):
        tags = output_tags(self.tables)
        for table, event in repository_events(entry, self.tables, self.settings, self._workdir,
                                                  keep_path=self.keep_path):
            yield from _retag(route_events([event], f"read {table}"), tags[table])


class ReadRepositories(beam.PTransform):
    """Repository lists -> ``{table: {"kept", "dead_letter", "stats"}}`` for each of ``tables``;
    the list's and the clones' own dead letters and counts are in the first table's."""

    def __init__(self, list_paths: list, tables: tuple, config: dict, keep_path=None):
        super().__init__()
        self.list_paths, self.tables, self.keep_path = list_paths, tuple(tables), keep_path
        self.settings = CloneSettings.from_config(config)  # a bad remote fails here, on the launcher

    def expand(self, pbegin):
        listed = (pbegin
                  | "ListRepositoryLists" >> beam.Create(self.list_paths)
                  | "ReadRepositoryList" >> beam.ParDo(_ReadList(self.settings.remote))
                  .with_outputs(DEAD_LETTER, STATS, main="kept"))
        unique = (listed["kept"]
                  | "GroupByRepoName" >> beam.GroupByKey()  # also spreads the repositories over the workers
                  | "FirstLineOfEachName" >> beam.FlatMap(first_of_name))
        entries = unique | "OnlyEntries" >> beam.Filter(lambda e: isinstance(e, RepositoryLine))
        duplicates = (unique | "OnlyCounts" >> beam.Filter(lambda e: isinstance(e, Count))
                      | "DuplicateCounts" >> beam.Map(lambda c: (c.counter, c.value)))
        tags = output_tags(self.tables)
        cloned = entries | "CloneAndRead" >> beam.ParDo(CloneAndRead(self.tables, self.settings, self.keep_path)
                                                        ).with_outputs(*[tag for t in tags.values() for tag in t.values()])
        outputs = {t: {kind: cloned[tag] for kind, tag in tags[t].items()} for t in self.tables}
        primary = outputs[self.tables[0]]
        primary[DEAD_LETTER] = (primary[DEAD_LETTER], listed[DEAD_LETTER]) | "ListAndCloneDeadLetters" >> beam.Flatten()
        primary[STATS] = (primary[STATS], listed[STATS], duplicates) | "ListAndCloneCounters" >> beam.Flatten()
        return outputs


# --- accounting -------------------------------------------------------------------------------------


def repositories_identity(counters: dict, rows: dict) -> dict:
    """Every repository list line was cloned, is a duplicate of an earlier line, or is a dead letter."""
    read = counters.get(f"read/{TABLE}", 0)
    cloned = counters.get("clone/repositories/cloned", 0)
    duplicates = counters.get(f"{TABLE}/duplicate", 0)
    dead = sum(v for k, v in counters.items() if k.startswith(f"dead_letter/{TABLE}/"))
    return {"read": read, "cloned": cloned, "duplicates": duplicates, "dead_lettered": dead,
            "holds": read == cloned + duplicates + dead}
