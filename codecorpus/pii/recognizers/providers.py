"""Provider token formats, as data: one row per format (provider, pattern, entropy floor,
context words). Adding a provider is one line here; ``keys.SecretTokenRecognizer`` runs them.

Each row's shape comes from the provider's own documentation of its token format (prefixes,
alphabet, length). Columns:

- ``triggers``: literal substrings every match contains; the regex only runs on a document that
  holds one (``ci``: looked for in the lower-cased text). A format with no literal gives a
  ``hint`` regex instead (a Discord bot token is three base64url segments and nothing else).
- ``pattern``: starts with a literal where it can, so the regex engine skips ahead; ``(?P<v>…)``
  marks the secret when the match holds more (a webhook URL's path, a header's value).
- ``min_entropy``: bits per character the token's body (what follows the trigger) must reach, and
  the body must not be a run (``xoxp-1234567890``, ``AIzaaaaa…``): placeholders with a real
  prefix are not secrets.
- ``context``: words one of which must appear in the 100 characters before, for shapes that are
  too generic on their own; empty for almost every format.
- ``backward``: the token starts before its trigger (Mailchimp's ``<32 hex>-us6``, Telegram's
  ``<bot id>:AA…``): a regex the text before the trigger must end with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import regex


@dataclass(frozen=True)
class TokenFormat:
    provider: str
    triggers: tuple              # literals every match contains (checked before the regex runs)
    pattern: object              # compiled
    min_entropy: float = 2.5     # of the body (the token without its trigger)
    context: tuple = ()          # one of these words in the 100 characters before, if any
    case_insensitive_trigger: bool = False
    token_start: bool = True     # the token must not continue one on its left
    group: object = 0            # the secret: the whole match or group "v"
    backward: Optional[object] = None
    hint: Optional[object] = None
    check: str = ""              # an extra check by name (keys.CHECKS)

    @property
    def name(self) -> str:
        return self.provider


_E = r"(?![A-Za-z0-9_\-])"    # token end


def fmt(provider: str, triggers, pattern: str, min_entropy: float = 2.5, context=(), ci: bool = False,
        token_start: bool = True, backward: str = "", hint: str = "", check: str = "") -> TokenFormat:
    compiled = regex.compile(pattern)
    return TokenFormat(provider, tuple(triggers), compiled, min_entropy, tuple(context), ci, token_start,
                       "v" if "v" in compiled.groupindex else 0, regex.compile(backward) if backward else None,
                       regex.compile(hint) if hint else None, check)


AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "ASCA")
GITLAB_PREFIXES = ("glpat-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-", "glimt-", "glagent-", "glsoat-",
                   "gloas-", "glffct-", "glsa-")

TOKEN_FORMATS = (
    # provider, triggers, pattern[, entropy floor, context words …]
    fmt("aws_access_key_id", AWS_PREFIXES + ("A3T",), rf"(?:A3T[A-Z0-9]|{'|'.join(AWS_PREFIXES)})[A-Z0-9]{{16}}" + _E),
    fmt("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,251}" + _E),
    fmt("github_fine_grained", ("github_pat_",), r"github_pat_[A-Za-z0-9_]{60,255}" + _E),
    fmt("gitlab_token", GITLAB_PREFIXES, r"gl(?:pat|dt|rtr?|cbt|ptt|ft|imt|agent|soat|oas|ffct|sa)-[A-Za-z0-9_\-]{20,64}" + _E),
    fmt("gitlab_runner_registration", ("GR1348941",), r"GR1348941[A-Za-z0-9_\-]{20,40}" + _E),
    fmt("slack_token", ("xox", "xapp-"), r"(?:xox[abposre]|xoxe\.xox[bp]|xapp)-[A-Za-z0-9\-]{10,250}" + _E),
    fmt("slack_webhook", ("hooks.slack.com",),
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>T[A-Za-z0-9_]{6,}/[A-Za-z0-9_/]{8,}[A-Za-z0-9_]{16,})",
        token_start=False),
    fmt("stripe", ("_live_", "_test_"), r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}" + _E),
    fmt("stripe_webhook_secret", ("whsec_",), r"whsec_[A-Za-z0-9+/]{32,100}={0,2}" + _E),
    fmt("google_api_key", ("AIza",), r"AIza[A-Za-z0-9_\-]{35}" + _E, 3.0),
    fmt("google_oauth_secret", ("GOCSPX-",), r"GOCSPX-[A-Za-z0-9_\-]{24,32}" + _E),
    fmt("google_oauth_access_token", ("ya29.",), r"ya29\.[A-Za-z0-9_\-]{30,2000}" + _E, 3.0),
    fmt("openai", ("T3BlbkFJ", "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"),
        r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{40,200}|[A-Za-z0-9_\-]{16,64}T3BlbkFJ[A-Za-z0-9_\-]{16,64})" + _E),
    fmt("openai_legacy", ("sk-",), r"sk-[A-Za-z0-9]{48}" + _E, 4.0),
    fmt("anthropic", ("sk-ant-",), r"sk-ant-[a-z]{2,8}\d{0,3}-[A-Za-z0-9_\-]{40,200}" + _E),
    fmt("huggingface", ("hf_",), r"hf_[A-Za-z]{34}" + _E, 3.0),
    fmt("huggingface_org", ("api_org_",), r"api_org_[A-Za-z]{34}" + _E, 3.0),
    fmt("npm", ("npm_",), r"npm_[A-Za-z0-9]{36}" + _E),
    fmt("pypi", ("pypi-AgE",), r"pypi-AgE[A-Za-z0-9_\-]{50,400}" + _E),
    fmt("rubygems", ("rubygems_",), r"rubygems_[a-f0-9]{48}" + _E),
    fmt("clojars", ("CLOJARS_",), r"CLOJARS_[a-z0-9]{60}" + _E),
    fmt("sendgrid", ("SG.",), r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _E),
    fmt("twilio", ("SK", "AC"), r"(?:SK|AC)[0-9a-f]{32}" + _E),
    fmt("mailchimp", ("-us",), r"-us[0-9]{1,2}" + _E, 0.0, backward=r"(?<![A-Za-z0-9_\-])[0-9a-f]{32}$"),
    fmt("mailgun", ("key-",), r"key-[0-9a-z]{32}" + _E),
    fmt("square", ("sq0atp-", "sq0csp-", "EAAA"), r"(?:sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,43}|EAAA[A-Za-z0-9_\-]{60})" + _E, 3.0),
    fmt("shopify", ("shpat_", "shpca_", "shppa_", "shpss_"), r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _E),
    fmt("digitalocean", ("_v1_",), r"do[opr]_v1_[a-f0-9]{64}" + _E),
    fmt("telegram_bot", (":AA",), r":AA[A-Za-z0-9_\-]{33}" + _E, 0.0, backward=r"(?<![A-Za-z0-9_\-])[0-9]{8,10}$"),
    fmt("discord_bot", (), r"[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}" + _E, 3.0,
        hint=r"\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27}"),
    fmt("discord_webhook", ("/api/webhooks/",),
        r"/api/webhooks/(?P<v>[0-9]{17,20}/[A-Za-z0-9_\-]{60,68})" + _E, token_start=False),
    fmt("jwt", ("eyJ",), r"eyJ[A-Za-z0-9_\-]{10,2000}+\.eyJ[A-Za-z0-9_\-]{10,4000}+(?:\.[A-Za-z0-9_\-]{0,2000}+)?" + _E,
        check="jwt"),
    fmt("azure_account_key", ("AccountKey=",), r"AccountKey=(?P<v>[A-Za-z0-9+/]{80,100}={0,2})", token_start=False),
    fmt("azure_ad_client_secret", ("Q~",), r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])", 3.0),
    fmt("artifactory", ("AKCp", "cmVmdGtu"), r"(?:AKCp[A-Za-z0-9]{69}|cmVmdGtu[A-Za-z0-9]{56})" + _E),
    fmt("databricks", ("dapi",), r"dapi[a-f0-9]{32}(?:-\d)?" + _E),
    fmt("hashicorp_vault", ("hvs.", "hvb.", "hvr."), r"hv[sbr]\.[A-Za-z0-9_\-]{24,200}" + _E, 3.0),
    fmt("terraform_cloud", (".atlasv1.",), r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70}" + _E),
    fmt("grafana", ("glc_", "glsa_"), r"(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})" + _E),
    fmt("linear", ("lin_api_",), r"lin_api_[A-Za-z0-9]{40}" + _E),
    fmt("postman", ("PMAK-",), r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _E),
    fmt("pulumi", ("pul-",), r"pul-[a-f0-9]{40}" + _E),
    fmt("sentry", ("sntrys_", "sntryu_"), r"(?:sntrys_eyJ[A-Za-z0-9_=+/\-]{60,400}|sntryu_[a-f0-9]{64})" + _E),
    fmt("doppler", ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct."), r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,44}" + _E),
    fmt("dynatrace", ("dt0c01.",), r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}" + _E),
    fmt("new_relic", ("NRAK-", "NRII-", "NRJS-"), r"NR(?:AK|II|JS)-[A-Za-z0-9]{19,27}" + _E, 3.0),
    fmt("age_secret_key", ("AGE-SECRET-KEY-1",), r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}" + _E),
    fmt("planetscale", ("pscale_",), r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.\-]{32,64}" + _E),
    fmt("supabase", ("sbp_",), r"sbp_[a-f0-9]{40}" + _E),
    fmt("flyio", ("fo1_",), r"fo1_[A-Za-z0-9_\-]{43}" + _E),
    fmt("heroku", ("HRKU-",), r"HRKU-[A-Za-z0-9_\-]{40,80}" + _E),
    fmt("contentful", ("CFPAT-",), r"CFPAT-[A-Za-z0-9_\-]{43}" + _E),
    fmt("alibaba", ("LTAI",), r"LTAI[A-Za-z0-9]{20}" + _E, 3.0),
    fmt("mapbox", ("sk.eyJ",), r"sk\.eyJ[A-Za-z0-9_\-]{20,200}\.[A-Za-z0-9_\-]{20,100}" + _E),
    fmt("easypost", ("EZAK", "EZTK"), r"EZ[AT]K[A-Za-z0-9]{54}" + _E),
    fmt("flutterwave", ("FLWSECK",), r"FLWSECK(?:_TEST)?-[a-h0-9]{32}-X" + _E),
    fmt("shippo", ("shippo_",), r"shippo_(?:live|test)_[a-f0-9]{40}" + _E),
    fmt("typeform", ("tfp_",), r"tfp_[A-Za-z0-9_\-.=]{59}" + _E),
    fmt("duffel", ("duffel_",), r"duffel_(?:live|test)_[A-Za-z0-9_\-=]{43}" + _E),
    fmt("prefect", ("pnu_",), r"pnu_[A-Za-z0-9]{36}" + _E),
    fmt("readme", ("rdme_",), r"rdme_[a-z0-9]{70}" + _E),
    fmt("bitbucket_app_password", ("ATBB",), r"ATBB[A-Za-z0-9_=.\-]{28,40}" + _E, 3.0),
    fmt("atlassian_api_token", ("ATATT3",), r"ATATT3[A-Za-z0-9_\-=]{150,250}" + _E, 3.0),
    fmt("notion", ("secret_", "ntn_"), r"(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{46})" + _E, 4.0),
    fmt("onepassword_service_account", ("ops_eyJ",), r"ops_eyJ[A-Za-z0-9+/=]{250,}" + _E),
    fmt("basic_auth_header", ("basic ",), r"(?i:basic)[ \t]++(?P<v>[A-Za-z0-9+/]{12,500}={0,2})(?![A-Za-z0-9+/=])",
        0.0, ci=True, check="header"),
    fmt("bearer_header", ("bearer ",),
        r"(?i:bearer)[ \t]++(?P<v>[A-Za-z0-9_\-.~+/]{16,1000}={0,2})(?![A-Za-z0-9_\-.~+/=])", 0.0, ci=True,
        check="header"),
)

# Documented example keys of the providers (the AWS and Stripe documentation's own), never secrets.
PUBLIC_EXAMPLE_KEYS = frozenset((
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "pk_test_TYooMQauvdEDq54NiTphI7jx",
))
