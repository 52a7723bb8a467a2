"""NAME / USERNAME: names after author, copyright and trailer prefixes and before an address,
user names in home directories, and a spaCy model's PERSON entities."""

from __future__ import annotations

import re

import regex

from codecorpus.pii.recognizers.base import GENERIC_USERS, CodeRecognizer, ScanState, _finditer, _match
from codecorpus.pii.recognizers.heuristics import is_templated

# --- NAME / USERNAME in author contexts ----------------------------------------------------

_NAME_WORD = r"(?:\p{Lu}\.(?=[ \t])|\p{Lu}[\p{Ll}\p{Lu}]*+(?:['’]\p{L}++)?(?:-\p{Lu}?\p{Ll}++)?)"
_PARTICLE = r"(?:van|von|der|den|de|da|di|du|del|della|la|le|bin|al|dos|das|y|ten|ter|st\.)"
_NAME = rf"{_NAME_WORD}(?:[ \t]{{1,2}}(?:{_PARTICLE}[ \t]){{0,2}}{_NAME_WORD}){{1,3}}"
_AFTER_PREFIX = regex.compile(
    r"[\"']?[ \t]*+(?:[:=][ \t]*+)?[\"'(\[]?[ \t]*+"
    r"(?:(?i:\(c\)|©|copyright)[ \t]*+)*"
    r"(?:\d{4}(?:[ \t]*+[\-–,][ \t]*+(?:\d{4}|present))*+[,.]?[ \t]*+)?"
    r"(?i:by[ \t]++)?"
)
_NAME_AT = regex.compile(_NAME)
_ANGLE_EMAIL = re.compile(r"[ \t]*[<(\[][^<>()\[\]\n]{1,100}[>)\]]")
_HANDLE_AT = regex.compile(r"@?(?P<h>[a-z][a-z0-9_\-]{2,38})(?=[ \t]*(?:$|[\n<(,\"']))")
_NAME_LIST_SEP = regex.compile(r"[ \t]*(?:,|&|\band\b|;)[ \t]*")
_NAME_BEFORE_EMAIL = regex.compile(rf"(?<![\p{{L}}\p{{N}}_])(?P<n>{_NAME})[ \t]*[<(\[][ \t]*[A-Za-z0-9._%+\-]{{1,64}}@")
ORG_WORDS = frozenset((
    "inc", "inc.", "llc", "ltd", "ltd.", "limited", "corp", "corp.", "corporation", "foundation", "software",
    "team", "project", "projects", "contributors", "contributor", "authors", "author", "developers", "group",
    "company", "co.", "gmbh", "ag", "sa", "bv", "labs", "lab", "technologies", "technology", "university",
    "institute", "association", "community", "organization", "organisation", "systems", "networks",
    "microsoft", "google", "apple", "facebook", "meta", "amazon", "oracle", "ibm", "red", "hat", "mozilla",
    "apache", "python", "free", "the", "all", "rights", "reserved", "holders", "holder", "others", "license",
    "licensed", "mit", "gnu", "gpl", "bsd", "copyright", "version", "see", "this", "file", "code", "source",
    "open", "public", "domain", "distributed", "permission", "use", "under", "by", "for", "and", "of", "in",
    "on", "to", "from", "with", "is", "are", "was", "be", "not", "no", "if", "you", "your", "we", "our",
    "it", "its", "an", "a", "as", "at", "or", "update", "updated", "fix", "fixed", "add", "added", "remove",
    "removed", "merge", "merged", "pull", "request", "branch", "commit", "readme", "docs", "test", "tests",
    "bot", "github", "gitlab", "dependabot", "renovate", "actions", "action", "cla", "assistant", "cobra",
    "flask", "pallets", "express", "expressjs", "node", "nodejs", "js", "npm", "go", "golang", "htop",
    "string", "object", "class", "function", "return", "new", "null", "none", "true", "false", "self",
    "http", "https", "api", "url", "json", "html", "css", "sql", "database", "server", "client", "user",
    "users", "admin", "system", "data", "date", "time", "year", "name", "email", "mail", "todo", "note",
    "notes", "warning", "error", "info", "debug", "main", "master", "dev", "release", "beta", "alpha",
))


