"""Reading local git repositories directly, as records of the public BigQuery ``github_repos``
tables (``REFERENCE.md`` §1): ``commits``, ``contents``, ``licenses`` and ``files``.

Every record is a raw dict exactly as a parsed line of a BigQuery NDJSON export would be, so it
goes through ``codecorpus.io.records.normalise`` like any other input, and ``export_dump`` writes
a dump that the rest of the pipeline reads as if it came from BigQuery.

Only the ``git`` command line is used (no network, no extra packages). A whole history costs a
handful of processes, not one per object: ``git log`` lists the commits with their trailers and
subjects, ``git diff-tree --stdin`` diffs them all, and one ``git cat-file --batch`` per
repository reads every commit and blob object.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import posixpath
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Optional

import fsspec

TABLES = ("commits", "contents", "licenses", "files")

SUBMODULE_MODE = 0o160000
SYMLINK_MODE = 0o120000
FILE_MODES = (0o100644, 0o100755)

# Same rule as git's own binary detection: a NUL byte in the first 8000 bytes.
BINARY_SNIFF_BYTES = 8000

# Licence files looked for at the top of HEAD, most specific first (matched case-insensitively).
LICENSE_FILE_NAMES = (
    "license", "license.md", "license.txt", "license.rst",
    "licence", "licence.md", "licence.txt",
    "copying", "copying.md", "copying.txt",
)


class GitError(ValueError):
    """A path that cannot be exported (not a repository, no commits, a failing git command)."""


# --- running git -------------------------------------------------------------------------------

# Variables that point git at a particular repository (``git rev-parse --local-env-vars``).
# Inside a git hook they name the hook's repository and would override ``-C``.
_REPOSITORY_ENV_VARS = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_DIR", "GIT_GRAFT_FILE",
    "GIT_IMPLICIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_INTERNAL_SUPER_PREFIX", "GIT_NO_REPLACE_OBJECTS",
    "GIT_OBJECT_DIRECTORY", "GIT_PREFIX", "GIT_REPLACE_REF_BASE", "GIT_SHALLOW_FILE", "GIT_WORK_TREE",
)


def _git_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for credentials: we only read local objects
    return env


def _run_git(repo_path: str, args: tuple[str, ...], input: Optional[bytes] = None) -> subprocess.CompletedProcess:
    command = ["git", "-C", repo_path, "-c", "log.showSignature=false", *args]
    try:
        return subprocess.run(command, input=input, capture_output=True, env=_git_env(), check=False)
    except FileNotFoundError as e:
        raise GitError("the git command line is not installed") from e


def _stderr(done: subprocess.CompletedProcess) -> str:
    return done.stderr.decode("utf-8", "replace").strip()


def _git(repo_path: str, *args: str, input: Optional[bytes] = None) -> bytes:
    """Runs ``git -C repo_path args`` and returns stdout; a failure raises ``GitError``."""
    done = _run_git(repo_path, args, input)
    if done.returncode != 0:
        raise GitError(f"{repo_path}: git {' '.join(args[:2])} failed: {_stderr(done)}")
    return done.stdout


def check_repository(repo_path: str) -> str:
    """The absolute path of a git repository that has at least one commit at HEAD."""
    path = os.path.abspath(repo_path)
    if not os.path.isdir(path):
        raise GitError(f"not a git repository (no such directory): {repo_path}")
    done = _run_git(path, ("rev-parse", "--git-dir"))
    if done.returncode != 0:  # git's reason matters: e.g. "detected dubious ownership"
        raise GitError(f"not a git repository: {repo_path} ({_stderr(done)})")
    if _run_git(path, ("rev-parse", "--verify", "--quiet", "HEAD^{commit}")).returncode != 0:
        raise GitError(f"git repository has no commits: {repo_path}")
    return path


class _ObjectReader:
    """One long-running ``git cat-file --batch``: reads any object by id, one round trip each."""

    def __init__(self, repo_path: str):
        self.repo_path = repo_path
        self._process = subprocess.Popen(
            ["git", "-C", repo_path, "cat-file", "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_git_env(),
        )

    def read(self, object_id: str) -> tuple[str, bytes]:
        """``(type, data)`` of an object; ``GitError`` when it is missing."""
        self._process.stdin.write(object_id.encode("ascii") + b"\n")
        self._process.stdin.flush()
        header = self._process.stdout.readline().decode("ascii", "replace").split()
        if len(header) != 3:  # "<id> missing", or git died
            raise GitError(f"{self.repo_path}: cannot read git object {object_id}: {' '.join(header)}")
        _, object_type, size = header
        data = self._process.stdout.read(int(size))
        self._process.stdout.read(1)  # the newline after every object
        return object_type, data

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait()
        self._process.stdout.close()

    def __enter__(self) -> "_ObjectReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- repository-level facts --------------------------------------------------------------------

# https://host/owner/name(.git), ssh://git@host[:port]/owner/name, git://host/owner/name
_URL_REMOTE = re.compile(r"^(?:https?|ssh|git|git\+ssh)://(?:[^@/]+@)?[^/]+/([^/]+)/([^/]+?)(?:\.git)?/?$")
# scp-like ssh form: git@host:owner/name(.git)
_SCP_REMOTE = re.compile(r"^(?:[^@/]+@)?[^/:]+:([^/]+)/([^/]+?)(?:\.git)?/?$")


def _owner_name_from_url(url: str) -> Optional[str]:
    for pattern in (_URL_REMOTE, _SCP_REMOTE):
        match = pattern.match(url.strip())
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


def _directory_name(repo_path: str) -> str:
    try:
        top = _git(repo_path, "rev-parse", "--show-toplevel").decode("utf-8", "replace").strip()
    except GitError:  # a bare repository has no work tree: name it after its own directory
        top = os.path.abspath(repo_path)
    name = os.path.basename(top.rstrip("/"))
    return name[: -len(".git")] if name.endswith(".git") and len(name) > 4 else name


def repo_name(repo_path: str) -> str:
    """``owner/name`` from the ``origin`` remote when it is a GitHub-like URL, else
    ``local/<directory name>``."""
    try:
        url = _git(repo_path, "config", "--get", "remote.origin.url").decode("utf-8", "replace")
    except GitError:  # no origin remote
        url = ""
    return _owner_name_from_url(url) or f"local/{_directory_name(repo_path)}"


def _head_ref(repo_path: str) -> str:
    """``refs/heads/<branch>``, or ``HEAD`` when HEAD is detached."""
    try:
        return _git(repo_path, "symbolic-ref", "--quiet", "HEAD").decode("utf-8", "replace").strip()
    except GitError:
        return "HEAD"


def _decode_path(raw: bytes) -> str:
    # Paths are bytes in git; replacement keeps the record writable as UTF-8 JSON.
    return raw.decode("utf-8", "replace")


def _head_tree(repo_path: str, recursive: bool = True) -> list[tuple[int, str, str, str]]:
    """``(mode, type, id, path)`` of every entry at HEAD (``ls-tree`` order: sorted by path)."""
    # --full-tree: whole-repository paths even when repo_path is a subdirectory of the work tree
    args = ["ls-tree", "-z", "--full-tree"] + (["-r"] if recursive else []) + ["HEAD"]
    entries = []
    for line in _git(repo_path, *args).split(b"\0"):
        if not line:
            continue
        meta, path = line.split(b"\t", 1)
        mode, object_type, object_id = meta.decode("ascii").split()
        entries.append((int(mode, 8), object_type, object_id, _decode_path(path)))
    return entries


# --- licences ----------------------------------------------------------------------------------

def _phrase_text(text: str) -> str:
    """Lower-case words separated by single spaces, so phrases match across line wraps,
    markdown and punctuation differences."""
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def _has(text: str, *phrases: str) -> bool:
    return all(_phrase_text(p) in text for p in phrases)


def _has_any(text: str, *phrases: str) -> bool:
    return any(_phrase_text(p) in text for p in phrases)


def _gnu_license(text: str) -> Optional[str]:
    """The GNU licence named by a licence's title (``GNU ... LICENSE Version N``) or a notice
    (``GNU ... License as published by``). Bare mentions do not count: the GPL text itself
    names the LGPL ("use the GNU Lesser General Public License instead") and the AGPL."""

    def named(kind: str) -> bool:
        return _has_any(text, f"GNU {kind} Public License Version", f"GNU {kind} Public License as published by")

    v3 = _has_any(text, "Version 3, 29 June 2007", "version 3 of the License")
    v21 = _has_any(text, "Version 2.1, February 1999", "version 2.1 of the License")
    v2 = _has_any(text, "Version 2, June 1991", "version 2 of the License")
    # Most specific first: the LGPL and AGPL texts quote the GPL by its full title.
    if named("Affero General"):
        return "agpl-3.0"
    if named("Lesser General") or named("Library General"):
        return "lgpl-3.0" if v3 else "lgpl-2.1" if v21 else None
    if named("General"):
        return "gpl-3.0" if v3 else "gpl-2.0" if v2 else None
    return None


def _bsd_license(text: str) -> Optional[str]:
    if not _has(text, "Redistribution and use in source and binary forms"):
        return None
    if _has(text, "All advertising materials mentioning features"):
        return None  # 4-clause BSD: not among the ids we emit
    if _has_any(text, "Neither the name", "may be used to endorse or promote products derived"):
        return "bsd-3-clause"
    return "bsd-2-clause"


def detect_license(text: str) -> Optional[str]:
    """The lower-case SPDX-like id BigQuery uses for a licence file's text, or None when unknown.

    Decided by distinctive key phrases. Order matters where one licence quotes another: the MPL
    names the GPL family as "Secondary Licenses", and the LGPL/AGPL quote the GPL.
    """
    if not text:
        return None
    text = _phrase_text(text)
    if _has_any(text, "Mozilla Public License Version 2.0", "Mozilla Public License, v. 2.0",
                "Mozilla Public License, version 2.0"):
        return "mpl-2.0"
    if _has(text, "Apache License") and _has_any(text, "Version 2.0", "Apache-2.0"):
        return "apache-2.0"
    if _has_any(text, "Eclipse Public License - v 2.0", "Eclipse Public License v2.0",
                "Eclipse Public License version 2.0"):
        return "epl-2.0"
    if _has_any(text, "Eclipse Public License - v 1.0", "Eclipse Public License v1.0",
                "Eclipse Public License version 1.0"):
        return "epl-1.0"
    gnu = _gnu_license(text)
    if gnu:
        return gnu
    if _has(text, "The Artistic License 2.0"):
        return "artistic-2.0"
    if _has(text, "This is free and unencumbered software released into the public domain"):
        return "unlicense"
    if _has_any(text, "CC0 1.0 Universal", "creativecommons.org/publicdomain/zero/1.0"):
        return "cc0-1.0"
    if _has(text, "Permission is hereby granted, free of charge, to any person obtaining a copy"):
        return "mit"
    if _has_any(text, "Permission to use, copy, modify, and/or distribute this software for any purpose",
                "Permission to use, copy, modify, and distribute this software for any purpose") and _has(
                text, "provided that the above copyright notice and this permission notice appear in all copies"):
        return "isc"
    return _bsd_license(text)


def _license_candidates(repo_path: str) -> list[tuple[str, str]]:
    """``(path, blob id)`` of the licence files at the top of HEAD, most specific name first."""
    by_name = {}
    for mode, _, object_id, path in _head_tree(repo_path, recursive=False):
        if mode in FILE_MODES and path.lower() in LICENSE_FILE_NAMES:
            by_name.setdefault(path.lower(), (path, object_id))
    return [by_name[name] for name in LICENSE_FILE_NAMES if name in by_name]


def license_of(repo_path: str) -> Optional[str]:
    """The licence of the repository at HEAD, from its LICENSE / COPYING / LICENCE file."""
    repo_path = check_repository(repo_path)
    candidates = _license_candidates(repo_path)
    if not candidates:
        return None
    with _ObjectReader(repo_path) as reader:
        for _, object_id in candidates:
            _, data = reader.read(object_id)
            found = detect_license(data.decode("utf-8", "replace"))
            if found:
                return found
    return None


# --- commits -----------------------------------------------------------------------------------

_SIGNATURE = re.compile(rb"^(.*?) ?<([^<>]*)> (-?\d+) ([+-])(\d\d)(\d\d)$")


def _utc_date(time_sec: int) -> Optional[str]:
    try:
        return datetime.fromtimestamp(time_sec, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return None


def _signature(raw: bytes, encoding: str) -> dict:
    """An ``author``/``committer`` record from ``Name <email> 1700000000 +0100``."""
    match = _SIGNATURE.match(raw.strip())
    if not match:  # malformed (old imports): keep what we can read
        return {"name": _decode(raw, encoding), "email": None, "time_sec": None, "tz_offset": None, "date": None}
    name, email, time_sec, sign, hours, minutes = match.groups()
    time_sec = int(time_sec)
    tz_offset = int(hours) * 60 + int(minutes)
    return {
        "name": _decode(name, encoding),
        "email": _decode(email, encoding),
        "time_sec": time_sec,
        "tz_offset": -tz_offset if sign == b"-" else tz_offset,
        "date": _utc_date(time_sec),
    }


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _parse_commit_object(data: bytes) -> dict:
    """``tree``, ``parent``, ``author``, ``committer``, ``message``, ``encoding`` of a raw commit."""
    header, _, message = data.partition(b"\n\n")
    fields: dict[bytes, list[bytes]] = {}
    for line in header.split(b"\n"):
        if line.startswith(b" "):  # continuation of a multi-line header (gpgsig, mergetag)
            continue
        key, _, value = line.partition(b" ")
        fields.setdefault(key, []).append(value)
    encoding = fields[b"encoding"][0].decode("ascii", "replace") if b"encoding" in fields else None
    text_encoding = encoding or "utf-8"
    return {
        "tree": fields[b"tree"][0].decode("ascii"),
        "parent": [p.decode("ascii") for p in fields.get(b"parent", [])],
        "author": _signature(fields.get(b"author", [b""])[0], text_encoding),
        "committer": _signature(fields.get(b"committer", [b""])[0], text_encoding),
        "message": _decode(message, text_encoding),
        "encoding": encoding,
    }


_EMAIL_IN_VALUE = re.compile(r"<([^<>]*)>")


def _trailer(key: str, value: str) -> dict:
    email = _EMAIL_IN_VALUE.search(value)
    return {"key": key, "value": value, "email": email.group(1) if email else None}


# Separators git writes between fields of our ``git log`` format: never found in commit text.
_FIELD, _TRAILER, _KEY_VALUE = "\x1f", "\x1e", "\x1d"
_LOG_FORMAT = "%H%x1f%(trailers:only,unfold,separator=%x1e,key_value_separator=%x1d)%x1f%s"


def _log_entries(repo_path: str) -> list[tuple[str, list[dict], str]]:
    """``(commit id, trailers, subject)`` of every commit reachable from HEAD, in ``git log``
    order. Trailers and subject come from git itself, so they follow git's rules exactly (the
    trailer block is the last paragraph; the subject is the first paragraph joined on one
    line), which is what BigQuery's ``trailer`` and ``subject`` hold."""
    output = _git(repo_path, "log", "-z", f"--format={_LOG_FORMAT}", "HEAD").decode("utf-8", "replace")
    entries = []
    for chunk in output.split("\0"):
        if not chunk:
            continue
        commit, trailer_text, subject = chunk.split(_FIELD, 2)
        trailers = [_trailer(*t.split(_KEY_VALUE, 1)) for t in trailer_text.split(_TRAILER) if _KEY_VALUE in t]
        entries.append((commit, trailers, subject))
    return entries


