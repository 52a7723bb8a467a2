"""A file record's way through the files job's own steps: the file filters (with the language
and blob sha they add) and the ``files`` row written for a kept record."""

from __future__ import annotations

import hashlib

from codecorpus.core.filters import counter_name
from codecorpus.core.languages import language_of
from codecorpus.core.routing import Drop, dead_letter
from codecorpus.files.filters import text_stats
from codecorpus.io.repo_files import file_key

ID_FIELD = "file_id"   # repo:ref:path (io.records.file_key), the id dedup keys records by


def git_blob_sha(content: str) -> str:
    data = content.encode("utf-8", "surrogatepass")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FilterFiles:
    """``routed`` body: a file record -> the record with ``lang``, ``sha`` and ``file_id`` (kept),
    or a counted drop (``filter/<name>/<reason>``)."""

    def __init__(self, chain):
        self.chain = chain

    def __call__(self, record: dict) -> list:
        content = record.get("content")
        candidate = {**record, "lang": language_of(record.get("path"))}
        if content is not None:
            candidate["_stats"] = tuple(text_stats(content))
        dropped = self.chain.first_drop(candidate)
        if dropped:
            return [Drop(counter_name(*dropped))]
        if content is None:
            return [dead_letter("file_filters", "files", file_key(record), "no text content (a binary blob, or "
                                "one too large to be stored) and the binary/size filters are off", record)]
        del candidate["_stats"]
        candidate["sha"] = record.get("id") or git_blob_sha(content)
        candidate[ID_FIELD] = file_key(record)
        return [candidate]


def files_row(record: dict) -> dict:
    """A kept record -> its ``files`` row; size and line statistics of the content as written."""
    content = record["content"]
    stats = text_stats(content)
    return {"repo": record["repo_name"], "ref": record.get("ref"), "path": record["path"], "sha": record["sha"],
            "lang": record["lang"], "license": record.get("license"), "content": content,
            "size": len(content.encode("utf-8", "surrogatepass")), "lines": stats.lines,
            "max_line_length": stats.max_line_length, "avg_line_length": stats.mean_line_length,
            "alphanum_fraction": stats.alphanum_fraction}
