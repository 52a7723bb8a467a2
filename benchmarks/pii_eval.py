"""PII detection quality: a labelled set built from real code, precision/recall per entity.

The set (seeded, rebuilt on every run): real files from ``../shared/data/github_repos_sample``
``contents`` (base files that show no PII of their own, by a simple independent screen), with
PII of every entity inserted at known offsets in realistic forms: emails in comments, strings
and package metadata; IPs in configs, nginx/hosts/iptables lines and code; keys in config files,
code and headers (provider formats, keyword-named secrets, quoted high-entropy strings,
private-key blocks, JWTs); passwords in assignments, .env/YAML/properties, connection strings,
SQL and XML; names in author/copyright/trailer headers; usernames in assignments, home
directories and connection strings. Hard negatives are inserted the same way: versions, dates,
OIDs, private IPs, public DNS servers, hashes next to sha/md5, UUIDs, placeholders and templates
(``${API_KEY}``, ``<your-key>``, ``xxxx``), example/noreply addresses, default credentials,
variable references, organisations in copyright lines.

Systems compared on the same documents:

- ``codecorpus``: ``transforms/pii.py`` with the default configuration;
- ``bigcode-regex``: our re-implementation of the BigCode regex pipeline (REFERENCE §3): the
  BigScience-style email and IP regexes with their filters (a digit, not a date, the ``x.x.x.x``
  version rule, valid address; private IPs and popular DNS servers kept) and keys from
  detect-secrets with BigCode's plugin list and filters (UUID, ID-like, templated, sequential,
  hashes next to sha/md5/hash, files full of hashes). Their gibberish detector needs a model
  trained on a corpus we do not have offline; it is left out (it only removes keys, so this
  baseline's KEY recall is an upper bound of theirs, its precision a lower bound);
- ``detect-secrets``: its default scan (every default plugin and filter) for KEY.

Scoring: a prediction is a true positive when it overlaps a gold span of the same entity (each
gold span matched once). A prediction that overlaps a gold span of an entity the system does
not report at all (detect-secrets' keyword plugin on a PASSWORD) is neither counted for nor
against it. Everything else — including anything found in the untouched base code — is a
false positive.

    python benchmarks/pii_eval.py                       # the reported run: 1000 documents, seed 3
    python benchmarks/pii_eval.py --docs 1000 --seed 1 --dump-set /tmp/pii_set.jsonl
"""

from __future__ import annotations

import argparse
import base64
import gzip
import ipaddress
import json
import logging
import os
import random
import re
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "github_repos_sample"
RESULTS = ROOT / "benchmarks" / "results"
ENTITIES = ("EMAIL", "IP_ADDRESS", "KEY", "PASSWORD", "NAME", "USERNAME")
BIGCODE_PUBLISHED = {"EMAIL": (0.877, 0.959), "IP_ADDRESS": (0.804, 0.828), "KEY": (0.783, 0.529)}

# --- base files ----------------------------------------------------------------------------------

COMMENT = {
    ".py": "#", ".sh": "#", ".bash": "#", ".yml": "#", ".yaml": "#", ".toml": "#", ".cfg": "#", ".rb": "#",
    ".r": "#", ".pl": "#", ".mk": "#", ".dockerfile": "#", ".ini": ";", ".conf": "#",
    ".js": "//", ".mjs": "//", ".ts": "//", ".go": "//", ".c": "//", ".h": "//", ".cc": "//", ".cpp": "//",
    ".cs": "//", ".java": "//", ".rs": "//", ".php": "//", ".swift": "//", ".kt": "//", ".scala": "//",
    ".sql": "--", ".md": "", ".rst": "", ".txt": "", ".html": "<!--", ".htm": "<!--", ".xml": "<!--",
    ".json": None, ".css": "/*",
}
LANG = {".py": "py", ".js": "js", ".mjs": "js", ".ts": "js", ".go": "go", ".c": "c", ".h": "c", ".cc": "c",
        ".cpp": "c", ".cs": "cs", ".java": "cs", ".sh": "sh", ".bash": "sh", ".yml": "yaml", ".yaml": "yaml",
        ".sql": "sql", ".md": "md", ".rst": "md", ".txt": "md", ".json": "json", ".html": "html", ".xml": "html",
        ".toml": "py", ".cfg": "py", ".ini": "py", ".rb": "py", ".php": "js", ".rs": "go", ".css": "js"}

_SCREEN = [re.compile(p) for p in (
    r"[\w.+-]+@[\w-]+\.[\w.-]+",
    r"(?i)copyright|\(c\)|©|\bauthors?\b|maintainer|signed-off|co-authored|@author|(created|written|developed|maintained) by",
    r"(?i)identified by",
    r"PRIVATE KEY",
    r"(?i)(pass(word|wd)?|pwd|secret|token|api_?key|credential)\w*[\"']?\s*[:=]\s*[\"']?[^\s\"'$({<]{4,}",
    r"/home/\w|/Users/\w|[A-Za-z]:\\\\?Users",
    r"\w+://[^/\s:@]+:[^/\s@]+@",
)]
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")


def has_own_pii(text: str) -> bool:
    """An independent, deliberately broad screen: base files that may hold real PII are not used
    (their PII would be unlabelled)."""
    if any(p.search(text) for p in _SCREEN):
        return True
    for m in _IPV4.finditer(text):
        try:
            if ipaddress.ip_address(m.group()).is_global:
                return True
        except ValueError:
            pass
    return False


