"""CommitPackFT filters: the stricter rules on commitpack rows (OctoPack, REFERENCE.md §2).

They read commitpack rows (``subject``, ``old_contents``, ``new_contents``, ``new_file``,
``commit``). ``clean_subject`` is also what the commitpackft table stores as ``subject``.
"""

from __future__ import annotations

import posixpath
import re
from typing import Optional, Sequence

import xxhash

from codecorpus.core.filters import Filter
from codecorpus.commits.verbs import IMPERATIVE_VERBS

EXCLUDED_SUBJECTS = frozenset(
    {
        "readme", "update", "dummy", "updated", "test", "update readme", "update readme.md",
        "updated readme.md", "updated readme",
    }
)
EXCLUDED_SUBSTRINGS = (
    "auto commit", "update contributing", "<?xml", "merge branch", "merge pull request",
    "signed-off-by", "cherry picked from commit", " i ", "i've", "i'm", "code review",
    "work in progress", "wip", "http://", "https://",
)
_SHA40 = re.compile(r"\b[0-9a-f]{40}\b")
_ISSUE_NUMBER = re.compile(r"\b(?:issue|bug|feature)\s*#?\d+")
_CI_SKIP = re.compile(r"\s*\[ci skip\]\s*", re.IGNORECASE)
_LEADING_TAG = re.compile(r"^\s*(?:\[[^\]]*\]|[\w.-]+:)\s*")
_TRAILING_TAG = re.compile(r"\s*\[[^\]]*\]\s*$")
_FIRST_WORD = re.compile(r"[A-Za-z]+")

BUMP_PREFIXES = ("bump", "set version", "update version")


def clean_subject(subject: Optional[str]) -> str:
    """The subject with "[ci skip]" removed and surrounding whitespace stripped."""
    return _CI_SKIP.sub(" ", subject or "").strip()


def subject_core(subject: str) -> str:
    """The subject without a leading ``[tag]`` / ``word:`` prefix and a trailing ``[tag]``."""
    return _TRAILING_TAG.sub("", _LEADING_TAG.sub("", subject, count=1)).strip()


def file_stem(path: Optional[str]) -> str:
    base = posixpath.basename(path or "")
    stem, _ = posixpath.splitext(base)
    return stem or base


class SubjectFilter(Filter):
    """CommitPackFT subject rules: an imperative, capitalised, self-contained subject line."""

    name = "ft_subject"

    def __init__(
        self,
        min_chars: int = 10,
        max_chars: int = 1000,
        min_words: int = 4,
        max_words: int = 1000,
        verbs: Optional[Sequence[str]] = None,
    ):
        self.min_chars, self.max_chars = min_chars, max_chars
        self.min_words, self.max_words = min_words, max_words
        self.verbs = frozenset(v.lower() for v in verbs) if verbs else IMPERATIVE_VERBS

    def drop_reason(self, record: dict) -> Optional[str]:
        subject = clean_subject(record.get("subject"))
        lowered = subject.lower()
        if lowered in EXCLUDED_SUBJECTS:
            return "excluded_subject"
        padded = f" {lowered} "
        if any(s in padded for s in EXCLUDED_SUBSTRINGS) or _SHA40.search(lowered) or _ISSUE_NUMBER.search(lowered):
            return "excluded_substring"
        if "#" in subject:
            return "has_hash"
        stem = file_stem(record.get("new_file"))
        if stem and stem in subject:
            return "contains_file_stem"
        core = subject_core(subject)
        if not self.min_chars < len(core) < self.max_chars:
            return "char_length"
        if not self.min_words < len(core.split()) < self.max_words:
            return "word_count"
        if not core[:1].isupper():
            return "not_capitalised"
        first = _FIRST_WORD.match(core)
        if not first or first.group(0).lower() not in self.verbs:
            return "not_imperative"
        return None


def seeded_fraction(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by (seed, key): the same commit always gets the same draw."""
    return xxhash.xxh64_intdigest(f"{seed}:{key}".encode("utf-8", "surrogatepass")) / 2**64


class BumpFilter(Filter):
    """Drop ``rate`` of the "Bump" / "Set version" / "Update version" subjects, seeded."""

    name = "ft_bump"

    def __init__(self, rate: float = 0.9, seed: int = 0):
        self.rate = rate
        self.seed = seed

    def drop_reason(self, record: dict) -> Optional[str]:
        subject = clean_subject(record.get("subject")).lower()
        if subject.startswith(BUMP_PREFIXES) and seeded_fraction(self.seed, record["commit"]) < self.rate:
            return "version_bump"
        return None


class LengthFilter(Filter):
    """Old contents under ``max_old_chars``, new contents non-empty and changed, and
    old + new within ``min_tokens``..``max_tokens`` (StarCoder tokens with a tokenizer,
    else characters / ``chars_per_token``)."""

    name = "ft_length"

    def __init__(
        self,
        max_old_chars: int = 50_000,
        min_tokens: int = 50,
        max_tokens: int = 768,
        tokenizer: Optional[str] = None,
        chars_per_token: float = 3.5,
    ):
        self.max_old_chars = max_old_chars
        self.min_tokens, self.max_tokens = min_tokens, max_tokens
        self.tokenizer = tokenizer
        self.chars_per_token = chars_per_token
        self._encoder = None

    def _length_in_tokens(self, text: str) -> float:
        if self.tokenizer is None:
            return len(text) / self.chars_per_token
        if self._encoder is None:
            from tokenizers import Tokenizer  # optional dependency, only with a tokenizer path

            self._encoder = Tokenizer.from_file(self.tokenizer)
        return len(self._encoder.encode(text).ids)

    def drop_reason(self, record: dict) -> Optional[str]:
        old, new = record.get("old_contents") or "", record.get("new_contents") or ""
        if len(old) >= self.max_old_chars:
            return "old_too_long"
        if not new:
            return "new_empty"
        if old == new:
            return "unchanged"
        tokens = self._length_in_tokens(old) + self._length_in_tokens(new)
        if tokens < self.min_tokens:
            return "too_short"
        if tokens > self.max_tokens:
            return "too_long"
        return None

    def __getstate__(self):
        # The tokenizer is rebuilt lazily on each worker rather than pickled.
        return {**self.__dict__, "_encoder": None}


FT_FILTERS = {f.name: f for f in (SubjectFilter, BumpFilter, LengthFilter)}
