"""PII redaction for code, commit messages and author metadata (REFERENCE §3).

``Redactor.redact(text) -> (new_text, spans)`` finds EMAIL, IP_ADDRESS, KEY, PASSWORD, NAME and
USERNAME with presidio's ``AnalyzerEngine`` over a ``RecognizerRegistry`` we fill with our own
code-aware recognizers (``pii/recognizers/``, one module per entity family), resolves overlaps (longest span first), and
replaces the spans with presidio-anonymizer. Spans carry offsets into the ORIGINAL text.

- NLP engine: presidio's no-op engine (no model, nothing downloaded) unless ``pii.nlp_model``
  names an installed spaCy model or is ``auto`` and one is installed; then PERSON entities
  found by the model are NAMEs too.
- Replacement: ``placeholder`` (``<EMAIL>``, ``<KEY>`` …) or ``fake`` (consistent fake values:
  the same value gets the same replacement within a document; IPs become private addresses;
  fakes are derived from the seed and the order of appearance, never from the value).
- Bounded work, deterministically: each record may cost ``max_work_per_record`` work units
  (characters scanned by regular expressions plus loop steps: the same input costs the same on
  any machine) and hold ``max_chars_per_record`` characters in its redacted fields; each
  document at most ``max_findings_per_document`` findings. ``time_limit_seconds`` is only a
  last-resort wall-clock guard (for what the units do not see, such as a spaCy model); when it
  fires the output depends on the machine, so it is counted apart (``pii/over_time``). A
  record over any bound is dead-lettered (its text withheld) or kept with a flag, as
  ``over_time`` says.
- Author metadata: ``author``/``committer`` emails and trailer emails are removed or hashed;
  names there are replaced like NAME.

Beam: ``RedactFields`` (record fields, on ``routing.Route``: counters ``pii/<entity>``, failures
become dead letters) and ``RedactDeadLetters`` (the ``raw`` of every dead letter, which holds
whole input records). Engines are never pickled: a ``Redactor`` pickles as its configuration;
the DoFns build presidio in ``setup()`` (and a bare ``Redactor`` on first use), before any
record's clock starts.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import json
import os
import random
import string
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

import apache_beam as beam
import regex

from codecorpus.pii import recognizers as rec
from codecorpus.io.tables import Sourced
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, Route, dead_letter, route_events

# The email recognizer's tldextract must never reach for the network (ENVIRONMENT.md).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

ENTITIES = rec.ENTITIES
PLACEHOLDERS = {e: f"<{e}>" for e in ENTITIES}
# Which entity wins an exact tie (same span found as two entities).
PRIORITY = {"KEY": 0, "PASSWORD": 1, "EMAIL": 2, "IP_ADDRESS": 3, "USERNAME": 4, "NAME": 5}
WITHHELD = "<withheld: PII redaction over budget>"
WITHHELD_FAILED = "<withheld: PII redaction failed>"
OVER_BUDGET_MARKERS = {"work": "OVER_WORK", "size": "TOO_LARGE", "findings": "TOO_MANY_FINDINGS", "time": "OVER_TIME"}
NER_MAX_CHARS = 100_000   # longer texts skip the spaCy model (pattern recognizers still run)
ANONYMIZER_MAX_SPANS = 1_000  # more spans are applied by apply_spans (same result, linear time)


class PiiConfigError(ValueError):
    pass


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PiiConfig:
    enabled: bool = True
    entities: tuple = ENTITIES
    replacement: str = "placeholder"          # placeholder | fake
    fake_seed: int = 0
    author_email: str = "remove"              # remove | hash
    author_hash_salt: str = ""
    author_names: str = "redact"              # redact | keep
    author_fields: tuple = ("author", "committer")
    trailer_fields: tuple = ("trailer",)
    nlp_model: Optional[str] = "auto"         # auto | none | an installed spaCy model name or path
    max_work_per_record: int = 200_000_000   # deterministic bound (work units, see rec.Budget)
    max_chars_per_record: int = 10_000_000   # characters in the redacted fields of one record
    time_limit_seconds: float = 60.0          # last-resort wall-clock guard, counted apart
    over_time: str = "dead_letter"            # dead_letter | flag (any bound)
    settings: rec.Settings = field(default_factory=rec.Settings)

    @classmethod
    def from_config(cls, config: dict) -> "PiiConfig":
        """From the whole job configuration (its ``pii`` section) or the section itself."""
        section = config.get("pii", config) if isinstance(config, dict) else None
        if not isinstance(section, dict):
            raise PiiConfigError("the pii configuration must be a mapping")
        entities = tuple(section.get("entities") or ())
        unknown = set(entities) - set(ENTITIES)
        if unknown:
            raise PiiConfigError(f"pii.entities: unknown {sorted(unknown)}; known: {list(ENTITIES)}")
        choices = {"replacement": ("placeholder", "fake"), "over_time": ("dead_letter", "flag")}
        for key, allowed in choices.items():
            if section.get(key) not in allowed:
                raise PiiConfigError(f"pii.{key} must be one of {list(allowed)}, got {section.get(key)!r}")
        author = section.get("author") or {}
        if author.get("email") not in ("remove", "hash"):
            raise PiiConfigError(f"pii.author.email must be remove or hash, got {author.get('email')!r}")
        if author.get("names") not in ("redact", "keep"):
            raise PiiConfigError(f"pii.author.names must be redact or keep, got {author.get('names')!r}")
        limit = section.get("time_limit_seconds")
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit <= 0:
            raise PiiConfigError(f"pii.time_limit_seconds must be a positive number, got {limit!r}")
        bounds = {}
        for key in ("max_work_per_record", "max_chars_per_record", "max_findings_per_document"):
            value = section.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise PiiConfigError(f"pii.{key} must be a positive integer, got {value!r}")
            bounds[key] = value
        allow = section.get("allow") or {}
        defaults = allow.get("credentials")
        settings = rec.Settings(
            allow_email_domains=tuple(allow.get("email_domains") or ()),
            allow_email_local_parts=tuple(allow.get("email_local_parts") or ()),
            keep_non_global_ips=bool(allow.get("non_global_ips", True)),
            keep_ips=frozenset(allow.get("ips") or ()),
            allow_values=frozenset(allow.get("values") or ()),
            default_credentials=frozenset(v.lower() for v in (rec.DEFAULT_CREDENTIALS if defaults is None
                                                               else defaults)),
            max_findings=bounds["max_findings_per_document"],
        )
        model = section.get("nlp_model")
        return cls(
            enabled=bool(section.get("enabled", True)), entities=entities,
            replacement=section["replacement"], fake_seed=int(section.get("fake_seed") or 0),
            author_email=author["email"], author_hash_salt=str(author.get("hash_salt") or ""),
            author_names=author["names"], author_fields=tuple(author.get("fields") or ()),
            trailer_fields=tuple(author.get("trailer_fields") or ()),
            nlp_model=None if model in (None, "none", "") else str(model),
            max_work_per_record=bounds["max_work_per_record"], max_chars_per_record=bounds["max_chars_per_record"],
            time_limit_seconds=float(limit), over_time=section["over_time"], settings=settings)


def resolve_nlp_model(name: Optional[str]) -> Optional[str]:
    """The spaCy model to load: ``auto`` picks an installed English model (None if there is
    none); a name must be an installed package or an existing path — nothing is downloaded.
    Decided from package metadata, without importing spaCy."""
    import importlib.util
    from importlib.metadata import entry_points

    if not name:
        return None
    if name == "auto":
        if importlib.util.find_spec("spacy") is None:
            return None
        installed = {ep.name for ep in entry_points(group="spacy_models")}
        installed |= {m for m in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")
                      if importlib.util.find_spec(m) is not None}
        for preferred in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf"):
            if preferred in installed:
                return preferred
        english = sorted(m for m in installed if m.startswith("en_"))
        return english[0] if english else None
    if importlib.util.find_spec("spacy") is None:
        raise PiiConfigError(f"pii.nlp_model {name!r} needs spaCy, which is not installed")
    if os.path.exists(name) or (name.isidentifier() and importlib.util.find_spec(name) is not None):
        return name
    raise PiiConfigError(f"pii.nlp_model {name!r} is neither an installed spaCy model nor a path "
                         "(models are never downloaded; set nlp_model: none or auto)")


# --- spans and replacements -------------------------------------------------------------------


class Span(NamedTuple):
    start: int          # offsets into the original text
    end: int
    entity: str
    replacement: str


class RedactionOverBudget(Exception):
    """Raised by ``redact`` when a bound (work, size, findings, the wall-clock guard) is hit;
    carries the text with what was found so far replaced."""

    def __init__(self, reason: str, text: str, spans: list):
        super().__init__(f"PII redaction over budget ({reason})")
        self.reason = reason
        self.text = text
        self.spans = spans


def apply_spans(text: str, spans: list) -> str:
    """``text`` with each span replaced (spans sorted, non-overlapping)."""
    parts, pos = [], 0
    for s in spans:
        parts.append(text[pos:s.start])
        parts.append(s.replacement)
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def resolve_overlaps(results: list) -> list:
    """Non-overlapping results, longest first (ties: entity priority, then position); sorted."""
    ordered = sorted(results, key=lambda r: (-(r.end - r.start), PRIORITY.get(r.entity_type, 9), r.start))
    starts, ends, kept = [], [], []
    for r in ordered:
        i = bisect.bisect_right(starts, r.start)
        if i > 0 and ends[i - 1] > r.start:
            continue
        if i < len(starts) and starts[i] < r.end:
            continue
        starts.insert(i, r.start)
        ends.insert(i, r.end)
        kept.insert(i, r)
    return kept


_FIRST = ("Alex", "Sam", "Robin", "Jordan", "Casey", "Morgan", "Taylor", "Jamie", "Riley", "Avery", "Quinn", "Drew")
_LAST = ("Doe", "Roe", "Smith", "Moe", "Poe", "Stone", "Lane", "Reed", "Hale", "Park", "Fox", "Gray")
_KEEP_PREFIX = ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                "glpat-", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "AKIA", "ASIA", "AIza", "eyJ", "SG.", "npm_",
                "hf_", "sk-proj-", "sk-ant-", "sk-", "pypi-", "GOCSPX-", "shpat_", "key-")


def _shape_preserving(value: str, rng: random.Random) -> str:
    out = []
    for c in value:
        if "a" <= c <= "z":
            out.append(rng.choice(string.ascii_lowercase))
        elif "A" <= c <= "Z":
            out.append(rng.choice(string.ascii_uppercase))
        elif "0" <= c <= "9":
            out.append(rng.choice(string.digits))
        else:
            out.append(c)
    return "".join(out)


def fake_value(entity: str, value: str, index: int, seed: int = 0) -> str:
    """A fake for the ``index``-th distinct ``entity`` value of a document, from (seed, entity,
    index) only: nothing about the value but its shape (length, character classes) survives."""
    rng = random.Random(f"{seed}:{entity}:{index}")
    if entity == "EMAIL":
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(6)) + "@example.com"
    if entity == "IP_ADDRESS":
        if ":" in value:
            return "fd00:" + ":".join(f"{rng.randrange(1, 0xffff):x}" for _ in range(7))
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if entity == "NAME":
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    if entity == "USERNAME":
        return "user" + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    if entity == "KEY" and value.startswith("-----BEGIN"):
        lines = value.splitlines(keepends=True)
        return "".join(line if line.startswith("-----") else _shape_preserving(line, rng) for line in lines)
    prefix = next((p for p in _KEEP_PREFIX if value.startswith(p)), "") if entity == "KEY" else ""
    return prefix + _shape_preserving(value[len(prefix):], rng)


class Replacements:
    """Replacement values of one document: the same (entity, value) always gets the same one."""

    def __init__(self, policy: str = "placeholder", seed: int = 0):
        self.policy = policy
        self.seed = seed
        self.values: dict = {}
        self.counts: dict = {}

    def __call__(self, entity: str, value: str) -> str:
        key = (entity, value)
        found = self.values.get(key)
        if found is None:
            if self.policy == "fake":
                index = self.counts.get(entity, 0)
                self.counts[entity] = index + 1
                found = fake_value(entity, value, index, self.seed)
            else:
                found = PLACEHOLDERS[entity]
            self.values[key] = found
        return found


# --- the redactor -----------------------------------------------------------------------------

REPEATED_ENTITIES = ("KEY", "PASSWORD", "EMAIL")


def _secret_values(text: str, results: list, limit: int = 64) -> dict:
    """value -> entity of the keys, passwords and addresses found (at least 6 characters)."""
    values: dict = {}
    for r in results:
        if len(values) >= limit:
            break
        if r.entity_type in REPEATED_ENTITIES and r.end - r.start >= 6:
            values.setdefault(text[r.start:r.end], r.entity_type)
    return values


def _occurrences(text: str, values: dict, results: list, state=None) -> list:
    """Other verbatim, token-bounded occurrences of ``values`` in ``text`` (``PASSWORD: x`` found,
    the same ``x`` unquoted elsewhere; an address that is one in one line and inside a URL in
    the next): redacted too."""
    from presidio_analyzer import RecognizerResult

    extra = []
    taken = {(r.start, r.end) for r in results}
    n = len(text)
    for value, entity in values.items():
        i = text.find(value)
        while i != -1:
            if state is not None:
                state.tick()
            end = i + len(value)
            bounded = not (i > 0 and text[i - 1].isalnum() and value[0].isalnum()) and \
                not (end < n and text[end].isalnum() and value[-1].isalnum())
            if bounded and (i, end) not in taken:
                extra.append(RecognizerResult(entity, i, end, 0.5))
            i = text.find(value, end)
    return extra


class _Engines:
    def __init__(self, analyzer, anonymizer, ner_engine, empty_engine, model):
        self.analyzer = analyzer
        self.anonymizer = anonymizer
        self.ner_engine = ner_engine
        self.empty_engine = empty_engine
        self.model = model


def _ordered_registry(registry_class):
    """presidio's registry returns the recognizers of the requested entities as a set, so they
    ran in an order set by memory addresses; ours run as ``build_techniques`` lists them (the
    most certain first), the same in every process, so a record that runs out of budget keeps
    the same partial findings wherever it is redacted."""

    class OrderedRegistry(registry_class):
        def get_recognizers(self, *args, **kwargs):
            chosen = super().get_recognizers(*args, **kwargs)
            registered = {id(r) for r in self.recognizers}
            ids = {id(r) for r in chosen}
            return [r for r in self.recognizers if id(r) in ids] + [r for r in chosen if id(r) not in registered]

    return OrderedRegistry


def _pass_through_enhancer():
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer

    class PassThrough(ContextAwareEnhancer):
        """Our recognizers do not use presidio's context words; skip the per-result deep copy."""

        def __init__(self):
            super().__init__(context_similarity_factor=0, min_score_with_context_similarity=0,
                             context_prefix_count=0, context_suffix_count=0)

        def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
            return raw_results

    return PassThrough()