def plausible_name(value: str) -> bool:
    words = [w for w in value.replace("\t", " ").split(" ") if w]
    if len(words) < 2 or len(words) > 6:
        return False
    if any(w.lower().strip(".,") in ORG_WORDS for w in words if not (len(w) == 2 and w.endswith("."))):
        return False
    if all(len(w.rstrip(".")) <= 1 for w in words):
        return False
    letters = [w for w in words if not w.endswith(".")]
    return bool(letters) and all(w[:1].isupper() for w in words if w.lower() not in
                                  ("van", "von", "der", "den", "de", "da", "di", "du", "del", "della", "la",
                                   "le", "bin", "al", "dos", "das", "y", "ten", "ter", "st."))


_AUTHOR_WORDS = ("author", "maintainer", "contributor", "credits", "thanks to", "contact", "copyright", "(c)", "©")
_BY_VERBS = frozenset(("created", "written", "contributed", "developed", "coded", "modified", "ported", "maintained"))
_TRAILER_KEYS = frozenset(("signed-off-by", "co-authored-by", "reviewed-by", "acked-by", "tested-by", "reported-by",
                           "suggested-by", "helped-by", "approved-by", "cc-by", "requested-by", "reviewed-and-tested-by"))
_PLURAL = re.compile(r"s|\(s\)")


def author_prefixes(text: str, state: ScanState) -> list[tuple[int, int]]:
    """(start, end) of every ``Author``/``@author``/``Copyright``/``Signed-off-by`` … prefix,
    found with ``str.find`` on the lower-cased text (a regex alternation is ~20x slower)."""
    lower = state.lower
    n = len(lower)
    found = {}
    for word in _AUTHOR_WORDS:
        i = lower.find(word)
        while i != -1:
            state.tick()
            end = i + len(word)
            if word[-1].isalpha():
                plural = _PLURAL.match(lower, end)
                if plural and word in ("author", "maintainer", "contributor"):
                    end = plural.end()
            start = i
            if word in ("author", "maintainer", "credits") and lower.endswith(("@", "__"), 0, i):
                start = i - 1 if lower[i - 1] == "@" else i - 2  # @author, __author__
                if lower.startswith("__", end):
                    end += 2
            left_ok = not word[0].isalnum() or start == 0 or not lower[start - 1].isalnum()
            right_ok = not word[-1].isalnum() or end >= n or not lower[end].isalpha()
            if left_ok and right_ok and found.get(start, -1) < end:
                found[start] = end
            i = lower.find(word, i + 1)
    i = lower.find(" by")
    while i != -1:  # "created by", "written by" …
        state.tick()
        start = i
        while start > 0 and lower[start - 1].isalpha() and i - start < 12:
            start -= 1
        if lower[start:i] in _BY_VERBS and (i + 3 >= n or not lower[i + 3].isalpha()):
            found[start] = i + 3
        i = lower.find(" by", i + 3)
    i = lower.find("-by")
    while i != -1:
        state.tick()
        start = i
        while start > 0 and (lower[start - 1].isalpha() or lower[start - 1] == "-") and i - start < 24:
            start -= 1
        if lower[start:i + 3] in _TRAILER_KEYS:
            found[start] = i + 3
        i = lower.find("-by", i + 3)
    spans, covered = [], -1
    for start in sorted(found):
        if start >= covered:  # "author" inside "@author" is the same prefix
            spans.append((start, found[start]))
            covered = found[start]
    return spans


