"""What every recognizer shares: the entities, the settings, the per-record ``Budget`` (work
units, and a wall-clock guard), the per-document ``ScanState`` (findings cap), bounded regex calls, the ``CodeRecognizer`` base class and its
presidio adapter."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Iterator, Optional

from codecorpus.pii.recognizers.providers import PUBLIC_EXAMPLE_KEYS

ENTITIES = ("EMAIL", "IP_ADDRESS", "KEY", "PASSWORD", "NAME", "USERNAME")
STATE_ATTR = "codecorpus_scan_state"  # the attribute of presidio's NlpArtifacts carrying ScanState


class OverBudget(Exception):
    """The record ran out of work units, its document hit the cap on findings, or (last resort)
    the wall-clock guard fired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "work" | "findings" | "time"


# Work units: a regex scan costs one unit per character it is given, a loop step (``tick``)
# TICK_WORK units, a candidate that needs a closer look (an identifier named like a secret,
# parsed for its value) CANDIDATE_WORK, a finding FINDING_WORK (presidio's and the
# anonymizer's work per result):
# weights measured so that a unit costs 5-75 ns on every pathological input of
# benchmarks/pii_speed.py. The same input always costs the same, on any machine, so whether a
# record is over budget never depends on how busy the worker is.
TICK_WORK = 64
CANDIDATE_WORK = 1024
FINDING_WORK = 4096


class Budget:
    """The work one record may cost (all its fields together): ``max_work`` units, decided by
    the input alone, and a wall-clock ``deadline`` (``time.monotonic()``) that only guards
    against what the units do not see (a slow NLP model, a pathological machine)."""

    __slots__ = ("max_work", "work", "deadline")

    def __init__(self, max_work: Optional[int] = None, deadline: Optional[float] = None):
        self.max_work = max_work
        self.work = 0
        self.deadline = deadline

    def charge(self, units: int) -> None:
        self.work += units
        if self.max_work is not None and self.work > self.max_work:
            raise OverBudget("work")

    def seconds_left(self) -> Optional[float]:
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OverBudget("time")
        return left


# --- settings and per-document state -------------------------------------------------------

DNS_SERVERS = (
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
    "208.67.220.220", "76.76.19.19", "76.223.122.150", "8.26.56.26", "8.20.247.20", "94.140.14.14",
    "94.140.15.15", "64.6.64.6", "64.6.65.6", "2001:4860:4860::8888", "2001:4860:4860::8844",
    "2606:4700:4700::1111", "2606:4700:4700::1001",
)

# Values that are never a person's secret or account: defaults of tools and tutorials.
DEFAULT_CREDENTIALS = (
    "password", "passwd", "pass", "secret", "changeme", "change_me", "change-me", "default", "test",
    "testing", "test123", "example", "sample", "root", "admin", "administrator", "postgres", "mysql",
    "guest", "user", "username", "demo", "dummy", "none", "null", "nil", "empty", "foobar", "foo", "bar",
    "qwerty", "letmein", "mypassword", "mysecret", "yourpassword", "your_password", "your-password",
    "password123", "admin123", "toor", "sa", "oracle", "redis", "rabbitmq", "elastic",
)

# Account names that identify nobody.
GENERIC_USERS = frozenset((
    "root", "admin", "administrator", "user", "users", "username", "test", "tester", "testuser", "guest",
    "postgres", "mysql", "sa", "ubuntu", "debian", "centos", "fedora", "ec2-user", "git", "www-data",
    "nobody", "anonymous", "anon", "default", "demo", "dev", "developer", "app", "api", "service",
    "system", "operator", "oracle", "elastic", "redis", "rabbitmq", "pi", "vagrant", "docker", "jenkins",
    "travis", "runner", "circleci", "builder", "build", "node", "foo", "bar", "baz", "john", "jane",
    "johndoe", "janedoe", "john.doe", "jane.doe", "alice", "bob", "example", "sample", "dummy", "me", "you",
    "myuser", "myusername", "your_username", "yourusername", "your-username", "name", "login", "string",
    "str", "none", "null", "true", "false", "undefined", "shared", "public", "default user", "all users",
    "local", "localhost", "home", "tmp", "temp", "work", "workspace", "project", "projects", "src", "code",
    "admin1", "user1", "user2", "test1", "postmaster", "nginx", "apache", "daemon", "bin", "mail",
    "ftp", "http", "https", "deploy", "deployer", "ci", "gitlab-runner", "azureuser", "vscode", "codespace",
    "runneradmin", "appveyor", "buildbot", "username_here", "your_name", "yourname", "$user", "%username%",
))

TYPE_NAMES = frozenset((
    "str", "string", "String", "int", "integer", "bool", "boolean", "Boolean", "float", "double", "number",
    "Number", "any", "object", "Object", "bytes", "char", "void", "None", "null", "nil", "undefined", "true",
    "false", "True", "False", "Optional", "list", "dict", "text", "varchar", "required", "optional",
))


@dataclass(frozen=True)
class Settings:
    """What the recognizers need from the ``pii`` configuration."""

    allow_email_domains: tuple = ("example.com", "example.org", "example.net", "example.edu",
                                  "*.example", "*.test", "*.invalid", "*.localhost")
    allow_email_local_parts: tuple = ("noreply", "no-reply", "donotreply", "do-not-reply", "git")
    keep_non_global_ips: bool = True
    keep_ips: frozenset = frozenset(DNS_SERVERS)
    allow_values: frozenset = frozenset()
    default_credentials: frozenset = frozenset(DEFAULT_CREDENTIALS)
    max_findings: int = 10_000
    min_key_length: int = 16          # keyword-named secrets
    min_quoted_key_length: int = 20   # quoted high-entropy strings with no name


