"""Pipeline hygiene: what breaks or stalls a job on Dataflow but passes on a laptop.

Every Beam job of the CLI (``codecorpus.cli.JOBS``, so a new job is covered as soon as
it is registered) is built, not run, against tiny fixture inputs, and its graph is walked:

- every DoFn and CombineFn survives Beam's pickler (what the launcher ships to workers), stays
  small, and carries no heavy object (a presidio engine, a spaCy model, a tree-sitter parser, a
  Google client): those are built on the worker, in ``setup()``;
- no step gathers a whole PCollection on one worker: no global ``CombineGlobally`` into a list,
  dict or set (except the allow-listed counters gather below), no ``AsList``/``AsDict``/
  ``AsIter``/``AsMultiMap`` side input (``AsSingleton`` of a scalar is fine);
- no ``beam.Create`` of more than a few elements or bytes (in-memory data belongs in files);
- the whole graph converts to Beam's portable form and back (what a runner receives).

And the sources are scanned (AST) for module-level mutable state: ``global`` statements, and
module-level lists/dicts/sets mutated inside functions (state that differs between the launcher
and each worker process), class attributes shared the same way, a constant key before a
grouping, and heavy objects constructed at import time, per element, or lazily by code that no
``setup()`` reaches (built inside a worker's first element and its time budget).

A finding in code this test does not own is listed in ``KNOWN_VIOLATIONS`` with who was told; the
test fails on any new finding, and on a listed one that has gone (so the list stays true).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.pipeline import PipelineVisitor
from apache_beam.transforms import combiners

from conftest import DumpBuilder, PipelineBuilt

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "codecorpus"

MAX_CREATE_ELEMENTS = 64          # more than this in a Create is data, and data belongs in files
MAX_CREATE_BYTES = 64 << 10
MAX_PICKLED_FN_BYTES = 1 << 20    # a DoFn bigger than this carries data to every worker

# Global combines that are allowed to gather, and why.
ALLOWED_GATHERS = {
    "codecorpus.io.manifest.WriteStats": "gathers the summed counters, one (name, total) pair per counter "
                                         "name: a few hundred small pairs, whatever the input size",
    "codecorpus.core.semijoin.KeepRequestedBlobs": "gathers the fingerprints of the blob ids candidate commits "
                                                   "or files name into one filter of at most MAX_FILTER_BYTES "
                                                   "(64 MiB: exact while it fits, a Bloom filter past it)",
    "codecorpus.io.shards.CountPerBucket": "gathers one row count per key-range bucket of a split (at most "
                                           "max_buckets = 65,536 integers) so each bucket knows its first global "
                                           "rank; the rows themselves are never gathered",
    "codecorpus.io.shards.ShardBoundaries": "gathers the sort key at which each shard of a split begins: "
                                            "num_shards - 1 small tuples",
}

# Findings in modules this test's owner may not change, reported to the project lead. Each key
# is a finding id as printed by the test; the value says why it is listed.
KNOWN_VIOLATIONS = {
    "heavy-lazy codecorpus/commits/ft_filters.py:LengthFilter._length_in_tokens":
        "reported (lead): with ft_length.tokenizer set, tokenizer.json is loaded on the first record of each "
        "worker, not in setup(); benign (not pickled, no time budget), but a filter setup() hook would say so",
}

# Types that must never travel inside a pickled DoFn: build them in setup().
HEAVY_MODULES = ("presidio_analyzer", "presidio_anonymizer", "spacy", "thinc", "tree_sitter", "google.cloud",
                 "google.auth", "datasketch", "duckdb", "sqlite3", "tokenizers", "transformers")
# Constructors of such objects: not at import time, not per element, not in a DoFn's __init__.
HEAVY_CALLS = {"AnalyzerEngine", "BatchAnalyzerEngine", "AnonymizerEngine", "NlpEngineProvider",
               "SpacyNlpEngine", "Parser", "Language", "Client", "load_model"}
HEAVY_DOTTED = {"spacy.load", "spacy.blank", "bigquery.Client", "storage.Client", "tree_sitter.Parser",
                "Tokenizer.from_file"}


# --- fixture inputs and how each job is built --------------------------------------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_tokenizer) -> dict:
    root = tmp_path_factory.mktemp("hygiene")
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    for i in range(3):
        b.commit(f"Add retries to the fetch helper {i}\n", path=f"src/m{i}.py",
                 old="def f():\n    return 1\n" * 5, new=f"def f():\n    return {i}\n" * 5)
    dump = b.write(root / "dump")
    records = root / "records.jsonl.gz"
    rows = [{"id": f"r{i}", "content": f"def f{i}(x):\n    return x + {i}  # mail a{i}@corp.io\n", "license": "mit"}
            for i in range(5)]
    records.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode(), mtime=0))
    bench = root / "bench.jsonl"
    bench.write_text(json.dumps({"prompt": "def add(a, b):\n    return a + b\n" * 3}) + "\n")
    (root / "dedup.yaml").write_text(
        "dedup:\n  decontaminate:\n    benchmarks:\n"
        f"    - {{name: tiny, paths: [{bench}], fields: [prompt]}}\n")
    (root / "bq.yaml").write_text("bigquery:\n  method: client\n")
    (root / "clusters.jsonl").write_text(json.dumps({"id": "r1", "cluster_id": "r0"}) + "\n")
    (root / "mix.yaml").write_text(json.dumps({"mix": {"sources": [
        {"name": "records", "path": str(records), "kind": "custom", "text": "{content}", "id": "{id}",
         "clusters": str(root / "clusters.jsonl"), "weight": 1},
        {"name": "again", "path": str(records), "kind": "custom", "text": "{content}", "weight": 2,
         "join": {"path": str(records), "on": "id", "columns": ["license"]}}]}}))
    repo = root / "repo"  # git: inputs are checked on the launcher: a real repository
    repo.mkdir()
    (repo / "app.py").write_text("print('hi')\n")
    for git in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@example.org",
                                               "commit", "-qm", "Add app"]):
        subprocess.run(["git", "-C", str(repo), *git], check=True, capture_output=True)
    return {"dump": str(dump), "records": str(records), "repo": str(repo), "dedup_config": str(root / "dedup.yaml"),
            "bq_config": str(root / "bq.yaml"), "root": root, "mix_config": str(root / "mix.yaml"),
            "tokenizer": tiny_tokenizer}


def job_variants(job: str, inp: dict) -> list[list[str]]:
    """The command lines each job is built with (without --output). A job not listed here is
    tried with the generic ones; add it here if those cannot build it."""
    known = {
        "commits": [["--input", inp["dump"]],
                    ["--input", "bq:public", "--config", inp["bq_config"]],
                    ["--input", f"git:{inp['repo']}"]],
        "dedup": [["--input", inp["records"], "--text-field", "content", "--id-field", "id",
                   "--config", inp["dedup_config"]]],
        "pii": [["--input", inp["records"], "--text-field", "content"]],
        "instruct": [["--from", "doctests", "--input", inp["dump"], "--allow-unisolated"],
                     *[["--from", source, "--input", inp["records"], "--llm-endpoint", "http://127.0.0.1:9/v1",
                        "--evolve-rounds", "2", "--allow-unisolated"] for source in ("instructions", "snippets")],
                     ["--from", "generate", "--llm-endpoint", "http://127.0.0.1:9/v1", "--allow-unisolated"]],
        "mix": [["--config", inp["mix_config"]], ["--config", inp["mix_config"], "--tokenizer", inp["tokenizer"],
                                                   "--pack", "32"]],
    }
    return known.get(job, [["--input", inp["records"]], ["--input", inp["dump"]]])


def _fill_required(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Generic variants: give required options a value by their name (``--*-field`` -> content)."""
    argv = list(argv)
    for action in parser._actions:
        if action.required and action.option_strings and not set(action.option_strings) & set(argv):
            if "field" in action.dest:
                argv += [action.option_strings[-1], "content"]
    return argv