def _object_id_or_none(object_id: str) -> Optional[str]:
    return None if object_id.strip("0") == "" else object_id


def _difference(raw_meta: str, path: str, name: str) -> dict:
    """One ``difference`` entry from a raw diff line ``:old_mode new_mode old_id new_id status``."""
    old_mode, new_mode, old_id, new_id, _status = raw_meta.lstrip(":").split()
    old_id, new_id = _object_id_or_none(old_id), _object_id_or_none(new_id)
    # Without rename detection a path is the same on both sides; a missing side is all null.
    return {
        "old_mode": int(old_mode, 8) if old_id else None,
        "new_mode": int(new_mode, 8) if new_id else None,
        "old_path": path if old_id else None,
        "new_path": path if new_id else None,
        "old_sha1": old_id,
        "new_sha1": new_id,
        "old_repo": name if old_id else None,
        "new_repo": name if new_id else None,
    }


def _shallow_commits(repo_path: str) -> set[str]:
    """Commits at the boundary of a shallow clone: their parents are not in the repository."""
    shallow_file = _git(repo_path, "rev-parse", "--git-path", "shallow").decode("utf-8", "replace").strip()
    shallow_file = os.path.join(repo_path, shallow_file)
    if not os.path.exists(shallow_file):
        return set()
    with open(shallow_file, encoding="ascii") as f:
        return {line.strip() for line in f if line.strip()}


