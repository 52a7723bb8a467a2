"""KEY / PASSWORD / USERNAME: values assigned to identifiers named like a secret, password or
user (``api_key = "…"``, ``PASSWORD: …``, ``setPassword("…")``, ``<password>…</password>``,
``auth=("u", "p")``, SQL ``IDENTIFIED BY``), and the user and password of ``scheme://user:pass@host``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import regex

from codecorpus.pii.recognizers.base import (CANDIDATE_WORK, DEFAULT_CREDENTIALS, GENERIC_USERS, TYPE_NAMES, CodeRecognizer, ScanState,
                                             _finditer, _match)
from codecorpus.pii.recognizers.heuristics import (KEY_WORDS, PASSWORD_WORDS, credential_kind, identifier_words,
                                                   is_templated, is_uuid, looks_random)
from codecorpus.pii.recognizers.keys import _HASH_PREFIX

# --- KEY / PASSWORD / USERNAME: named values -----------------------------------------------

_ASSIGN_TRIGGERS = ("pass", "pw", "key", "token", "secret", "auth", "cred", "user", "login", "usr", "sig", "jwt",
                    "sas", "uname")
_IDENT_RUN = re.compile(r"[A-Za-z0-9_.$\-]*")
# What may follow an assignment's identifier: a closing quote, then = : => := ::= :::= ?= .= ( ,
# a comparison (== === != .equals), or a type and = (Go ``x string =``, Kotlin ``x: String =``)
_SEPARATOR_PEEK = re.compile(r"(?:\\?[\"'`]\]?)?[ \t]{0,8}(?:=(?![=~])|:(?!:)|:{2,3}=|[?.+]=|[!=]==?|\.equals\(|=>|\(|,|<-"
                             r"|[ \t][\"'@]|[ \t]+[A-Za-z_][\w.\[\]*]{0,40}[ \t]*=(?!=))")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$-")
_SEPARATOR = regex.compile(
    r"[ \t]{0,8}+(?:(?P<typed>(?::[ \t]{0,8}+|(?<=[ \t]))[A-Za-z_][\w.\[\]*?<>]{0,40}+[ \t]{1,8}+=(?![=~>])(?=[ \t]{0,8}+\S))"
    r"|(?P<cmp>[!=]==?|\.equals\()|:::=|::=|:=|[?.+]=|=>|<-|=(?![=~>])|:(?![:/])"
    r"|\((?=[ \t]{0,4}+[\"'`])|,(?=[ \t]{0,4}+[\"'`]))[ \t]{0,8}+")
_UNQUOTED = regex.compile(r"[^\s\"'`,;)}\]<>\\]{1,256}+")
_UNQUOTED_LINE = regex.compile(r"[^\s\"'`]{1,256}+")  # a config line's value runs to the next space
_XML_CREDENTIAL = regex.compile(r"<(?P<tag>[A-Za-z_][\w.:\-]{0,60}+)>\s{0,80}+(?P<v>[^<>\s]{1,256}+)\s{0,80}+</(?P=tag)>")
# Space-separated forms: ``--password VALUE``, Dockerfile ``ENV NAME VALUE``, netrc ``password VALUE``.
_SPACED_FLAG = regex.compile(r"(?<![\w\-])--(?P<n>[A-Za-z][\w\-]{1,40}+)[ \t]++(?P<v>[^\s\"'`|;&<>()]{1,256}+)")
_DOCKER_ENV = regex.compile(r"(?m)^[ \t]*+(?i:env)[ \t]++(?P<n>[A-Za-z_][\w.\-]{0,60}+)[ \t]++(?P<v>[^\s\"'`=]"
                            r"[^\s\"'`]{0,255}+)[ \t]*+$")
_METAVARS = frozenset(("value", "values", "string", "text", "str", "token", "key", "secret", "pass", "pwd", "name",
                       "user", "username", "password", "arg", "args", "param", "yes", "no", "on", "off"))
_NETRC_KEYS = frozenset(("machine", "login", "password", "passwd", "account", "port", "protocol"))


def _netrc_line(text: str, pos: int) -> bool:
    """Whether the line around ``pos`` is netrc syntax: keyword value pairs (``default`` alone)."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    tokens = text[start:end if end != -1 else len(text)].split()
    i = 0
    while i < len(tokens):
        if tokens[i] == "default":
            i += 1
        elif tokens[i] in _NETRC_KEYS and i + 1 < len(tokens):
            i += 2
        else:
            return False
    return True