def build_graphs(job: str, inp: dict, tmp_path: Path, monkeypatch) -> list[beam.Pipeline]:
    """The job's pipelines for each variant, built by the job's own ``run`` and stopped at
    ``Pipeline.run``."""
    from codecorpus import cli

    parser, modules = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[job]

    def capture(self, *args, **kwargs):
        raise PipelineBuilt(self)

    monkeypatch.setattr(beam.Pipeline, "run", capture)
    graphs, errors = [], []
    for i, argv in enumerate(job_variants(job, inp)):
        argv = _fill_required(sub, argv) + ["--output", str(tmp_path / f"{job}-{i}"), "--quiet"]
        try:
            args, beam_args = sub.parse_known_args(argv)
            modules[job].run(args, beam_args)
        except PipelineBuilt as built:
            graphs.append(built.pipeline)
            continue
        except (Exception, SystemExit) as e:  # noqa: BLE001 - reported below
            errors.append(f"{argv}: {type(e).__name__}: {e}")
            continue
        errors.append(f"{argv}: run() returned without building a pipeline")
    known = job in ("commits", "dedup", "pii")
    if not graphs or (known and errors):
        pytest.fail(f"job {job}: could not build its pipeline from the fixtures; add it to job_variants() in "
                    f"tests/test_hygiene.py. Errors: {errors}")
    return graphs