class ScanState:
    """Per-document scratch shared by the recognizers of one ``analyze`` call; ``budget`` is the
    record's (shared by its fields), or a bare deadline (``time.monotonic()``), or None."""

    __slots__ = ("text", "budget", "found", "max_findings", "results", "_lower", "_ticks")

    def __init__(self, text: str, budget=None, max_findings: int = 10_000):
        self.text = text
        self.budget = budget if isinstance(budget, Budget) else Budget(deadline=budget)
        self.found = 0
        self.max_findings = max_findings
        self.results = []   # every result so far, so a document over budget keeps what was found
        self._lower = None
        self._ticks = 0

    @property
    def lower(self) -> str:
        if self._lower is None:
            lower = self.text.lower()
            if len(lower) != len(self.text):  # a few Unicode letters lower-case to two characters
                lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in self.text)
            self._lower = lower
        return self._lower

    @property
    def deadline(self) -> Optional[float]:
        return self.budget.deadline

    def charge(self, units: int) -> None:
        self.budget.charge(units)

    def remaining(self) -> Optional[float]:
        """Seconds left for a regex call (None: no limit); raises when none are left."""
        return self.budget.seconds_left()

    def tick(self) -> None:
        """Called in loops: one step of work; checks the clock every 64 steps."""
        self._ticks += 1
        budget = self.budget
        budget.charge(TICK_WORK)
        if budget.deadline is not None and not self._ticks & 63 and time.monotonic() > budget.deadline:
            raise OverBudget("time")

    def add(self, n: int) -> None:
        self.found += n
        if self.found > self.max_findings:
            raise OverBudget("findings")


# A regex call over at most this many characters runs without the regex module's timeout (which
# costs 5-30 us a call): the patterns here are linear, so such a call takes well under a
# millisecond, and the deadline is checked before it. Longer spans get the time left as timeout.
UNTIMED_CHARS = 65_536


def _finditer(pattern, text: str, state: ScanState, pos: int = 0, endpos: Optional[int] = None):
    endpos = len(text) if endpos is None else endpos
    state.charge(max(1, endpos - pos))
    left = state.remaining()
    try:
        if left is None or endpos - pos <= UNTIMED_CHARS:
            yield from pattern.finditer(text, pos, endpos)
        else:
            yield from pattern.finditer(text, pos, endpos, timeout=left)
    except TimeoutError as e:
        raise OverBudget("time") from e


def _search(pattern, text: str, state: ScanState, pos: int = 0, endpos: Optional[int] = None):
    endpos = len(text) if endpos is None else endpos
    left = state.remaining()
    try:
        if left is None or endpos - pos <= UNTIMED_CHARS:
            m = pattern.search(text, pos, endpos)
        else:
            m = pattern.search(text, pos, endpos, timeout=left)
    except TimeoutError as e:
        raise OverBudget("time") from e
    state.charge(max(1, (m.end() if m else endpos) - pos))  # what the search scanned
    return m


def _match(pattern, text: str, state: ScanState, pos: int = 0, endpos: Optional[int] = None):
    endpos = len(text) if endpos is None else endpos
    if endpos - pos <= UNTIMED_CHARS:
        state.tick()
        m = pattern.match(text, pos, endpos)
    else:
        left = state.remaining()
        try:
            m = pattern.match(text, pos, endpos, timeout=left) if left is not None else pattern.match(text, pos, endpos)
        except TimeoutError as e:
            raise OverBudget("time") from e
    if m:
        state.charge(m.end() - pos)
    return m


# --- presidio base class -------------------------------------------------------------------


class CodeRecognizer:
    """One technique: ``find(text, state)`` yields (entity, start, end). Pure Python; presidio
    sees it through ``presidio_recognizer`` (built on the worker, so importing this module, and
    the CLI, never imports presidio or spaCy)."""

    ENTITIES: tuple = ()
    SCORE = 0.85

    def __init__(self, settings: Settings):
        self.settings = settings

    def find(self, text: str, state: ScanState, nlp_artifacts=None) -> Iterator[tuple[str, int, int]]:
        raise NotImplementedError


@functools.lru_cache(maxsize=1)
def _presidio_adapter():
    """The presidio ``EntityRecognizer`` class that runs a ``CodeRecognizer`` with the shared
    per-document ``ScanState`` (imported here, when a redactor builds its engines)."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class CodePatternRecognizer(EntityRecognizer):
        # Its class name must not repeat presidio's own (``EmailRecognizer`` …): presidio finds
        # its predefined recognizers by class name among all ``EntityRecognizer`` subclasses.

        def __init__(self, technique: CodeRecognizer):
            self.technique = technique
            super().__init__(supported_entities=list(technique.ENTITIES), name=type(technique).__name__,
                             supported_language="en")

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list, nlp_artifacts=None) -> list:
            technique = self.technique
            state = getattr(nlp_artifacts, STATE_ATTR, None)
            if state is None:
                state = ScanState(text, max_findings=technique.settings.max_findings)
            state.charge(len(text))  # the technique's trigger checks read the whole text
            wanted = set(entities or technique.ENTITIES)
            allowed = technique.settings.allow_values
            results = []
            for entity, start, end in technique.find(text, state, nlp_artifacts):
                if entity not in wanted or end <= start or (allowed and text[start:end] in allowed) \
                        or text[start:end] in PUBLIC_EXAMPLE_KEYS:
                    continue
                result = RecognizerResult(entity, start, end, technique.SCORE)
                results.append(result)
                state.results.append(result)
                state.add(1)
                state.charge(FINDING_WORK)
            return results

    return CodePatternRecognizer


def presidio_recognizer(technique: CodeRecognizer):
    return _presidio_adapter()(technique)