_NETRC = regex.compile(r"(?<![\w\-])(?P<n>password|passwd|login)[ \t]++(?P<v>[^\s\"'`]{1,256}+)")
_ATTRIBUTE_PAIR = regex.compile(r"\b(?:name|key|id)[ \t]*=[ \t]*\"(?P<n>[^\"\n]{1,60}+)\"[ \t]++(?:value|content)[ \t]*="
                                r"[ \t]*\"(?P<v>[^\"\n]{1,256}+)\"")
# requests' auth=("user", "pass"), HTTPBasicAuth("user", "pass"), NetworkCredential("user", "pass")
_AUTH_PAIR = regex.compile(r"auth[ \t]*+(?:=[ \t]*+)?\([ \t]*+(?P<q>[\"'])(?P<u>[^\"'\n]{1,64}+)(?P=q)"
                           r"[ \t]*+,[ \t]*+(?P<r>[\"'])(?P<p>[^\"'\n]{1,128}+)(?P=r)[ \t]*+\)")
_CREDENTIAL_PAIR = regex.compile(r"credential[ \t]*+\([ \t]*+(?P<q>[\"'])(?P<u>[^\"'\n]{1,64}+)(?P=q)"
                                 r"[ \t]*+,[ \t]*+(?P<r>[\"'])(?P<p>[^\"'\n]{1,128}+)(?P=r)[ \t]*+\)")
# run on the lower-cased copy (same offsets): IDENTIFIED BY 'x' / "x" / x, PASSWORD 'x'
_SQL_PASSWORD = regex.compile(r"(?:identified[ \t]++by|\bpassword)[ \t]++(?:'(?P<v>[^'\n]{1,128}+)'|\"(?P<w>[^\"\n]{1,128}+)\")"
                              r"|identified[ \t]++by[ \t]++(?P<u>[^\s;'\"\\]{1,128}+)")
_SQL_ACCOUNT = re.compile(r"\b(?:create|alter)[ \t]+(?:user|role|login)\b|\bgrant\b")
_VERSION_VALUE = regex.compile(r"[~^<>=v]{0,2}\d+(?:\.\d+){1,3}(?:[\-+.][\w.]+)?")
_LINE_LEAD = regex.compile(r"^[ \t]*(?:export[ \t]+|set[ \t]+|(?i:env|arg)[ \t]+|-[ \t]+|//[^\s]*:|[\"']?)?$")
_NEXT_PAIR = regex.compile(r"[,;&][A-Za-z_][\w.]*=")  # A=1,B=2: the value ends at the comma
_COMPARED = (".equals", ".equalsignorecase", ".contentequals")
_ENV_REFERENCE = regex.compile(r"\$[A-Za-z_{(]|%[A-Za-z_]\w*%(?![A-Za-z0-9])")


@dataclass
class Assignment:
    ident: str
    kind: str           # PASSWORD | KEY | USERNAME
    start: int          # the value's span
    end: int
    value: str
    quoted: bool


def scan_assignments(text: str, state: ScanState) -> list[Assignment]:
    """Values assigned to identifiers named like a credential. Starts from keyword hits in the
    lower-cased text and rejects a hit at once unless a separator follows its identifier, so
    nothing runs over identifiers that are not credential assignments."""
    lower = state.lower
    hits = []
    for word in _ASSIGN_TRIGGERS:
        i = lower.find(word)
        while i != -1:
            hits.append(i)
            i = lower.find(word, i + len(word))
    if not hits:
        return []
    hits.sort()
    found = []
    n = len(text)
    done_until = -1
    for i in hits:
        if i < done_until:
            continue  # another keyword of an identifier already looked at
        state.tick()
        right = _IDENT_RUN.match(text, i).end()
        done_until = right
        if right - i > 64 or not _SEPARATOR_PEEK.match(text, right):
            continue
        left = i
        while left > 0 and text[left - 1] in _IDENT_CHARS and i - left < 64:
            left -= 1
        ident = text[left:right].strip(".-$")
        state.charge(CANDIDATE_WORK)
        kind = credential_kind(ident)
        if kind is None:
            continue
        assignment = _value_after(text, state, left, right, ident, kind)
        if assignment is not None:
            found.append(assignment)
    return found