def load_base_files(sample: Path, min_chars: int = 400, max_chars: int = 12_000) -> list[tuple[str, str]]:
    paths = {}
    with gzip.open(sample / "files.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            paths.setdefault(row["id"], row["path"])
    with gzip.open(sample / "commits.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            for d in json.loads(line).get("difference") or []:
                if d.get("new_sha1") and d.get("new_path"):
                    paths.setdefault(d["new_sha1"], d["new_path"])
    bases, seen = [], set()
    with gzip.open(sample / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text, path = row.get("content"), paths.get(row["id"])
            if not text or row.get("binary") or not path or "\x00" in text:
                continue
            ext = os.path.splitext(path)[1].lower()
            if ext not in COMMENT or len(text) < min_chars:
                continue
            text = text[:max_chars].rsplit("\n", 1)[0] + "\n"
            key = (path, len(text))
            if key in seen or has_own_pii(text):
                continue
            seen.add(key)
            bases.append((path, text))
    bases.sort()
    return bases


# --- values --------------------------------------------------------------------------------------

FIRST = ["Maria", "James", "Wei", "Aisha", "Carlos", "Yuki", "Olga", "Ahmed", "Priya", "Lucas", "Emma", "Noah",
         "Sofia", "Mateo", "Chen", "Fatima", "Liam", "Hana", "Omar", "Elena", "Diego", "Ingrid", "Kwame", "Zoë",
         "José", "Łukasz", "Søren", "Anaïs", "Björn", "Mei", "Rahul", "Tomás", "Nadia", "Kenji", "Amara", "Lars",
         "Chiara", "Dmitri", "Leila", "Pavel", "Grace", "Henrik", "Isabel", "Jonas", "Keiko", "Malik"]
LAST = ["Garcia", "Okafor", "Silva", "Tanaka", "Ivanova", "Hassan", "Patel", "Müller", "Rossi", "Kowalski",
        "Nguyen", "Johansson", "O'Brien", "Fernández", "Novak", "Dubois", "Schmidt", "Haddad", "Moreau", "Jensen",
        "Costa", "Yamamoto", "Andersen", "Popescu", "Lindqvist", "Mensah", "Bianchi", "Horvath", "Nakamura",
        "Oliveira", "Kaur", "Petrov", "Larsen", "Romero", "Weber", "Abebe", "Sato", "McAllister", "Brennan",
        "Whitfield", "Castellanos", "Thornton"]
WORDS = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "starkind", "wayne", "cyberdyne", "tyrell",
         "soylent", "wonka", "gringotts", "oscorp", "monarch", "aperture", "blackmesa", "piedpiper", "dunder",
         "prestige", "northwind", "contoso", "fabrikam", "tailspin", "adatum", "litware", "proseware", "wingtip"]
TLDS = ["com", "org", "net", "io", "dev", "de", "fr", "co.uk", "com.au", "ai", "app", "edu", "ch", "nl", "se"]
FREEMAIL = ["gmail.com", "yahoo.com", "outlook.com", "protonmail.com", "fastmail.fm", "hotmail.co.uk", "gmx.de"]
PW_WORDS = ["sunflower", "dragon", "monkey", "falcon", "winter", "summer", "orange", "tiger", "rocket", "harbor",
            "nebula", "coffee", "violet", "thunder", "maple", "silver", "phoenix", "quartz", "mustang", "pepper"]
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def ascii_fold(s: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", s.replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O"))
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c in "._-"))