def _differences(repo_path: str, first_parents: dict[str, Optional[str]], name: str) -> dict[str, list[dict]]:
    """The ``difference`` list of every commit against its first parent (root commits against
    the empty tree), from one ``git diff-tree --stdin`` over the whole history. Commits given
    ``None`` as first parent are root commits."""
    # "<commit> <parent>" makes diff-tree treat that parent as the only one, so merges are
    # diffed against their first parent instead of being skipped.
    lines = [f"{commit} {parent}" if parent else commit for commit, parent in first_parents.items()]
    output = _git(repo_path, "diff-tree", "--stdin", "-r", "--no-renames", "--root", "-z",
                  input=("\n".join(lines) + "\n").encode("ascii"))
    differences: dict[str, list[dict]] = {commit: [] for commit in first_parents}
    # -z output: "<commit id>", then per changed file ":<modes> <ids> <status>" and "<path>".
    fields = iter(output.split(b"\0"))
    current = None
    for field in fields:
        if field.startswith(b":"):
            path = _decode_path(next(fields))
            differences[current].append(_difference(field.decode("ascii"), path, name))
        elif field:
            current = field.decode("ascii")
    return differences


def _commit_records(repo_path: str, name: str) -> Iterator[dict]:
    entries = _log_entries(repo_path)
    with _ObjectReader(repo_path) as reader:
        parsed = {commit: _parse_commit_object(reader.read(commit)[1]) for commit, _, _ in entries}
    # A shallow clone's boundary commits have parents that are not here to diff against: their
    # difference is left empty and flagged as truncated rather than invented.
    shallow = _shallow_commits(repo_path)
    first_parents = {commit: (c["parent"][0] if c["parent"] else None)
                     for commit, c in parsed.items() if commit not in shallow}
    differences = _differences(repo_path, first_parents, name)
    for commit, trailers, subject in entries:
        c = parsed[commit]
        yield {
            "commit": commit,
            "tree": c["tree"],
            "parent": c["parent"],
            "author": c["author"],
            "committer": c["committer"],
            "subject": subject,
            "message": c["message"],
            "trailer": trailers,
            "difference": differences.get(commit, []),
            "difference_truncated": True if commit in shallow else None,
            "repo_name": [name],
            "encoding": c["encoding"],
        }


