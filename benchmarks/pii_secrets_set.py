"""A second PII evaluation set (issue 18), built from the providers' public documentation of
their token formats and from a table of contexts, not from our recognizers' own examples.

Seeded and deterministic (``build_set(seed)``); every value is generated at run time with the
documented shape (prefix, alphabet, length), so no real secret is ever in the repository.

Families (``family`` of each case):

- ``provider_tokens``: one documented format per row of ``PROVIDERS``, in neutral code (a call
  argument, a list item, a comment, a JSON value): the shape alone must give it away;
- ``contexts``: a secret named like one (``apiToken``, ``DB_PASSWORD`` …) in every syntax of
  ``CONTEXTS`` (Go, PHP, Makefile, multi-line XML, ``KEY=value`` inside JSON/YAML strings, C#
  verbatim strings, Kotlin/Swift ``val``/``let``, HCL, TOML, INI, .npmrc/.pypirc/netrc, Docker
  ``ENV``, shell, command-line flags, unquoted values before a comma or quote, comparisons) ×
  value shapes (``password``, ``random_key``, ``provider_token``): a cell per pair;
- ``named_uuid``: UUID-shaped secrets assigned to a secret's name (Heroku, HubSpot, Snyk, npm
  legacy tokens are UUIDs);
- ``template_chars``: passwords holding ``${``, ``{{``, ``<``, ``>`` or ``___`` that are not
  well-formed templates;
- ``contact``: punycode (``xn--``) email domains, IPv4 embedded in IPv6.

Negatives (``negative`` True; any secret found in the document is a false positive): well-formed
templates (``${API_KEY}``, ``{{ api_key }}``, ``<YOUR_KEY>``, ``%(key)s``, ``$API_KEY``), placeholder
runs with a real prefix, the providers' documented example keys, identifiers named ``*Key``,
hashes, UUIDs alone, base64 of short English text, JWT-shaped strings whose header is not JSON.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid

LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
B62 = LOWER + UPPER + DIGITS
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(rng: random.Random, segments: int = 3, alg: str = "HS256") -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": str(rng.randrange(10**9)), "iat": rng.randrange(1.6e9, 1.8e9)}).encode())
    parts = [header, payload]
    if segments == 3:
        parts.append("" if alg == "none" else s(rng, B64URL, 43))
    return ".".join(parts)


def discord_bot(rng: random.Random) -> str:
    user_id = str(rng.randrange(10**17, 10**19))
    return b64url(user_id.encode()) + "." + s(rng, B64URL, 6) + "." + s(rng, B64URL, 38)


# provider -> generator of a value of the documented shape
PROVIDERS = {
    "aws_akia": lambda r: "AKIA" + s(r, UPPER + "234567", 16),
    "aws_asia": lambda r: "ASIA" + s(r, UPPER + "234567", 16),
    "aws_abia": lambda r: "ABIA" + s(r, UPPER + "234567", 16),
    "aws_acca": lambda r: "ACCA" + s(r, UPPER + "234567", 16),
    "github_classic": lambda r: r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + s(r, B62, 36),
    "github_fine_grained": lambda r: "github_pat_" + s(r, B62, 22) + "_" + s(r, B62, 59),
    "gitlab_pat": lambda r: "glpat-" + s(r, B62 + "_-", 20),
    "gitlab_deploy": lambda r: "gldt-" + s(r, B62 + "_-", 20),
    "gitlab_runner": lambda r: "glrt-" + s(r, B62 + "_-", 20),
    "gitlab_ci_job": lambda r: "glcbt-" + s(r, HEX, 2) + "_" + s(r, B62 + "_-", 20),
    "gitlab_trigger": lambda r: "glptt-" + s(r, HEX, 40),
    "gitlab_feed": lambda r: "glft-" + s(r, B62 + "_-", 20),
    "gitlab_incoming_mail": lambda r: "glimt-" + s(r, B62, 25),
    "gitlab_agent": lambda r: "glagent-" + s(r, B62 + "_-", 50),
    "gitlab_oauth_secret": lambda r: "gloas-" + s(r, HEX, 64),
    "gitlab_scim": lambda r: "glsoat-" + s(r, B62 + "_-", 20),
    "gitlab_runner_registration": lambda r: "GR1348941" + s(r, B62 + "_-", 20),
    "stripe_live_secret": lambda r: "sk_live_" + s(r, B62, 24),
    "stripe_test_secret": lambda r: "sk_test_" + s(r, B62, 24),
    "stripe_restricted": lambda r: r.choice(["rk_live_", "rk_test_"]) + s(r, B62, 24),
    "stripe_webhook": lambda r: "whsec_" + s(r, B62, 32),
    "huggingface_user": lambda r: "hf_" + s(r, LOWER + UPPER, 34),
    "huggingface_org": lambda r: "api_org_" + s(r, LOWER + UPPER, 34),
    "discord_bot": discord_bot,
    "slack_bot": lambda r: f"xoxb-{r.randrange(10**10, 10**11)}-{r.randrange(10**12, 10**13)}-" + s(r, B62, 24),
    "slack_user": lambda r: f"xoxp-{r.randrange(10**10, 10**11)}-{r.randrange(10**10, 10**11)}-"
                            f"{r.randrange(10**12, 10**13)}-" + s(r, HEX, 32),
    "slack_app": lambda r: f"xapp-1-A{s(r, UPPER + DIGITS, 10)}-{r.randrange(10**12, 10**13)}-" + s(r, HEX, 64),
    "slack_config": lambda r: "xoxe.xoxp-1-" + s(r, B62, 140),
    "slack_refresh": lambda r: "xoxe-1-" + s(r, B62, 140),
    "npm_automation": lambda r: "npm_" + s(r, B62, 36),
    "jwt_signed": lambda r: jwt(r),
    "jwt_two_segments": lambda r: jwt(r, 2),
    "jwt_unsigned": lambda r: jwt(r, 3, "none"),
    "azure_ad_client_secret": lambda r: s(r, B62 + "_~.", 3) + r.choice(DIGITS) + "Q~" + s(r, B62 + "_~.-", 34),
    "pypi": lambda r: "pypi-AgEIcHlwaS5vcmc" + s(r, B64URL, 60),
    "shopify_access": lambda r: r.choice(["shpat_", "shpca_", "shppa_", "shpss_"]) + s(r, HEX, 32),
    "twilio_api_key": lambda r: "SK" + s(r, HEX, 32),
    "sendgrid": lambda r: "SG." + s(r, B64URL, 22) + "." + s(r, B64URL, 43),
    "openai_project": lambda r: "sk-proj-" + s(r, B64URL, 120),
    "openai_legacy": lambda r: "sk-" + s(r, B62, 20) + "T3BlbkFJ" + s(r, B62, 20),
    "anthropic": lambda r: "sk-ant-api03-" + s(r, B64URL, 93) + "AA",
    "google_api_key": lambda r: "AIza" + s(r, B64URL, 35),
    "google_oauth_secret": lambda r: "GOCSPX-" + s(r, B64URL, 28),
    "mailchimp": lambda r: s(r, HEX, 32) + f"-us{r.randrange(1, 21)}",
    "telegram_bot": lambda r: f"{r.randrange(10**8, 10**10)}:AA" + s(r, B64URL, 33),
    "mailgun": lambda r: "key-" + s(r, HEX, 32),
    "digitalocean": lambda r: r.choice(["dop_v1_", "doo_v1_", "dor_v1_"]) + s(r, HEX, 64),
    "databricks": lambda r: "dapi" + s(r, HEX, 32),
    "vault_service": lambda r: "hvs." + s(r, B64URL, 90),
    "grafana_service_account": lambda r: "glsa_" + s(r, B62, 32) + "_" + s(r, HEX, 8),
    "linear": lambda r: "lin_api_" + s(r, B62, 40),
    "postman": lambda r: "PMAK-" + s(r, HEX, 24) + "-" + s(r, HEX, 34),
    "age_secret_key": lambda r: "AGE-SECRET-KEY-1" + s(r, BECH32.upper(), 58),
    "database_url": lambda r: f"postgres://app_{s(r, LOWER, 5)}:{s(r, B62, 18)}@db-{s(r, LOWER, 6)}.internal:5432/app",
    "private_key": lambda r: "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(
        s(r, B62 + "+/", 64) for _ in range(6)) + "\n-----END RSA PRIVATE KEY-----",
}

# The secret inside a database URL is its password: that is what must be found.
def secret_part(provider: str, value: str) -> str:
    if provider == "database_url":
        return value.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    return value


NEUTRAL = (  # (extension, template): a provider token with no secret-like name around it
    (".py", 'client = Client("{v}", timeout=30)\n'),
    (".json", '{{"items": ["{v}"], "retries": 3}}\n'),
    (".yaml", 'steps:\n  - run: deploy\n  - with: {v}\n'),
    (".js", "// TODO rotate {v} before release\n"),
)

# Contexts: (name, extension, template, name style). {n} is the identifier, {v} the value.
CONTEXTS = (
    ("go_var", ".go", 'var {n} string = "{v}"\n', "camel"),
    ("go_short", ".go", 'func init() {{\n\t{n} := "{v}"\n\tuse({n})\n}}\n', "camel"),
    ("php_assign", ".php", '<?php\n${n} = "{v}";\n', "camel"),
    ("php_concat", ".php", "<?php\n${n} = '';\n${n} .= '{v}';\n", "camel"),
    ("php_array", ".php", "<?php\nreturn [\n    '{n}' => '{v}',\n];\n", "snake"),
    ("make_simple", "Makefile", "{n} := {v}\n", "upper"),
    ("make_double", "Makefile", "{n} ::= {v}\n", "upper"),
    ("make_triple", "Makefile", "{n} :::= {v}\n", "upper"),
    ("make_conditional", "Makefile", "{n} ?= {v}\n", "upper"),
    ("xml_multiline", ".xml", "<config>\n  <{n}>\n    {v}\n  </{n}>\n</config>\n", "camel"),
    ("xml_inline", ".xml", "<config>\n  <{n}>{v}</{n}>\n</config>\n", "camel"),
    ("json_env_string", ".json", '{{"env": ["DEBUG=1", "{n}={v}"]}}\n', "upper"),
    ("yaml_env_string", ".yaml", 'services:\n  api:\n    command: "{n}={v} ./run"\n', "upper"),
    ("csharp_verbatim", ".cs", 'var {n} = @"{v}";\n', "camel"),
    ("kotlin_val", ".kt", 'val {n} = "{v}"\n', "camel"),
    ("kotlin_typed", ".kt", 'private val {n}: String = "{v}"\n', "camel"),
    ("swift_let", ".swift", 'let {n}: String = "{v}"\n', "camel"),
    ("terraform", ".tf", 'provider "acme" {{\n  {n} = "{v}"\n}}\n', "snake"),
    ("toml", ".toml", '[service]\n{n} = "{v}"\n', "snake"),
    ("ini", ".ini", "[service]\n{n} = {v}\n", "snake"),
    ("npmrc", ".npmrc", "//registry.npmjs.org/:_{n}={v}\n", "npm"),
    ("pypirc", ".pypirc", "[pypi]\nusername = __token__\npassword = {v}\n", "fixed"),
    ("netrc", ".netrc", "machine api.acme-prod.io\n  login deploy\n  password {v}\n", "fixed"),
    ("docker_env", "Dockerfile", "FROM python:3.12\nENV {n}={v}\n", "upper"),
    ("docker_env_space", "Dockerfile", "FROM python:3.12\nENV {n} {v}\n", "upper"),
    ("shell_export", ".sh", 'export {n}="{v}"\n', "upper"),
    ("shell_export_unquoted", ".sh", "export {n}={v}\n", "upper"),
    ("cli_flag_equals", ".sh", "deploy --{n}={v} --verbose\n", "kebab"),
    ("cli_flag_space", ".sh", "deploy --{n} {v} --verbose\n", "kebab"),
    ("unquoted_before_comma", ".txt", "{n}={v},REGION=eu-west-1\n", "upper"),
    ("unquoted_before_quote", ".py", 'os.system("{n}={v}" + " ./run")\n', "upper"),
    ("comparison", ".java", 'if ({n}.equals("{v}")) {{\n    grant();\n}}\n', "camel"),
    ("comparison_eq", ".js", "if ({n} === '{v}') {{ grant() }}\n", "camel"),
    ("python", ".py", '{n} = "{v}"\n', "upper"),
    ("yaml", ".yaml", "{n}: {v}\n", "snake"),
    ("json", ".json", '{{"{n}": "{v}"}}\n', "camel"),
    ("dotenv", ".env", "{n}={v}\n", "upper"),
)

NAMES = {  # shape -> identifier words
    "password": ("db", "password"),
    "random_key": ("api", "token"),
    "provider_token": ("auth", "token"),
}


def identifier(words: tuple, style: str) -> str:
    if style == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    if style == "upper":
        return "_".join(w.upper() for w in words)
    if style == "kebab":
        return "-".join(words)
    if style == "npm":
        return "authToken" if words[-1] == "token" else "password"
    return "_".join(words)


PASSWORD_CHARS = B62 + "!#%&*+-=?@^_"


def password(rng: random.Random) -> str:
    """Letters, digits and punctuation, not starting with ``=`` or ``&`` (``KEY==x`` and ``--pw &x``
    mean something else unquoted: a comparison, a shell's background operator)."""
    while True:
        v = s(rng, PASSWORD_CHARS, rng.randrange(10, 17))
        if any(c.isdigit() for c in v) and any(c.isupper() for c in v) and any(c.islower() for c in v) \
                and v[0] not in "=&":
            return v


def shaped(rng: random.Random, shape: str) -> str:
    if shape == "password":
        return password(rng)
    if shape == "random_key":
        return s(rng, B62, rng.randrange(32, 41))
    return PROVIDERS[rng.choice(["github_classic", "stripe_live_secret", "slack_bot", "npm_automation"])](rng)


FILLER_BEFORE = ("import os\nimport sys\n\n", "package main\n\nimport \"fmt\"\n\n", "# settings\n", "")
FILLER_AFTER = ("\ndef main():\n    print('ready')\n", "\nfunc main() { fmt.Println(\"ok\") }\n", "\n# end\n", "")


def case(family: str, cell: str, ext: str, snippet: str, value: str = "", entity: str = "secret",
         negative: bool = False, rng: random.Random = None) -> dict:
    i = rng.randrange(len(FILLER_BEFORE))
    before, after = FILLER_BEFORE[i], FILLER_AFTER[i]
    text = before + snippet + after
    gold = []
    if value:
        start = text.find(value, len(before))
        assert start != -1, (cell, value)
        gold = [(start, start + len(value))]
    path = ext if ext.startswith(("Makefile", "Dockerfile")) else f"file{ext}"
    return {"family": family, "cell": cell, "path": path, "text": text, "gold": gold, "entity": entity,
            "negative": negative}


def build_set(seed: int = 18, per_cell: int = 6) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for provider, make in PROVIDERS.items():
        for k in range(per_cell):
            value = make(rng)
            ext, template = NEUTRAL[k % len(NEUTRAL)]
            if "\n" in value and ext in (".json", ".yaml", ".py"):
                ext, template = ".js", "/*\n{v}\n*/\n"
            cases.append(case("provider_tokens", provider, ext, template.format(v=value), secret_part(provider, value),
                              rng=rng))
    for name, ext, template, style in CONTEXTS:
        for shape, words in NAMES.items():
            for _ in range(per_cell):
                value = shaped(rng, shape)
                n = identifier(words, style)
                cases.append(case("contexts", f"{name} x {shape}", ext, template.format(n=n, v=value), value, rng=rng))
    uuid_contexts = (
        (".env", "HEROKU_API_KEY={v}\n"), (".py", 'HUBSPOT_API_KEY = "{v}"\n'), (".yaml", "snyk_token: {v}\n"),
        (".npmrc", "//registry.npmjs.org/:_authToken={v}\n"), (".js", "const apiKey = '{v}';\n"),
        (".json", '{{"secret": "{v}"}}\n'), (".sh", "export SNYK_TOKEN={v}\n"), (".go", 'apiKey := "{v}"\n'),
    )
    for ext, template in uuid_contexts:
        for _ in range(per_cell):
            value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            cases.append(case("named_uuid", ext, ext, template.format(v=value), value, rng=rng))
    for marker in ("${", "{{", "<", ">", "___"):
        for ext, template in ((".py", 'DB_PASSWORD = "{v}"\n'), (".yaml", "password: '{v}'\n"),
                              (".env", "DB_PASSWORD={v}\n")):
            for _ in range(per_cell):
                a, b = password(rng), password(rng)
                value = a[:5] + marker + b[:6]
                cases.append(case("template_chars", f"{marker} in {ext}", ext, template.format(v=value), value,
                                  rng=rng))
    for _ in range(per_cell * 2):
        label = s(rng, LOWER, 5)
        for ext, template, value in (
            (".py", "# contact: {v}\n", f"{label}@xn--{s(rng, LOWER + DIGITS, 8)}.com"),
            (".md", "Write to {v} for access.\n", f"{label}.{s(rng, LOWER, 4)}@mail.xn--p1ai"),
            (".txt", "owner = {v}\n", f"{label}@{s(rng, LOWER, 6)}.xn--80asehdb"),
        ):
            cases.append(case("contact", "punycode_email", ext, template.format(v=value), value, "EMAIL", rng=rng))
        v4 = f"{rng.randrange(11, 100)}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
        for ext, template, value in (
            (".conf", "listen [{v}]:443;\n", f"::ffff:{v4}"),
            (".py", 'UPSTREAM = "{v}"\n', f"64:ff9b::{v4}"),
            (".yaml", "peer: {v}\n", f"2600:1f18::{v4}"),
        ):
            cases.append(case("contact", "ipv4_in_ipv6", ext, template.format(v=value), value, "IP_ADDRESS", rng=rng))
    cases.extend(negatives(rng, per_cell))
    return cases


def negatives(rng: random.Random, per_cell: int) -> list[dict]:
    out = []

    def neg(cell, ext, snippet):
        out.append(case("negatives", cell, ext, snippet, negative=True, rng=rng))

    for _ in range(per_cell):
        name = rng.choice(["API_KEY", "SECRET_TOKEN", "DB_PASSWORD", "AUTH_TOKEN"])
        lower = name.lower()
        neg("template_dollar_brace", ".yaml", f"{lower}: ${{{name}}}\n")
        neg("template_jinja", ".yaml", f"{lower}: \"{{{{ {lower} }}}}\"\n")
        neg("template_angle", ".md", f"{name}=<YOUR_{name}>\n")
        neg("template_percent", ".py", f'{lower} = "%({lower})s"\n')
        neg("template_dollar", ".sh", f"curl -H \"Authorization: Bearer ${name}\" https://api.acme.io\n")
        neg("template_env_ref", ".py", f'{lower} = os.environ["{name}"]\n')
        neg("placeholder_prefix_runs", ".py", rng.choice([
            'SLACK = "xoxp-1234567890"\n', 'GOOGLE_KEY = "AIza' + "a" * 35 + '"\n',
            'TOKEN = "ghp_' + "x" * 36 + '"\n', 'STRIPE = "sk_live_' + "0" * 24 + '"\n']))
        neg("documented_example_keys", ".py", rng.choice([
            'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"\n',
            'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n',
            'stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"\n']))
        neg("identifiers_named_key", ".js", rng.choice([
            "const primaryKey = 'userId';\n", "public_key = load_public_key(path)\n",
            "sortKey: 'createdAt',\n", "const cacheKey = `${prefix}:${id}`;\n",
            "foreignKey: 'authorId',\n", "partition_key = \"tenant_id\"\n"]))
        neg("hashes", ".py", rng.choice([
            f'sha256 = "{s(rng, HEX, 64)}"\n', f'"integrity": "sha512-{base64.b64encode(rng.randbytes(64)).decode()}"\n',
            f"md5sum: {s(rng, HEX, 32)}\n", f'commit = "{s(rng, HEX, 40)}"\n']))
        neg("uuids_alone", ".py", rng.choice([
            f'request_id = "{uuid.UUID(int=rng.getrandbits(128), version=4)}"\n',
            f'url = "https://api.acme.io/v1/items/{uuid.UUID(int=rng.getrandbits(128), version=4)}"\n',
            f'{{"id": "{uuid.UUID(int=rng.getrandbits(128), version=4)}"}}\n']))
        english = rng.choice(["Hello, world!", "The quick brown fox", "user:password", "This is a test message.",
                              "Lorem ipsum dolor sit amet", "application/json"])
        neg("base64_english", ".py", f'banner = "{base64.b64encode(english.encode()).decode()}"\n')
        neg("jwt_shaped_not_json", ".js",
            "const t = 'eyJ" + s(rng, B64URL, 20) + ".eyJ" + s(rng, B64URL, 30) + "." + s(rng, B64URL, 20) + "';\n")
    return out