# --- walking a graph -------------------------------------------------------------------------------


@dataclass
class Finding:
    id: str
    detail: str


def _qualname(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _heavy_objects(obj, path: str = "fn", depth: int = 0, seen=None) -> list[str]:
    """Paths to heavy objects reachable from ``obj`` (attributes, containers, closures, bound
    methods, partials), a few levels deep."""
    seen = set() if seen is None else seen
    if depth > 6 or id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None), type)):
        return []
    seen.add(id(obj))
    module = type(obj).__module__ or ""
    if module.startswith(HEAVY_MODULES):
        return [f"{path}: {_qualname(obj)}"]
    found = []
    children = []
    if isinstance(obj, dict):
        children = [(f"{path}[{k!r}]", v) for k, v in list(obj.items())[:200]]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:200])]
    else:
        if getattr(obj, "__closure__", None):
            children += [(f"{path}.<closure {i}>", c.cell_contents) for i, c in enumerate(obj.__closure__)
                         if _cell_filled(c)]
        for attr in ("__self__", "func", "args", "keywords", "__wrapped__"):
            if hasattr(obj, attr) and not isinstance(obj, type):
                try:
                    children.append((f"{path}.{attr}", getattr(obj, attr)))
                except Exception:  # noqa: BLE001
                    pass
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict) and not module.startswith(("apache_beam.", "pyarrow", "builtins")):
            children += [(f"{path}.{k}", v) for k, v in state.items()]
        elif isinstance(state, dict) and module.startswith("apache_beam."):
            children += [(f"{path}.{k}", v) for k, v in state.items() if k in ("fn", "_fn", "combine_fn")]
    for child_path, child in children:
        found += _heavy_objects(child, child_path, depth + 1, seen)
    return found


def _cell_filled(cell) -> bool:
    try:
        _ = cell.cell_contents
        return True
    except ValueError:
        return False


