"""Reading BigQuery ``github_repos`` exports (NDJSON, gzip NDJSON, Parquet) from any fsspec path.

A dump is a folder (local, ``gs://``, ``memory://`` …) holding, per table, a file named after
it (``commits.jsonl.gz``, ``commits.parquet``), sharded files (``commits-000000000001.json.gz``,
as BigQuery's wildcard export writes them), or a sub-folder (``commits/…``).

``iter_file_events`` reads one file line by line (``io.rows``) and yields normalised records,
dead letters for lines that cannot be used, and its ``lines/<table>`` and ``read/<table>``
counts: bad data never raises; a file that cannot be read does.
"""

from __future__ import annotations

import posixpath
import re
from typing import Iterator

import fsspec

from codecorpus.io.records import KEY_FIELDS, normalise
from codecorpus.io.rows import Row, file_events, file_format


def _belongs_to(relative_path: str, table: str) -> bool:
    parts = relative_path.split("/")
    if parts[0] == table and len(parts) > 1:
        return True
    base = parts[-1]
    return len(parts) == 1 and re.match(rf"^{re.escape(table)}([._-]|\d)", base) is not None


def table_files(root: str, table: str) -> list[str]:
    """Every data file of ``table`` under the dump ``root``, as full fsspec URLs, sorted."""
    fs, root_path = fsspec.core.url_to_fs(root)
    if not fs.exists(root_path):
        raise FileNotFoundError(f"input dump not found: {root}")
    if not fs.isdir(root_path):
        raise NotADirectoryError(f"input dump must be a folder of table files: {root}")
    root_path = root_path.rstrip("/")
    found = []
    for path in fs.find(root_path):
        relative = path[len(root_path):].lstrip("/")
        base = posixpath.basename(relative)
        if base.startswith((".", "_")) or not _belongs_to(relative, table) or file_format(base) is None:
            continue
        found.append(fs.unstrip_protocol(path) if "://" in root else path)
    return sorted(found)


def _normalised(table: str):
    def to_record(row: Row) -> dict:
        record = normalise(table, row.value)
        if table == "commits":
            record["_source"] = row.source
        return record
    return to_record


def iter_file_events(path: str, table: str) -> Iterator:
    """Records, dead letters and the ``lines/<table>`` and ``read/<table>`` counts of one dump file.

    Every non-blank line (or Parquet row) counts as one record read, good or bad. A file that
    cannot be read to its end raises (``rows.UnreadableFile``): the runner retries it.
    """
    # Undecodable blob text keeps its blob id: the commits that use it are dead-lettered with the reason.
    undecodable = "surrogateescape" if table == "contents" else "error"
    return file_events(path, table, _normalised(table), undecodable, key_field=KEY_FIELDS[table])


# --- a dump folder written by ``export-git`` -----------------------------------------------------

# Every table a job reads from a dump: a file of any of them left in a folder is read next time.
DUMP_TABLES = ("commits", "contents", "licenses", "files", "languages")
# What ``export-git`` writes (``io.git.export_dump``), and the marker that says the folder is its.
EXPORT_TABLE_FILES = ("commits.jsonl.gz", "contents.jsonl.gz", "licenses.jsonl.gz", "files.jsonl.gz")
EXPORT_MARKER = "_codecorpus_export_git.json"


class DumpFolderError(ValueError):
    """An ``export-git`` output folder that may not be written (or replaced)."""


def check_export_folder(output: str, overwrite: bool) -> None:
    """Before anything is written: a missing or empty folder is fine; a non-empty one needs
    ``overwrite`` and must be an export-git dump (its marker, or nothing but export-git's own
    table files, as dumps written before the marker have). Nothing is deleted here."""
    fs, root = fsspec.core.url_to_fs(output)
    if not fs.exists(root):
        return
    if not fs.isdir(root):
        raise DumpFolderError(f"{output} is a file: give a folder for the dump")
    names = {posixpath.basename(p.rstrip("/")) for p in fs.ls(root, detail=False)}
    if not names:
        return
    if not overwrite:
        raise DumpFolderError(f"{output} exists and is not empty; pass --overwrite to replace the export-git dump "
                              "in it")
    if EXPORT_MARKER not in names and not names <= set(EXPORT_TABLE_FILES):
        raise DumpFolderError(f"{output} is not an export-git dump (no {EXPORT_MARKER}; it holds "
                              f"{', '.join(sorted(names)[:5])}{' …' if len(names) > 5 else ''}): refusing to replace "
                              "anything in it; choose another --output")


def finish_export_folder(output: str) -> list[str]:
    """After a successful export: removes the table files export-git did not just write (a
    ``commits-000000000001.json.gz`` or a ``files/`` shard would be read with the new tables) and
    writes the marker. Returns what was removed. Files no reader picks up are left alone."""
    fs, root = fsspec.core.url_to_fs(output)
    root = root.rstrip("/")
    ours = {posixpath.join(root, name) for name in EXPORT_TABLE_FILES}
    stale = sorted({fsspec.core.url_to_fs(f)[1] for table in DUMP_TABLES for f in table_files(output, table)} - ours)
    for path in stale:
        fs.rm(path)
    with fs.open(posixpath.join(root, EXPORT_MARKER), "w") as f:
        f.write('{"written_by": "codecorpus export-git", "tables": ["commits", "contents", "licenses", "files"]}\n')
    return stale