def _value_after(text: str, state: ScanState, left: int, right: int, ident: str, kind: str):
    """The value assigned to the identifier at ``text[left:right]``, if any (quoted anywhere;
    unquoted only in config-file lines, ``k=v;`` pairs and ``--flag=value``)."""
    n = len(text)
    quoted_ident = left > 0 and text[left - 1] in "\"'`" and right < n and text[right] == text[left - 1]
    pos = right + 1 if quoted_ident else right
    if quoted_ident and pos < n and text[pos] == "]":
        pos += 1  # headers["X-Api-Key"] = "…"
    line_start = text.rfind("\n", max(0, left - 200), left) + 1
    lead = text[line_start:left]
    if lead.lstrip().startswith("#define") and pos < n and text[pos] in " \t":
        sep_text, p = "define", pos  # #define API_KEY "…"
        while p < n and text[p] in " \t":
            p += 1
    else:
        sep = _match(_SEPARATOR, text, state, pos, min(n, pos + 60))
        if not sep:
            return None
        sep_text, p = sep.group().strip(), sep.end()
        if sep.group("typed"):
            sep_text = "="  # x string = "…", x: String = "…"
        elif sep.group("cmp"):
            if kind == "USERNAME":
                return None  # `user == "flask"` in a test is a fixture, not an account
            sep_text = "=="  # a comparison: only a quoted value counts
    if sep_text == "," and (kind == "USERNAME" or not (quoted_ident and text[max(0, left - 2):left - 1] == "(")):
        return None  # only f("PASSWORD", "value"): define(), setenv(), config.set() …
    if sep_text == "(" and ident.lower().endswith(_COMPARED):
        if kind == "USERNAME":
            return None
        sep_text = "=="  # password.equals("…"): a comparison, quoted values only
    elif sep_text == "(" and (kind == "USERNAME" or identifier_words(ident)[-1] not in PASSWORD_WORDS | KEY_WORDS):
        return None  # setPassword("…"), withApiKey("…"); not User("Tobi")
    if p >= n:
        return None
    if text[p] in "bBrRuUfF@" and p + 1 < n and text[p + 1] in "\"'":
        p += 1  # Python string prefixes, C# verbatim strings
    quote = text[p]
    escaped = quote == "\\" and p + 1 < n and text[p + 1] in "\"'"
    if escaped:
        quote = text[p + 1]
        p += 1
    if quote in "\"'`":
        eol = text.find("\n", p, min(n, p + 600))
        eol = min(n, p + 600) if eol == -1 else eol
        close = text.find(("\\" if escaped else "") + quote, p + 1, eol)
        if close == -1:
            return None
        return _accept(Assignment(ident, kind, p + 1, close, text[p + 1:close], True), state)
    if sep_text in ("(", ",", "define", "=="):
        return None
    m = _match(_UNQUOTED, text, state, p, min(n, p + 256))
    if not m:
        return None
    if _LINE_LEAD.match(lead):  # a config line: the value runs to the next space (it may hold , ; < >)
        wide = _match(_UNQUOTED_LINE, text, state, p, min(n, p + 256))
        after = text[wide.end():wide.end() + 1]
        if (not after or after in " \t\r\n") and not _NEXT_PAIR.search(wide.group()) \
                and wide.group()[-1] not in ",;)}]":  # `password=password,` in a call: code
            m = wide
    value = m.group()
    prev = text[left - 1] if left > 0 else "\n"
    value_end = m.end()
    if prev in "?&" and "&" in value:  # a URL query: ?user=jdoe&password=…
        value = value.split("&", 1)[0]
        value_end = m.start() + len(value)
    if not value:
        return None
    rest_end = text.find("\n", value_end, min(n, value_end + 200))
    rest = text[value_end:(rest_end if rest_end != -1 else min(n, value_end + 200))].strip()
    config_line = bool(_LINE_LEAD.match(lead)) and (not rest or rest.startswith(("#", "//")))
    kv_pair = prev in ";?&" and (not rest or rest[0] in ";&\"'")
    cli_flag = text[left:left + 1] == "-" and prev in " \t"
    # KEY=value inside a string or a list (``"API_TOKEN=…"``, ``A=1,TOKEN=…``, ``"X=… ./run"``)
    after = text[value_end:value_end + 1]
    env_pair = ident.isupper() and sep_text == "=" and text[right:right + 1] == "=" and \
        prev in "\"' \t,[(\n" and (not after or after in "\"' \t\r\n,;&)")
    spaced = text[right:m.start()].startswith((" ", "\t")) and sep_text != ":"
    code_style = spaced and not ident.isupper() and "." not in ident  # `x = y`, not KEY=value or k: v
    if not (config_line or kv_pair or cli_flag or env_pair) or \
            not _plain_value(value, sep_text, code_style, config_line or env_pair):
        return None
    if env_pair and not (config_line or kv_pair) and _IDENTIFIER.fullmatch(value) and not looks_random(value, 8):
        return None  # "TOKEN=token_name": a name, not a value
    if code_style and (kind == "USERNAME" or (_IDENTIFIER.fullmatch(value) and not looks_random(value, 8))):
        return None  # `user = name`: a variable, not a value
    return _accept(Assignment(ident, kind, m.start(), value_end, value, False), state)


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_DOTTED_REFERENCE = re.compile(r"[a-z_][a-z0-9_]*(?:\.[A-Za-z_]\w*)+")
_OBJECT_REFERENCE = re.compile(r"(?:self|this|os|env|process|config|settings|conf|cfg|options|opts|args|params"
                               r"|request|req|ctx|context|data)\b.*")