class HygieneVisitor(PipelineVisitor):
    def __init__(self, job: str):
        self.job = job
        self.findings: list[Finding] = []
        self.stack: list = []
        self.checked_fns = 0
        self.sizes: dict[str, int] = {}

    def enter_composite_transform(self, node):
        self._check(node)
        self.stack.append(node.transform)

    def leave_composite_transform(self, node):
        self.stack.pop()

    def visit_transform(self, node):
        self._check(node)

    def _flag(self, kind: str, label: str, detail: str):
        self.findings.append(Finding(f"{kind} {self.job}:{label}", detail))

    def _check(self, node):
        t, label = node.transform, node.full_label
        if t is None:
            return
        inside_beam_combine = any(isinstance(a, beam.CombineGlobally) for a in self.stack)
        if isinstance(t, beam.ParDo):
            self._check_fn(label, t.fn)
            # Beam's own CombineGlobally reads its one-element result back as a side input.
            for side in () if inside_beam_combine else t.side_inputs:
                if not isinstance(side, beam.pvalue.AsSingleton):
                    self._flag("side-input", label, f"{type(side).__name__} side input: every worker holds all "
                               "of it; join with CoGroupByKey instead")
        fn = getattr(t, "fn", None)
        if isinstance(t, (beam.CombineGlobally, beam.CombinePerKey, beam.CombineValues)) and fn is not None:
            if isinstance(fn, beam.CombineFn):
                self._check_fn(label, fn)
        if isinstance(t, beam.CombineGlobally):
            self._check_global_combine(label, fn)
        if isinstance(t, beam.Create):
            size = len(pickler.dumps(list(t.values)))
            if len(t.values) > MAX_CREATE_ELEMENTS or size > MAX_CREATE_BYTES:
                self._flag("create", label, f"Create of {len(t.values)} elements / {size:,} pickled bytes: "
                           "read large inputs from files")

    def _check_fn(self, label: str, fn):
        self.checked_fns += 1
        try:
            data = pickler.dumps(fn)
            restored = pickler.loads(data)
        except Exception as e:  # noqa: BLE001
            self._flag("unpicklable", label, f"{_qualname(fn)}: {type(e).__name__}: {e}")
            return
        self.sizes[label] = len(data)
        if type(restored) is not type(fn):
            self._flag("unpicklable", label, f"{_qualname(fn)} came back as {_qualname(restored)}")
        if len(data) > MAX_PICKLED_FN_BYTES:
            self._flag("large-fn", label, f"{_qualname(fn)} pickles to {len(data):,} bytes")
        for where in _heavy_objects(fn) + _heavy_objects(restored, "unpickled"):
            self._flag("heavy-in-fn", label, f"{where}: build it in setup(), not before pickling")

    def _check_global_combine(self, label: str, fn):
        allowed = [_qualname(a) for a in self.stack]
        if any(name in ALLOWED_GATHERS for name in allowed):
            return
        if isinstance(fn, (combiners.ToListCombineFn, combiners.ToDictCombineFn, combiners.ToSetCombineFn)):
            self._flag("gather", label, f"CombineGlobally({type(fn).__name__}): the whole PCollection on one worker")
        elif isinstance(fn, (combiners.CountCombineFn, combiners.MeanCombineFn)) or fn in (sum, min, max, any, all):
            return
        elif isinstance(fn, (combiners.TopCombineFn, combiners.SampleCombineFn)) and getattr(fn, "_n", 0) <= 1000:
            return
        else:
            self._flag("gather", label, f"CombineGlobally({fn!r}): not a known scalar combine; allow-list it with "
                       "the reason its result stays small")


def walk(job: str, pipeline: beam.Pipeline) -> HygieneVisitor:
    visitor = HygieneVisitor(job)
    pipeline.visit(visitor)
    # What a runner receives: the portable graph, every fn pickled, and back.
    proto = pipeline.to_runner_api()
    beam.Pipeline.from_runner_api(proto, pipeline.runner, pipeline._options)
    return visitor


# --- source scan ---------------------------------------------------------------------------------

MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "remove", "discard",
            "clear", "__setitem__", "sort", "reverse"}
MUTABLE_CALLS = {"list", "dict", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}