class AuthorRecognizer(CodeRecognizer):
    ENTITIES = ("NAME", "USERNAME")

    def find(self, text, state, nlp_artifacts=None):
        for start, end in author_prefixes(text, state):
            yield from self._names_after(text, state, state.lower[start:end], end)
        if "@" in text and ("<" in text or "(" in text):
            for m in _finditer(_NAME_BEFORE_EMAIL, text, state):
                state.tick()
                if plausible_name(m.group("n")):
                    yield "NAME", m.start("n"), m.end("n")

    def _names_after(self, text, state, key: str, prefix_end: int):
        n = len(text)
        eol = text.find("\n", prefix_end, min(n, prefix_end + 300))
        eol = min(n, prefix_end + 300) if eol == -1 else eol
        after = _match(_AFTER_PREFIX, text, state, prefix_end, eol)
        pos = after.end() if after else prefix_end
        first = True
        while pos < eol:
            m = _match(_NAME_AT, text, state, pos, eol)
            if not m:
                break
            name = m.group()
            end = m.end()
            nxt = text[end:end + 1]
            if nxt and (nxt.isalnum() or nxt in "_"):
                break
            if plausible_name(name):
                yield "NAME", m.start(), end
            elif first:
                break
            first = False
            email = _ANGLE_EMAIL.match(text, end, min(eol, end + 120))
            if email:
                end = email.end()
            sep = _match(_NAME_LIST_SEP, text, state, end, eol)
            if not sep:
                break
            pos = sep.end()
        if first:
            explicit = key in ("@author", "__author__", "__maintainer__") or (
                key.startswith(("author", "maintainer")) and after is not None and ":" in after.group())
            if explicit:
                handle = _match(_HANDLE_AT, text, state, pos, eol)
                if handle and handle.group("h") not in GENERIC_USERS and handle.group("h") not in ORG_WORDS:
                    yield "USERNAME", handle.start("h"), handle.end("h")


# --- USERNAME in home directories ----------------------------------------------------------

_HOME_USER = re.compile(r"[\\/]*([A-Za-z0-9][A-Za-z0-9._\-]{0,31})(?=[/\\\"'\s:;,)]|$)")
_HOME_MARKERS = (("/home/", False), ("/Users/", False), ("\\users\\", True), (":/users/", True),
                 ("\\documents and settings\\", True))


class HomePathRecognizer(CodeRecognizer):
    """``/home/NAME``, ``/Users/NAME`` (macOS), ``C:\\Users\\NAME`` (Windows, any slashes)."""

    ENTITIES = ("USERNAME",)

    def find(self, text, state, nlp_artifacts=None):
        lower = None
        for marker, ci in _HOME_MARKERS:
            if ci and lower is None:
                lower = state.lower
            haystack = lower if ci else text
            i = haystack.find(marker)
            while i != -1:
                state.tick()
                end = i + len(marker)
                if self._prefix_ok(text, i, marker):
                    m = _HOME_USER.match(text, end)
                    if m:
                        user = m.group(1)
                        if user.lower() not in GENERIC_USERS and len(user) >= 2 and not is_templated(user):
                            yield "USERNAME", m.start(1), m.end(1)
                i = haystack.find(marker, end)

    @staticmethod
    def _prefix_ok(text: str, i: int, marker: str) -> bool:
        before = text[max(0, i - 3):i]
        if marker[0] == "/" and marker[1] != "/" and marker != ":/users/":
            return not before or not (before[-1].isalnum() or before[-1] in "_.~")
        # Windows: a drive letter before (C:\Users, C:\\Users, C:/Users)
        return bool(re.search(r"[A-Za-z]:\\?$|[A-Za-z]$", before))


# --- NAME from a spaCy model ---------------------------------------------------------------


class NerNameRecognizer(CodeRecognizer):
    """PERSON entities from the NLP engine's model, kept when they look like a person's name."""

    ENTITIES = ("NAME",)
    SCORE = 0.7

    def find(self, text, state, nlp_artifacts=None):
        for ent in getattr(nlp_artifacts, "entities", None) or []:
            state.tick()
            if ent.label_ not in ("PERSON", "PER"):
                continue
            start, end = ent.start_char, ent.end_char
            if plausible_name(text[start:end]) and "\n" not in text[start:end]:
                yield "NAME", start, end