class AnalysisMemo:
    """Analyses of texts seen before, by content: a commit's old contents are often the previous
    commit's new contents (on the shared sample 13 % of the texts the commit job redacts, 18 % of
    their characters, are repeats). ``analyze`` is a function of the text alone (the config is the
    redactor's), so a repeat gets the remembered results, and its record's budget is charged the
    work units the analysis cost the first time: a record costs the same units, and goes over
    budget exactly when it did without the memo. Only analyses that finished are kept (one over
    budget is redone, so it stops where it would have), at most ``max_entries`` of them, the
    least recently used dropped first; keys are 16-byte digests, so no text is held."""

    def __init__(self, max_entries: int = 4096, max_results: int = 1024):
        self.max_entries = max_entries
        self.max_results = max_results
        self._entries: "OrderedDict[bytes, tuple]" = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def replay(self, key: bytes, budget) -> Optional[list]:
        """Fresh copies of the remembered results, with their work charged to ``budget`` (a
        ``rec.Budget``, a bare deadline or None); None if the text is new, or if the record has too
        few units or no time left (the analysis is then redone, to stop where it would have)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        results, work = entry
        deadline = budget.deadline if isinstance(budget, rec.Budget) else budget
        if deadline is not None and time.monotonic() >= deadline:
            return None  # past the wall-clock guard: redone, so it is reported as it was
        if isinstance(budget, rec.Budget):
            if budget.max_work is not None and budget.work + work > budget.max_work:
                return None
            budget.charge(work)
        self.hits += 1
        return [copy.copy(r) for r in results]

    def remember(self, key: bytes, results: list, work: int) -> None:
        if len(results) > self.max_results:
            return
        entry = ([copy.copy(r) for r in results], work)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


@dataclass
class RecordRedaction:
    record: dict
    spans: list                    # dicts: field, start, end, entity, replacement
    over_budget: Optional[tuple] = None   # (field, reason) when the budget ran out


class Redactor:
    """Redacts text and records per a ``PiiConfig``. Picklable: engines are built lazily."""

    def __init__(self, config):
        self.config = config if isinstance(config, PiiConfig) else PiiConfig.from_config(config)
        self._lock = threading.Lock()
        self._engines: Optional[_Engines] = None
        self._analyses = AnalysisMemo()

    def __getstate__(self):
        return {"config": self.config}

    def __setstate__(self, state):
        self.__init__(state["config"])

    # -- engines --

    def engines(self) -> _Engines:
        if self._engines is None:
            with self._lock:
                if self._engines is None:
                    self._engines = self._build()
        return self._engines

    def _build(self) -> _Engines:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
        from presidio_anonymizer import AnonymizerEngine

        model = resolve_nlp_model(self.config.nlp_model) if "NAME" in self.config.entities else None
        empty = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
        empty.load()
        ner = None
        if model:
            from presidio_analyzer.nlp_engine import SpacyNlpEngine

            ner = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
            ner.load()
        rec.tlds()  # load the top-level domain list now, not on the first document with an '@'
        registry = _ordered_registry(RecognizerRegistry)(supported_languages=["en"])
        for recognizer in rec.build_recognizers(self.config.settings, self.config.entities, with_ner=bool(model)):
            registry.add_recognizer(recognizer)
        analyzer = None
        if registry.recognizers:  # an empty registry would make presidio load its defaults
            analyzer = AnalyzerEngine(registry=registry, nlp_engine=ner or empty, supported_languages=["en"],
                                      context_aware_enhancer=_pass_through_enhancer())
        return _Engines(analyzer, AnonymizerEngine(), ner, empty, model)

    def describe(self) -> dict:
        """What the manifest records about redaction."""
        from importlib.metadata import PackageNotFoundError, version

        def ver(pkg):
            try:
                return version(pkg)
            except PackageNotFoundError:
                return None

        c = self.config
        model = resolve_nlp_model(c.nlp_model) if "NAME" in c.entities else None
        return {
            "enabled": c.enabled, "entities": list(c.entities), "replacement": c.replacement,
            "author_email": c.author_email, "author_names": c.author_names,
            "nlp_engine": f"spacy:{model}" if model else "no_op",
            "max_work_per_record": c.max_work_per_record, "max_chars_per_record": c.max_chars_per_record,
            "max_findings_per_document": c.settings.max_findings,
            "time_limit_seconds": c.time_limit_seconds, "time_limit_is": "a last-resort guard (counted as pii/over_time)",
            "over_time": c.over_time,
            "presidio_analyzer": ver("presidio-analyzer"), "presidio_anonymizer": ver("presidio-anonymizer"),
        }

    # -- text --

    def budget(self) -> rec.Budget:
        """A fresh budget for one record: its work units and the wall-clock guard (started now:
        build the engines first)."""
        return rec.Budget(self.config.max_work_per_record, time.monotonic() + self.config.time_limit_seconds)

    def analyze(self, text: str, budget=None) -> tuple[list, Optional[str]]:
        """Resolved presidio results (sorted, non-overlapping) and the over-budget reason, if any.
        ``budget``: the record's ``rec.Budget`` (a bare deadline, or None: unbounded work)."""
        engines = self.engines()
        if not text or engines.analyzer is None:
            return [], None
        if len(text) > self.config.max_chars_per_record:
            return [], "size"
        key = self._analyses.key(text)
        remembered = self._analyses.replay(key, budget)
        if remembered is not None:
            return remembered, None
        state = rec.ScanState(text, budget, self.config.settings.max_findings)
        work_before = state.budget.work
        reason = None
        try:
            if engines.ner_engine is not None and len(text) <= NER_MAX_CHARS:
                artifacts = engines.ner_engine.process_text(text, "en")
                state.remaining()
            else:
                artifacts = engines.empty_engine.process_text(text, "en")
            setattr(artifacts, rec.STATE_ATTR, state)
            results = resolve_overlaps(engines.analyzer.analyze(
                text, language="en", entities=list(self.config.entities), nlp_artifacts=artifacts))
            if results:
                results = resolve_overlaps(results + _occurrences(text, _secret_values(text, results), results,
                                                                  state))
        except rec.OverBudget as e:
            results, reason = resolve_overlaps(list(state.results)), e.reason
        if reason is None:
            self._analyses.remember(key, results, state.budget.work - work_before)
        return results, reason

    def redact(self, text: str, budget=None) -> tuple[str, list]:
        """``(new_text, spans)``; spans have offsets into ``text``. Raises ``RedactionOverBudget``
        (with the partly redacted text) when ``budget`` (default: a fresh one) runs out."""
        if budget is None:
            self.engines()
            budget = self.budget()
        results, reason = self.analyze(text, budget)
        new_text, spans = self._replace(text, results)
        if reason:
            raise RedactionOverBudget(reason, new_text, spans)
        return new_text, spans

    def _replace(self, text: str, results: list) -> tuple[str, list]:
        if not results:
            return text, []
        from presidio_anonymizer.entities import OperatorConfig

        replacements = Replacements(self.config.replacement, self.config.fake_seed)
        spans = [Span(r.start, r.end, r.entity_type, replacements(r.entity_type, text[r.start:r.end]))
                 for r in results]
        operators = {
            entity: OperatorConfig("custom", {"lambda": (lambda value, e=entity: replacements(e, value))})
            for entity in {s.entity for s in spans}
        }
        if len(spans) > ANONYMIZER_MAX_SPANS:  # presidio-anonymizer is quadratic in the span count
            return apply_spans(text, spans), spans
        out = self.engines().anonymizer.anonymize(text=text, analyzer_results=results, operators=operators,
                                                  merge_entities_with_spaces=False)
        return out.text, spans

    # -- records --

    def redact_record(self, record: dict, fields, budget=None) -> RecordRedaction:
        """Redacts ``fields`` (text or null) and the author metadata of ``record`` under one
        budget. A field that is neither text nor null raises ``TypeError``."""
        self.engines()  # built before the clock starts (normally already built in a DoFn's setup())
        if budget is None:
            budget = self.budget()
        texts = {}
        for name in fields:
            value = record.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError(f"field '{name}' is {type(value).__name__}, not text")
            texts[name] = value
        analyzed, over = {}, None
        size = sum(len(v) for v in texts.values())
        if size > self.config.max_chars_per_record:  # decided before any work, from the input alone
            over = (max(texts, key=lambda k: len(texts[k])), "size")
        for name, value in texts.items():
            if over:
                break
            results, reason = self.analyze(value, budget)
            analyzed[name] = (value, results)
            if reason:
                over = (name, reason)
        # A secret or address found in one field is removed wherever it appears in the others
        # (a password in the new contents, repeated in the message).
        secrets: dict = {}
        for value, results in analyzed.values():
            secrets.update(_secret_values(value, results, limit=64 - len(secrets)))
        out = dict(record)
        spans: list = []
        for name, (value, results) in analyzed.items():
            if len(analyzed) > 1 and secrets:
                results = resolve_overlaps(results + _occurrences(value, secrets, results))
            new, found = self._replace(value, results)
            out[name] = new
            spans.extend({"field": name, "start": s.start, "end": s.end, "entity": s.entity,
                          "replacement": s.replacement} for s in found)
        self.redact_metadata(out)
        return RecordRedaction(out, spans, over)

    def redact_metadata(self, record: dict) -> dict:
        """In place: author/committer signatures and trailers (emails removed or hashed, names
        replaced like NAME)."""
        for name in self.config.author_fields:
            sig = record.get(name)
            if isinstance(sig, dict):
                record[name] = self.redact_signature(sig)
        for name in self.config.trailer_fields:
            trailers = record.get(name)
            if isinstance(trailers, list):
                record[name] = [self.redact_trailer(t) if isinstance(t, dict) else t for t in trailers]
        return record

    def author_email(self, email: Optional[str]) -> Optional[str]:
        if not email:
            return email
        if self.config.author_email == "remove":
            return None
        digest = hashlib.sha256((self.config.author_hash_salt + email.strip().lower()).encode("utf-8", "replace"))
        return "sha256:" + digest.hexdigest()

    def author_name(self, name: Optional[str], replacements: Optional[Replacements] = None) -> Optional[str]:
        if not name or self.config.author_names == "keep" or "NAME" not in self.config.entities:
            return name
        return (replacements or Replacements(self.config.replacement, self.config.fake_seed))("NAME", name)

    def redact_signature(self, sig: dict) -> dict:
        out = dict(sig)
        if "email" in out:
            out["email"] = self.author_email(out["email"])
        if "name" in out:
            out["name"] = self.author_name(out["name"])
        return out

    def redact_trailer(self, trailer: dict) -> dict:
        """``{key, value: "Name <email>", email}``: the email removed or hashed, the name replaced."""
        out = dict(trailer)
        email = out.get("email")
        if "email" in out:
            out["email"] = self.author_email(email)
        value = out.get("value")
        if isinstance(value, str) and value:
            name, sep, rest = value.partition("<")
            mail = rest.rsplit(">", 1)[0] if sep else ""
            if sep and "@" in mail:
                new_mail = self.author_email(mail)
                new_name = self.author_name(name.strip()) if name.strip() else ""
                out["value"] = (new_name + (f" <{new_mail}>" if new_mail else "")).strip()
            elif "@" in value or email:
                out["value"] = self.author_email(value) or ""
            else:
                out["value"] = self.author_name(value.strip()) if (out.get("key") or "").lower().endswith("-by") \
                    else self._redact_short(value)
        return out

    def _redact_short(self, text: str) -> str:
        try:
            return self.redact(text)[0]
        except RedactionOverBudget as e:
            return e.text

    # -- dead letters --

    def redact_dead_letter(self, row: dict) -> tuple[dict, bool]:
        """A dead letter with its ``raw`` (a JSON record or a raw line) and ``error`` redacted:
        parsed records are redacted value by value (author metadata by its policy); a raw that
        does not parse (malformed) gets the author policy applied
        textually (``metadata_policy_on_text``), then is redacted as text. Whichever of ``raw``
        and ``error`` runs over budget is withheld, and the error says which. Every string out
        is valid UTF-8 (a ``\\ud800`` escape parses to a lone surrogate, which no coder takes).
        Returns (row, withheld)."""
        out = dict(row)
        self.engines()
        budget = self.budget()
        withheld = []
        raw = row.get("raw") or ""
        try:
            parsed = None
            if raw[:1] in "{[" and not row.get("raw_truncated"):
                try:
                    parsed = json.loads(raw)
                except (ValueError, RecursionError):
                    parsed = None
            if isinstance(parsed, (dict, list)):
                out["raw"] = json.dumps(self._redact_value(parsed, budget), ensure_ascii=False, sort_keys=True,
                                        default=repr)
            elif raw:
                out["raw"] = self.redact(self.metadata_policy_on_text(raw), budget)[0]
        except RedactionOverBudget as e:
            out["raw"] = WITHHELD
            withheld.append(("raw", e.reason))
        if row.get("error"):
            try:
                out["error"] = self.redact(row["error"], budget)[0]
            except RedactionOverBudget as e:
                out["error"] = ""
                withheld.append(("error", e.reason))
        if withheld:
            what = "; ".join(f"{name} withheld: PII redaction over budget ({reason})" for name, reason in withheld)
            out["error"] = f"{out.get('error') or ''} [{what}]".strip()
        for name in ("raw", "error", "key", "source"):
            if isinstance(out.get(name), str):
                out[name] = utf8_safe(out[name])
        return out, bool(withheld)

    def _redact_value(self, value: Any, budget, key: Optional[str] = None) -> Any:
        if isinstance(value, dict):
            if key in self.config.author_fields and "email" in value:
                return self.redact_signature(value)
            if key in self.config.trailer_fields and "email" in value:
                return self.redact_trailer(value)
            return {k: self._redact_value(v, budget, k) for k, v in value.items()}
        if isinstance(value, list):
            if key in self.config.trailer_fields:
                return [self.redact_trailer(v) if isinstance(v, dict) else self._redact_value(v, budget)
                        for v in value]
            return [self._redact_value(v, budget) for v in value]
        if isinstance(value, str) and value:
            return self.redact(value, budget)[0]
        return value

    def metadata_policy_on_text(self, raw: str) -> str:
        """The author/committer/trailer policy on a raw record that does not parse: every
        ``"email": …`` value removed (``null``) or hashed; inside the ``author``/``committer``
        objects and the ``trailer`` list (up to their closing bracket, or the end of a cut-off
        raw) ``"name"`` and ``"value"`` replaced like NAME. A value cut off by truncation is
        treated the same. Recognizers do not see addresses on private domains
        (``…@corp.internal``): this does, by the key."""
        if '"' not in raw:
            return raw
        sections = "|".join(regex.escape(f) for f in (*self.config.author_fields, *self.config.trailer_fields))
        out, pos = [], 0
        if sections:
            for m in regex.finditer(rf'"(?:{sections})"[ \t]*+:[ \t]*+[{{\[]', raw):
                if m.start() < pos:
                    continue
                close = raw.find("]" if raw[m.end() - 1] == "[" else "}", m.end())
                end = len(raw) if close == -1 else close
                out.append(_email_values(raw[pos:m.end()], self))
                out.append(_section_values(raw[m.end():end], self))
                pos = end
        out.append(_email_values(raw[pos:], self))
        return "".join(out)