def _is_mutable_value(node) -> bool:
    if isinstance(node, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        return name in MUTABLE_CALLS
    return False


def _module_mutables(tree: ast.Module) -> set[str]:
    names = set()
    for stmt in tree.body:
        targets, value = [], None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        if value is not None and _is_mutable_value(value):
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _local_names(fn: ast.AST) -> set[str]:
    args = fn.args
    names = {a.arg for a in args.args + args.kwonlyargs + args.posonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _root_name(node) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _called_name(call: ast.Call) -> str:
    parts, node = [], call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_dofn_class(cls: ast.ClassDef) -> bool:
    return any((isinstance(b, ast.Attribute) and b.attr == "DoFn") or (isinstance(b, ast.Name) and b.id in
               ("DoFn", "Route")) for b in cls.bases)


def scan_module(path: Path) -> list[Finding]:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text("utf-8"), filename=rel)
    mutables = _module_mutables(tree)
    findings = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    for fn in functions:
        name = getattr(fn, "name", "<lambda>")
        if isinstance(fn, ast.Lambda):
            continue
        declared_global = {n for node in ast.walk(fn) if isinstance(node, ast.Global) for n in node.names}
        for g in sorted(declared_global):
            findings.append(Finding(f"global-statement {rel}:{name}:{g}",
                                    f"{rel}:{fn.lineno} `global {g}` in {name}(): per-process state set at run time"))
        local = _local_names(fn) - declared_global
        for node in ast.walk(fn):
            target = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                target = node.func.value
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                for t in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]):
                    if isinstance(t, ast.Subscript):
                        target = t.value
            root = _root_name(target) if target is not None else None
            if root in mutables and root not in local and isinstance(target, ast.Name):
                findings.append(Finding(f"module-state {rel}:{name}:{root}",
                                        f"{rel}:{node.lineno} {name}() mutates module-level {root}"))
    # Class attributes holding a mutable container, mutated through self/cls/the class: shared
    # by every instance in a process (and never seen by the other processes).
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        shared = set()
        for stmt in cls.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _is_mutable_value(stmt.value):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                shared |= {t.id for t in targets if isinstance(t, ast.Name)}
        methods = [m for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        rebound = {t.attr for m in methods for t in ast.walk(m) if isinstance(t, ast.Attribute)
                   and isinstance(t.ctx, ast.Store) and isinstance(t.value, ast.Name) and t.value.id == "self"}
        for m in methods:
            for node in ast.walk(m):
                target = None
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                    target = node.func.value
                elif isinstance(node, (ast.Assign, ast.AugAssign)):
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                        if isinstance(t, ast.Subscript):
                            target = t.value
                if (isinstance(target, ast.Attribute) and target.attr in shared - rebound
                        and isinstance(target.value, ast.Name) and target.value.id in ("self", "cls", cls.name)):
                    findings.append(Finding(f"class-state {rel}:{cls.name}.{target.attr}",
                                            f"{rel}:{node.lineno} {cls.name}.{m.name}() mutates class attribute "
                                            f"{target.attr}, shared by every instance"))
    # Heavy constructors: at import time, or in a DoFn's __init__ / per-element methods.
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and _is_heavy(node):
                findings.append(Finding(f"heavy-at-import {rel}:{_called_name(node)}",
                                        f"{rel}:{node.lineno} {_called_name(node)}() runs at import time"))
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and _is_dofn_class(n)):
        for method in (m for m in cls.body if isinstance(m, ast.FunctionDef)
                       and m.name in ("__init__", "process", "process_batch", "start_bundle", "finish_bundle")):
            for node in ast.walk(method):
                if isinstance(node, ast.Call) and _is_heavy(node):
                    findings.append(Finding(f"heavy-outside-setup {rel}:{cls.name}.{method.name}:{_called_name(node)}",
                                            f"{rel}:{node.lineno} {_called_name(node)}() in {cls.name}.{method.name}: "
                                            "build it in setup()"))
    # A constant key before a grouping sends everything to one worker.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node).split(".")[-1] in ("Map", "FlatMap", "WithKeys"):
            for arg in node.args[:1]:
                constant_key = (isinstance(arg, ast.Constant) and _called_name(node).endswith("WithKeys")) or (
                    isinstance(arg, ast.Lambda) and isinstance(arg.body, ast.Tuple) and arg.body.elts
                    and isinstance(arg.body.elts[0], ast.Constant))
                if constant_key:
                    findings.append(Finding(f"constant-key {rel}:{node.lineno}",
                                            f"{rel}:{node.lineno} keys every element with one constant: a "
                                            "later grouping runs on one worker"))
    return findings


def _calls(fn: ast.AST) -> set[str]:
    return {_called_name(n).split(".")[-1] for n in ast.walk(fn) if isinstance(n, ast.Call)}


def scan_lazy_builders(paths: list[Path]) -> list[Finding]:
    return _lazy_builders_in(paths, ROOT)


