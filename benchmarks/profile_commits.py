"""Where ``codecorpus commits`` spends its time: cProfile of one in-memory run, grouped.

Runs ``codecorpus.cli.main(["commits", ...])`` in this process under cProfile, on the
local FnApiRunner in ``in_memory`` mode (the SDK harness runs synchronously in the launching
thread there, so one profiler sees every DoFn). Modules are imported before profiling starts,
so the profile is the job (pipeline construction, run, finalisation), not interpreter start-up;
``bench_commits.py`` measures start-up separately with an empty dump.

The self time (``tottime``) of every function is assigned to one group by where the code lives:

- reading + JSON parsing: ``codecorpus/io/dump.py``, ``json``, ``gzip``/``zlib``, file I/O, fsspec;
- normalisation: ``codecorpus/io/records.py``;
- filters: ``codecorpus/commits/filters.py``, ``codecorpus/core/languages.py``, ``xxhash``;
- join, assemble, routing, rendering: the rest of ``codecorpus/transforms/`` and ``pipelines/``;
- Beam shuffle + coders: ``apache_beam/coders``, pickling, the FnApiRunner's shuffle buffers
  (``fn_api_runner/execution.py``);
- Parquet writing: ``pyarrow``, ``codecorpus/io/parquet.py``;
- Beam runner overhead: every other ``apache_beam`` module, grpc, protobuf;
- other: the rest (stdlib code that no caller claims, logging, threading, imports).

Built-in (C) functions and generic stdlib helpers (``copy``, ``functools``, ``<string>`` …) take
the group of their callers, in proportion to the time each caller spent in them. Self times
partition the profile's total, so the groups add up to 100 %.

    python benchmarks/profile_commits.py --input ../shared/data/github_repos_sample
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import shutil
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_commits import code_version  # noqa: E402
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"

READING = "reading + JSON parsing"
NORMALISE = "normalisation (io/records.py)"
FILTERS = "filters"
JOIN = "join, assemble, routing, rendering (codecorpus)"
SHUFFLE = "Beam shuffle + coders (Python-visible part)"
PARQUET = "Parquet writing"
RUNNER = "Beam runner overhead (incl. Cython coders/operations)"
OTHER = "other"
GROUPS = (READING, NORMALISE, FILTERS, JOIN, SHUFFLE, PARQUET, RUNNER, OTHER)

STDLIB = sysconfig.get_paths()["stdlib"]

# (substring of the file path or of a built-in's name, group); the first match wins.
RULES = (
    ("codecorpus/io/dump.py", READING),
    ("codecorpus/io/records.py", NORMALISE),
    ("codecorpus/io/parquet.py", PARQUET),
    ("codecorpus/commits/filters.py", FILTERS),
    ("codecorpus/core/languages.py", FILTERS),
    ("codecorpus/", JOIN),
    ("/json/", READING), ("_json.", READING), ("gzip.py", READING), ("_compression.py", READING),
    ("zlib", READING), ("fsspec/", READING),
    ("xxhash", FILTERS),
    ("apache_beam/coders", SHUFFLE), ("apache_beam.coders", SHUFFLE),
    ("fn_api_runner/execution.py", SHUFFLE),
    ("pickle", SHUFFLE), ("dill/", SHUFFLE), ("cloudpickle", SHUFFLE),
    ("pyarrow", PARQUET),
    ("apache_beam", RUNNER), ("grpc", RUNNER), ("google/protobuf", RUNNER), ("google._upb", RUNNER),
)


def _rule_group(key) -> str | None:
    filename, _line, name = key
    text = filename if filename != "~" else name
    for needle, group in RULES:
        if needle in text:
            return group
    return None


def _neutral(key) -> bool:
    """Built-ins and generic stdlib helpers, which belong to whoever called them."""
    filename = key[0]
    return filename == "~" or filename.startswith(STDLIB) or filename.startswith("<")


def group_shares(stats: pstats.Stats) -> tuple[dict, dict]:
    """Self time per group, and per group the functions that contribute most."""
    raw = stats.stats  # key -> (cc, nc, tt, ct, callers{caller key -> (cc, nc, tt, ct)})
    memo: dict = {}
    in_progress: set = set()

    def shares(key, depth=0) -> dict:
        """How a function's self time splits over the groups (fractions summing to 1)."""
        if key in memo:
            return memo[key]
        group = _rule_group(key)
        if group is not None or not _neutral(key) or depth > 30:
            result = {group or OTHER: 1.0}
        else:
            in_progress.add(key)
            callers = {c: v for c, v in (raw[key][4] if key in raw else {}).items()
                       if c not in in_progress}  # recursion: ask the non-recursive callers
            weights = {c: v[2] for c, v in callers.items()}
            if sum(weights.values()) <= 0:
                weights = {c: v[3] for c, v in callers.items()}
            total = sum(weights.values())
            acc = defaultdict(float)
            if total <= 0:
                acc[OTHER] = 1.0
            else:
                for caller, w in weights.items():
                    for g, f in shares(caller, depth + 1).items():
                        acc[g] += f * w / total
            in_progress.discard(key)
            result = dict(acc)
        memo[key] = result
        return result

    per_group = defaultdict(float)
    contributors = defaultdict(lambda: defaultdict(float))
    for key, (_cc, _nc, tt, _ct, _callers) in raw.items():
        for g, f in shares(key).items():
            per_group[g] += tt * f
            contributors[g][key] += tt * f
    return dict(per_group), contributors