_JSON_VALUE = r'(?P<v>"(?:[^"\\\n]|\\.)*+(?:"|\\?\Z)|[^\s,}\]"]++)'  # a string (or its cut-off start), or a bare word
_EMAIL_KEY = regex.compile(r'"email"[ \t]*+:[ \t]*+' + _JSON_VALUE)
_NAME_KEY = regex.compile(r'"(?P<k>name|value)"[ \t]*+:[ \t]*+' + _JSON_VALUE)


def _json_text(value: str) -> str:
    if value.startswith('"'):
        try:
            return json.loads(value)
        except ValueError:
            return value.strip('"\\')
    return value


def _email_values(text: str, redactor: "Redactor") -> str:
    def email(m):
        value = _json_text(m.group("v"))
        if value in ("null", ""):
            return m.group()
        new = redactor.author_email(value)
        return m.group()[:m.start("v") - m.start()] + ("null" if new is None else json.dumps(new))
    return _EMAIL_KEY.sub(email, text) if '"email"' in text else text


def _section_values(text: str, redactor: "Redactor") -> str:
    def name(m):
        value = _json_text(m.group("v"))
        if value in ("null", "", "true", "false") or value.isdigit():
            return m.group()
        if m.group("k") == "value":  # a trailer value: "Name <email>", an address or a name
            new = redactor.redact_trailer({"key": "x-by", "value": value, "email": None})["value"]
        else:
            new = redactor.author_name(value)
        return m.group()[:m.start("v") - m.start()] + json.dumps(new)
    return _email_values(_NAME_KEY.sub(name, text), redactor)