class Values:
    def __init__(self, rng: random.Random):
        self.r = rng

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def name(self) -> str:
        r = self.r
        first, last = r.choice(FIRST), r.choice(LAST)
        roll = r.random()
        if roll < 0.12:
            return f"{first} {r.choice(string.ascii_uppercase)}. {last}"
        if roll < 0.18:
            return f"{first} {r.choice(['van der', 'de', 'van', 'da'])} {last}"
        if roll < 0.25:
            return f"{first} {r.choice(FIRST)} {last}"
        return f"{first} {last}"

    def domain(self) -> str:
        r = self.r
        if r.random() < 0.3:
            return r.choice(FREEMAIL)
        sub = r.choice(["", "", "", "mail.", "corp.", "eng.", "dev."])
        return f"{sub}{r.choice(WORDS)}{r.choice(['', '-labs', '-corp', 'soft', ''])}.{r.choice(TLDS)}"

    def email(self, name: str | None = None) -> str:
        r = self.r
        n = (name or self.name()).split()
        first, last = ascii_fold(n[0]).lower() or "dev", ascii_fold(n[-1]).lower() or "ops"
        local = r.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}", f"{first}",
                          f"{first}{r.randint(1, 99)}", f"{first}+{r.choice(['git', 'dev', 'oss'])}",
                          f"{last}.{first[0]}", r.choice(["admin", "security", "ops", "billing", "support"])])
        address = f"{local}@{self.domain()}"
        return address.upper() if r.random() < 0.03 else address

    def username(self, name: str | None = None) -> str:
        r = self.r
        n = (name or self.name()).split()
        first, last = ascii_fold(n[0]).lower() or "dev", ascii_fold(n[-1]).lower() or "ops"
        return r.choice([f"{first}{r.randint(1, 999)}", f"{first[0]}{last}", f"{last}_{first}", f"{first}.{last}",
                         f"{r.choice(PW_WORDS)}{r.randint(10, 99)}", f"{first}{last[:3]}"])

    def password(self, url_safe: bool = False, unquoted: bool = False) -> str:
        r = self.r
        symbols = "!$*-_+=.~" if url_safe else ("!@$%^*-_+=.~" if unquoted else "!@#$%^&*-_+=.~?")
        roll = r.random()
        if roll < 0.35:
            w = r.choice(PW_WORDS)
            w = w.capitalize() if r.random() < 0.7 else w
            return f"{w}{r.randint(1, 9999)}{r.choice(symbols)}"
        if roll < 0.55:
            leet = r.choice(PW_WORDS).translate(str.maketrans("aeios", "43105"))
            return f"{leet.capitalize()}{r.choice(symbols)}{r.randint(10, 99)}"
        if roll < 0.85:
            return self.s(ALNUM + symbols, r.randint(10, 18))
        return f"{r.choice(PW_WORDS)}-{r.choice(PW_WORDS)}-{r.choice(PW_WORDS)}-{r.randint(1, 99)}"

    def ipv4(self) -> str:
        r = self.r
        while True:
            ip = ipaddress.IPv4Address(r.getrandbits(32))
            if ip.is_global and not ip.is_multicast and str(ip).count(".") == 3 and not str(ip).endswith(".0.0") \
                    and str(ip) not in ("8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9"):
                return str(ip)

    def ipv6(self) -> str:
        r = self.r
        groups = [f"{r.choice([0x2001, 0x2a00, 0x2a01, 0x2a02, 0x2604, 0x2607, 0x2803]):x}"] + \
                 [f"{r.getrandbits(16):x}" for _ in range(7)]
        if r.random() < 0.5:
            cut = r.randint(3, 6)
            return ":".join(groups[:cut]) + "::" + groups[-1]
        return ":".join(groups)

    def key(self, kind: str) -> str:
        r, s = self.r, self.s
        if kind == "aws_id":
            return "AKIA" + s(string.ascii_uppercase + "234567", 16)
        if kind == "aws_secret":
            return s(B64, 40)
        if kind == "github":
            return r.choice(["ghp_", "gho_", "ghs_"]) + s(ALNUM, 36)
        if kind == "slack":
            return f"xoxb-{r.randint(10**10, 10**11)}-{r.randint(10**11, 10**12)}-{s(ALNUM, 24)}"
        if kind == "stripe":
            return r.choice(["sk_live_", "sk_test_", "rk_live_"]) + s(ALNUM, 24)
        if kind == "google":
            return "AIza" + s(ALNUM + "_-", 35)
        if kind == "openai":
            return "sk-proj-" + s(ALNUM + "_-", 48)
        if kind == "sendgrid":
            return "SG." + s(ALNUM + "_-", 22) + "." + s(ALNUM + "_-", 43)
        if kind == "npm":
            return "npm_" + s(ALNUM, 36)
        if kind == "hf":
            return "hf_" + s(string.ascii_letters, 34)
        if kind == "twilio":
            return "SK" + s("0123456789abcdef", 32)
        if kind == "mailgun":
            return "key-" + s(string.ascii_lowercase + string.digits, 32)
        if kind == "hex32":
            return s("0123456789abcdef", 32)
        if kind == "hex40":
            return s("0123456789abcdef", 40)
        if kind == "hex64":
            return s("0123456789abcdef", 64)
        if kind == "b62":
            return s(ALNUM, r.choice([24, 32, 40]))
        if kind == "b64url":
            return s(ALNUM + "_-", r.choice([32, 43]))
        if kind == "jwt":
            header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
            payload = base64.urlsafe_b64encode(json.dumps(
                {"sub": str(r.randint(1, 10**9)), "name": self.name(), "iat": r.randint(1.5e9, 1.7e9)}).encode()
            ).decode().rstrip("=")
            return f"{header}.{payload}.{s(ALNUM + '_-', 43)}"
        raise ValueError(kind)

    def private_key(self) -> str:
        kind = self.r.choice(["RSA ", "", "EC ", "OPENSSH "])
        body = base64.b64encode(self.r.randbytes(self.r.choice([120, 240, 600]))).decode()
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----"


# --- snippets ------------------------------------------------------------------------------------


def S(*parts) -> tuple[str, list]:
    """Parts are plain strings or (entity, value) pairs; returns (text, [(entity, start, end)])."""
    text, labels = [], []
    pos = 0
    for part in parts:
        if isinstance(part, tuple):
            entity, value = part
            if entity:
                labels.append((entity, pos, pos + len(value)))
            part = value
        text.append(part)
        pos += len(part)
    return "".join(text), labels


def comment(ext: str, *parts) -> tuple[str, list]:
    c = COMMENT.get(ext)
    if c is None or c == "":
        return S(*parts, "\n")
    if c == "<!--":
        return S("<!-- ", *parts, " -->\n")
    if c == "/*":
        return S("/* ", *parts, " */\n")
    return S(c, " ", *parts, "\n")


def assign(lang: str, name: str, value, quote: str = '"') -> tuple[str, list]:
    """``value`` is a plain string or an (entity, value) pair."""
    q = quote
    if lang == "py":
        return S(f"{name} = {q}", value, f"{q}\n")
    if lang == "js":
        return S(f"const {name} = {q}", value, f"{q};\n")
    if lang == "go":
        return S(f"{name} := \"", value, "\"\n")
    if lang == "c":
        return S(f"#define {name} \"", value, "\"\n")
    if lang == "cs":
        return S(f"private const string {name} = \"", value, "\";\n")
    if lang == "sh":
        return S(f"export {name}=\"", value, "\"\n")
    if lang == "yaml":
        return S(f"{name.lower()}: ", value, "\n")
    if lang == "json":
        return S(f"  \"{name.lower()}\": \"", value, "\",\n")
    if lang == "sql":
        return S(f"SET @{name.lower()} = '", value, "';\n")
    if lang == "html":
        return S(f"<meta name=\"{name.lower()}\" content=\"", value, "\">\n")
    return S(f"    {name} = \"", value, "\"\n")  # md/txt: an indented code line


