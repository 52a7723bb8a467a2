"""The files of repositories at a ref, with their contents and licence, from any input.

Shared by the jobs that work on files rather than commits (``files``, ``sql``). Inputs:

- a dump (``files`` table joined to ``contents`` on the blob id, ``licenses`` on the repo);
- ``git:PATH``: the repository's HEAD, read directly;
- a plain folder (local or fsspec) of source files, e.g. a directory of ``.sql`` files: every
  file under it, repository name ``local/<folder name>``, licence from its LICENSE file.

Output records: ``repo_name, ref, path, mode, id, size, content, binary, license``. Joins are
keyed request/answer joins (no table held in memory): licences meet the small file entries
first, then the entries meet their blobs (their ``content`` zstd-compressed through that
shuffle, ``core.blobs``, decompressed as they are attached). ``keep_path(path) -> reason | None`` drops unwanted
paths before any join (counted as ``filter/path/<reason>``); symlinks and submodules are
counted as ``filter/file_kind/<kind>``; a missing or undecodable blob is a dead letter.
"""

from __future__ import annotations

import os
import posixpath
from typing import Callable, Optional

import apache_beam as beam
import fsspec
from fsspec.implementations.local import LocalFileSystem

from codecorpus.io import dump, records
from codecorpus.io.records import is_encodable
from codecorpus.io.sources import InputSpec, ReadTable
from codecorpus.core import blobs as packing
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, Drop, Ledger, dead_letter, route_stream, routed
from codecorpus.core.semijoin import KeepRequestedBlobs

SYMLINK_MODES = {0o120000, 40960}
SUBMODULE_MODES = {0o160000, 57344}
LICENSE_FILE_NAMES = {"license", "licence", "copying", "license.md", "license.txt", "licence.md",
                      "licence.txt", "copying.md", "copying.txt", "license.rst"}


def has_files_table(root: str) -> bool:
    try:
        return bool(dump.table_files(root, "files"))
    except (FileNotFoundError, NotADirectoryError):
        return False


def file_key(record: dict) -> str:
    """A ``files`` entry's key (:func:`codecorpus.io.records.file_key`)."""
    return records.file_key(record.get("repo_name"), record.get("ref"), record.get("path"))


def file_kind_drop(record: dict, keep_path: Optional[Callable[[str], Optional[str]]]):
    """Events for one ``files`` entry before any join: the entry itself, or a counted drop."""
    mode = record.get("mode")
    if mode in SYMLINK_MODES or record.get("symlink_target"):
        return [Drop("filter/file_kind/symlink")]
    if mode in SUBMODULE_MODES:
        return [Drop("filter/file_kind/submodule")]
    if not record.get("id"):
        return [dead_letter("read", "files", file_key(record), "files entry without a blob id", record)]
    reason = keep_path(record["path"]) if keep_path else None
    if reason:
        return [Drop(f"filter/path/{reason}")]
    return [record]


def answer_licences(element):
    repo, grouped = element
    licences = sorted({lic for lic in grouped["licence"] if lic is not None})
    for key in sorted(set(grouped["request"])):
        yield key, licences[0] if licences else None


def attach_licence(element):
    key, grouped = element
    for entry in grouped["entry"]:
        licences = list(grouped["licence"])
        yield {**entry, "license": licences[0] if licences else None}


def attach_blob(element):
    blob_id, grouped = element
    blob = packing.pick_blob(grouped["blob"])
    blob = None if blob is None else packing.unpack(blob, packing.BLOB_TEXT)
    for entry in sorted(grouped["entry"], key=file_key):
        if blob is None:
            yield dead_letter("join_contents", "files", file_key(entry),
                              f"missing blob: {blob_id} not in contents", entry, "")
        elif blob.get("undecodable") and not blob.get("binary"):
            yield dead_letter("join_contents", "files", file_key(entry),
                              f"undecodable content: blob {blob_id} is not valid UTF-8", entry, "")
        else:
            yield {"repo_name": entry["repo_name"], "ref": entry.get("ref"), "path": entry["path"],
                   "mode": entry.get("mode"), "id": blob_id, "size": blob.get("size"),
                   "content": blob.get("content"), "binary": bool(blob.get("binary")),
                   "license": entry.get("license")}


# --- a plain folder of files ------------------------------------------------------------------


def folder_repo_name(root: str) -> str:
    return f"local/{posixpath.basename(root.rstrip('/')) or 'root'}"


def _is_plain_file(info: dict) -> bool:
    """A regular file, not a symlink (fsspec's local filesystem says ``islink``) and not a fifo,
    socket or device (``type: other``), which would block or read something else."""
    return info.get("type") == "file" and not info.get("islink")


def _read_plain_file(fs, path: str) -> bytes:
    """The bytes of a regular file; on a local disk opened with ``O_NOFOLLOW``, so a file swapped
    for a symlink after the listing is refused rather than followed."""
    if isinstance(fs, LocalFileSystem):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            return f.read()
    with fs.open(path, "rb") as f:
        return f.read()


def folder_license(root: str) -> Optional[str]:
    from codecorpus.io.git import detect_license

    fs, path = fsspec.core.url_to_fs(root)
    for entry in sorted(fs.ls(path, detail=True), key=lambda e: e["name"]):
        if posixpath.basename(entry["name"]).lower() in LICENSE_FILE_NAMES and _is_plain_file(entry):
            found = detect_license(_read_plain_file(fs, entry["name"])[:200_000].decode("utf-8", "replace"))
            if found:
                return found
    return None


