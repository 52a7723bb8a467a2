"""CommitPack filters (OctoPack paper; rule by rule in REFERENCE.md §2).

Commit-level filters (``single_file``, ``message``, ``lang``, ``optout``, ``control_chars``) see
only the commit record. Joined filters (``licence``, ``binary``, ``size``) also see what the join
attached: ``_licenses`` (list of ``[repo, licence or None]``) and ``_old_blob`` / ``_new_blob``
(``contents`` records).

Defaults reproduce the original scripts of bigcode-project/octopack: the BigQuery SQL
``sql_1`` … ``sql_5`` (licences, message, single in-place modification), ``scrape_github.py``
(extension, ``Update <file>`` and a few exact messages), ``licenses_optout_langs.py`` (opted-out
owners) and ``misc_scripts.add_lang`` (``lang``). Where we deliberately differ, the class says
so and the README lists it.

The single-file, message, opt-out and licence rules are also pushed down into BigQuery SQL
(``codecorpus.commits.pushdown``); ``tests/commits/test_pushdown_sql.py`` proves both select the
same commits.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from typing import Optional, Sequence

from codecorpus.core.filters import Filter
from codecorpus.core.languages import UNKNOWN, LanguageTable, language_table


@functools.lru_cache(maxsize=1)
def commitpack_rules() -> dict:
    """The original scripts' data (``data/commitpack_rules.json``, from bigcode-project/octopack,
    MIT): ``optout_owners``, ``imperative_verbs_en``, ``bad_subjects``, ``bad_subject_substrings``."""
    text = importlib.resources.files("codecorpus.commits").joinpath("data/commitpack_rules.json").read_text("utf-8")
    return json.loads(text)


# sql_1's `LOWER(message) NOT LIKE '…'` list (its three repeated entries once). These are LIKE
# patterns: `_` in 'update _config.yaml' matches any one character, as in BigQuery.
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
# scrape_github.py's `filter_misc`: exact, case-sensitive messages.
EXCLUDED_EXACT_MESSAGES = ("initial commit", "please\n", "please", "lalala")

# Whitespace stripped from messages in `compare: stripped` mode. Spelled out (not str.strip()'s
# Unicode whitespace) so BigQuery's TRIM(message, chars) can match it exactly.
MESSAGE_STRIP_CHARS = " \t\n\r"

SUBMODULE_MODE = 0o160000   # a gitlink: the "blob" id is a commit of another repository
SYMLINK_MODE = 0o120000     # the blob is the link's target path, not file contents
SPECIAL_MODES = (SUBMODULE_MODE, SYMLINK_MODE)


def normalised_message(message: Optional[str]) -> str:
    return (message or "").strip(MESSAGE_STRIP_CHARS)


def like_regex(pattern: str) -> re.Pattern:
    """A SQL ``LIKE`` pattern (``%`` any run, ``_`` any one character, whole string) as a regex.
    A backslash (BigQuery's LIKE escape, which DuckDB and other engines read differently) is
    refused so the Python rule and the SQL can never disagree about it."""
    if "\\" in pattern:
        from codecorpus.config import ConfigError

        raise ConfigError(f"message.excluded: a backslash is not allowed in LIKE patterns ({pattern!r})")
    parts = ("(?s:.*)" if ch == "%" else "(?s:.)" if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def is_in_place(d: dict) -> bool:
    """sql_4's condition: ``old_path = new_path``, both non-null (a modification in place)."""
    return d.get("old_path") is not None and d.get("new_path") is not None and d["old_path"] == d["new_path"]


def in_place_modifications(record: dict) -> list[dict]:
    return [d for d in (record.get("difference") or []) if is_in_place(d)]


def single_difference(record: dict) -> Optional[dict]:
    """The ``difference`` entry a CommitPack row is made of: the commit's only in-place
    modification (other entries may add, delete or rename files), or None."""
    mods = in_place_modifications(record)
    return mods[0] if len(mods) == 1 else None


def _one_entry_reason(d: dict) -> str:
    if d.get("old_path") is None:
        return "added_file"
    if d.get("new_path") is None:
        return "deleted_file"
    return "renamed_file"


class SingleFileFilter(Filter):
    """One file modified in place.

    ``mode: commitpack`` (default) is sql_4 + sql_5: among the ``difference`` entries, exactly one
    has ``old_path = new_path`` (both non-null); the commit may also add, delete or rename other
    files (such kept commits are counted as ``single_file/kept_with_other_changes``). ``mode:
    strict`` keeps only commits whose *only* entry is that modification; the commits it drops and
    ``commitpack`` keeps are ``other_changes``.

    Deliberate additions to the original (its SQL cannot see them; its scraper then failed or
    fetched the wrong thing): ``submodule`` (a gitlink, mode 160000, whose id is a commit, not a
    blob), ``symlink`` (either side mode 120000: a link's blob is its target path, and a
    file<->symlink type change is not an edit), ``missing_sha``, ``difference_truncated`` (the
    list was cut, so another modification may be hidden) and ``shallow_boundary`` (no entries and
    the list flagged truncated: a shallow clone's boundary commit, whose parent is not in the
    clone, so its change is unknown rather than empty).
    """

    name = "single_file"
    MODES = ("commitpack", "strict")

    def __init__(self, mode: str = "commitpack"):
        if mode not in self.MODES:
            raise TypeError(f"mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.mode = mode

    def drop_reason(self, record: dict) -> Optional[str]:
        diffs = record.get("difference") or []
        if not diffs:
            return "shallow_boundary" if record.get("difference_truncated") else "no_files"
        if record.get("difference_truncated"):
            return "difference_truncated"
        mods = [d for d in diffs if is_in_place(d)]
        if len(mods) > 1:
            return "multiple_files"
        if not mods:
            return _one_entry_reason(diffs[0]) if len(diffs) == 1 else "no_modified_file"
        if self.mode == "strict" and len(diffs) > 1:
            return "other_changes"
        d = mods[0]
        modes = (d.get("old_mode"), d.get("new_mode"))
        if SUBMODULE_MODE in modes:
            return "submodule"
        if SYMLINK_MODE in modes:
            return "symlink"
        if not d.get("old_sha1") or not d.get("new_sha1"):
            return "missing_sha"
        return None

    @staticmethod
    def has_other_changes(record: dict) -> bool:
        """A kept commit that also adds, deletes or renames files (what ``strict`` would drop)."""
        return len(record.get("difference") or []) > 1


class MessageFilter(Filter):
    """CommitPack's message rules.

    sql_1: ``min_chars < LENGTH(message) < max_chars``; ``LOWER(message) NOT LIKE p`` for each of
    ``excluded`` (LIKE patterns); ``NOT LIKE 'merge%'`` (``excluded_prefixes``). scrape_github.py:
    ``message`` not one of ``excluded_exact`` (case-sensitive) and, with ``update_file``, not
    ``"Update " + old_file``.

    ``compare: original`` (default) applies them to the message as stored: BigQuery messages of
    commits made with git end with a newline, so ``"Initial commit\\n"`` passes, as it did in
    CommitPack. ``compare: stripped`` applies them to the message without surrounding
    ``MESSAGE_STRIP_CHARS``.
    """

    name = "message"
    COMPARE = ("original", "stripped")

    def __init__(
        self,
        min_chars: int = 5,
        max_chars: int = 10_000,
        excluded_prefixes: Sequence[str] = ("merge",),
        excluded: Optional[Sequence[str]] = None,
        excluded_exact: Optional[Sequence[str]] = None,
        update_file: bool = True,
        compare: str = "original",
    ):
        if compare not in self.COMPARE:
            raise TypeError(f"compare must be one of {', '.join(self.COMPARE)}, not {compare!r}")
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.compare = compare
        self.excluded_prefixes = tuple(p.lower() for p in excluded_prefixes)
        self.excluded = tuple(sorted({m.lower() for m in (EXCLUDED_MESSAGES if excluded is None else excluded)}))
        self.excluded_exact = tuple(sorted(set(EXCLUDED_EXACT_MESSAGES if excluded_exact is None else excluded_exact)))
        self.update_file = bool(update_file)
        self._patterns = [like_regex(p) for p in self.excluded]  # refuses bad patterns up front

    def message_of(self, record: dict) -> str:
        message = record.get("message") or ""
        return message if self.compare == "original" else normalised_message(message)

    def drop_reason(self, record: dict) -> Optional[str]:
        message = self.message_of(record)
        if len(message) <= self.min_chars:
            return "too_short"
        if len(message) >= self.max_chars:
            return "too_long"
        lowered = message.lower()
        if any(p.fullmatch(lowered) for p in self._patterns) or message in self.excluded_exact:
            return "excluded_message"
        if lowered.startswith(self.excluded_prefixes):
            return "excluded_prefix"
        if self.update_file:
            d = single_difference(record)
            if d is not None and message == "Update " + d["old_path"]:
                return "update_file"
        return None


class LanguageFilter(Filter):
    """The file's language from its path, in a language table (``table``: ``commitpack`` by
    default, see ``codecorpus.core.languages``).

    With CommitPack's table this is scrape_github.py's extension filter: a path that ends with
    none of the table's extensions is ``unknown_language``. Such a path can still be given
    ``lang`` "unknown" by add_lang's lookup (``x.cmake.in``), and is kept, as in CommitPack.
    ``unknown: keep`` keeps every path; ``allow`` restricts ``lang`` to a list.
    """

    name = "lang"

    def __init__(self, unknown: str = "drop", allow: Optional[Sequence[str]] = None, table="commitpack"):
        if unknown not in ("drop", "keep"):
            raise TypeError(f"unknown must be 'drop' or 'keep', not {unknown!r}")
        self.unknown = unknown
        self.allow = frozenset(allow) if allow else None
        try:
            self.table: LanguageTable = language_table(table)
        except (ValueError, OSError) as e:
            raise TypeError(str(e)) from e

    def language_of(self, record: dict) -> str:
        d = single_difference(record)
        return self.table.language_of(d["new_path"] if d else None)

    def drop_reason(self, record: dict) -> Optional[str]:
        d = single_difference(record)
        path = d["new_path"] if d else None
        if not self.table.is_eligible(path):
            return "unknown_language" if self.unknown == "drop" else None
        lang = self.table.language_of(path)
        if self.allow is not None and lang not in self.allow:
            return "language_not_allowed"
        return None


def repo_owner(repo: str) -> str:
    return repo.split("/")[0]


class OptOutFilter(Filter):
    """licenses_optout_langs.py: drop commits of a single repository whose owner asked The Stack
    to leave their code out (``owners``: null = the original's 44 GitHub logins).

    Deliberately case-insensitive (GitHub logins are; the original compared exactly): honouring
    an opt-out matters more than matching the original's misses."""

    name = "optout"

    def __init__(self, owners: Optional[Sequence[str]] = None):
        listed = commitpack_rules()["optout_owners"] if owners is None else owners
        self.owners = frozenset(o.lower() for o in listed)

    def drop_reason(self, record: dict) -> Optional[str]:
        repos = set(record.get("repo_name") or [])
        if len(repos) == 1 and repo_owner(next(iter(repos))).lower() in self.owners:
            return "opted_out_owner"
        return None


# C0 controls (NUL, ESC of ANSI escapes, CR, LF …), DEL and C1 controls; subjects may keep a tab.
_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SUBJECT_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class ControlCharsFilter(Filter):
    """Paths and subjects with control characters (NUL, ANSI escapes, newlines, line separators)
    would reach ``commitpack``, ``instructions`` and any terminal that prints them: dropped
    (``path``, ``subject``). Not in CommitPack; such commits are hostile or broken exports."""

    name = "control_chars"

    def drop_reason(self, record: dict) -> Optional[str]:
        d = single_difference(record)
        if d is not None and any(_PATH_CONTROL.search(d[k] or "") for k in ("old_path", "new_path")):
            return "path"
        if _SUBJECT_CONTROL.search(record.get("subject") or ""):
            return "subject"
        return None


COMMITPACK_LICENSES = (
    "mit", "artistic-2.0", "isc", "cc0-1.0", "epl-1.0", "mpl-2.0", "unlicense", "apache-2.0",
    "bsd-3-clause", "agpl-3.0", "lgpl-2.1", "bsd-2-clause",
)


def allowed_licences(licenses: Sequence[Sequence], allow: frozenset) -> set[str]:
    return {lic.lower() for _repo, lic in licenses if lic is not None and lic.lower() in allow}


def allowed_license(licenses: Sequence[Sequence], allow: frozenset) -> Optional[str]:
    """The licence a commit is published under: the first allowed one of its repositories
    (sorted by repository name, so the choice is deterministic), or None."""
    for _repo, lic in sorted(licenses, key=lambda pair: (pair[0] or "", pair[1] or "")):
        if lic is not None and lic.lower() in allow:
            return lic.lower()
    return None


class LicenceFilter(Filter):
    """Keep commits of which some repository has a licence on the allow-list (sql_1's join).

    ``multiple: drop`` (default) is sql_2 + sql_5: CommitPack keeps one row per (commit, allowed
    licence) and then requires one row per commit, so a commit whose repositories carry two
    different allowed licences is dropped (``multiple_licences``). ``multiple: first`` keeps it
    under the first allowed licence by repository name."""

    name = "licence"

    def __init__(self, allow: Sequence[str] = COMMITPACK_LICENSES, multiple: str = "drop"):
        if multiple not in ("drop", "first"):
            raise TypeError(f"multiple must be 'drop' or 'first', not {multiple!r}")
        self.allow = frozenset(a.lower() for a in allow)
        self.multiple = multiple

    def drop_reason(self, record: dict) -> Optional[str]:
        licenses = record.get("_licenses") or []
        allowed = allowed_licences(licenses, self.allow)
        if len(allowed) > 1 and self.multiple == "drop":
            return "multiple_licences"
        if allowed:
            return None
        if all(lic is None for _repo, lic in licenses):
            return "unknown_licence"
        return "licence_not_allowed"


def _is_binary(blob: dict) -> bool:
    content = blob.get("content")
    return bool(blob.get("binary")) or (content is not None and "\x00" in content)


# A Git LFS pointer file: the real contents live on an LFS server, the repository holds this
# stub (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md; "hawser" was its first name).
_LFS_POINTER = re.compile(r"version https://(?:git-lfs|hawser)\.github\.com/spec/v1\n(?:.*\n)*?oid sha256:[0-9a-f]{64}\n")
LFS_POINTER_MAX_CHARS = 1024  # the spec caps pointer files below 1024 bytes


def is_lfs_pointer(content: Optional[str]) -> bool:
    return (content is not None and len(content) < LFS_POINTER_MAX_CHARS
            and _LFS_POINTER.match(content) is not None)


class BinaryFilter(Filter):
    """Drop commits where either side is a binary blob (flagged, or text with NUL:
    ``binary_content``) or a Git LFS pointer file standing for contents kept elsewhere
    (``lfs_pointer``)."""

    name = "binary"

    def drop_reason(self, record: dict) -> Optional[str]:
        for side in ("_old_blob", "_new_blob"):
            if _is_binary(record[side]):
                return "binary_content"
        for side in ("_old_blob", "_new_blob"):
            if is_lfs_pointer(record[side].get("content")):
                return "lfs_pointer"
        return None


def blob_size(blob: dict) -> Optional[int]:
    """A blob's size in bytes, measured from its text (the dump's ``size`` field is not trusted:
    a wrong one would let any blob through); the dump's ``size`` only when there is no text and
    it is a non-negative integer."""
    content = blob.get("content")
    if content is not None:
        return len(content.encode("utf-8", "surrogatepass"))
    size = blob.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        return size
    return None


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


COMMIT_FILTERS = {f.name: f for f in (SingleFileFilter, MessageFilter, LanguageFilter, OptOutFilter,
                                      ControlCharsFilter)}
JOINED_FILTERS = {f.name: f for f in (LicenceFilter, BinaryFilter, SizeFilter)}