def short(key) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    for marker in ("site-packages/", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    else:
        if filename.startswith(STDLIB):
            filename = filename[len(STDLIB):].lstrip("/")
    return f"{filename}:{line}({name})"


def top_table(stats: pstats.Stats, sort: str, n: int) -> str:
    buf = io.StringIO()
    stats.stream = buf
    stats.sort_stats(sort).print_stats(n)
    text = buf.getvalue()
    # Keep the table, drop pstats' preamble; shorten long paths.
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    out = []
    for line in lines[start:]:
        if not line.strip():
            continue
        for marker in (sysconfig.get_paths()["purelib"] + "/", str(HERE.parent) + "/", STDLIB + "/"):
            line = line.replace(marker, "")
        out.append(line)
    return "\n".join(out)


def coder_estimate(input_path: str) -> dict:
    """Seconds to encode and decode every commits and contents record with Beam's coder for
    untyped PCollections (FastPrimitivesCoder), without profiling."""
    import typing

    import apache_beam as beam

    from codecorpus.io import dump

    coder = beam.coders.registry.get_coder(typing.Any)
    out = {"coder": type(coder).__name__, "tables": {}}
    for table in ("commits", "contents"):
        records = []
        for path in dump.table_files(input_path, table):
            records += [e for e in dump.iter_file_events(path, table) if isinstance(e, dict)]
        t0 = time.perf_counter()
        encoded = [coder.encode(r) for r in records]
        t1 = time.perf_counter()
        for b in encoded:
            coder.decode(b)
        t2 = time.perf_counter()
        out["tables"][table] = {"count": len(records), "mib": sum(map(len, encoded)) / 2**20,
                                "encode_s": t1 - t0, "decode_s": t2 - t1}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="dump folder (default: the shared sample)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for profile_commits.md")
    parser.add_argument("--top", type=int, default=25, help="lines per top table (default 25)")
    parser.add_argument("--keep-prof", help="also save the raw profile (pstats file) here")
    args = parser.parse_args(argv)

    # Import everything the job imports, outside the profile.
    import apache_beam  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from codecorpus import cli
    from codecorpus.jobs import commits, runner as common
    from codecorpus.config import load_config  # noqa: F401
    from codecorpus.io import sources  # noqa: F401

    workdir = Path(tempfile.mkdtemp(prefix="profile_commits_"))
    output = workdir / "out"
    # Two profilers: one for Pipeline.run (the runner executing the graph), one for the rest
    # (argument parsing, pipeline construction, table finalisation, manifest, card).
    outside, inside = cProfile.Profile(), cProfile.Profile()
    original_run = apache_beam.Pipeline.run
    phase_wall = {}

    def profiled_run(self, *a, **kw):
        outside.disable()
        t0 = time.perf_counter()
        inside.enable()
        try:
            return original_run(self, *a, **kw)
        finally:
            inside.disable()
            phase_wall["run"] = phase_wall.get("run", 0.0) + time.perf_counter() - t0
            outside.enable()

    apache_beam.Pipeline.run = profiled_run
    try:
        wall0 = time.perf_counter()
        outside.enable()
        rc = cli.main(["commits", "--input", str(Path(args.input).resolve()), "--output", str(output),
                       "--overwrite", "--quiet"])
        outside.disable()
        wall = time.perf_counter() - wall0
        if rc != 0:
            print(f"the job exited {rc}", file=sys.stderr)
            return rc
        import json

        manifest = json.loads((output / "manifest.json").read_text())
    finally:
        apache_beam.Pipeline.run = original_run
        shutil.rmtree(workdir, ignore_errors=True)

    stats = pstats.Stats(outside)
    stats.add(inside)
    if args.keep_prof:
        stats.dump_stats(args.keep_prof)
    total = stats.total_tt
    per_group, contributors = group_shares(stats)
    phases = {"inside `Pipeline.run`": pstats.Stats(inside), "outside (parse args, build graph, finalise)": pstats.Stats(outside)}
    commits_read = manifest["counters"].get("read/commits", 0)
    coder = coder_estimate(str(Path(args.input).resolve()))

    lines = [
        "# `codecorpus commits`: where the time goes (cProfile, in_memory)",
        "",
        f"Generated by `benchmarks/profile_commits.py` on "
        f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} (code {code_version()}). Input: `{args.input}` "
        f"({commits_read:,} commits, {manifest['counters'].get('read/contents', 0):,} blobs). "
        f"Python {sys.version.split()[0]}, apache-beam {apache_beam.__version__}, {os.cpu_count()} CPUs.",
        "",
        f"Wall time under the profiler: {wall:.2f} s, of which `Pipeline.run` {phase_wall.get('run', 0.0):.2f} s; "
        f"profiled time: {total:.2f} s "
        "(cProfile slows Python-heavy code: compare `Pipeline.run` here with the unprofiled `pipeline.run s` in "
        "`commits.md`; read the shares, not the seconds). "
        "Imports happen before profiling; interpreter and Beam start-up are in `commits.md` (empty dump).",
        "",
        "## Grouped self time",
        "",
        "| group | seconds | share | largest contributors (self s) |",
        "|---|---:|---:|---|",
    ]
    for g in sorted(GROUPS, key=lambda g: -per_group.get(g, 0.0)):
        secs = per_group.get(g, 0.0)
        top = sorted(contributors[g].items(), key=lambda kv: -kv[1])[:4]
        who = "; ".join(f"`{short(k)}` {v:.2f}" for k, v in top if v >= 0.005)
        lines.append(f"| {g} | {secs:.2f} | {100 * secs / total:.1f} % | {who} |")
    lock_wait = sum(v[2] for k, v in stats.stats.items() if k[0] == "~" and "acquire' of '_thread.lock" in k[2])
    lines += [
        "",
        f"The runner group includes {lock_wait:.2f} s of `_thread.lock.acquire`: the main thread waiting, mostly "
        "in `statesampler.stop()` joining Beam's state-sampler thread at the end of each bundle (one bundle per "
        "fused stage).",
        "",
        "By phase (each phase's groups as a share of that phase):",
        "",
        "| phase | profiled s | " + " | ".join(GROUPS) + " |",
        "|---|---:|" + "---:|" * len(GROUPS),
    ]
    for label, st in phases.items():
        pg, _ = group_shares(st)
        t = st.total_tt
        lines.append(f"| {label} | {t:.2f} | " + " | ".join(f"{100 * pg.get(g, 0.0) / t:.0f} %" for g in GROUPS) + " |")
    lines += [
        "",
        "## What the Cython coders cost (measured apart)",
        "",
        "Beam's coders and operations are compiled with Cython and invisible to cProfile: their time is "
        "counted as self time of the Python frame that called into them (mostly "
        "`bundle_processor.process_encoded`, `data_plane.*`), i.e. in the runner group above. To size them, "
        f"the script encodes and decodes the sample's records with the coder these PCollections get "
        f"(`{coder['coder']}`), outside the pipeline:",
        "",
        "| records | count | encoded MiB | encode s | decode s | MiB/s (encode+decode) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, c in coder["tables"].items():
        lines.append(f"| {name} | {c['count']:,} | {c['mib']:.1f} | {c['encode_s']:.2f} | {c['decode_s']:.2f} "
                     f"| {c['mib'] / max(1e-9, c['encode_s'] + c['decode_s']):.0f} |")
    lines += [
        "",
        "Every blob crosses at least one shuffle (`JoinContentsOnBlobSha`), the ~1.8k blobs of commitpack "
        "candidates cross two more (`JoinOnCommitSha`, the Parquet `GroupShard`), so one encode+decode pass "
        "over all contents is a lower bound on the coder time of a run.",
        "",
        "## Cumulative time of the job's main steps",
        "",
        "Generators (DoFn ``process`` methods, readers) count only their own resumptions, not the "
        "downstream work Beam does between them.",
        "",
        "| step | calls | cumulative s | share |",
        "|---|---:|---:|---:|",
    ]
    wanted = (
        ("codecorpus/io/sources.py", "process", "read a dump file: `_ReadDumpFile.process`"),
        ("codecorpus/io/dump.py", "_parse_line", "parse one NDJSON line: `dump._parse_line`"),
        ("codecorpus/io/records.py", "normalise", "normalise a record: `records.normalise`"),
        ("codecorpus/core/routing.py", "process", "routed stages: `Route.process`"),
        ("codecorpus/core/filters.py", "first_drop", "filter chains: `FilterChain.first_drop`"),
        ("codecorpus/commits/commitpack.py", "assemble", "join result -> row: `commitpack.assemble`"),
        ("codecorpus/io/parquet.py", "process", "sort + write a shard: `_WriteShard.process`"),
        ("codecorpus/io/parquet.py", "finalise_table", "rename shards: `finalise_table`"),
        ("codecorpus/io/parquet.py", "row_bytes", "shard sizing: `parquet.row_bytes`"),
        ("codecorpus/jobs/commits.py", "build", "pipeline construction: `commits.build`"),
        ("fn_api_runner/fn_runner.py", "run_pipeline", "Beam: `FnApiRunner.run_pipeline`"),
        ("fn_api_runner/fn_runner.py", "run_stages", "Beam: `FnApiRunner.run_stages`"),
    )
    for needle, func, label in wanted:
        hits = [(k, v) for k, v in stats.stats.items() if needle in k[0] and k[2] == func]
        if not hits:
            continue
        calls = sum(v[1] for _k, v in hits)
        cum = sum(v[3] for _k, v in hits)
        lines.append(f"| {label} | {calls:,} | {cum:.2f} | {100 * cum / total:.1f} % |")
    lines += [
        "",
        f"## Top {args.top} functions by cumulative time",
        "",
        "Two profilers are merged (inside and outside `Pipeline.run`), so functions that enclose "
        "`Pipeline.run` (`cli.main`, the job runner) show only their time outside it.",
        "",
        "```",
        top_table(stats, "cumulative", args.top),
        "```",
        "",
        f"## Top {args.top} functions by self time (tottime)",
        "",
        "```",
        top_table(stats, "tottime", args.top),
        "```",
        "",
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile_commits.md").write_text("\n".join(lines))
    print("\n".join(lines[:30]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