def folder_file_events(root: str, keep_path, max_bytes: int):
    """Records (or drops / dead letters) for every file under a plain folder. Nothing is read
    through a symlink: a link (to a file, a folder or nowhere) is counted as
    ``filter/file_kind/symlink``, as the ``git:`` input does; fifos, sockets and devices as
    ``filter/file_kind/special``."""
    fs, base = fsspec.core.url_to_fs(root)
    base = base.rstrip("/")
    repo, licence = folder_repo_name(root), folder_license(root)
    read = 0
    entries = fs.find(base, detail=True)  # symlinked folders are listed, not descended into
    for full in sorted(entries):
        info = entries[full]
        path = full[len(base):].lstrip("/")
        if any(part.startswith(".") for part in path.split("/")):
            continue  # .git and other hidden folders are not part of the corpus
        read += 1
        if info.get("islink"):
            yield Drop("filter/file_kind/symlink")
            continue
        if not _is_plain_file(info):
            yield Drop("filter/file_kind/special")
            continue
        reason = keep_path(path) if keep_path else None
        if reason:
            yield Drop(f"filter/path/{reason}")
            continue
        size = info.get("size")
        if size is None:
            size = fs.size(full)
        data = b""
        if size is not None and size <= max_bytes:
            data = _read_plain_file(fs, full)
        binary = b"\x00" in data[:8000]
        content = None if binary or size > max_bytes else data.decode("utf-8", "surrogateescape")
        if content is not None and not is_encodable(content):
            yield dead_letter("read", "files", records.file_key(repo, None, path), "undecodable content: not valid UTF-8",
                              data, full)
            continue
        yield {"repo_name": repo, "ref": None, "path": path, "mode": 33188, "id": None, "size": size,
               "content": content, "binary": binary, "license": licence}
    yield Count("read/files", read)


class _ReadFolder(beam.DoFn):
    def __init__(self, keep_path, max_bytes):
        self.keep_path, self.max_bytes = keep_path, max_bytes

    def process(self, root):
        yield from route_stream(folder_file_events(root, self.keep_path, self.max_bytes),
                                f"read files: {root}")


# --- the transform ---------------------------------------------------------------------------


class ReadRepositoryFiles(beam.PTransform):
    """Input -> file records with content and licence; dead letters and counters go to ``ledger``."""

    def __init__(self, spec: InputSpec, config: dict, ledger: Ledger,
                 keep_path: Optional[Callable[[str], Optional[str]]] = None, max_bytes: int = 10_000_000,
                 queries: Optional[dict] = None):
        super().__init__()
        self.spec, self.config, self.ledger = spec, config, ledger
        self.queries = queries  # bq: inputs: table -> fn(dataset, config) -> SQL (e.g. files.pushdown)
        self.keep_path, self.max_bytes = keep_path, max_bytes

    def expand(self, pbegin):
        ledger, spec = self.ledger, self.spec
        if spec.kind == "dump" and not all(has_files_table(root) for root in spec.paths):
            return ledger.take(pbegin
                               | "ListFolders" >> beam.Create(list(spec.paths))
                               | "ReadFolderFiles" >> beam.ParDo(_ReadFolder(self.keep_path, self.max_bytes))
                               .with_outputs(DEAD_LETTER, STATS, main="kept"))
        keep_path = self.keep_path
        entries = ledger.take(
            ledger.take(pbegin | "ReadFilesTable" >> ReadTable(spec, "files", self.config, queries=self.queries,
                                                                  keep_path=self.keep_path))
            | "DropLinksAndPaths" >> routed(lambda r: file_kind_drop(r, keep_path), "file_filters", "files",
                                            key_of=file_key))
        licenses = ledger.take(pbegin | "ReadLicenses" >> ReadTable(spec, "licenses", self.config, required=False,
                                                                queries=self.queries))
        contents = ledger.take(pbegin | "ReadContents" >> ReadTable(spec, "contents", self.config, required=False,
                                                                queries=self.queries))
        # A semi-join first: only the blobs the files name (the HEAD files of a dump's complete
        # history) go on to the join's shuffle.
        contents = ledger.take(contents | "KeepRequestedBlobs" >> KeepRequestedBlobs(entries, lambda e: [e.get("id")]))
        licence_answers = (
            {"request": entries | "RequestLicences" >> beam.Map(lambda e: (e["repo_name"], file_key(e))),
             "licence": licenses | "KeyLicenceByRepo" >> beam.Map(lambda r: (r["repo_name"], r["license"]))}
            | "JoinLicencesOnRepo" >> beam.CoGroupByKey()
            | "AnswerLicenceRequests" >> beam.FlatMap(answer_licences))
        licensed = (
            {"entry": entries | "KeyEntryByFile" >> beam.Map(lambda e: (file_key(e), e)), "licence": licence_answers}
            | "JoinLicenceOnFile" >> beam.CoGroupByKey()
            | "AttachLicence" >> beam.FlatMap(attach_licence))
        return ledger.take(
            {"entry": licensed | "KeyEntryByBlob" >> beam.Map(lambda e: (e["id"], e)),
             "blob": contents | "KeyBlobById" >> beam.Map(packing.keyed_blob)}
            | "JoinContentsOnBlobSha" >> beam.CoGroupByKey()
            | "AttachContents" >> routed(attach_blob, "join_contents", "files", key_of=lambda e: e[0]))