def snippet(entity: str, v: Values, ext: str, lang: str) -> tuple[str, list]:
    r = v.r
    form = r.random()
    if entity == "EMAIL":
        name = v.name()
        if form < 0.25:
            return comment(ext, "Author: ", ("NAME", name), " <", ("EMAIL", v.email(name)), ">")
        if form < 0.45:
            return comment(ext, r.choice(["Contact: ", "Report bugs to ", "Maintainer: ", "Questions? Mail "]),
                           ("EMAIL", v.email()), r.choice(["", ".", ""]))
        if form < 0.7:
            return assign(lang, r.choice(["ADMIN_EMAIL", "SUPPORT_EMAIL", "NOTIFY_TO", "FROM_ADDR"]),
                          ("EMAIL", v.email()), r.choice(['"', "'"]))
        if form < 0.78:
            return S("[Contact us](mailto:", ("EMAIL", v.email()), ")\n")
        if form < 0.86:
            return S(r.choice(["    author_email=\"", "git config user.email \"", "  <email>", "Reply-To: "]),
                     ("EMAIL", v.email()), r.choice(["\",\n", "\"\n", "</email>\n", "\n"]))
        return S(f"send_report(to=['", ("EMAIL", v.email()), "', '", ("EMAIL", v.email()), "'], subject=title)\n")
    if entity == "IP_ADDRESS":
        ip = v.ipv6() if r.random() < 0.2 else v.ipv4()
        if form < 0.25:
            return S(r.choice(["host: ", "server_ip: ", "address: ", "bind: "]), ("IP_ADDRESS", ip), "\n")
        if form < 0.45:
            return assign(lang, r.choice(["SERVER_IP", "DB_HOST", "UPSTREAM", "PEER_ADDR"]), ("IP_ADDRESS", ip))
        if form < 0.6:
            return S("    server ", ("IP_ADDRESS", ip), ":8080;\n") if ":" not in ip else \
                S("    listen [", ("IP_ADDRESS", ip), "]:443;\n")
        if form < 0.75:
            return S("curl -s http://", ("IP_ADDRESS", ip), "/health\n") if ":" not in ip else \
                S("ping6 -c 3 ", ("IP_ADDRESS", ip), "\n")
        if form < 0.82:
            return S(("IP_ADDRESS", ip), "    api.internal.", r.choice(WORDS), ".net\n")
        if form < 0.88:
            return S("iptables -A INPUT -s ", ("IP_ADDRESS", ip), " -j ACCEPT\n")
        if form < 0.92:
            return S("ALLOWED_HOSTS = [\"", ("IP_ADDRESS", ip), "\", \"localhost\"]\n")
        if form < 0.96:
            return S("Failed password for invalid user admin from ", ("IP_ADDRESS", ip), " port 22 ssh2\n")
        return S("Host bastion\n    HostName ", ("IP_ADDRESS", ip), "\n    User deploy\n")
    if entity == "KEY":
        if form < 0.1:
            return S("[default]\naws_access_key_id = ", ("KEY", v.key("aws_id")), "\naws_secret_access_key = ",
                     ("KEY", v.key("aws_secret")), "\n")
        if form < 0.4:
            kind = r.choice(["github", "slack", "stripe", "google", "openai", "sendgrid", "npm", "hf", "twilio",
                             "mailgun"])
            name = {"github": "GITHUB_TOKEN", "slack": "SLACK_BOT_TOKEN", "stripe": "STRIPE_SECRET_KEY",
                    "google": "GOOGLE_API_KEY", "openai": "OPENAI_API_KEY", "sendgrid": "SENDGRID_API_KEY",
                    "npm": "NPM_TOKEN", "hf": "HF_TOKEN", "twilio": "TWILIO_API_KEY", "mailgun": "MAILGUN_KEY"}[kind]
            if r.random() < 0.3:
                return S(f"{name}=", ("KEY", v.key(kind)), "\n")
            return assign(lang, name, ("KEY", v.key(kind)))
        if form < 0.65:
            kind = r.choice(["hex32", "hex40", "hex64", "b62", "b64url"])
            name = r.choice(["API_KEY", "apiKey", "SECRET_KEY", "client_secret", "ACCESS_TOKEN", "auth_token",
                             "app_secret", "SIGNING_KEY", "private_token", "webhook_secret"])
            if r.random() < 0.25:
                return S(f"{name}: ", ("KEY", v.key(kind)), "\n")
            return assign(lang, name, ("KEY", v.key(kind)), r.choice(['"', "'"]))
        if form < 0.75:
            return S("headers = {\"Authorization\": \"Bearer ", ("KEY", v.key(r.choice(["b62", "jwt"]))), "\"}\n")
        if form < 0.85:
            return S(r.choice(["client = Client(\"", "sdk.init(\"", "new ApiClient(\""]), ("KEY", v.key("b62")),
                     "\")\n")
        if form < 0.88:
            return S("token = \"", ("KEY", v.key("jwt")), "\"\n")
        if form < 0.91:
            return S("//registry.npmjs.org/:_authToken=", ("KEY", v.key("npm")), "\n")
        if form < 0.94:
            return S("curl -H \"Authorization: token ", ("KEY", v.key("github")), "\" https://api.github.com/user\n")
        if form < 0.97:
            key = v.private_key().replace("\n", "\\n")
            return S("  \"private_key\": \"", ("KEY", key), "\\n\",\n")
        return S("PRIVATE_KEY = \"\"\"", ("KEY", v.private_key()), "\n\"\"\"\n")
    if entity == "PASSWORD":
        if form < 0.25:
            return assign(lang, r.choice(["password", "DB_PASSWORD", "db_pass", "smtpPassword", "adminPwd"]),
                          ("PASSWORD", v.password()), r.choice(['"', "'"]))
        if form < 0.45:
            return S(r.choice(["DB_PASSWORD=", "MYSQL_ROOT_PASSWORD=", "POSTGRES_PASSWORD=", "REDIS_PASS=",
                               "spring.datasource.password=", "  password: ", "PASSWORD: "]),
                     ("PASSWORD", v.password(unquoted=True)), "\n")
        if form < 0.7:
            user = v.username()
            scheme = r.choice(["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqp", "ftp"])
            host = f"{r.choice(['db', 'cache', 'mq', 'prod-db'])}.{r.choice(WORDS)}.{r.choice(['com', 'io', 'net'])}"
            return S("DATABASE_URL = \"", f"{scheme}://", ("USERNAME", user), ":",
                     ("PASSWORD", v.password(url_safe=True)), f"@{host}:5432/app\"\n")
        if form < 0.8:
            return S("conn = connect(host=\"db\", user=\"app\", password=\"", ("PASSWORD", v.password()), "\")\n")
        if form < 0.88:
            return S("CREATE USER app_rw IDENTIFIED BY '", ("PASSWORD", v.password()), "';\n")
        if form < 0.91:
            return S("  <password>", ("PASSWORD", v.password()), "</password>\n")
        if form < 0.94:
            return S("r = requests.get(url, auth=(\"", ("USERNAME", v.username()), "\", \"",
                     ("PASSWORD", v.password()), "\"))\n")
        return S("Server=tcp:sql01;Database=app;User Id=app;Password=", ("PASSWORD", v.password(url_safe=True)),
                 ";\n")
    if entity == "NAME":
        name = v.name()
        if form < 0.3:
            return comment(ext, "Copyright (c) ", str(r.randint(1998, 2024)), r.choice(["", f"-{r.randint(2020, 2025)}"]),
                           " ", ("NAME", name))
        if form < 0.5:
            return comment(ext, r.choice(["Author: ", "@author ", "Written by ", "Maintainer: "]), ("NAME", name))
        if form < 0.58:
            return S("__author__ = \"", ("NAME", name), "\"\n")
        if form < 0.65:
            return S(r.choice(["    author=\"", "//  Created by ", "# Maintainer: ", "Copyright © 2021 "]),
                     ("NAME", name), r.choice(["\",\n", " on 12/03/19.\n", "\n", ". All rights reserved.\n"]))
        if form < 0.8:
            return S("  \"author\": \"", ("NAME", name), " <", ("EMAIL", v.email(name)), ">\",\n")
        return S(r.choice(["Signed-off-by: ", "Co-authored-by: ", "Reviewed-by: "]), ("NAME", name), " <",
                 ("EMAIL", v.email(name)), ">\n")
    if entity == "USERNAME":
        user = v.username()
        if form < 0.3:
            return assign(lang, r.choice(["username", "DB_USER", "login", "github_user"]), ("USERNAME", user))
        if form < 0.5:
            return S(r.choice(["user: ", "  username: ", "DB_USERNAME="]), ("USERNAME", user), "\n")
        if form < 0.7:
            return S("LOG_DIR = \"/home/", ("USERNAME", user), "/projects/app/logs\"\n")
        if form < 0.85:
            return S("cd /Users/", ("USERNAME", user), "/src/service && make\n")
        return S("path = r\"C:\\Users\\", ("USERNAME", user), "\\AppData\\Local\\tool\"\n")
    raise ValueError(entity)