def _plain_value(value: str, sep: str, code_style: bool, whole_line: bool = False) -> bool:
    """An unquoted config value, not code (a call, an index, a reference, a type, YAML syntax).
    A value that is a whole config line's (``.env``) may hold brackets: passwords do."""
    if value in TYPE_NAMES or (not whole_line and ("(" in value or "[" in value or "{" in value)):
        return False
    if _ENV_REFERENCE.match(value) or (sep == ":" and value[0] in "!&*|>~@"):
        return False
    if _OBJECT_REFERENCE.fullmatch(value):
        return False
    return not (code_style and _DOTTED_REFERENCE.fullmatch(value))


def _accept(a: Assignment, state: ScanState) -> Optional[Assignment]:
    v = a.value
    if not v or any(c.isspace() for c in v) or v in TYPE_NAMES:
        return None
    lowered = v.lower()
    words = set(identifier_words(a.ident))
    if lowered in words or lowered == a.ident.lower():
        return None
    if a.kind == "PASSWORD":
        if len(v) < 4 or len(v) > 128 or is_templated(v) or _is_default_credential(lowered):
            return None
        if _VERSION_VALUE.fullmatch(v):
            return None
        if v.strip("*x.#-_ ") == "" or "://" in v or v.startswith(("/", "./")):
            return None
        return a
    if a.kind == "KEY":
        if is_uuid(v):  # Heroku, HubSpot, Snyk and npm legacy tokens are UUIDs: named like a key, one is a key
            return a if not words.isdisjoint(UUID_KEY_WORDS) else None
        return a if looks_random(v, 16, allow_hex=True) and not _HASH_PREFIX.search(v[:10] + "=") else None
    # USERNAME
    if "@" in v or not regex.fullmatch(r"[A-Za-z][A-Za-z0-9._\-]{2,38}", v):
        return None
    if a.ident.lower() == "user" and v.isalpha():
        return None  # a bare `user: tobi` is as often a fixture or a role as an account: handles only
    if lowered in GENERIC_USERS or is_templated(v) or _is_default_credential(lowered):
        return None
    return a


DEFAULT_CREDENTIALS_SET = frozenset(DEFAULT_CREDENTIALS)
UUID_KEY_WORDS = frozenset(("key", "apikey", "token", "secret", "authtoken", "apitoken", "accesstoken", "secretkey",
                            "credential", "credentials", "auth"))


def _is_default_credential(lowered: str) -> bool:
    return lowered in DEFAULT_CREDENTIALS_SET or lowered in GENERIC_USERS


