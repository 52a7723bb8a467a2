"""CommitPack filters (OctoPack paper, REFERENCE.md §2).

Commit-level filters (``single_file``, ``message``, ``lang``) see only the commit record.
Joined filters (``licence``, ``binary``, ``size``) also see what the join attached:
``_licenses`` (list of ``[repo, licence or None]``) and ``_old_blob`` / ``_new_blob``
(``contents`` records).

The same message and single-file rules are pushed down into BigQuery SQL by
``codecorpus.io.bigquery``; a test proves both select the same commits.
"""

from __future__ import annotations

from typing import Optional, Sequence

from codecorpus.core.filters import Filter
from codecorpus.core.languages import UNKNOWN, language_of

# Lower-cased, stripped messages CommitPack excluded (its BigQuery query).
EXCLUDED_MESSAGES = (
    "update readme.md",
    "initial commit",
    "update",
    "mirroring from micro.blog.",
    "update data.json",
    "update data.js",
    "add files via upload",
    "update readme",
    "can't you see i'm updating the time?",
    "pi push",
    "dummy",
    "update index.html",
    "first commit",
    "create readme.md",
    "heartbeat update",
    "updated readme",
    "update log",
    "test",
    "no message",
    "readme",
    "wip",
    "updates",
    "commit",
    "update _config.yaml",
)

# Whitespace stripped from messages before the rules apply. Spelled out (not str.strip()'s
# Unicode whitespace) so BigQuery's TRIM(message, chars) can match it exactly.
MESSAGE_STRIP_CHARS = " \t\n\r"


def normalised_message(message: Optional[str]) -> str:
    return (message or "").strip(MESSAGE_STRIP_CHARS)


def single_difference(record: dict) -> Optional[dict]:
    """The commit's only ``difference`` entry when it is a single-file modification."""
    diffs = record.get("difference") or []
    if len(diffs) != 1:
        return None
    d = diffs[0]
    if d.get("old_path") is None or d.get("new_path") is None or d["old_path"] != d["new_path"]:
        return None
    return d


class SingleFileFilter(Filter):
    """Keep commits that modify exactly one file in place (no add, delete or rename)."""

    name = "single_file"

    def drop_reason(self, record: dict) -> Optional[str]:
        diffs = record.get("difference") or []
        if not diffs:
            return "no_files"
        if len(diffs) > 1:
            return "multiple_files"
        if record.get("difference_truncated"):
            return "difference_truncated"
        d = diffs[0]
        if d.get("old_path") is None:
            return "added_file"
        if d.get("new_path") is None:
            return "deleted_file"
        if d["old_path"] != d["new_path"]:
            return "renamed_file"
        if not d.get("old_sha1") or not d.get("new_sha1"):
            return "missing_sha"
        return None


class MessageFilter(Filter):
    """CommitPack's message rules: length bounds, excluded boilerplate, no merges."""

    name = "message"

    def __init__(
        self,
        min_chars: int = 5,
        max_chars: int = 10_000,
        excluded_prefixes: Sequence[str] = ("merge",),
        excluded: Optional[Sequence[str]] = None,
    ):
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.excluded_prefixes = tuple(p.lower() for p in excluded_prefixes)
        self.excluded = frozenset(m.lower() for m in (EXCLUDED_MESSAGES if excluded is None else excluded))

    def drop_reason(self, record: dict) -> Optional[str]:
        message = normalised_message(record.get("message"))
        if len(message) <= self.min_chars:
            return "too_short"
        if len(message) >= self.max_chars:
            return "too_long"
        lowered = message.lower()
        if lowered in self.excluded:
            return "excluded_message"
        if lowered.startswith(self.excluded_prefixes):
            return "excluded_prefix"
        return None


class LanguageFilter(Filter):
    """Language from the file extension; unknown languages dropped or kept per config."""

    name = "lang"

    def __init__(self, unknown: str = "drop", allow: Optional[Sequence[str]] = None):
        if unknown not in ("drop", "keep"):
            raise TypeError(f"unknown must be 'drop' or 'keep', not {unknown!r}")
        self.unknown = unknown
        self.allow = frozenset(allow) if allow else None

    def drop_reason(self, record: dict) -> Optional[str]:
        d = single_difference(record)
        lang = language_of(d["new_path"] if d else None)
        if lang == UNKNOWN:
            return "unknown_language" if self.unknown == "drop" else None
        if self.allow is not None and lang not in self.allow:
            return "language_not_allowed"
        return None


COMMITPACK_LICENSES = (
    "mit", "artistic-2.0", "isc", "cc0-1.0", "epl-1.0", "mpl-2.0", "unlicense", "apache-2.0",
    "bsd-3-clause", "agpl-3.0", "lgpl-2.1", "bsd-2-clause",
)


def allowed_license(licenses: Sequence[Sequence], allow: frozenset) -> Optional[str]:
    """The licence a commit is published under: the first allowed one of its repositories
    (sorted by repository name, so the choice is deterministic), or None."""
    for _repo, lic in sorted(licenses, key=lambda pair: (pair[0] or "", pair[1] or "")):
        if lic is not None and lic.lower() in allow:
            return lic.lower()
    return None


class LicenceFilter(Filter):
    """Keep commits of which some repository has a licence on the allow-list."""

    name = "licence"

    def __init__(self, allow: Sequence[str] = COMMITPACK_LICENSES):
        self.allow = frozenset(a.lower() for a in allow)

    def drop_reason(self, record: dict) -> Optional[str]:
        licenses = record.get("_licenses") or []
        if allowed_license(licenses, self.allow):
            return None
        if all(lic is None for _repo, lic in licenses):
            return "unknown_licence"
        return "licence_not_allowed"


def _is_binary(blob: dict) -> bool:
    content = blob.get("content")
    return bool(blob.get("binary")) or (content is not None and "\x00" in content)


class BinaryFilter(Filter):
    """Drop commits where either side is a binary blob (flagged, or text with NUL)."""

    name = "binary"

    def drop_reason(self, record: dict) -> Optional[str]:
        for side in ("_old_blob", "_new_blob"):
            if _is_binary(record[side]):
                return "binary_content"
        return None


def blob_size(blob: dict) -> Optional[int]:
    """A blob's size in bytes: the dump's ``size``, else measured from its text."""
    size, content = blob.get("size"), blob.get("content")
    if size is None and content is not None:
        size = len(content.encode("utf-8", "surrogatepass"))
    return size


class SizeFilter(Filter):
    """Drop commits where either side is over ``max_bytes`` or has no stored content."""

    name = "size"

    def __init__(self, max_bytes: int = 1_000_000):
        self.max_bytes = max_bytes

    def drop_reason(self, record: dict) -> Optional[str]:
        for side in ("_old_blob", "_new_blob"):
            blob = record[side]
            size = blob_size(blob)
            if size is not None and size > self.max_bytes:
                return "too_large"
            if blob.get("content") is None:
                # BigQuery stores no content for binary or very large blobs; binary ones are
                # the binary filter's, so what is left here is content too large to store.
                return "content_unavailable"
        return None


COMMIT_FILTERS = {f.name: f for f in (SingleFileFilter, MessageFilter, LanguageFilter)}
JOINED_FILTERS = {f.name: f for f in (LicenceFilter, BinaryFilter, SizeFilter)}
