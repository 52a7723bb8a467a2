"""Secrets and contact PII in the formats real code uses (issue 18). Every token here is
generated at test time with its provider's documented shape (prefix, alphabet, length): format-
correct, never a real secret."""

from __future__ import annotations

import base64
import json
import random
import string
import uuid

import pytest

from codecorpus.config import default_config
from codecorpus.pii.recognizers import TOKEN_FORMATS, is_templated
from codecorpus.pii.redact import Redactor

B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
rng = random.Random(18)


def r(alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(segments: int = 3, alg: str = "HS256") -> str:
    parts = [b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()), b64url(b'{"sub":"4711","iat":1700000000}')]
    if segments == 3:
        parts.append("" if alg == "none" else r(B64URL, 43))
    return ".".join(parts)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(default_config())


def secrets_found(redactor: Redactor, text: str, entities=("KEY", "PASSWORD")) -> list[str]:
    _, spans = redactor.redact(text)
    return [text[s.start:s.end] for s in spans if s.entity in entities]


def fully_redacted(redactor: Redactor, text: str, value: str, entities=("KEY", "PASSWORD")) -> bool:
    new, spans = redactor.redact(text)
    start = text.index(value)
    covered = [(s.start, s.end) for s in spans if s.entity in entities]
    pos = start
    for a, b in sorted(covered):
        if a <= pos < b:
            pos = b
    return pos >= start + len(value) and value not in new


# --- 2. provider token formats -------------------------------------------------------------------