def utf8_safe(text: str) -> str:
    """Lone surrogates spelt as escapes: no Beam coder or Parquet writer takes them."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def redact_dead_letter_row(redactor: Redactor, row: dict) -> tuple[dict, str]:
    """``redact_dead_letter`` that never raises and never leaks: a redaction that fails (a bug,
    not a budget) withholds the raw and says so. Returns (row, counter)."""
    try:
        new, withheld = redactor.redact_dead_letter(row)
    except Exception as e:  # noqa: BLE001 - a dead letter is never lost, and never leaks
        error = f"{row.get('error') or ''} [raw withheld: PII redaction failed ({type(e).__name__})]".strip()
        try:
            error = redactor.redact(error)[0]
        except Exception:  # noqa: BLE001
            error = f"[error and raw withheld: PII redaction failed ({type(e).__name__})]"
        new, withheld = dict(row, raw=WITHHELD_FAILED, error=utf8_safe(error)), True
    return new, "pii/dead_letter_raw_withheld" if withheld else "pii/dead_letters_redacted"


# --- Beam -------------------------------------------------------------------------------------


def over_budget_message(config: PiiConfig, field: str, reason: str, withheld: list) -> str:
    """What a record over budget says: the field where the bound was hit, the bound (with its
    scope: findings are capped per field, work, size and time per record) and what was withheld."""
    bound = {
        "work": f"work: more than {config.max_work_per_record:,} units per record",
        "size": f"size: more than {config.max_chars_per_record:,} characters per record",
        "findings": f"findings: more than {config.settings.max_findings:,} per document (field)",
        "time": f"time: the last-resort {config.time_limit_seconds:g} s wall-clock guard per record, machine-dependent",
    }[reason]
    where = f"in field '{field}'" if reason != "size" else f"(largest field '{field}')"
    return f"PII redaction over budget {where} ({bound}): text of {', '.join(withheld) or 'no field'} withheld"


class RedactRecordEvents:
    """``routed`` body: a record -> the redacted record (with a spans column if asked), its
    ``pii/<entity>`` counts, or a dead letter when over budget and the policy says so. A
    ``tables.Sourced`` record gives back a ``Sourced`` one, and its dead letters carry its
    source as ``key`` and ``source``."""

    def __init__(self, redactor: Redactor, fields, stage: str, table: str, spans_column: Optional[str] = None,
                 key_of=lambda _: None):
        self.redactor = redactor
        self.fields = tuple(fields)
        self.stage = stage
        self.table = table
        self.spans_column = spans_column
        self.key_of = key_of

    def _events(self, element) -> list:
        if not isinstance(element, Sourced):
            return self._record_events(element, self.key_of(element), "")
        try:
            events = self._record_events(element.record, element.source, element.source)
        except Exception as e:  # noqa: BLE001 - as routing.Route does, but with the record's source
            return [dead_letter(self.stage, self.table, element.source, f"{type(e).__name__}: {e}", element.record,
                                element.source)]
        return [Sourced(element.source, e) if isinstance(e, dict) else e for e in events]

    def setup(self) -> None:
        """Builds the presidio engines once per DoFn instance (called by ``_RedactRoute.setup``)."""
        self.redactor.engines()

    def __call__(self, element):
        return self._events(element)

    def _record_events(self, record: dict, key: Optional[str], source: str) -> list:
        result = self.redactor.redact_record(record, self.fields)
        events = []
        if result.over_budget:
            name, reason = result.over_budget
            marker = OVER_BUDGET_MARKERS[reason]
            events.append(Count(f"pii/{marker.lower()}"))
            if self.redactor.config.over_time == "dead_letter":
                withheld = dict(result.record)
                names = []
                for f in self.fields:
                    if isinstance(withheld.get(f), str):
                        withheld[f] = WITHHELD
                        names.append(f)
                events.append(dead_letter(
                    self.stage, self.table, key, over_budget_message(self.redactor.config, name, reason, names),
                    withheld, source))
                return events
            # over_time: flag -> kept, partly redacted, with a marker span (start = end = 0)
            result.spans.append({"field": name, "start": 0, "end": 0, "entity": marker, "replacement": ""})
        counts: dict = {}
        for s in result.spans:
            if s["entity"] in PLACEHOLDERS:
                counts[s["entity"]] = counts.get(s["entity"], 0) + 1
        events.extend(Count(f"pii/{entity}", n) for entity, n in sorted(counts.items()))
        if counts:
            events.append(Count("pii/records_redacted"))
        row = result.record
        if self.spans_column:
            row = {**row, self.spans_column: result.spans}
        events.append(row)
        return events


class _RedactRoute(Route):
    """``routing.Route`` whose ``setup()`` also builds the redactor's engines, so no record's time
    budget pays for them."""

    def setup(self):
        super().setup()
        self.fn.setup()


def RedactFields(fields, config, stage: str = "pii", table: str = "records", spans_column: Optional[str] = None,
                 key_of=lambda _: None):
    """records -> redacted records, with ``dead_letter`` and ``stats`` outputs (``Ledger.take``);
    ``routing.routed`` with the engines built in ``setup()``."""
    redactor = config if isinstance(config, Redactor) else Redactor(config)
    fn = RedactRecordEvents(redactor, fields, stage, table, spans_column, key_of)
    return beam.ParDo(_RedactRoute(fn, stage, table, key_of)).with_outputs(DEAD_LETTER, STATS,
                                                                                          main="kept")


class _RedactDeadLetter(beam.DoFn):
    def __init__(self, redactor: Redactor):
        self.redactor = redactor

    def setup(self):
        self.redactor.engines()

    def process(self, row):
        new, counter = redact_dead_letter_row(self.redactor, row)
        yield from route_events([Count(counter), new], "pii_dead_letters")


class RedactDeadLetters(beam.PTransform):
    """dead-letter rows -> the same rows with ``raw`` and ``error`` redacted; one row out per
    row in (so the dead-letter accounting is untouched). Outputs ``kept`` and ``stats``."""

    def __init__(self, config):
        super().__init__()
        self.redactor = config if isinstance(config, Redactor) else Redactor(config)

    def expand(self, rows):
        return rows | "RedactRaw" >> beam.ParDo(_RedactDeadLetter(self.redactor)).with_outputs(STATS, main="kept")