def hard_negative(v: Values, ext: str, lang: str) -> tuple[str, list]:
    r, s = v.r, v.s
    forms = [
        lambda: assign(lang, "CONTACT", r.choice(["user@example.com", "admin@example.org", "you@example.net"])),
        lambda: comment(ext, "Commits from noreply@github.com are ignored"),
        lambda: S("git clone git@github.com:", r.choice(WORDS), "/", r.choice(WORDS), ".git\n"),
        lambda: S("npm install lodash@4.17.", str(r.randint(10, 21)), " react@18.2.0\n"),
        lambda: S("mail_host = \"smtp@localhost\"\n"),
        lambda: S("<img src=\"icon@2x.png\" srcset=\"logo@3x.png 3x\">\n"),
        lambda: S("host: ", r.choice(["192.168.1.", "10.0.0.", "172.17.0.", "127.0.0."]), str(r.randint(1, 254)), "\n"),
        lambda: S("nameserver ", r.choice(["8.8.8.8", "1.1.1.1", "8.8.4.4", "9.9.9.9", "208.67.222.222"]), "\n"),
        lambda: assign(lang, "VERSION", f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}"),
        lambda: S("[assembly: AssemblyVersion(\"", f"{r.randint(1, 20)}.0.0.0", "\")]\n"),
        lambda: S("OID_RSA = \"1.2.840.113549.1.1.", str(r.randint(1, 14)), "\"\n"),
        lambda: S("listen_addr = \"0.0.0.0\"\nnetmask = \"255.255.255.0\"\n"),
        lambda: S("release_date = \"", f"{r.randint(2015, 2024)}.{r.randint(1, 12):02d}.{r.randint(1, 28):02d}", "\"\n"),
        lambda: assign(lang, "commit_sha", s("0123456789abcdef", 40)),
        lambda: S("sha256 = \"", s("0123456789abcdef", 64), "\"\n"),
        lambda: S("md5sum: ", s("0123456789abcdef", 32), "\n"),
        lambda: assign(lang, "request_id", f"{s('0123456789abcdef', 8)}-{s('0123456789abcdef', 4)}-4"
                                           f"{s('0123456789abcdef', 3)}-a{s('0123456789abcdef', 3)}-"
                                           f"{s('0123456789abcdef', 12)}"),
        lambda: assign(lang, "API_KEY", r.choice(["${API_KEY}", "<your-api-key>", "YOUR_API_KEY_HERE",
                                                  "xxxxxxxxxxxxxxxxxxxxxxxx", "{{ api_key }}", "%(api_key)s"])),
        lambda: assign(lang, "SECRET", r.choice(["abcdefghijklmnopqrstuvwxyz", "0123456789abcdef0123",
                                                 "aaaaaaaaaaaaaaaaaaaa", "1234567890123456"])),
        lambda: S("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"),
        lambda: S("      \"integrity\": \"sha512-", s(B64, 86), "==\",\n"),
        lambda: S("background: url(data:image/png;base64,", s(B64, 120), ");\n"),
        lambda: S("oid sha256:", s("0123456789abcdef", 64), "\nsize ", str(r.randint(1000, 99999)), "\n"),
        lambda: assign(lang, "CLASS_NAME", r.choice(["AbstractSingletonProxyFactoryBean", "HttpRequestRetryHandler42",
                                                     "ConfigurationPropertiesBinder"])),
        lambda: S("token = os.environ[\"GITHUB_TOKEN\"]\n"),
        lambda: S("password = os.environ.get(\"DB_PASSWORD\")\n"),
        lambda: S("password = getpass.getpass(\"Password: \")\n"),
        lambda: S("  password: ${DB_PASSWORD}\n"),
        lambda: S("  \"password\": \"<password>\",\n"),
        lambda: S("DATABASE_URL = \"postgres://user:password@localhost:5432/app\"\n"),
        lambda: S("DATABASE_URL = \"postgres://postgres:postgres@db:5432/test\"\n"),
        lambda: S("PASSWORD_MIN_LENGTH = 12\n"),
        lambda: S("if password == confirm_password:\n    save(user, password)\n"),
        lambda: S("def login(username: str, password: str) -> bool:\n"),
        lambda: S("DB_PASSWORD=changeme\n"),
        lambda: S("password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())\n"),
        lambda: comment(ext, "Copyright (c) ", str(r.randint(2010, 2024)), " The ", r.choice(WORDS).capitalize(),
                        " Authors. All rights reserved."),
        lambda: comment(ext, "Copyright ", str(r.randint(2010, 2024)), " ", r.choice(["Google LLC", "Microsoft Corporation",
                                                                                    "The Apache Software Foundation"])),
        lambda: S("author = models.ForeignKey(User, on_delete=models.CASCADE)\n"),
        lambda: comment(ext, "Thanks to all contributors!"),
        lambda: assign(lang, "username", r.choice(["admin", "root", "postgres", "guest"])),
        lambda: S("WORKDIR /home/", r.choice(["ubuntu", "runner", "node", "app"]), "/app\n"),
        lambda: S("username = request.form[\"username\"]\n"),
        lambda: S("user_agent = \"Mozilla/5.0 (X11; Linux x86_64)\"\n"),
        lambda: S("cp build/out.txt C:\\Users\\Public\\Documents\n"),
    ]
    return r.choice(forms)()


