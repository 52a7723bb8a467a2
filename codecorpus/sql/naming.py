"""How identifiers and values are said in English questions.
"""

from __future__ import annotations

import re


def humanise(name: str) -> str:
    """``InvoiceLine`` / ``invoice_line`` / ``INVOICE_LINE`` -> ``invoice line``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return re.sub(r"[_\W]+", " ", spaced).strip().lower() or name


def total_of(words: str) -> str:
    """``total price``, but ``total`` rather than ``total total``."""
    return words if words.split()[-1:] == ["total"] or words.startswith("total") else f"total {words}"


def say(value) -> str:
    """A value as a question mentions it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2} 00:00:00", value):
        return value[:10]
    if isinstance(value, str) and (" " in value or not value):
        return f'"{value}"'
    return str(value)


_INVARIANT = {"people", "data", "news", "series", "species", "analysis", "information", "equipment", "media", "staff",
              "metadata", "feedback", "inventory", "software", "hardware", "stock"}


def singular(words: str) -> str:
    """The last word singular: ``invoice lines`` -> ``invoice line``, ``categories`` -> ``category``."""
    head, _, last = words.rpartition(" ")
    if last in _INVARIANT:
        return words
    if re.search(r"[^aeiou]ies$", last):
        last = last[:-3] + "y"
    elif re.search(r"(ss|x|z|ch|sh)es$", last) or re.search(r"(ses|uses)$", last) and not last.endswith("ases"):
        last = last[:-2]
    elif re.search(r"[^su]s$", last) and not re.search(r"(ss|is|us)$", last):
        last = last[:-1]
    return f"{head} {last}".strip()


def plural(words: str) -> str:
    """The last word plural (singular first, so a plural table name stays as it is)."""
    words = singular(words)
    if not words or words.rpartition(" ")[2] in _INVARIANT:
        return words
    if re.search(r"(s|x|z|ch|sh)$", words):
        return words + "es"
    if re.search(r"[^aeiou]y$", words):
        return words[:-1] + "ies"
    return words + "s"