# --- files, contents, licences -----------------------------------------------------------------

def _file_records(repo_path: str, name: str, reader: _ObjectReader) -> Iterator[dict]:
    ref = _head_ref(repo_path)
    for mode, _, object_id, path in _head_tree(repo_path):
        symlink_target = None
        if mode == SYMLINK_MODE:
            symlink_target = _decode_path(reader.read(object_id)[1])
        yield {"repo_name": name, "ref": ref, "path": path, "mode": mode, "id": object_id,
               "symlink_target": symlink_target}


def _is_binary(data: bytes) -> bool:
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _content_record(object_id: str, data: bytes, max_blob_bytes: int) -> dict:
    binary = _is_binary(data)
    too_large = len(data) > max_blob_bytes
    return {
        "id": object_id,
        "size": len(data),
        "content": None if binary or too_large else data.decode("utf-8"),
        "binary": binary,
        "copies": 1,
    }


DEFAULT_MAX_BLOB_BYTES = 1_000_000


def content_record(object_id: str, data: bytes, max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> dict:
    """A ``contents`` record for a blob's bytes: text unless binary (NUL, invalid UTF-8) or too large."""
    return _content_record(object_id, data, max_blob_bytes)


def _blob_ids_of_differences(commits: Iterable[dict]) -> set[str]:
    """Blob ids on both sides of every difference; submodule entries are commits, not blobs."""
    ids = set()
    for commit in commits:
        for d in commit["difference"]:
            if d["old_sha1"] and d["old_mode"] != SUBMODULE_MODE:
                ids.add(d["old_sha1"])
            if d["new_sha1"] and d["new_mode"] != SUBMODULE_MODE:
                ids.add(d["new_sha1"])
    return ids


def _blob_ids_of_files(files: Iterable[dict]) -> set[str]:
    return {f["id"] for f in files if f["mode"] != SUBMODULE_MODE}


def _content_records(blob_sources: dict[str, str], readers: dict[str, _ObjectReader],
                     max_blob_bytes: int) -> Iterator[dict]:
    """One record per blob, in sorted id order; ``blob_sources`` maps a blob id to the
    repository that holds it, ``readers`` a repository to its object reader."""
    for object_id in sorted(blob_sources):
        _, data = readers[blob_sources[object_id]].read(object_id)
        yield _content_record(object_id, data, max_blob_bytes)


def iter_table(repo_path: str, table: str, max_blob_bytes: int = 1_000_000,
               name: Optional[str] = None, present_only: bool = False) -> Iterator[dict]:
    """Raw records of one ``github_repos`` table for one repository, shaped exactly as a parsed
    line of a BigQuery NDJSON export: ``commits``, ``contents``, ``licenses`` or ``files``.
    ``name`` is the ``repo_name`` (default: from the ``origin`` remote, see ``repo_name``);
    ``present_only``: ``contents`` of the blobs the repository holds (a partial clone of ours),
    where otherwise a missing blob is an error."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    repo_path = check_repository(repo_path)
    name = name or repo_name(repo_path)
    if table == "commits":
        yield from _commit_records(repo_path, name)
    elif table == "licenses":
        yield {"repo_name": name, "license": license_of(repo_path)}
    else:
        with _ObjectReader(repo_path) as reader:
            files = list(_file_records(repo_path, name, reader))
            if table == "files":
                yield from files
                return
            blob_ids = _blob_ids_of_differences(_commit_records(repo_path, name)) | _blob_ids_of_files(files)
            if present_only:
                types = _object_types(repo_path, blob_ids)
                blob_ids = {b for b in blob_ids if types[b] == "blob"}
            yield from _content_records(dict.fromkeys(blob_ids, repo_path), {repo_path: reader}, max_blob_bytes)


# --- writing a dump ----------------------------------------------------------------------------

@contextlib.contextmanager
def _ndjson_gzip_writer(url: str):
    """A text sink for one ``.jsonl.gz`` file, byte-for-byte reproducible: no mtime and no file
    name in the gzip header (``GzipFile`` would otherwise record the time and the file's name)."""
    with fsspec.open(url, "wb") as raw:
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as compressed:
            with io.TextIOWrapper(compressed, encoding="utf-8", newline="\n") as text:
                yield text


def _write_records(text, records: Iterable[dict]) -> int:
    count = 0
    for record in records:
        text.write(json.dumps(record, ensure_ascii=False, sort_keys=False))
        text.write("\n")
        count += 1
    return count


def _table_url(output: str, table: str) -> str:
    return posixpath.join(output.rstrip("/"), f"{table}.jsonl.gz")


def export_dump(repo_paths: list[str], output: str, max_blob_bytes: int = 1_000_000) -> dict[str, int]:
    """Writes ``commits``, ``contents``, ``licenses`` and ``files`` ``.jsonl.gz`` tables for the
    repositories under ``output`` (a local path or an fsspec URL) and returns the row count per
    table. Blobs shared by several repositories are written once; the output is deterministic."""
    repo_paths = [check_repository(p) for p in repo_paths]  # fail before writing anything
    names = {path: repo_name(path) for path in repo_paths}
    fs, root = fsspec.core.url_to_fs(output)
    fs.makedirs(root, exist_ok=True)
    counts = {}
    blob_sources: dict[str, str] = {}  # blob id -> first repository holding it

    def remember_blobs(ids: set[str], path: str) -> None:
        for object_id in sorted(ids):
            blob_sources.setdefault(object_id, path)

    with contextlib.ExitStack() as stack:
        readers = {path: stack.enter_context(_ObjectReader(path)) for path in repo_paths}

        with _ndjson_gzip_writer(_table_url(output, "commits")) as sink:
            counts["commits"] = 0
            for path in repo_paths:
                commits = list(_commit_records(path, names[path]))
                remember_blobs(_blob_ids_of_differences(commits), path)
                counts["commits"] += _write_records(sink, commits)

        with _ndjson_gzip_writer(_table_url(output, "files")) as sink:
            counts["files"] = 0
            for path in repo_paths:
                files = list(_file_records(path, names[path], readers[path]))
                remember_blobs(_blob_ids_of_files(files), path)
                counts["files"] += _write_records(sink, files)

        with _ndjson_gzip_writer(_table_url(output, "licenses")) as sink:
            records = ({"repo_name": names[path], "license": license_of(path)} for path in repo_paths)
            counts["licenses"] = _write_records(sink, records)

        with _ndjson_gzip_writer(_table_url(output, "contents")) as sink:
            counts["contents"] = _write_records(sink, _content_records(blob_sources, readers, max_blob_bytes))

    return {table: counts[table] for table in TABLES}


# --- fetching blobs from a remote repository ---------------------------------------------------
#
# A commit dump names each blob by id, so what a remote must give us is a handful of blobs per
# commit, never a checkout. Per repository, in one fresh bare repository on the worker:
#
# 1. the needed commits, fetched by id with ``--filter=blob:none --depth=1`` (commits and trees,
#    no blobs). A server that will not serve unadvertised ids gets a partial clone of its refs
#    instead (the commits are then looked up locally);
# 2. every needed blob in one ``git fetch --stdin`` of blob ids (one pack, never one round trip
#    per blob); a blob the server does not have is named in its refusal, set aside, and the
#    rest fetched again;
# 3. a server that refuses filters (``filtering not recognized``) already sent whole trees; one
#    that also refuses blob ids gets a full fetch of its refs;
# 4. all blobs read back in one ``git cat-file --batch``.
#
# Every git process runs under one deadline per repository and a cap on the bytes in the object
# store (both checked while it runs: the process group is killed when either is crossed), with
# no terminal, no credential prompt and no lazy fetch (the repository is never left configured
# as a partial clone, so reading a missing object says "missing" instead of fetching it).

FETCH_REASONS = ("repository_not_found", "authentication_required", "timeout", "too_large",
                 "commit_not_in_repository", "blob_not_in_repository", "network_error")


class FetchError(GitError):
    """A repository that could not be fetched: ``reason`` is one of ``FETCH_REASONS``;
    ``transient`` says a retry may succeed (connection refused or reset, HTTP 5xx/429)."""

    def __init__(self, reason: str, message: str, transient: bool = False):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.transient = transient


@dataclass
class FetchedRepository:
    """What one fetch got: the local bare repository, which requested objects it lacks, and
    how (``full_fetch``: the server refused filters or blob ids)."""

    path: str
    missing_commits: set = field(default_factory=set)
    missing_blobs: set = field(default_factory=set)
    full_fetch: bool = False
    bytes_fetched: int = 0

    def read_blobs(self, blob_ids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """``(id, data)`` of every present blob among ``blob_ids``, in one ``git cat-file --batch``."""
        ids = sorted(set(blob_ids) - self.missing_blobs)
        if ids:
            yield from _cat_file_batch(self.path, ids)


# Substrings of git's stderr (lower-cased), most specific first, and what they mean.
_NOT_OUR_REF = re.compile(r"not our ref ([0-9a-f]{40,64})")
_UNADVERTISED = ("does not allow request for unadvertised object",)
_FILTER_REFUSED = "filtering not recognized by server"
_CLASSIFIERS = (
    ("network_error", False, ("possible repository corruption on the remote side",)),
    ("repository_not_found", False, ("repository not found", "not found", "access denied or repository not exported",
                                     "does not appear to be a git repository", "no such repository",
                                     "returned error: 404", "returned error: 410")),
    ("authentication_required", False, ("could not read username", "could not read password",
                                        "authentication failed", "returned error: 401", "returned error: 403",
                                        "terminal prompts disabled", "permission denied (publickey)",
                                        "host key verification failed")),
    ("network_error", True, ("returned error: 429", "returned error: 5", "connection refused", "connection reset",
                             "connection timed out", "could not resolve host", "unable to look up",
                             "network is unreachable", "early eof", "remote end hung up", "rpc failed",
                             "couldn't connect", "failed to connect", "operation timed out", "unable to access",
                             "transfer closed", "gnutls", "ssl", "broken pipe")),
)


def classify_fetch_error(stderr: str) -> tuple[str, bool]:
    """``(reason, transient)`` for the stderr of a failed ``git fetch``."""
    text = stderr.lower()
    for reason, transient, needles in _CLASSIFIERS:
        if any(n in text for n in needles):
            return reason, transient
    return "network_error", False


def _fetch_env() -> dict:
    env = _git_env()
    for name in ("GIT_ASKPASS", "SSH_ASKPASS"):  # a helper could open a prompt and wait forever
        env.pop(name, None)
    env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o ConnectTimeout=30"
    return env


def _tree_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # a temporary pack renamed under us
                pass
    return total


# Options on every git process of a fetch: no maintenance, no hooks, no FETCH_HEAD.
_QUIET_CONFIG = ("-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "fetch.writeCommitGraph=false",
                 "-c", "core.hooksPath=/dev/null", "-c", "protocol.version=2", "-c", "credential.interactive=never")


class _Budget:
    """The deadline and byte cap of one repository, shared by its git processes."""

    def __init__(self, path: str, timeout_seconds: float, max_bytes: int):
        self.path = path
        self.objects = os.path.join(path, "objects")  # what the server sent: packs, loose objects
        self.deadline = time.monotonic() + timeout_seconds
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes

    def run(self, args: list[str], stdin_lines: Iterable[str] = ()) -> tuple[int, str]:
        """Runs ``git -C path args``; ``(returncode, stderr)``. Raises ``FetchError`` when the
        deadline passes or the object store grows past the cap (the process group is killed)."""
        with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
            stdin.write("".join(f"{line}\n" for line in stdin_lines).encode("ascii"))
            stdin.seek(0)
            process = subprocess.Popen(["git", "-C", self.path, *_QUIET_CONFIG, *args], stdin=stdin,
                                       stdout=subprocess.DEVNULL, stderr=stderr, env=_fetch_env(),
                                       start_new_session=True)
            pause = 0.01
            try:
                while process.poll() is None:
                    if time.monotonic() > self.deadline:
                        raise FetchError("timeout", f"no answer within {self.timeout_seconds:g} s")
                    if self.max_bytes and _tree_bytes(self.objects) > self.max_bytes:
                        raise FetchError("too_large", f"more than {self.max_bytes:,} bytes fetched")
                    time.sleep(pause)
                    pause = min(0.2, pause * 2)
            finally:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            stderr.seek(0)
            return process.returncode, stderr.read().decode("utf-8", "replace")

    def check_size(self) -> int:
        size = _tree_bytes(self.objects)
        if self.max_bytes and size > self.max_bytes:
            raise FetchError("too_large", f"{size:,} bytes fetched, more than {self.max_bytes:,}")
        return size


def _fetch_ids(budget: _Budget, ids: list[str], filtered: bool, depth: Optional[int],
               options: tuple = ()) -> tuple[set, str]:
    """Fetches objects by id, setting aside each id the server says it lacks ("not our ref")
    and retrying the rest. Returns ``(ids the server lacks, stderr of the last attempt)``; a
    refusal of unadvertised ids or any other failure raises ``FetchError`` (reason "unadvertised"
    for the former, so the caller can fall back)."""
    lacking: set = set()
    pending = list(ids)
    stderr = ""
    while pending:
        args = [*options, "-c", "remote.origin.promisor=true", "fetch", "--quiet", "--no-tags",
                "--no-write-fetch-head", "--recurse-submodules=no", "--no-auto-gc"]
        if filtered:
            args.append("--filter=blob:none")
        if depth:
            args.append(f"--depth={depth}")
        args += ["origin", "--stdin"]
        code, stderr = budget.run(args, pending)
        _forget_partial_clone(budget.path)
        if code == 0:
            return lacking, stderr
        missing = _NOT_OUR_REF.search(stderr.lower())
        if missing and missing.group(1) in pending:
            lacking.add(missing.group(1))
            pending.remove(missing.group(1))
            continue
        if any(n in stderr.lower() for n in _UNADVERTISED):
            raise FetchError("unadvertised", stderr.strip())
        reason, transient = classify_fetch_error(stderr)
        raise FetchError(reason, _last_lines(stderr), transient)
    return lacking, stderr


def _last_lines(stderr: str, n: int = 3) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:]) or "git fetch failed without a message"


def _forget_partial_clone(path: str) -> None:
    """``git fetch --filter`` records ``remote.origin.partialclonefilter``, which makes every
    later read of a missing object a lazy fetch (one network round trip per blob): remove it."""
    subprocess.run(["git", "-C", path, "config", "--unset-all", "remote.origin.partialclonefilter"],
                   capture_output=True, env=_git_env(), check=False)


def _fetch_refs(budget: _Budget, filtered: bool) -> str:
    """A (partial, unless not ``filtered``) clone of every branch and tag into the repository."""
    args = ["-c", "remote.origin.promisor=true", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
            "--recurse-submodules=no", "--no-auto-gc"]
    if filtered:
        args.append("--filter=blob:none")
    args += ["origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
    code, stderr = budget.run(args)
    _forget_partial_clone(budget.path)
    if code != 0:
        reason, transient = classify_fetch_error(stderr)
        raise FetchError(reason, _last_lines(stderr), transient)
    return stderr


def _object_types(path: str, ids: Iterable[str]) -> dict[str, Optional[str]]:
    """id -> its type in the local repository, or None when absent (never fetches)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    done = subprocess.run(["git", "-C", path, "cat-file", "--batch-check=%(objectname) %(objecttype)"],
                          input="".join(f"{i}\n" for i in ids).encode("ascii"), capture_output=True,
                          env=_git_env(), check=False)
    types: dict[str, Optional[str]] = dict.fromkeys(ids)
    for line in done.stdout.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] != "missing" and parts[0] in types:
            types[parts[0]] = parts[1]
    return types


def _cat_file_batch(path: str, ids: list[str]) -> Iterator[tuple[str, bytes]]:
    with tempfile.TemporaryFile() as stdin:
        stdin.write("".join(f"{i}\n" for i in ids).encode("ascii"))
        stdin.seek(0)
        process = subprocess.Popen(["git", "-C", path, "cat-file", "--batch"], stdin=stdin,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_git_env())
        try:
            for _ in ids:
                header = process.stdout.readline().decode("ascii", "replace").split()
                if len(header) != 3:
                    continue  # "<id> missing": the caller counts what it did not get
                object_id, object_type, size = header
                data = process.stdout.read(int(size))
                process.stdout.read(1)
                if object_type == "blob":
                    yield object_id, data
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()
            process.wait()


def fetch_repository(url: str, wants: dict[str, Iterable[str]], directory: str, timeout_seconds: float = 300,
                     max_bytes: int = 2 << 30) -> FetchedRepository:
    """Fetches the commits ``wants`` names (commit id -> the blob ids needed from it) and their
    blobs from ``url`` into a new bare repository at ``directory``. Commits and blobs the remote
    lacks are listed in the result; a failure of the repository as a whole raises ``FetchError``."""
    os.makedirs(directory, exist_ok=False)
    _git(directory, "init", "--quiet", "--bare", "--template=")  # no sample hooks: nothing but objects
    _git(directory, "config", "remote.origin.url", url)
    budget = _Budget(directory, timeout_seconds, max_bytes)
    result = FetchedRepository(directory)
    commits = sorted(wants)
    try:  # 1. the commits, by id, without blobs
        result.missing_commits, stderr = _fetch_ids(budget, commits, filtered=True, depth=1)
    except FetchError as e:
        if e.reason != "unadvertised":
            raise
        stderr = _fetch_refs(budget, filtered=True)
        types = _object_types(directory, commits)
        result.missing_commits = {c for c in commits if types[c] != "commit"}
    result.full_fetch = _FILTER_REFUSED in stderr.lower()
    blobs = sorted({b for c in commits if c not in result.missing_commits for b in wants[c]})
    types = _object_types(directory, blobs)
    needed = [b for b in blobs if types[b] is None]
    if needed:  # 2. every blob still missing, in one fetch
        try:
            lacking, stderr = _fetch_ids(budget, needed, filtered=True, depth=None)
            result.full_fetch = result.full_fetch or _FILTER_REFUSED in stderr.lower()
        except FetchError as e:
            if e.reason != "unadvertised":
                raise
            _fetch_refs(budget, filtered=False)  # 3. the server serves refs only: take them whole
            result.full_fetch = True
        types = _object_types(directory, blobs)
    result.missing_blobs = {b for b in blobs if types[b] != "blob"}
    result.bytes_fetched = budget.check_size()
    return result


# --- cloning a remote repository whole (``repos:`` inputs) ---------------------------------------
#
# A ``repos:`` input names repositories, not commits: each is cloned on a worker with the same
# machinery as the blob fetch (one deadline and byte cap per repository, no prompts, the error
# classified into a reason), then read like a ``git:`` input. Only the default branch is cloned
# (``git log HEAD`` is all a ``git:`` input reads); with ``history=False`` only its last commit.

CLONE_REASONS = ("repository_not_found", "authentication_required", "timeout", "too_large", "network_error",
                 "empty_repository")

_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/@\s'\"]*@", re.IGNORECASE)


def redact_url(text: str) -> str:
    """``text`` with the ``user:token@`` part of every URL in it removed, for anything written
    down (dead letters, counters): a list line, or git's error naming the URL."""
    return _USERINFO.sub(r"\1", text)


@dataclass
class ClonedRepository:
    path: str
    bytes_fetched: int = 0


def clone_repository(url: str, directory: str, timeout_seconds: float = 300, max_bytes: int = 2 << 30,
                     history: bool = True, wanted_path: Optional[Callable[[str], bool]] = None) -> ClonedRepository:
    """A bare clone of ``url``'s default branch at ``directory`` (created; it must not exist), with
    its whole history or (``history=False``) its last commit only. A failure raises ``FetchError``
    with one of ``CLONE_REASONS``.

    ``wanted_path`` (last commit only): the commit and its trees first, without blobs, then in one
    fetch the blobs of the paths it accepts, of symlinks (their target is read) and of the
    top-level licence files; a server that refuses filters or blob ids gets the whole last commit.
    The clone is left an ordinary repository (no promisor remote): reading a blob it lacks says
    "missing", never fetches it."""
    os.makedirs(directory, exist_ok=False)
    budget = _Budget(directory, timeout_seconds, max_bytes)
    args = ["clone", "--quiet", "--bare", "--single-branch", "--no-tags", "--template=", "--no-recurse-submodules"]
    if not history:
        args.append("--depth=1")
    partial = wanted_path is not None and not history
    code, stderr = budget.run([*args, *(["--filter=blob:none"] if partial else []), "--", url, "."])
    if code != 0:
        reason, transient = classify_fetch_error(stderr)
        raise FetchError(reason, redact_url(_last_lines(stderr)), transient)
    if partial:
        _forget_promisor(directory)
    if _run_git(directory, ("rev-parse", "--verify", "--quiet", "HEAD^{commit}")).returncode != 0:
        raise FetchError("empty_repository", f"{redact_url(url)} has no commit on its default branch")
    if partial and _FILTER_REFUSED not in stderr.lower():
        wanted = sorted({object_id for mode, object_type, object_id, path in _head_tree(directory)
                         if object_type == "blob" and (wanted_path(path) or mode == SYMLINK_MODE
                                                       or ("/" not in path and path.lower() in LICENSE_FILE_NAMES))})
        types = _object_types(directory, wanted)
        needed = [b for b in wanted if types[b] is None]
        try:
            if needed:  # no "have"s: the server would leave out every blob of the commit we have
                _fetch_ids(budget, needed, filtered=True, depth=None, options=("-c", "fetch.negotiationAlgorithm=noop"))
        except FetchError as e:
            if e.reason != "unadvertised":
                raise
            code, stderr = budget.run(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth=1",
                                       "--recurse-submodules=no", "--refetch", "origin", "HEAD"])
            if code != 0:
                reason, transient = classify_fetch_error(stderr)
                raise FetchError(reason, redact_url(_last_lines(stderr)), transient)
        _forget_promisor(directory)
    return ClonedRepository(directory, budget.check_size())


def _forget_promisor(path: str) -> None:
    """A ``--filter`` clone marks origin a promisor remote, so a read of a missing object would
    fetch it lazily (one round trip per blob, under no deadline): make it an ordinary repository."""
    _forget_partial_clone(path)
    for key in ("extensions.partialclone", "remote.origin.promisor"):
        subprocess.run(["git", "-C", path, "config", "--unset-all", key], capture_output=True, env=_git_env(),
                       check=False)


def with_retries(attempt: Callable[[int], object], retries: int, backoff_seconds: float,
                 sleep: Callable[[float], None] = time.sleep):
    """``(result or None, FetchError or None, retries used)`` of ``attempt(i)``: a transient
    ``FetchError`` is retried ``retries`` times, waiting ``backoff_seconds * 2**i`` before try i+1."""
    for i in range(retries + 1):
        try:
            return attempt(i), None, i
        except FetchError as e:
            if not e.transient or i == retries:
                return None, e, i
            sleep(backoff_seconds * (2 ** i))
    raise AssertionError("unreachable")