class CredentialRecognizer(CodeRecognizer):
    ENTITIES = ("KEY", "PASSWORD", "USERNAME")

    def _spaced(self, text, state, defaults):
        """``--db-password VALUE``, Dockerfile ``ENV API_TOKEN VALUE``, netrc ``password VALUE``."""
        lower = state.lower
        scans = []
        if "--" in text:
            scans.append(_SPACED_FLAG)
        if "env " in lower or "env\t" in lower:
            scans.append(_DOCKER_ENV)
        if "machine " in lower:
            scans.append(_NETRC)
        for pattern in scans:
            for m in _finditer(pattern, text, state):
                state.tick()
                name, value = m.group("n"), m.group("v")
                kind = credential_kind(name)
                if kind is None or value.startswith("-") or not _plain_value(value, " ", False):
                    continue
                if (value.isalpha() and value.isupper()) or value.lower() in _METAVARS:
                    continue  # --password PASSWORD, --token value: help text
                if pattern is _NETRC and not _netrc_line(text, m.start()):
                    continue  # "… username and password information …": prose
                a = _accept(Assignment(name, kind, m.start("v"), m.end("v"), value, False), state)
                if a and not (a.kind != "KEY" and a.value.lower() in defaults):
                    yield a.kind, a.start, a.end

    def find(self, text, state, nlp_artifacts=None):
        defaults = self.settings.default_credentials
        for a in scan_assignments(text, state):
            if a.kind in ("PASSWORD", "USERNAME") and a.value.lower() in defaults:
                continue
            yield a.kind, a.start, a.end
        yield from self._spaced(text, state, defaults)
        if "</" in text:
            lower = state.lower
            if any(w in lower for w in ("pass", "pwd", "secret", "token", "key")):
                for m in _finditer(_XML_CREDENTIAL, text, state):
                    state.tick()
                    kind = credential_kind(m.group("tag").rsplit(":", 1)[-1])
                    if kind is None:
                        continue
                    a = _accept(Assignment(m.group("tag"), kind, m.start("v"), m.end("v"), m.group("v"), True),
                                state)
                    if a and not (a.kind != "KEY" and a.value.lower() in defaults):
                        yield a.kind, a.start, a.end
        lower = state.lower
        if 'value="' in lower or 'content="' in lower:  # <add key="Password" value="…"/>, <input name=… value=…>
            for m in _finditer(_ATTRIBUTE_PAIR, text, state):
                state.tick()
                kind = credential_kind(m.group("n"))
                if kind is None:
                    continue
                a = _accept(Assignment(m.group("n"), kind, m.start("v"), m.end("v"), m.group("v"), True), state)
                if a and not (a.kind != "KEY" and a.value.lower() in defaults):
                    yield a.kind, a.start, a.end
        pairs = [p for p, word in ((_AUTH_PAIR, "auth"), (_CREDENTIAL_PAIR, "credential")) if word in lower]
        for m in (m for p in pairs for m in _finditer(p, lower, state)):  # lower-cased copy: same offsets
            state.tick()
            user, pw = text[m.start("u"):m.end("u")], text[m.start("p"):m.end("p")]
            if not (is_templated(pw) or pw.lower() in defaults or len(pw) < 4 or pw.startswith(("$", "%"))):
                yield "PASSWORD", m.start("p"), m.end("p")
            if user.lower() not in GENERIC_USERS and not is_templated(user) and \
                    regex.fullmatch(r"[A-Za-z][A-Za-z0-9._\-]{2,38}", user):
                yield "USERNAME", m.start("u"), m.end("u")
        if "identified" in lower or "password '" in lower or 'password "' in lower:
            for m in _finditer(_SQL_PASSWORD, lower, state):
                group = next(g for g in ("v", "w", "u") if m.group(g) is not None)
                value = text[m.start(group):m.end(group)]
                if group == "u" and not (text[m.start():m.start() + 10].isupper() or _SQL_ACCOUNT.search(
                        lower, max(0, m.start() - 120), m.start())):
                    continue  # "… identified by prefixes" in prose
                if len(value) >= 4 and not is_templated(value) and value.lower() not in defaults:
                    yield "PASSWORD", m.start(group), m.end(group)


# --- PASSWORD / USERNAME in connection strings ---------------------------------------------

_CONNECTION = regex.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,30}+://"
    r"(?P<user>[^\s:/@\"'`<>()\[\]{}]{0,64}+):(?P<pw>[^\s/@\"'`<>]{1,256}+)@(?=[A-Za-z0-9\[_.\-])"
)


class ConnectionStringRecognizer(CodeRecognizer):
    ENTITIES = ("PASSWORD", "USERNAME")

    def find(self, text, state, nlp_artifacts=None):
        if "://" not in text or "@" not in text:
            return
        defaults = self.settings.default_credentials
        for m in _finditer(_CONNECTION, text, state):
            state.tick()
            pw, user = m.group("pw"), m.group("user")
            if not (len(pw) < 4 or is_templated(pw) or pw.lower() in defaults or pw.strip("*x.") == ""
                    or pw.startswith(("$", "%")) or pw.lower() == user.lower()):
                yield "PASSWORD", m.start("pw"), m.end("pw")
            if len(user) >= 3 and user.lower() not in GENERIC_USERS and not is_templated(user) and \
                    not user.startswith(("$", "%")) and user.lower() not in defaults:
                yield "USERNAME", m.start("user"), m.end("user")
