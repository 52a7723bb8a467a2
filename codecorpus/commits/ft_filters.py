"""CommitPackFT filters: the stricter rules on commitpack rows (OctoPack; REFERENCE.md §2).

They read commitpack rows (``subject``, ``old_contents``, ``new_contents``, ``new_file``,
``lang``, ``commit``) and follow ``commitpackft_filters1.py`` then ``commitpackft_filters2.py``
rule by rule. ``clean_subject`` is the original's subject cleaning (``clean_issues_and_refs``,
then the second script's ``[ci skip]`` removal), and the cleaned subject is what the
``commitpackft`` table stores, as CommitPackFT does.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import xxhash

from codecorpus.core.filters import Filter
from codecorpus.commits.filters import commitpack_rules
from codecorpus.commits.verbs import CODECORPUS_VERBS, COMMITPACKFT_VERBS

_RULES = commitpack_rules()
EXCLUDED_SUBJECTS = frozenset(_RULES["bad_subjects"])              # filters1's BAD_MESSAGE
EXCLUDED_SUBSTRINGS = tuple(_RULES["bad_subject_substrings"])      # filters1's BAD_SUB_MESSAGE
# filters2's rmv_specific: three one-off subjects, lower-cased.
SPECIFIC_SUBJECTS = frozenset({
    "fix that bug where things didn't work but now they should",
    "put the thingie in the thingie",
    "add a beter commit message",
})
# filters2's substring rules on the lower-cased subject.
SECOND_PASS_SUBSTRINGS = (" i ", "i've", "i'm", "code review", "cdpcp", "//codereview",
                          "work in progress", "wip", "https://", "http://", "| leetcode")
_SHA40 = re.compile(r"[a-f0-9]{40}")                 # anywhere, case-sensitive, no word boundary
_ISSUE_NUMBER = re.compile(r"(?:issue|bug|feature)\s*\d+", re.IGNORECASE)
_FIRST_WORD = re.compile(r"[A-Za-z]+")

BUMP_PREFIXES = ("Bump", "Set version", "Update version")   # case-sensitive, as filters2


def _is_tag(token: str) -> bool:
    return token.startswith("[") and token.endswith("]")


def clean_issues_and_refs(subject: str) -> str:
    """commitpackft_filters1.py's cleaning: strip; remove ``[skip ci]``; drop the first token if
    it is ``[…]``; then drop the (new) first token if it ends with ``:`` (any token:
    ``feat(x):``, ``docs/api.md:``); drop the last token if it is ``[…]``; rejoin on spaces."""
    if not subject:
        return subject
    tokens = subject.strip().replace("[skip ci]", "").strip().split()
    if tokens and _is_tag(tokens[0]):
        tokens = tokens[1:]
    if tokens and tokens[0].endswith(":"):
        tokens = tokens[1:]
    if tokens and _is_tag(tokens[-1]):
        tokens = tokens[:-1]
    return " ".join(tokens).strip()


def clean_subject(subject: Optional[str]) -> str:
    """The subject CommitPackFT stores: ``clean_issues_and_refs``, then commitpackft_filters2.py's
    ``.replace("[ci skip]", "").strip()`` (case-sensitive, as the original)."""
    return clean_issues_and_refs(subject or "").replace("[ci skip]", "").strip()


def file_stem(path: Optional[str]) -> Optional[str]:
    """``basename.split(".")[-2]`` when the basename has a ``.`` (``foo.test.js`` -> ``test``;
    a dotfile gives ``""``, which is in every subject), else None."""
    parts = (path or "").split("/")[-1].split(".")
    return parts[-2] if len(parts) >= 2 else None


# commitpackft_filters1.py's per-language extension check (its languages are the lower-cased
# `lang` folder names): shell files must end in one of these (compared with the last `.`-part).
SHELL_ENDINGS = ("sh", "bash", "zsh", "csh", "slurm")


class SubjectFilter(Filter):
    """CommitPackFT's subject rules, in the original's order.

    filters1: no ``#`` in the subject; the file stem not in it; ``min_chars < characters <
    max_chars`` and ``min_words < words < max_words`` on the subject and again after cleaning;
    the cleaned subject starts upper-case and with an imperative verb (``imperative:
    commitpackft``: ``lower().startswith(verb + " ")`` for the original's 257 entries;
    ``codecorpus``: our list, against the first word); not an excluded subject or substring.
    filters2 (on the cleaned subject): no ``cherry picked from commit``, 40-hex sha, first
    person, ``thanks to … for``, code review, the three one-offs, ``issue/bug/feature N``,
    ``cdpcp``, ``//codereview``, WIP, URL or ``| leetcode``; at least ``min_final_words`` words
    after ``[ci skip]`` is removed. Plus the per-language extension check (``extension``).
    """

    name = "ft_subject"
    IMPERATIVE = ("commitpackft", "codecorpus")

    def __init__(
        self,
        min_chars: int = 10,
        max_chars: int = 1000,
        min_words: int = 4,
        max_words: int = 1000,
        min_final_words: int = 4,
        imperative: str = "commitpackft",
        verbs: Optional[Sequence[str]] = None,
    ):
        if imperative not in self.IMPERATIVE:
            raise TypeError(f"imperative must be one of {', '.join(self.IMPERATIVE)}, not {imperative!r}")
        self.min_chars, self.max_chars = min_chars, max_chars
        self.min_words, self.max_words = min_words, max_words
        self.min_final_words = min_final_words
        self.imperative = imperative
        if imperative == "commitpackft":
            listed = COMMITPACKFT_VERBS if verbs is None else verbs
            self.verbs = tuple(sorted({v.lower() + " " for v in listed}))
        else:
            self.verbs = frozenset(v.lower() for v in verbs) if verbs else CODECORPUS_VERBS

    def _length_reason(self, subject: str) -> Optional[str]:
        if not self.min_chars < len(subject) < self.max_chars:
            return "char_length"
        if not self.min_words < len(subject.split()) < self.max_words:
            return "word_count"
        return None

    def is_imperative(self, cleaned: str) -> bool:
        if self.imperative == "commitpackft":
            return cleaned.lower().startswith(self.verbs)
        first = _FIRST_WORD.match(cleaned)
        return bool(first) and first.group(0).lower() in self.verbs

    def drop_reason(self, record: dict) -> Optional[str]:
        subject = record.get("subject") or ""
        path = record.get("new_file") or ""
        if "." not in path:
            return "extension"                      # every language: the path has a `.`
        if (record.get("lang") or "").lower() == "shell" and path.split(".")[-1] not in SHELL_ENDINGS:
            return "extension"
        if "#" in subject:
            return "has_hash"
        stem = file_stem(path)
        if stem is not None and stem in subject:
            return "contains_file_stem"
        reason = self._length_reason(subject)
        if reason:
            return reason
        cleaned = clean_issues_and_refs(subject)
        reason = self._length_reason(cleaned)
        if reason:
            return reason
        if not cleaned.strip()[:1].isupper():
            return "not_capitalised"
        lowered = cleaned.lower()
        if not self.is_imperative(cleaned):
            return "not_imperative"
        if lowered in EXCLUDED_SUBJECTS:
            return "excluded_subject"
        if any(s in lowered for s in EXCLUDED_SUBSTRINGS):
            return "excluded_substring"
        # commitpackft_filters2.py, on the cleaned subject.
        if "cherry picked from commit" in cleaned or _SHA40.search(cleaned):
            return "excluded_substring"
        final = cleaned.replace("[ci skip]", "").strip()
        lowered = final.lower()
        if lowered in SPECIFIC_SUBJECTS:
            return "excluded_subject"
        if (any(s in lowered for s in SECOND_PASS_SUBSTRINGS) or ("thanks to" in lowered and "for" in final)
                or _ISSUE_NUMBER.search(lowered)):
            return "excluded_substring"
        if len(final.split()) < self.min_final_words:
            return "word_count"
        return None


def seeded_fraction(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by (seed, key): the same commit always gets the same draw."""
    return xxhash.xxh64_intdigest(f"{seed}:{key}".encode("utf-8", "surrogatepass")) / 2**64