PROVIDER_TOKENS = {
    "aws ABIA": "ABIA" + r(string.ascii_uppercase + "234567", 16),
    "aws ACCA": "ACCA" + r(string.ascii_uppercase + "234567", 16),
    "aws ASIA": "ASIA" + r(string.ascii_uppercase + "234567", 16),
    "gitlab pat": "glpat-" + r(B62, 20),
    "gitlab deploy": "gldt-" + r(B62, 20),
    "gitlab runner": "glrt-" + r(B62, 20),
    "gitlab ci job": "glcbt-" + r(HEX, 2) + "_" + r(B62, 20),
    "gitlab trigger": "glptt-" + r(HEX, 40),
    "gitlab feed": "glft-" + r(B62, 20),
    "gitlab incoming mail": "glimt-" + r(B62, 25),
    "gitlab agent": "glagent-" + r(B62, 50),
    "gitlab oauth secret": "gloas-" + r(HEX, 64),
    "gitlab scim": "glsoat-" + r(B62, 20),
    "gitlab runner registration": "GR1348941" + r(B62, 20),
    "stripe live": "sk_live_" + r(B62, 24),
    "stripe test": "sk_test_" + r(B62, 24),
    "stripe restricted": "rk_live_" + r(B62, 24),
    "stripe webhook": "whsec_" + r(B62, 32),
    "hugging face user": "hf_" + r(string.ascii_letters, 34),
    "hugging face org": "api_org_" + r(string.ascii_letters, 34),
    "discord bot": b64url(str(rng.randrange(10**17, 10**19)).encode()) + "." + r(B64URL, 6) + "." + r(B64URL, 38),
    "slack bot": f"xoxb-{rng.randrange(10**10, 10**11)}-{rng.randrange(10**12, 10**13)}-" + r(B62, 24),
    "slack app": f"xapp-1-A{r(string.ascii_uppercase + string.digits, 10)}-{rng.randrange(10**12, 10**13)}-" + r(HEX, 64),
    "slack config": "xoxe.xoxp-1-" + r(B62, 140),
    "slack refresh": "xoxe-1-" + r(B62, 140),
    "npm automation": "npm_" + r(B62, 36),
    "jwt": jwt(),
    "jwt two segments": jwt(2),
    "jwt unsigned": jwt(3, "none"),
    "azure ad client secret": r(B62, 3) + "8Q~" + r(B62 + "_~.-", 34),
    "pypi": "pypi-AgEIcHlwaS5vcmc" + r(B64URL, 60),
    "github fine-grained": "github_pat_" + r(B62, 22) + "_" + r(B62, 59),
    "shopify": "shpat_" + r(HEX, 32),
    "twilio": "SK" + r(HEX, 32),
    "sendgrid": "SG." + r(B64URL, 22) + "." + r(B64URL, 43),
    "openai project": "sk-proj-" + r(B64URL, 120),
    "anthropic": "sk-ant-api03-" + r(B64URL, 93) + "AA",
    "mailchimp": r(HEX, 32) + "-us14",
    "telegram bot": f"{rng.randrange(10**8, 10**10)}:AA" + r(B64URL, 33),
    "databricks": "dapi" + r(HEX, 32),
    "vault": "hvs." + r(B64URL, 90),
    "age": "AGE-SECRET-KEY-1" + r("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
}


@pytest.mark.parametrize("provider", sorted(PROVIDER_TOKENS))
@pytest.mark.parametrize("template", ['client = Client("{v}", timeout=30)\n', '{{"items": ["{v}"]}}\n',
                                      "// rotate {v} before release\n"])
def test_provider_formats_by_shape_alone(redactor, provider, template):
    value = PROVIDER_TOKENS[provider]
    assert fully_redacted(redactor, template.format(v=value), value), provider


def test_mailchimp_and_telegram_fire_at_all(redactor):
    """Their token-start check ran before the match was extended backwards: never found."""
    mailchimp, telegram = PROVIDER_TOKENS["mailchimp"], PROVIDER_TOKENS["telegram bot"]
    assert secrets_found(redactor, f"print('{mailchimp}')") == [mailchimp]
    assert secrets_found(redactor, f"bot = Bot({telegram!r})") == [telegram]
    assert secrets_found(redactor, f"x{mailchimp}") == []  # still a token start: not inside another token


def test_database_url_password(redactor):
    pw = r(B62, 18)
    assert secrets_found(redactor, f'engine = create_engine("postgres://app:{pw}@db.acme-prod.io:5432/app")') == [pw]


def test_provider_table_is_data():
    names = [f.provider for f in TOKEN_FORMATS]
    assert len(names) == len(set(names)) and len(names) >= 60
    for f in TOKEN_FORMATS:
        assert f.triggers or f.hint is not None, f.provider   # nothing runs a regex over every document
        assert f.min_entropy >= 0 and isinstance(f.context, tuple)


# --- 1. assignment and literal syntaxes ----------------------------------------------------------

CONTEXTS = [
    ('var {n} string = "{v}"\n', "camel"),
    ('func init() {{\n\t{n} := "{v}"\n}}\n', "camel"),
    ('<?php\n${n} = "{v}";\n', "camel"),
    ("<?php\n${n} .= '{v}';\n", "camel"),
    ("{n} := {v}\n", "upper"), ("{n} ::= {v}\n", "upper"), ("{n} :::= {v}\n", "upper"), ("{n} ?= {v}\n", "upper"),
    ("<config>\n  <{n}>\n    {v}\n  </{n}>\n</config>\n", "camel"),
    ('{{"env": ["DEBUG=1", "{n}={v}"]}}\n', "upper"),
    ('command: "{n}={v} ./run"\n', "upper"),
    ('var {n} = @"{v}";\n', "camel"),
    ('val {n} = "{v}"\n', "camel"), ('private val {n}: String = "{v}"\n', "camel"), ('let {n}: String = "{v}"\n', "camel"),
    ('provider "acme" {{\n  {n} = "{v}"\n}}\n', "snake"),
    ('[service]\n{n} = "{v}"\n', "snake"), ("[service]\n{n} = {v}\n", "snake"),
    ("//registry.npmjs.org/:_{n}={v}\n", "npm"),
    ("[pypi]\nusername = __token__\npassword = {v}\n", "fixed"),
    ("machine api.acme-prod.io\n  login deploy\n  password {v}\n", "fixed"),
    ("FROM python:3.12\nENV {n}={v}\n", "upper"), ("FROM python:3.12\nENV {n} {v}\n", "upper"),
    ('export {n}="{v}"\n', "upper"), ("export {n}={v}\n", "upper"),
    ("deploy --{n}={v} --verbose\n", "kebab"), ("deploy --{n} {v} --verbose\n", "kebab"),
    ("{n}={v},REGION=eu-west-1\n", "upper"), ('os.system("{n}={v}" + " ./run")\n', "upper"),
    ('if ({n}.equals("{v}")) {{ grant(); }}\n', "camel"), ("if ({n} === '{v}') {{ grant() }}\n", "camel"),
]


def ident(words, style):
    return {"camel": words[0] + "".join(w.title() for w in words[1:]), "upper": "_".join(w.upper() for w in words),
            "kebab": "-".join(words), "snake": "_".join(words), "fixed": "",
            "npm": "authToken" if words[-1] == "token" else "password"}[style]


@pytest.mark.parametrize("template, style", CONTEXTS, ids=[c[0][:24] for c in CONTEXTS])
@pytest.mark.parametrize("shape", ["password", "key"])
def test_named_secrets_in_every_syntax(redactor, template, style, shape):
    if shape == "password":
        value, words = "Kq7" + r(B62 + "!#%&*+-=?@^_", 10) + "x2", ("db", "password")
    else:
        value, words = r(B62, 36), ("api", "token")
    text = template.format(n=ident(words, style), v=value)
    assert fully_redacted(redactor, text, value), text


# --- 3. named UUID-shaped secrets ------------------------------------------------------------------

@pytest.mark.parametrize("template", ["HEROKU_API_KEY={v}\n", 'HUBSPOT_API_KEY = "{v}"\n', "snyk_token: {v}\n",
                                      "//registry.npmjs.org/:_authToken={v}\n", "const apiKey = '{v}';\n"])
def test_a_uuid_named_like_a_key_is_a_key(redactor, template):
    value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    assert secrets_found(redactor, template.format(v=value)) == [value]


@pytest.mark.parametrize("template", ['request_id = "{v}"\n', 'url = "https://api.acme.io/items/{v}"\n',
                                      '{{"id": "{v}"}}\n', "client_id: {v}\n"])
def test_a_uuid_alone_is_not(redactor, template):
    assert secrets_found(redactor, template.format(v=uuid.UUID(int=rng.getrandbits(128), version=4))) == []


# --- 4. the template check -------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["Kx9${vT2#qA", "p{{4Rt8!zQ", "a<b9Q2zx!W", "Qz8>r!Lm2p", "Ab3___x9Qz!"])
def test_passwords_with_template_characters_are_passwords(redactor, value):
    assert not is_templated(value)
    assert secrets_found(redactor, f'DB_PASSWORD = "{value}"\n') == [value]
    assert secrets_found(redactor, f"DB_PASSWORD={value}\n") == [value]


@pytest.mark.parametrize("value", ["${API_KEY}", "${env:API_KEY}", "{{ api_key }}", "<YOUR_KEY>", "<your-api-key>",
                                   "%(password)s", "$API_KEY", "$password", "{password}"])
def test_well_formed_templates_are_kept(redactor, value):
    assert is_templated(value)
    assert secrets_found(redactor, f'password = "{value}"\napi_key: {value}\n') == []


# --- 5. contact PII --------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["ivan@xn--80ak6aa92e.com", "olga.k@mail.xn--p1ai", "jo@shop.xn--80asehdb"])
def test_punycode_email_domains(redactor, address):
    assert secrets_found(redactor, f"# contact: {address}\n", ("EMAIL",)) == [address]


@pytest.mark.parametrize("address", ["2600:1f18::52.14.33.1", "::ffff:52.14.33.1", "64:ff9b::52.14.33.1"])
def test_ipv4_in_ipv6_is_one_address(redactor, address):
    new, spans = redactor.redact(f"peer = '{address}'\n")
    assert new == "peer = '<IP_ADDRESS>'\n", new  # not "<IP_ADDRESS>.14.33.1": no octet leaks
    assert [s.entity for s in spans] == ["IP_ADDRESS"]


def test_ipv4_in_ipv6_keeps_private_and_dns_addresses(redactor):
    assert secrets_found(redactor, "a = '::ffff:10.1.2.3'\nb = '::ffff:8.8.8.8'\n", ("IP_ADDRESS",)) == []


# --- 6. false positives worth removing -------------------------------------------------------------

@pytest.mark.parametrize("text", [
    'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"\n',
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n',
    'stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"\n',          # Stripe's documented test key
    'SLACK = "xoxp-1234567890"\n', 'GOOGLE_KEY = "AIza' + "a" * 35 + '"\n', 'TOKEN = "ghp_' + "x" * 36 + '"\n',
    'key = "AIzaSyA123bcd456efg789hij012klm345nop6"\n',                 # a hand-typed run of 123/456/789
    "const primaryKey = 'userId';\n", "public_key = load_public_key(path)\n", "sortKey: 'createdAt',\n",
    'partition_key = "tenant_id"\n', "foreignKey: 'authorId',\n",
    'banner = "' + base64.b64encode(b"The quick brown fox").decode() + '"\n',
    'msg = "' + base64.b64encode(b"This is a test message.").decode() + '"\n',
    "const t = 'eyJ" + r(B64URL, 20) + ".eyJ" + r(B64URL, 30) + "." + r(B64URL, 20) + "';\n",
])
def test_false_positives_removed(redactor, text):
    assert secrets_found(redactor, text) == []