def build_document(base: tuple[str, str], v: Values) -> dict:
    path, text = base
    ext = os.path.splitext(path)[1].lower()
    lang = LANG.get(ext, "md")
    r = v.r
    lines = text.splitlines(keepends=True)
    inserts = []
    for _ in range(r.randint(1, 4)):
        inserts.append(snippet(r.choices(ENTITIES, weights=[3, 2, 3, 2, 2, 2])[0], v, ext, lang))
    for _ in range(r.randint(0, 3)):
        inserts.append(hard_negative(v, ext, lang))
    slots = sorted(r.randint(0, len(lines)) for _ in inserts)
    r.shuffle(inserts)
    out, labels, pos, li = [], [], 0, 0
    for slot, (snip, snip_labels) in zip(slots, inserts):
        while li < slot:
            out.append(lines[li])
            pos += len(lines[li])
            li += 1
        labels.extend((e, pos + s, pos + t) for e, s, t in snip_labels)
        out.append(snip)
        pos += len(snip)
    out.extend(lines[li:])
    doc = "".join(out)
    return {"path": path, "text": doc, "labels": [list(x) for x in labels]}


def build_set(n_docs: int, seed: int, sample: Path = SAMPLE) -> list[dict]:
    bases = load_base_files(sample)
    rng = random.Random(seed)
    v = Values(rng)
    return [build_document(rng.choice(bases), v) for _ in range(n_docs)]


# --- systems -------------------------------------------------------------------------------------


class Ours:
    name = "codecorpus"
    entities = ENTITIES

    def __init__(self):
        from codecorpus.config import load_config
        from codecorpus.pii.redact import Redactor

        self.redactor = Redactor(load_config())

    def find(self, text: str, path: str) -> list[tuple[str, int, int]]:
        results, _ = self.redactor.analyze(text)  # no budget: score every finding
        return [(r.entity_type, r.start, r.end) for r in results]


