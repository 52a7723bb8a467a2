"""Where every record ends up: kept, dropped with a counted reason, or dead-lettered.

Pure record functions yield plain records (kept), ``Drop`` (a counted filter decision) or
``DeadLetter`` (a record that could not be processed). ``Route`` is the one DoFn that turns
those events into Beam outputs: the main output, a ``dead_letter`` output and a ``stats``
output of ``(counter, 1)`` pairs that the job sums into its manifest. An exception raised by the
function dead-letters the element instead of failing the job, and nothing the function yielded
for that element is emitted, so a record never lands in two places.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

DEAD_LETTER = "dead_letter"
STATS = "stats"

# Set by the launcher for --quiet; worker processes inherit the environment, not the logger.
QUIET_ENV = "CODECORPUS_QUIET"


@dataclass(frozen=True)
class Drop:
    """A filter decision: the record is intentionally left out, and counted."""

    counter: str


@dataclass(frozen=True)
class Count:
    """A counter to increment that does not change where the record goes."""

    counter: str
    value: int = 1


@dataclass(frozen=True)
class DeadLetter:
    """A record that failed; ``row`` follows ``schemas.DEAD_LETTER``."""

    row: dict


def to_raw_text(value: Any) -> str:
    """The raw input as text for a dead letter: strings as they are, records as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):  # RecursionError: a record nested ~1,000 deep
        return repr(value)


def dead_letter(stage: str, table: str, key: Optional[str], error: str, raw: Any, source: str = "") -> DeadLetter:
    """A failed record with the error. ``raw`` is kept whole: the job's one dead-letter sink
    (``jobs.runner.Stages.finish``) redacts it and then cuts it to ``dead_letter.max_raw_chars``."""
    text = _printable(to_raw_text(raw))
    return DeadLetter(
        {
            "stage": stage,
            "table": table,
            "key": _printable(key) if key is not None else None,
            "error": _printable(error),
            "raw": text,
            "raw_truncated": False,
            "source": _printable(source),
        }
    )


def _printable(text: str) -> str:
    """Lone surrogates (from undecodable input) can neither cross a shuffle nor be written to
    Parquet: spell them as escapes so the dead letter shows exactly what was there."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Progress:
    """Progress lines for one stage on one worker: every few seconds while it runs, and when
    a bundle ends, with how many elements the stage has seen so far."""

    def __init__(self, stage: str, every_seconds: float = 10.0):
        self.stage = stage
        self.every_seconds = every_seconds
        self.seen = 0
        self._started = self._last = None

    def tick(self, n: int = 1) -> None:
        now = time.monotonic()
        if self._started is None:
            self._started = self._last = now  # rates count from the first element, not setup
        self.seen += n
        if now - self._last >= self.every_seconds:
            self._last = now
            self.report()

    def report(self, done: bool = False) -> None:
        if self._started is None or os.environ.get(QUIET_ENV):
            return
        rate = self.seen / max(1e-3, time.monotonic() - self._started)
        # Our own line, not a log record: worker processes format log records with Beam's or the
        # root logger's prefix ("INFO:codecorpus.progress:"), which buries what the line says.
        line = f"codecorpus: [{self.stage}] {self.seen:,} records {'done' if done else 'so far'} ({rate:,.0f}/s)"
        print(line, file=sys.stderr, flush=True)


class Route(beam.DoFn):
    """Applies ``fn(element) -> Iterable[event]`` and routes each event to its output."""

    def __init__(self, fn: Callable[[Any], Iterable[Any]], stage: str, table: str,
                 key_of: Callable[[Any], Optional[str]] = lambda _: None):
        self.fn = fn
        self.stage = stage
        self.table = table
        self.key_of = key_of

    def setup(self):
        self._progress = Progress(self.stage)

    def finish_bundle(self):
        self._progress.report(done=True)

    def process(self, element, *side_inputs):
        self._progress.tick()
        try:
            events = list(self.fn(element, *side_inputs))
        except Exception as e:  # noqa: BLE001 - any failure of one record must not stop the job
            try:
                key = self.key_of(element)
            except Exception:  # noqa: BLE001
                key = None
            events = [dead_letter(self.stage, self.table, key, f"{type(e).__name__}: {e}", element)]
        yield from route_events(events, self.stage)


def route_events(events: Iterable[Any], stage: str):
    """Beam outputs for a list of events (shared by ``Route`` and the streaming readers)."""
    for event in events:
        if isinstance(event, Drop):
            Metrics.counter("codecorpus", event.counter).inc()
            yield beam.pvalue.TaggedOutput(STATS, (event.counter, 1))
        elif isinstance(event, Count):
            Metrics.counter("codecorpus", event.counter).inc(event.value)
            yield beam.pvalue.TaggedOutput(STATS, (event.counter, event.value))
        elif isinstance(event, DeadLetter):
            counter = f"dead_letter/{event.row['table']}/{event.row['stage']}"
            Metrics.counter("codecorpus", counter).inc()
            yield beam.pvalue.TaggedOutput(STATS, (counter, 1))
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, event.row)
        else:
            yield event


def route_stream(events: Iterable[Any], stage: str):
    """Beam outputs for a reader's events as they come (a file is never held whole), with a
    progress line per ``stage`` for the records among them."""
    progress = Progress(stage)
    for event in events:
        if not isinstance(event, Count):
            progress.tick()
        yield from route_events([event], stage)
    progress.report(done=True)


class Ledger:
    """Collects the dead letters and counters of every stage of a job, so the pipeline
    module can read as a recipe: ``kept = ledger.take(stage_outputs)``."""

    def __init__(self):
        self.dead_letters = []
        self.stats = []

    def take(self, outputs):
        self.dead_letters.append(outputs[DEAD_LETTER])
        self.stats.append(outputs[STATS])
        return outputs["kept"]

    def add_stats(self, pcoll):
        self.stats.append(pcoll)


def routed(fn, stage: str, table: str, key_of=lambda _: None, side_inputs=()):
    """``beam.ParDo(Route(...))`` with the dead-letter and stats outputs declared; ``fn`` gets the
    ``side_inputs`` (e.g. ``AsSingleton``s) after the element."""
    return beam.ParDo(Route(fn, stage, table, key_of), *side_inputs).with_outputs(
        DEAD_LETTER, STATS, main="kept")


def dead_letter_order(row: dict) -> tuple:
    """The sort key of ``dead_letter/`` rows in every job: table, stage, key, source, error, raw."""
    return row["table"], row["stage"], row["key"] or "", row["source"] or "", row["error"], row["raw"]
