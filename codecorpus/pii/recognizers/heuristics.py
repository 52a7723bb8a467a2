"""Value and identifier heuristics shared by the families (pure functions): entropy, UUIDs,
templates, sequences, English-word coverage, ``looks_random``; identifier words and
``credential_kind`` (what an identifier names: PASSWORD, KEY or USERNAME)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Optional

import regex

# --- value heuristics (pure functions) -----------------------------------------------------

_UUID = regex.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = regex.compile(r"[0-9a-fA-F]+")
_TEMPLATE = regex.compile(
    # Only well-formed templates: a real password may hold ${, {{, <, > or ___ (issue 18).
    r"\$\{[^{}\s]{1,80}\}|\$\([A-Za-z_][\w.\-]{0,60}\)|\{\{[^{}]{1,80}\}\}|\{%[^{}]{0,80}%\}"
    r"|<[A-Za-z_][A-Za-z_\- .]{2,60}>|%\([A-Za-z_]\w*\)[sdr]|(?<![A-Za-z0-9])%[sdr]\b|\{\d*\}|\{[A-Za-z_][\w.]*\}"
    r"|^\$(?:[A-Z_][A-Z0-9_]*|[a-z_][A-Za-z_]*)$|^%\w+%$|^\$\w+[/.]"
    r"|process\.env|os\.environ|getenv|ENV\[|x{4,}|X{4,}|\*{3,}|\.{3,}|#{3,}|0{8,}"
    r"|(?i:your[_\- ]?(?:api|secret|access|auth|app|client|own|real|private|personal|token|key|pass|user)"
    r"|example|placeholder|changeme|change[_\-]me|replace[_\-]?(?:me|with|this)|insert[_\-]|[_\-]here\b"
    r"|dummy|redacted|fake[_\-]|sample[_\-]|not[_\-]?(?:a[_\-]?)?real|^test[_\-]?(?:key|token|secret|password)$|^my[_\-]?(?:api[_\-]?)?"
    r"(?:secret|key|token|password|pass)|^secret[_\-]?key$|^api[_\-]?key$|^(?:access[_\-]?)?token$)"
)
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789",
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba9876543210zyxwvutsrqponmlkjihgfedcba9876543210",
    "9876543210zyxwvutsrqponmlkjihgfedcba9876543210zyxwvutsrqponmlkjihgfedcba",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
    "1234567890123456789012345678901234567890",
)
_WORD_SEGMENT = regex.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_VOWELS = frozenset("aeiouyAEIOUY")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def is_templated(value: str) -> bool:
    """Well-formed templates and placeholders: ``${X}``, ``{{ x }}``, ``<your-key>``, ``%(x)s``,
    ``$NAME``, ``%s``, ``xxxx``, ``****``, ``YOUR_API_KEY`` … (a lone ``${``, ``<`` or ``___`` is
    not one: real passwords hold those characters)."""
    return _TEMPLATE.search(value) is not None


def is_sequential(value: str) -> bool:
    """``abcdef…``, ``123456…``, ``qwerty…``, one repeated character or a repeated short unit."""
    v = "".join(c for c in value.lower() if c.isalnum())
    if len(v) < 4:
        return False
    if len(set(v)) <= 2:
        return True
    for unit in (2, 3, 4):
        if v == (v[:unit] * (len(v) // unit + 1))[:len(v)]:
            return True
    return any(v in seq for seq in _SEQUENCES)


def ascending_runs(value: str) -> int:
    """How many runs of three consecutive characters (``123``, ``abc``, ``DEF``) ``value``
    holds: a placeholder typed by hand (``AIzaSyA1b2c3-123456789abcdef``) has several, a
    random token almost never one (about 1 % of random 40-character tokens have one)."""
    runs, i, n = 0, 0, len(value)
    while i + 2 < n:
        a, b, c = ord(value[i]), ord(value[i + 1]), ord(value[i + 2])
        if b == a + 1 and c == b + 1 and value[i].isalnum() and value[i + 2].isalnum():
            runs += 1
            i += 3
        else:
            i += 1
    return runs


_COMMON_BIGRAMS = frozenset("th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io "
                            "le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur".split())


def word_coverage(value: str) -> float:
    """Share of ``value`` made of English-looking word segments (camelCase/snake_case words
    whose letters pair like English): near 1 for identifiers and prose, low for random tokens
    (measured: 0.4 % of random base62 strings reach 0.4)."""
    covered = 0
    for seg in _WORD_SEGMENT.findall(value):
        n = len(seg)
        if n < 3:
            continue
        vowels = sum(c in _VOWELS for c in seg)
        if not 0.2 <= vowels / n <= 0.75:
            continue
        run = longest = 0
        for c in seg:
            run = 0 if c in _VOWELS else run + 1
            longest = max(longest, run)
        if longest > 3:
            continue
        low = seg.lower()
        if sum(low[i:i + 2] in _COMMON_BIGRAMS for i in range(n - 1)) / (n - 1) >= 0.25:
            covered += n
    return covered / max(1, len(value))


def is_base64_text(value: str) -> bool:
    """Base64 of printable text (``SGVsbG8sIHdvcmxkIQ==`` is "Hello, world!"): an encoded
    message, not a generated secret, whose bytes would almost never all be printable."""
    import base64
    import binascii

    body = value.rstrip("=")
    if len(body) < 8 or any(c in "-_" for c in body):
        return False
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(data) >= 6 and all(32 <= b < 127 or b in (9, 10, 13) for b in data)


def is_hex(value: str) -> bool:
    return _HEX.fullmatch(value) is not None


def looks_random(value: str, min_length: int = 16, allow_hex: bool = True, strict: bool = False) -> bool:
    """Whether ``value`` looks like a generated secret rather than a word, identifier, path,
    placeholder, hash-like id or sequence."""
    n = len(value)
    if n < min_length or n > 1024 or any(c.isspace() or c in ",;" for c in value):
        return False
    if is_uuid(value) or is_sequential(value) or is_templated(value) or 10 * ascending_runs(value) >= n:
        return False
    if "://" in value or value.startswith("http"):
        return False
    if value.startswith(("/", "./", "../", "~/")) and word_coverage(value) >= 0.3:
        return False  # a path
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    if is_hex(value):
        return allow_hex and digit and (lower or upper) and entropy(value) >= 3.0
    classes = lower + upper + digit
    if classes < (3 if strict else 2) or (strict and not digit):
        return False
    threshold = min(4.0 if strict else 3.6, math.log2(n) - (0.9 if strict else 1.2))
    if entropy(value) < threshold:
        return False
    return word_coverage(value) < (0.4 if strict else 0.5)


# --- identifiers ---------------------------------------------------------------------------

_IDENT_PARTS = regex.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

PASSWORD_WORDS = frozenset(("password", "passwd", "pwd", "pass", "pw", "passphrase", "pword", "pswd",
                            "passwort", "passcode", "contrasena", "senha", "motdepasse", "wachtwoord"))
KEY_WORDS = frozenset(("key", "apikey", "token", "secret", "secrets", "credential", "credentials", "auth",
                       "authorization", "bearer", "jwt", "signature", "sig", "signing", "private", "sas",
                       "pat", "accesskey", "secretkey", "apitoken", "authtoken", "accesstoken",
                       "clientsecret", "privatekey", "appkey", "appsecret", "masterkey", "encryptionkey"))
USER_WORDS = frozenset(("user", "username", "usr", "login", "uname", "userid", "dbuser", "mysqluser", "pguser"))
# Name parts that say the value is not the secret itself.
NOT_SECRET_WORDS = frozenset((
    "hash", "hashed", "digest", "salt", "policy", "length", "len", "min", "max", "minlength", "maxlength",
    "regex", "regexp", "pattern", "field", "fields", "label", "hint", "prompt", "placeholder", "message", "msg",
    "error", "err", "reset", "forgot", "change", "changed", "expire", "expires", "expiry", "expiration",
    "file", "path", "dir", "url", "uri", "env", "var", "name", "names", "id", "ids", "type", "types", "mode",
    "enabled", "required", "strength", "rule", "rules", "validator", "validation", "input", "form",
    "template", "column", "col", "public", "pub", "prefix", "suffix", "header", "param", "params", "sha",
    "md5", "sha1", "sha256", "checksum", "fingerprint", "cache", "sort", "primary", "foreign", "unique",
    "index", "map", "lookup", "event", "press", "code", "count", "ttl", "timeout", "format", "class",
    "style", "size", "agent", "role", "roles", "group", "groups", "table", "model", "home", "key_id",
    "keys", "tokens", "tokenizer", "kind", "version", "algorithm", "alg", "method", "location", "store",
    "query", "char", "chars", "valid", "invalid", "is", "has", "get", "set", "ref", "refs", "endpoint",
    "description", "desc", "title", "text", "button", "btn", "icon", "link", "menu", "view", "page",
    "confirm", "confirmation", "visible", "show", "hide", "toggle", "color", "width", "height", "flag",
    "command", "cmd", "option", "opt", "options", "attribute", "attr", "property", "prop", "props",
    "callback", "handler", "listener", "request", "response", "status", "state", "list", "data",
))


def identifier_words(ident: str) -> list[str]:
    """``setDBPassword`` -> [set, db, password]; ``AWS_SECRET_ACCESS_KEY`` -> [aws, secret, access, key]."""
    return [w.lower() for w in _IDENT_PARTS.findall(ident)]


NEVER_SECRET_WORDS = frozenset(("public", "pub", "hash", "hashed", "digest", "sha", "sha1", "sha256", "sha512",
                                "md5", "checksum", "fingerprint", "policy", "strength", "validator"))


def credential_kind(ident: str) -> Optional[str]:
    """PASSWORD, KEY or USERNAME when ``ident`` names such a value, else None. A user name
    must be the last word (``db_user``, not ``user_agent``)."""
    words = identifier_words(ident)
    if not words:
        return None
    last = words[-1]
    joined = "".join(words)
    if last in NOT_SECRET_WORDS or any(w in NEVER_SECRET_WORDS for w in words):
        return None
    if any(w in PASSWORD_WORDS for w in words) or joined.endswith(("password", "passwd", "pwd")):
        return "PASSWORD"
    if any(w in KEY_WORDS for w in words) or joined.endswith(("apikey", "secret", "token")):
        return "KEY"
    if last in USER_WORDS:
        return "USERNAME"
    return None