class BigCodeRegex:
    """Our re-implementation of the BigCode regex pipeline (emails, IPs: BigScience-style
    regexes and filters; keys: detect-secrets with their plugins and filters)."""

    name = "bigcode-regex"
    entities = ("EMAIL", "IP_ADDRESS", "KEY")
    DNS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "76.76.19.19", "76.223.122.150", "9.9.9.9", "149.112.112.112",
           "208.67.222.222", "208.67.220.220", "8.26.56.26", "8.20.247.20", "94.140.14.14", "94.140.15.15"}
    PLUGINS = ["ArtifactoryDetector", "AWSKeyDetector", "Base64HighEntropyString", "HexHighEntropyString",
               "AzureStorageKeyDetector", "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector",
               "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "MailchimpDetector", "NpmDetector",
               "SendGridDetector", "SlackDetector", "SoftlayerDetector", "StripeDetector", "TwilioKeyDetector"]
    FILTERS = ["detect_secrets.filters.heuristic.is_potential_uuid",
               "detect_secrets.filters.heuristic.is_likely_id_string",
               "detect_secrets.filters.heuristic.is_templated_secret",
               "detect_secrets.filters.heuristic.is_sequential_string"]

    def __init__(self):
        import regex

        octet = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
        ipv4 = rf"{octet}(?:\.{octet}){{3}}"
        h = r"[0-9a-fA-F]{1,4}"
        ipv6 = (rf"(?:{h}:){{7}}{h}|(?:{h}:){{1,7}}:|(?:{h}:){{1,6}}:{h}|(?:{h}:){{1,5}}(?::{h}){{1,2}}"
                rf"|(?:{h}:){{1,4}}(?::{h}){{1,3}}|(?:{h}:){{1,3}}(?::{h}){{1,4}}|(?:{h}:){{1,2}}(?::{h}){{1,5}}"
                rf"|{h}:(?::{h}){{1,6}}|:(?:(?::{h}){{1,7}}|:)")
        edge = r"[\s@,?!;:'\"(.\p{Han}]"
        self.ip = regex.compile(rf"(?:^|(?<={edge}))({ipv4}|{ipv6})(?=$|{edge})", regex.MULTILINE)
        self.email = regex.compile(
            r"(?<=^|[\s@,?!;:)('\".\p{Han}<])([^\s@?!;,:)('\"<]+@[^\s@!?;,/]*[^\s@?!;,/:)('\">.]\.\p{L}\w{1,})"
            r"(?=$|[\s@,?!;:)('\".\p{Han}>])", regex.MULTILINE)
        self.dates = [regex.compile(p) for p in (
            r"^[1-2][0-9]{3}[\p{Pd}/.][0-3][0-9][\p{Pd}/.][0-3][0-9]$", r"^[0-3][0-9][\p{Pd}/.][0-3][0-9][\p{Pd}/.][0-9]{2,4}$")]

    def find(self, text: str, path: str) -> list[tuple[str, int, int]]:
        out = []
        for m in self.email.finditer(text):
            out.append(("EMAIL", m.start(1), m.end(1)))
        for m in self.ip.finditer(text):
            value = m.group(1)
            if not any(c.isdigit() for c in value) or any(d.match(value) for d in self.dates):
                continue
            context = text[max(0, m.start(1) - 100):m.end(1) + 100].lower()
            if value.count(".") == 3 and len(value) == 7 and "dns" not in context and "server" not in context:
                continue
            try:
                ip = ipaddress.ip_address(value)
            except ValueError:
                continue
            if ip.is_private or value in self.DNS:
                continue
            out.append(("IP_ADDRESS", m.start(1), m.end(1)))
        out.extend(self.keys(text, path))
        return out

    def keys(self, text: str, path: str) -> list[tuple[str, int, int]]:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import transient_settings

        secrets = scan_detect_secrets(text, path, transient_settings(
            {"plugins_used": [{"name": p} for p in self.PLUGINS],
             "filters_used": [{"path": f} for f in self.FILTERS]}), SecretsCollection)
        out = []
        lines = text.splitlines(keepends=True)
        hashy = file_has_hashes(text)
        for line_no, value, start, end in secrets:
            line = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
            if hashy or (len(value) in (32, 40, 64) and any(k in line[:line.find(value)].lower()
                                                              for k in ("sha", "md5", "hash", "byte"))):
                continue
            out.append(("KEY", start, end))
        return out


def file_has_hashes(text: str, coeff: float = 0.02) -> bool:
    threshold = int(coeff * text.count("\n"))
    sha = hsh = 0
    for line in text.splitlines():
        low = line.lower()
        sha += low.count("sha")
        hsh += low.count("hash")
        if sha > threshold or hsh > threshold:
            return True
    return False


def scan_detect_secrets(text: str, path: str, settings_cm, collection_cls) -> list[tuple[int, str, int, int]]:
    """(line, value, start, end) for each secret detect-secrets reports in ``text``."""
    suffix = os.path.splitext(path)[1] or ".txt"
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8") as f:
        f.write(text)
        name = f.name
    try:
        with settings_cm:
            secrets = collection_cls()
            secrets.scan_file(name)
    finally:
        os.unlink(name)
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    out = []
    for found in secrets.data.values():
        for secret in found:
            value = secret.secret_value or ""
            if not value:
                continue
            line_no = secret.line_number
            lo = line_starts[line_no - 1] if 0 < line_no <= len(line_starts) - 1 else 0
            hi = line_starts[line_no] if 0 < line_no < len(line_starts) else len(text)
            i = text.find(value, lo, hi)
            if i == -1:
                i = text.find(value)
            if i != -1:
                out.append((line_no, value, i, i + len(value)))
    return out


class DetectSecrets:
    name = "detect-secrets"
    entities = ("KEY",)

    def find(self, text: str, path: str) -> list[tuple[str, int, int]]:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings

        return [("KEY", s, e) for _l, _v, s, e in scan_detect_secrets(text, path, default_settings(), SecretsCollection)]


# --- scoring -------------------------------------------------------------------------------------


def score(docs: list[dict], predictions: list[list], entities) -> dict:
    tp, fp, fn = Counter(), Counter(), Counter()
    examples = defaultdict(list)
    for doc, preds in zip(docs, predictions):
        gold = [tuple(g) for g in doc["labels"]]
        matched = set()
        for entity, s, e in sorted(set(preds), key=lambda p: (p[1], p[2])):
            if entity not in entities:
                continue
            hit = next((i for i, (ge, gs, gend) in enumerate(gold)
                        if i not in matched and ge == entity and s < gend and gs < e), None)
            if hit is not None:
                matched.add(hit)
                tp[entity] += 1
                continue
            if any(s < gend and gs < e and ge not in entities for ge, gs, gend in gold):
                continue  # overlaps an entity this system does not report: not counted
            fp[entity] += 1
            if len(examples[f"FP {entity}"]) < 12:
                examples[f"FP {entity}"].append(doc["text"][max(0, s - 40):e + 20])
        for i, (ge, gs, gend) in enumerate(gold):
            if ge in entities and i not in matched:
                fn[ge] += 1
                if len(examples[f"FN {ge}"]) < 12:
                    examples[f"FN {ge}"].append(doc["text"][max(0, gs - 40):gend + 20])
    table = {}
    for entity in entities:
        p = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 0.0
        rc = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 0.0
        f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
        table[entity] = {"precision": round(p, 3), "recall": round(rc, 3), "f1": round(f1, 3), "tp": tp[entity],
                         "fp": fp[entity], "fn": fn[entity]}
    return {"per_entity": table, "examples": dict(examples)}