def _lazy_builders_in(paths: list[Path], root: Path) -> list[Finding]:
    """Functions that construct a heavy object and that no ``setup()`` reaches (by name, through
    the package's calls): the object is then built on the first element a worker processes,
    inside its time budget and once per DoFn instance, instead of in ``setup()``."""
    functions: dict[str, list[tuple[str, ast.AST]]] = {}
    for path in paths:
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text("utf-8"))
        for cls in [None] + [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            body = tree.body if cls is None else cls.body
            for fn in (n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
                qual = f"{rel}:{cls.name + '.' if cls else ''}{fn.name}"
                functions.setdefault(fn.name, []).append((qual, fn))
    calls = {name: set().union(*(_calls(fn) for _, fn in defs)) for name, defs in functions.items()}
    reachable, todo = set(), ["setup"]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo += [c for c in calls.get(name, ()) if c in functions]
    findings = []
    for name, defs in functions.items():
        for qual, fn in defs:
            heavy = sorted({_called_name(n) for n in ast.walk(fn) if isinstance(n, ast.Call) and _is_heavy(n)})
            if heavy and name not in reachable:
                findings.append(Finding(f"heavy-lazy {qual}", f"{qual} builds {', '.join(heavy)} but no setup() calls "
                                        "it: built on a worker's first element (inside that element's time budget)"))
    return findings


def _is_heavy(call: ast.Call) -> bool:
    name = _called_name(call)
    return name in HEAVY_DOTTED or name.split(".")[-1] in HEAVY_CALLS


# --- the tests -------------------------------------------------------------------------------------


def _jobs() -> list[str]:
    # Names only: a job module that fails to import fails its own test, not the collection.
    from codecorpus import cli

    return list(cli.JOBS)


def _check_known(findings: list[Finding], scope) -> None:
    ids = {f.id for f in findings}
    details = {f.id: f.detail for f in findings}
    new = [f"{i}\n    {d}" for i, d in sorted(details.items()) if i not in KNOWN_VIOLATIONS]
    assert not new, "pipeline hygiene findings:\n" + "\n".join(new)
    gone = [k for k in KNOWN_VIOLATIONS if scope(k) and k not in ids]
    assert not gone, f"fixed (remove from KNOWN_VIOLATIONS): {gone}"


@pytest.mark.parametrize("job", _jobs())
def test_job_graph_hygiene(job, inputs, tmp_path, monkeypatch):
    import importlib

    from codecorpus import cli

    if not getattr(importlib.import_module(cli.JOBS[job]), "USES_BEAM", True):
        pytest.skip(f"{job} does not run on Beam")
    findings, checked = [], 0
    for pipeline in build_graphs(job, inputs, tmp_path, monkeypatch):
        visitor = walk(job, pipeline)
        findings += visitor.findings
        checked += visitor.checked_fns
    assert checked >= 5, f"job {job}: only {checked} DoFns/CombineFns found; is the graph walked?"
    _check_known(findings, lambda k: k.split(" ", 1)[1].startswith(f"{job}:"))


def test_sources_have_no_module_level_mutable_state_or_misplaced_heavy_objects():
    paths = sorted(PACKAGE.rglob("*.py"))
    findings = [f for path in paths for f in scan_module(path)] + scan_lazy_builders(paths)
    _check_known(findings, lambda k: k.split(" ", 1)[1].startswith("codecorpus/"))


# --- the checks themselves catch what they claim to ------------------------------------------------


def test_scan_catches_module_state_heavy_objects_and_constant_keys(tmp_path, monkeypatch):
    bad = PACKAGE / "_hygiene_probe_not_a_module.py"
    source = '''
import apache_beam as beam
from presidio_analyzer import AnalyzerEngine
_CACHE = {}
SEEN = []
ENGINE = AnalyzerEngine()
_COUNT = 0
def remember(x):
    _CACHE[x] = 1
    SEEN.append(x)
def bump():
    global _COUNT
    _COUNT += 1
def fine(x):
    SEEN = []
    SEEN.append(x)
class Redact(beam.DoFn):
    def process(self, x):
        yield AnalyzerEngine().analyze(x)
keyed = beam.Map(lambda x: (None, x))
class Memo:
    seen = {}
    own = []
    def __init__(self):
        self.own = []
    def note(self, x):
        self.seen[x] = 1
        self.own.append(x)
'''
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    monkeypatch.setattr(Path, "relative_to", lambda self, other: Path("codecorpus/probe.py"))
    ids = {f.id for f in scan_module(bad)}
    assert ids == {
        "module-state codecorpus/probe.py:remember:_CACHE", "module-state codecorpus/probe.py:remember:SEEN",
        "global-statement codecorpus/probe.py:bump:_COUNT", "heavy-at-import codecorpus/probe.py:AnalyzerEngine",
        "heavy-outside-setup codecorpus/probe.py:Redact.process:AnalyzerEngine", "constant-key codecorpus/probe.py:20",
        "class-state codecorpus/probe.py:Memo.seen",
    }


def test_lazy_builder_scan_follows_calls_from_setup(tmp_path):
    source = {
        "lazy.py": "class R:\n    def engines(self):\n        return self._build()\n"
                   "    def _build(self):\n        return AnalyzerEngine()\n",
        "eager.py": "class E:\n    def setup(self):\n        self.e = self._make()\n"
                    "    def _make(self):\n        return spacy.load('x')\n",
    }
    root = tmp_path / "codecorpus"
    root.mkdir()
    for name, text in source.items():
        (root / name).write_text(text)
    findings = [f.id.replace(tmp_path.as_posix() + "/", "")
                for f in _lazy_builders_in(sorted(root.glob("*.py")), tmp_path)]
    assert findings == ["heavy-lazy codecorpus/lazy.py:R._build"]


def test_graph_walk_catches_gathers_side_inputs_creates_and_heavy_fns(tmp_path):
    class Heavy:
        pass

    Heavy.__module__ = "presidio_analyzer.analyzer_engine"

    class CarriesHeavy(beam.DoFn):
        def __init__(self):
            self.engine = Heavy()

        def process(self, x):
            yield x

    class Unpicklable(beam.DoFn):
        def __init__(self):
            self.pending = (i for i in range(3))  # a generator: no pickler takes it

        def process(self, x):
            yield x

    from codecorpus.io.manifest import WriteStats

    p = beam.Pipeline()
    many = p | "Big" >> beam.Create(list(range(MAX_CREATE_ELEMENTS + 1)))
    small = p | "Small" >> beam.Create([1, 2])
    _ = many | "Everything" >> beam.combiners.ToList()
    _ = many | "Total" >> beam.CombineGlobally(sum)
    _ = small | "Lookup" >> beam.Map(lambda x, table: x, beam.pvalue.AsDict(small | beam.Map(lambda x: (x, x))))
    _ = small | "Scalar" >> beam.Map(lambda x, n: x, beam.pvalue.AsSingleton(many | "N" >> beam.CombineGlobally(sum)))
    _ = small | "Heavy" >> beam.ParDo(CarriesHeavy())
    _ = small | beam.Map(lambda x: (f"c/{x}", 1)) | "WriteCounters" >> WriteStats(str(tmp_path))
    visitor = HygieneVisitor("probe")
    p.visit(visitor)
    with pytest.raises(RuntimeError, match="Unable to pickle"):
        beam.ParDo(Unpicklable())  # Beam itself refuses at construction; the visitor says it too:
    visitor._check_fn("Direct", Unpicklable())
    kinds = sorted(f.id for f in visitor.findings)
    assert "unpicklable probe:Direct" in kinds
    assert "create probe:Big" in kinds and "create probe:Small" not in kinds
    assert any(k.startswith("gather probe:Everything/") for k in kinds)
    assert not any("WriteCounters" in k for k in kinds)  # the allow-listed counters gather
    assert not any(k.startswith("gather probe:Total") or k.startswith("gather probe:N") for k in kinds)
    assert "side-input probe:Lookup" in kinds and "side-input probe:Scalar" not in kinds
    assert "heavy-in-fn probe:Heavy" in kinds