class BumpFilter(Filter):
    """Drop ``rate`` of the subjects starting (case-sensitively, after cleaning) with "Bump",
    "Set version" or "Update version" (commitpackft_filters2.py). The original drew
    ``random.random()`` unseeded; the draw here is a hash of (seed, commit sha), so reruns agree."""

    name = "ft_bump"

    def __init__(self, rate: float = 0.9, seed: int = 0):
        self.rate = rate
        self.seed = seed

    def drop_reason(self, record: dict) -> Optional[str]:
        subject = clean_subject(record.get("subject"))
        if subject.startswith(BUMP_PREFIXES) and seeded_fraction(self.seed, record["commit"]) < self.rate:
            return "version_bump"
        return None


class LengthFilter(Filter):
    """Old contents under ``max_old_chars``, new contents non-empty and changed, and
    ``old + "<|endoftext|>" + new`` within ``min_tokens``..``max_tokens`` inclusive
    (commitpackft_filters1.py: StarCoder tokens with a tokenizer, else characters /
    ``chars_per_token``)."""

    name = "ft_length"

    def __init__(
        self,
        max_old_chars: int = 50_000,
        min_tokens: int = 50,
        max_tokens: int = 768,
        tokenizer: Optional[str] = None,
        chars_per_token: float = 3.5,
        separator: str = "<|endoftext|>",
    ):
        self.max_old_chars = max_old_chars
        self.min_tokens, self.max_tokens = min_tokens, max_tokens
        self.tokenizer = tokenizer
        self.chars_per_token = chars_per_token
        self.separator = separator
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
        if self.tokenizer is None:
            tokens = self._length_in_tokens(old) + self._length_in_tokens(new)
        else:
            tokens = self._length_in_tokens(old + self.separator + new)
        if tokens < self.min_tokens:
            return "too_short"
        if tokens > self.max_tokens:
            return "too_long"
        return None

    def __getstate__(self):
        # The tokenizer is rebuilt lazily on each worker rather than pickled.
        return {**self.__dict__, "_encoder": None}


FT_FILTERS = {f.name: f for f in (SubjectFilter, BumpFilter, LengthFilter)}