def natural_findings(sample: Path, top: int = 12) -> dict:
    """What codecorpus finds in every unmodified text blob of the sample (no labels: read the
    values to judge precision on real code)."""
    ours = Ours()
    found = defaultdict(Counter)
    blobs = 0
    with gzip.open(sample / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = row.get("content")
            if not text or row.get("binary"):
                continue
            blobs += 1
            for entity, s, e in ours.find(text, ""):
                value = text[s:e]
                found[entity][value if len(value) < 60 else value[:40] + "…"] += 1
    return {"blobs": blobs, "entities": {e: {"findings": sum(c.values()), "distinct": len(c),
                                             "top": c.most_common(top)} for e, c in sorted(found.items())}}


def run_system(system, docs: list[dict]) -> tuple[list, float]:
    started = time.perf_counter()
    preds = [system.find(d["text"], d["path"]) for d in docs]
    return preds, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3, help="3 is the reported run; 0 was used to develop "
                        "the recognizers, 1 and 2 as held-out checks along the way")
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--dump-set", type=Path, help="also write the labelled set as JSONL")
    parser.add_argument("--examples", action="store_true", help="print FP/FN examples of codecorpus")
    parser.add_argument("--skip-natural", action="store_true", help="skip the scan of the unmodified sample")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    docs = build_set(args.docs, args.seed, args.sample)
    if args.dump_set:
        with open(args.dump_set, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    gold = Counter(g[0] for d in docs for g in d["labels"])
    results = {}
    for system in (Ours(), BigCodeRegex(), DetectSecrets()):
        preds, seconds = run_system(system, docs)
        results[system.name] = {**score(docs, preds, system.entities), "seconds": round(seconds, 2)}
        print(f"{system.name}: {seconds:.1f}s", file=sys.stderr)
    if args.examples:
        for key, values in sorted(results["codecorpus"]["examples"].items()):
            print(f"== {key}")
            for value in values:
                print("   ", repr(value))
    natural = natural_findings(args.sample) if not args.skip_natural else None
    write_report(args, docs, gold, results, natural)
    return 0


def write_report(args, docs, gold, results, natural=None) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"docs": len(docs), "seed": args.seed, "gold": dict(gold),
               "systems": {k: {kk: vv for kk, vv in v.items() if kk != "examples"} for k, v in results.items()},
               "natural": natural}
    (args.out / "pii_eval.json").write_text(json.dumps(payload, indent=2) + "\n")
    ours = results["codecorpus"]["per_entity"]
    big = results["bigcode-regex"]["per_entity"]
    ds = results["detect-secrets"]["per_entity"]
    exts = Counter(os.path.splitext(d["path"])[1] for d in docs)
    lines = [
        "# PII detection quality (`benchmarks/pii_eval.py`)",
        "",
        f"{len(docs)} documents (seed {args.seed}) built from real files of `../shared/data/github_repos_sample` "
        f"({', '.join(f'{e} {n}' for e, n in exts.most_common(8))} …) with {sum(gold.values())} PII spans inserted "
        f"({', '.join(f'{e} {gold[e]}' for e in ENTITIES)}) plus hard negatives. Matching: overlap, same entity.",
        "",
        "| entity | codecorpus P | R | F1 | bigcode-regex (ours) P | R | detect-secrets P | R | BigCode published P / R |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in ENTITIES:
        o = ours[e]
        b = big.get(e)
        d = ds.get(e)
        pub = BIGCODE_PUBLISHED.get(e)
        lines.append(f"| {e} | {o['precision']:.3f} | {o['recall']:.3f} | {o['f1']:.3f} | "
                     + (f"{b['precision']:.3f} | {b['recall']:.3f}" if b else "– | –") + " | "
                     + (f"{d['precision']:.3f} | {d['recall']:.3f}" if d else "– | –") + " | "
                     + (f"{pub[0]:.3f} / {pub[1]:.3f}" if pub else "–") + " |")
    lines += ["", "Counts (tp / fp / fn):", ""]
    for name, res in results.items():
        lines.append(f"- {name}: " + ", ".join(
            f"{e} {v['tp']}/{v['fp']}/{v['fn']}" for e, v in res["per_entity"].items())
                     + f" ({res['seconds']} s)")
    if natural:
        lines += ["", f"## Findings on the unmodified sample ({natural['blobs']:,} text blobs, whole files)", "",
                  "No labels here: the most frequent values, to judge precision on real code by reading them.", "",
                  "| entity | findings | distinct | most frequent values (count) |", "|---|---|---|---|"]
        for entity, info in natural["entities"].items():
            top = ", ".join(f"`{v!r}` ({n})".replace("|", "\\|") for v, n in info["top"][:8])
            lines.append(f"| {entity} | {info['findings']:,} | {info['distinct']:,} | {top} |")
    lines += ["", "Reproduce: `python benchmarks/pii_eval.py --docs {} --seed {}`".format(len(docs), args.seed), ""]
    (args.out / "pii_eval.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
