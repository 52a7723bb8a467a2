"""Thin Beam wrappers of the instruct stages: heavy things (LLM clients with their cache, the
sandbox, the tree-sitter parser) are built per worker in ``setup()``; each stage is a ``Route``
so a record that raises (a failed LLM request …) is dead-lettered with nothing half-emitted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import apache_beam as beam

from codecorpus.core.routing import DEAD_LETTER, STATS, Count, Route, route_stream
from codecorpus.instruct import sandbox as sb
from codecorpus.instruct.solve import Solver, TableRow
from codecorpus.io.llm import ChatClient, ResponseCache
from codecorpus.io.tables import iter_record_events

SEED_TABLE = "seeds"


# --- resources -----------------------------------------------------------------------------------


def cache_root(lcfg: dict) -> Optional[str]:
    value = lcfg.get("cache_dir")
    if value is False or value in ("off", "false", "none"):
        return None
    if value:
        return str(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "codecorpus" / "llm")


def make_client(lcfg: dict, model: Optional[str] = None, endpoint: Optional[str] = None) -> ChatClient:
    root = cache_root(lcfg)
    api_key = os.environ.get(lcfg["api_key_env"]) if lcfg.get("api_key_env") else None
    return ChatClient(endpoint or lcfg["endpoint"], model or lcfg["model"], api_key, lcfg["timeout_seconds"],
                      lcfg["max_retries"], lcfg["max_tokens"], lcfg.get("seed"),
                      cache=ResponseCache(root) if root else None)


def solver_specs(cfg: dict) -> list:
    """``(model, role, endpoint, n)`` for every model that writes solutions."""
    models = cfg["solutions"]["models"] or [{"model": cfg["llm"]["model"], "role": "teacher"}]
    out = []
    for spec in models:
        out.append((spec.get("model") or cfg["llm"]["model"], spec.get("role") or "teacher",
                    spec.get("endpoint") or cfg["llm"]["endpoint"], spec.get("n") or cfg["solutions"]["n"]))
    return out


def make_solvers(cfg: dict) -> list:
    return [Solver(make_client(cfg["llm"], model, endpoint), model, role, n)
            for model, role, endpoint, n in solver_specs(cfg)]


def make_sandbox(cfg: dict) -> sb.Sandbox:
    scfg = cfg["sandbox"]
    return sb.Sandbox(sb.Limits.from_config(scfg), scfg["isolation"], scfg["allow_unisolated"], scfg.get("python"))


# --- stages --------------------------------------------------------------------------------------


class Stage(Route):
    """``fn(element, **resources)`` where ``resources = make()`` is built once per worker."""

    def __init__(self, fn: Callable, make: Callable[[], dict], stage: str, table: str):
        super().__init__(fn, stage, table, key_of=lambda e: e.get("id") or e.get("ref") if isinstance(e, dict)
                         else str(e))
        self.stage_fn, self.make = fn, make

    def setup(self):
        super().setup()
        resources = self.make()
        self.fn = lambda element: self.stage_fn(element, **resources)


def stage(fn: Callable, make: Callable[[], dict], name: str, table: str, *tags: str):
    return beam.ParDo(Stage(fn, make, name, table)).with_outputs(DEAD_LETTER, STATS, *tags,
                                                                                main="kept")


def as_outputs(events: list, main_table: Optional[str] = None) -> list:
    """``TableRow``s -> Beam tagged outputs (``main_table`` rows go to the main output)."""
    out = []
    for event in events:
        if isinstance(event, TableRow):
            out.append(event.row if event.table == main_table else beam.pvalue.TaggedOutput(event.table, event.row))
        else:
            out.append(event)
    return out


class _ReadSeedFile(beam.DoFn):
    """Records of one JSONL/Parquet file, each with ``__ref`` (file name and row number), so two
    identical records are still two seeds."""

    def process(self, path):
        def events():
            row = 0
            for event in iter_record_events(path, SEED_TABLE):
                if isinstance(event, dict):
                    row += 1
                    event = dict(event, __ref=f"{path.rsplit('/', 1)[-1]}#{row}")
                yield event
        yield from route_stream(events(), f"read {path}")


class ReadSeedRecords(beam.PTransform):
    def __init__(self, files: list):
        super().__init__()
        self.files = files

    def expand(self, pbegin):
        return (pbegin
                | "ListSeedFiles" >> beam.Create(self.files)
                | "SpreadSeedFiles" >> beam.Reshuffle()
                | "ParseSeedRecords" >> beam.ParDo(_ReadSeedFile())
                .with_outputs(DEAD_LETTER, STATS, main="kept"))


def count_of(pcoll, label: str, counter: str):
    """A ``stats`` collection of one ``(counter, 1)`` per element (zero elements: no entry)."""
    return pcoll | label >> beam.Map(lambda _: (counter, 1))


__all__ = ["Stage", "stage", "as_outputs", "ReadSeedRecords", "make_client", "make_solvers", "make_sandbox",
           "count_of", "Count"]
