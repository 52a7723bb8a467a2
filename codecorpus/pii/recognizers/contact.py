"""EMAIL: ``local@domain.tld`` with a real top-level domain, not in a URL's user part, minus
allow-listed domains and local parts."""

from __future__ import annotations

import functools
from typing import Iterable, Iterator

import regex

from codecorpus.pii.recognizers.base import CodeRecognizer, ScanState, Settings, _match

# --- EMAIL ---------------------------------------------------------------------------------

_EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = regex.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,62}+(?:\.[A-Za-z0-9][A-Za-z0-9\-]{0,62}+){1,8}+(?![A-Za-z0-9\-@])")


def email_candidates(text: str, state: "ScanState") -> Iterator[tuple[int, int, str, str]]:
    """(start, end, local part, domain) around each '@': the local part is read backwards from
    the '@' (so no regex runs over text without one), the domain forwards."""
    at = text.find("@")
    n = len(text)
    while at != -1:
        state.tick()
        if not (0 < at < n - 1 and text[at + 1].isalnum() and (text[at - 1] in _EMAIL_LOCAL_CHARS
                                                               or text[at - 1] == "]")):
            at = text.find("@", at + 1)  # "@param", "x @ y", "a@": no address here
            continue
        start = at
        while start > 0 and text[start - 1] in _EMAIL_LOCAL_CHARS and at - start < 64:
            start -= 1
        if start == at and text.endswith("[bot]", 0, at):  # 49699333+dependabot[bot]@users.noreply…
            start = at - 5
            while start > 0 and text[start - 1] in _EMAIL_LOCAL_CHARS and at - start < 64:
                start -= 1
        bounded = start == 0 or text[start - 1] not in _EMAIL_LOCAL_CHARS
        while start < at and not text[start].isalnum():
            start += 1  # an address starts with a letter or digit ("--jane@…" -> "jane@…")
        if start < at and bounded:
            m = _match(_EMAIL_DOMAIN, text, state, at + 1, min(n, at + 300))
            if m:
                yield start, m.end(), text[start:at], m.group()
        at = text.find("@", at + 1)


def _load_tlds() -> frozenset:
    try:  # the public suffix list snapshot bundled with tldextract (offline; no download)
        import tldextract

        extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        return frozenset(t.rsplit(".", 1)[-1].lower() for t in extractor.tlds if t and not t.startswith("*"))
    except Exception:  # noqa: BLE001 - fall back to the common ones
        return frozenset("com org net edu gov mil int io dev app ai info biz me co us uk de fr nl ru cn jp br "
                         "in it es ch se no fi dk pl cz at be ca au nz eu tv cc xyz tech online site cloud".split())


@functools.lru_cache(maxsize=1)
def tlds() -> frozenset:
    """Top-level domains, loaded once per process (the redactor loads them when it builds)."""
    return _load_tlds()


def domain_allowed(domain: str, patterns: Iterable[str]) -> bool:
    domain = domain.lower()
    for p in patterns:
        p = p.lower()
        if p.startswith("*."):
            if domain.endswith(p[1:]) or domain == p[2:]:
                return True
        elif domain == p or domain.endswith("." + p):
            return True
    return False


_TOKEN_BREAK = frozenset(" \t\r\n\"'`<>()[]{},;")


def _in_url_userinfo(text: str, start: int) -> bool:
    """Whether ``start`` lies in the user-info part of a URL (after ``scheme://``)."""
    before = text[max(0, start - 7):start].lower()
    if before.endswith("mailto:"):
        return False
    if before.endswith((":", "/")):
        return True
    i = start - 1
    stop = max(0, start - 300)
    while i >= stop and text[i] not in _TOKEN_BREAK:
        i -= 1
    return "://" in text[i + 1:start]


def _tld(label: str) -> str:
    """A top-level domain as the list spells it: punycode (``xn--p1ai``) decoded (``рф``)."""
    label = label.lower()
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna")
        except UnicodeError:
            return label
    return label


class CodeEmailRecognizer(CodeRecognizer):
    ENTITIES = ("EMAIL",)

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._allowed_locals = frozenset(p.lower() for p in settings.allow_email_local_parts)

    def find(self, text, state, nlp_artifacts=None):
        if "@" not in text:
            return
        known = tlds()
        allowed_locals = self._allowed_locals
        for start, _end, local, domain in email_candidates(text, state):
            labels = domain.split(".")
            while len(labels) > 1 and _tld(labels[-1]) not in known:
                labels.pop()  # "jane@example.org.Thanks" style run-ons; a bad TLD drops the match
            if len(labels) < 2 or any(lab.endswith("-") for lab in labels):
                continue
            domain = ".".join(labels)
            end = start + len(local) + 1 + len(domain)
            if local.startswith(".") or local.endswith(".") or ".." in local:
                continue
            if _in_url_userinfo(text, start):
                continue  # scheme://user:pass@host: a password and a host, not an address
            if local.lower() in allowed_locals or domain_allowed(domain, self.settings.allow_email_domains):
                continue
            yield "EMAIL", start, end
