"""Code-aware PII recognizers for presidio (REFERENCE §3), built for speed.

Each technique below is a plain class (``find(text, state)`` yields entity spans) that presidio
runs through one ``EntityRecognizer`` adapter (``build_recognizers``, which imports presidio, so
importing this module and the CLI does not). The ``Redactor`` (``pii/redact.py``) registers
them in a ``RecognizerRegistry`` of its own; presidio's default recognizers are not used (its
URL and phone recognizers misfire on code: ``boto3.client(`` -> ``<URL>ient(``). A technique may
report several entities:

=============================== ============================================================
``SecretTokenRecognizer``       KEY: provider token formats (AWS, GitHub, GitLab, Slack, Stripe,
                                Google, OpenAI, Hugging Face, npm, PyPI, SendGrid, Twilio, …),
                                private-key blocks, JWTs, Slack webhooks, Azure account keys,
                                ``Bearer``/``Basic`` headers, high-entropy quoted strings
``CredentialRecognizer``        KEY / PASSWORD / USERNAME: values assigned to identifiers named
                                like a secret, password or user (``api_key = "…"``,
                                ``PASSWORD: …``, ``"user": "…"``, ``setPassword("…")``,
                                ``#define TOKEN "…"``, ``<password>…</password>``,
                                ``<add key="Password" value="…"/>``, ``auth=("u", "p")``,
                                SQL ``IDENTIFIED BY``)
``ConnectionStringRecognizer``  PASSWORD / USERNAME in ``scheme://user:pass@host``
``CodeEmailRecognizer``         EMAIL: ``local@domain.tld`` with a real top-level domain, not in
                                a URL's user part, minus allow-listed domains and local parts
``CodeIpRecognizer``            IP_ADDRESS: valid, globally routable IPv4/IPv6; private,
                                reserved and well-known DNS servers kept; versions, OIDs and
                                number lists are not IPs
``AuthorRecognizer``            NAME / USERNAME after ``Author:``, ``@author``, ``__author__``,
                                ``Copyright (c) YEAR``, ``Signed-off-by:`` …, and ``Name <email>``
``HomePathRecognizer``          USERNAME in ``/home/NAME/``, ``/Users/NAME/``, ``C:\\Users\\NAME``
``NerNameRecognizer``           NAME from a spaCy model's PERSON entities (only with a model)
=============================== ============================================================

Speed: every technique first checks cheap triggers (a character or keyword that any match must
contain; ``str.find`` runs at memory speed, a literal-first regex lets the engine skip ahead)
and skips its regular expressions when they are absent. Per-document work that several need
(the lower-cased text) is done once, in a ``ScanState`` the redactor attaches to presidio's
``NlpArtifacts``.

Bounded time: patterns use possessive or bounded quantifiers; a regex call over more than
``UNTIMED_CHARS`` gets the time left as ``regex``'s ``timeout`` (shorter calls check the deadline
first); loops check the deadline; the number of findings per document is capped. Running out
raises ``OverBudget``.

False-positive controls (REFERENCE §3): placeholders and templates (``${API_KEY}``,
``<your-key>``, ``xxxx``, ``changeme``), sequential strings, UUIDs, hashes (hex without a

Each family is a module of this package: ``keys`` (provider formats — the table in
``providers`` — private keys, JWTs),
``credentials`` (named values, connection strings), ``contact`` (EMAIL), ``network``
(IP_ADDRESS), ``names`` (NAME / USERNAME); ``base`` holds the shared state and presidio adapter,
``heuristics`` the value and identifier tests they share.
"""

from __future__ import annotations

from typing import Iterable

from codecorpus.pii.recognizers.base import *  # noqa: F401,F403
from codecorpus.pii.recognizers.base import Settings
from codecorpus.pii.recognizers.heuristics import *  # noqa: F401,F403
from codecorpus.pii.recognizers.contact import CodeEmailRecognizer, domain_allowed, email_candidates, tlds  # noqa: F401
from codecorpus.pii.recognizers.network import CodeIpRecognizer  # noqa: F401
from codecorpus.pii.recognizers.providers import PUBLIC_EXAMPLE_KEYS, TOKEN_FORMATS, TokenFormat  # noqa: F401
from codecorpus.pii.recognizers.keys import SecretTokenRecognizer, jwt_ok, key_value_ok  # noqa: F401
from codecorpus.pii.recognizers.credentials import (Assignment, ConnectionStringRecognizer,  # noqa: F401
                                                    CredentialRecognizer, scan_assignments)
from codecorpus.pii.recognizers.names import (AuthorRecognizer, HomePathRecognizer, NerNameRecognizer,  # noqa: F401
                                              author_prefixes, plausible_name)

PATTERN_RECOGNIZERS = (SecretTokenRecognizer, CredentialRecognizer, ConnectionStringRecognizer, CodeEmailRecognizer,
                       CodeIpRecognizer, AuthorRecognizer, HomePathRecognizer)


def build_techniques(settings: Settings, entities: Iterable[str], with_ner: bool = False) -> list:
    """The techniques serving ``entities``, in the order they run: the most certain first, so a
    document that runs out of time has had its secrets looked for."""
    wanted = set(entities)
    classes = list(PATTERN_RECOGNIZERS) + ([NerNameRecognizer] if with_ner else [])
    return [cls(settings) for cls in classes if wanted & set(cls.ENTITIES)]


def build_recognizers(settings: Settings, entities: Iterable[str], with_ner: bool = False) -> list:
    """presidio ``EntityRecognizer``s for ``build_techniques`` (imports presidio)."""
    return [presidio_recognizer(t) for t in build_techniques(settings, entities, with_ner)]


__all__ = [
    "ENTITIES", "OverBudget", "Settings", "ScanState", "build_recognizers", "entropy", "is_uuid", "is_templated",
    "is_sequential", "looks_random", "credential_kind", "identifier_words", "plausible_name",
]
