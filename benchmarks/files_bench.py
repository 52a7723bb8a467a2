"""``codecorpus files`` on a dump: speed end to end, tree-sitter parse rates, and the FIM
distribution it produces.

1. **End to end.** Runs the job as a subprocess (``python -m codecorpus.cli files``)
   in a few configurations (the ``--span mix`` one ``--runs`` times, the others once), and
   records wall seconds (spawn to exit), the ``done in X s`` the CLI prints, the job's CPU
   seconds (``os.wait4``), files/s = ``read/files`` / wall (start-up included), kept files/s =
   ``files`` rows / wall, and files per CPU second (less disturbed by a busy machine).
2. **Parse rate per language.** tree-sitter over the kept files of the first run's ``files/``
   table, per language with a grammar (Java: the sample has none, so a deterministic synthetic
   Java corpus is generated and labelled as such): files/s and MB/s of ``Parser.parse`` alone,
   and of ``StructureSpans.parse`` (parse + node walk + byte->character offsets), best of
   ``--parse-repeats`` passes.
3. **Distribution** of the ``--span mix`` run's ``fim/`` table: PSM / SPM / none shares, span
   kinds per language, a middle-length histogram (random vs structure spans), with a PNG plot
   when matplotlib is installed (it is not a dependency; the PNG is skipped otherwise).

Writes ``--out``/files.md (and files.json, files_middle_lengths.png when possible).

    python benchmarks/files_bench.py --input ../shared/data/github_repos_sample --runs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"

CONFIGS = {
    "mix (PII + dedup)": ["--span", "mix"],
    "random (PII + dedup)": ["--span", "random"],
    "mix, --no-pii --no-dedup": ["--span", "mix", "--no-pii", "--no-dedup"],
}
LENGTH_BINS = [(0, 0), (1, 15), (16, 63), (64, 255), (256, 1023), (1024, 4095), (4096, 16383), (16384, None)]


def run_job(input_path: str, output: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "codecorpus.cli", "files", "--input", input_path, "--output",
           str(output), "--overwrite", "--quiet", *extra]
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"job failed ({proc.returncode}):\n{stderr[-3000:]}")
    match = re.search(r"done in ([0-9.]+)s", stderr)
    cpu = usage.ru_utime + usage.ru_stime
    manifest = json.loads((output / "manifest.json").read_text())
    read = manifest["counters"]["read/files"]
    kept = manifest["tables"]["files"]["rows"]
    return {"wall_s": wall, "cpu_s": cpu, "files_per_cpu_s": read / cpu, "load_1min": os.getloadavg()[0],
            "pipeline_s": float(match.group(1)) if match else None, "files_read": read,
            "files_kept": kept, "fim_rows": manifest["tables"]["fim"]["rows"], "files_per_s": read / wall,
            "kept_per_s": kept / wall, "accounting_holds": all(t["holds"] for t in manifest["accounting"].values())}


# --- parse rate ----------------------------------------------------------------------------------


def synthetic_java(n: int, seed: int = 0) -> list[str]:
    """Deterministic, compilable-looking Java classes of varied size (the sample has no Java)."""
    rng = random.Random(seed)
    files = []
    for i in range(n):
        methods = []
        for m in range(rng.randint(2, 25)):
            body = []
            for s in range(rng.randint(1, 12)):
                choice = rng.randrange(4)
                if choice == 0:
                    body.append(f"        int v{s} = compute(a + {s}, \"k{s}\");")
                elif choice == 1:
                    body.append(f"        if (a > {s}) {{\n            total += helper{s % 3}(a, {s});\n        }}")
                elif choice == 2:
                    body.append(f"        for (int j = 0; j < {s + 1}; j++) {{\n"
                                f"            items.add(j * {s});\n        }}")
                else:
                    body.append(f"        System.out.println(String.format(\"step %d of %s\", {s}, name));")
            methods.append(f"    public int method{m}(int a, String name) {{\n" + "\n".join(body)
                           + "\n        return total;\n    }")
        files.append(f"package demo.gen;\n\nimport java.util.List;\n\npublic class Gen{i} {{\n"
                     f"    private int total = 0;\n    private List<Integer> items;\n\n"
                     + "\n\n".join(methods) + "\n}\n")
    return files


def parse_rates(texts_by_lang: dict, repeats: int) -> list[dict]:
    from codecorpus.fim.structure import GRAMMARS, StructureSpans

    spans = StructureSpans()
    spans.setup()
    rows = []
    for lang, texts in sorted(texts_by_lang.items()):
        parser = spans._parsers[GRAMMARS[lang]]
        data = [t.encode("utf-8") for t in texts]
        nbytes = sum(len(d) for d in data)
        best_parse = best_full = float("inf")
        errors = 0
        for _ in range(repeats):
            started = time.perf_counter()
            for d in data:
                parser.parse(d)
            best_parse = min(best_parse, time.perf_counter() - started)
            started = time.perf_counter()
            results = [spans.parse(t, lang) for t in texts]
            best_full = min(best_full, time.perf_counter() - started)
            errors = sum(r.reason is not None for r in results)
        nodes = sum(len(r.nodes) for r in results)
        rows.append({"lang": lang, "files": len(texts), "mb": nbytes / 1e6,
                     "parse_files_per_s": len(texts) / best_parse,
                     "parse_mb_per_s": nbytes / 1e6 / best_parse, "full_files_per_s": len(texts) / best_full,
                     "full_mb_per_s": nbytes / 1e6 / best_full, "parse_errors": errors, "candidate_nodes": nodes})
    return rows


# --- distribution --------------------------------------------------------------------------------


def bin_label(lo, hi) -> str:
    return f"{lo}" if lo == hi else (f"{lo:,}+" if hi is None else f"{lo:,}-{hi:,}")


def distribution(fim_rows: list[dict]) -> dict:
    modes = Counter(r["mode"] for r in fim_rows)
    kinds = defaultdict(Counter)
    for r in fim_rows:
        kinds[r["lang"]][r["span_kind"]] += 1
    hist = {"random": Counter(), "structure": Counter()}
    lengths = {"random": [], "structure": []}
    for r in fim_rows:
        if r["mode"] == "none":
            continue
        source = "random" if r["span_kind"] == "random" else "structure"
        n = len(r["middle"])
        lengths[source].append(n)
        for lo, hi in LENGTH_BINS:
            if n >= lo and (hi is None or n <= hi):
                hist[source][bin_label(lo, hi)] += 1
                break
    return {"modes": dict(modes), "kinds": {k: dict(v) for k, v in kinds.items()}, "hist": hist, "lengths": lengths}


def plot(lengths: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [0, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]
    for source, values in lengths.items():
        ax.hist([max(v, 0.5) for v in values], bins=bins, alpha=0.6, label=f"{source} ({len(values)})")
    ax.set_xscale("symlog")
    ax.set_xlabel("middle length (characters)")
    ax.set_ylabel("examples")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


# --- report ----------------------------------------------------------------------------------------


def write_report(out: Path, args, runs: dict, rates: list, dist: dict, png: bool, manifest: dict) -> None:
    lines = [
        "# `codecorpus files`: speed, parse rate and FIM distribution",
        "",
        f"Measured {dt.date.today().isoformat()} by "
        f"`benchmarks/files_bench.py --input {args.input} --runs {args.runs}` "
        f"on {platform.machine()} ({os.cpu_count()} CPUs), Python {platform.python_version()}; "
        "in-memory FnApiRunner, one process. Other engineers' tests share the machine: take the median.",
        "",
        "## End to end on the sample",
        "",
        "files/s = `read/files` / wall seconds (interpreter and Beam start-up, pipeline, Parquet finalisation "
        "and manifest included); kept/s = `files` rows / wall; CPU s = user + system seconds of the job "
        "(`os.wait4`), and files/CPU s, which other processes on the machine disturb less than wall time; "
        "load = the 1-minute load average when the run ended (2 CPUs: above 2, runs waited for a core).",
        "",
        "| configuration | runs | wall s (median) | pipeline s | CPU s | files read | kept | fim rows | files/s "
        "| kept/s | files/CPU s | load | accounting |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rs in runs.items():
        med = lambda key: statistics.median(r[key] for r in rs)  # noqa: E731
        loads = ", ".join(f"{r['load_1min']:.1f}" for r in rs)
        lines.append(f"| {name} | {len(rs)} | {med('wall_s'):.1f} | {med('pipeline_s'):.1f} | {med('cpu_s'):.1f} | "
                     f"{rs[0]['files_read']:,} | {rs[0]['files_kept']:,} | {rs[0]['fim_rows']:,} | "
                     f"{med('files_per_s'):.1f} | {med('kept_per_s'):.1f} | {med('files_per_cpu_s'):.1f} | {loads} | "
                     f"{'holds' if all(r['accounting_holds'] for r in rs) else 'FAILS'} |")
    lines += ["", "## tree-sitter parse rate per language", "",
              "Kept files of the sample (`files/` of the first run; PII-redacted content) per grammar; Java is a "
              f"synthetic corpus of {args.java_files} generated classes (the sample has no Java). Best of "
              f"{args.parse_repeats} passes. *parse*: `Parser.parse` alone; *full*: `StructureSpans.parse` "
              "(parse, walk every node, byte->character offsets).", "",
              "| language | files | MB | parse files/s | parse MB/s | full files/s | full MB/s | parse errors "
              "| candidate nodes |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rates:
        lines.append(f"| {r['lang']} | {r['files']:,} | {r['mb']:.2f} | {r['parse_files_per_s']:,.0f} | "
                     f"{r['parse_mb_per_s']:.1f} | {r['full_files_per_s']:,.0f} | {r['full_mb_per_s']:.1f} | "
                     f"{r['parse_errors']} | {r['candidate_nodes']:,} |")
    total = sum(dist["modes"].values())
    lines += ["", "## FIM distribution (`--span mix`, fim_rate 0.5, spm_rate 0.5, structure_rate 0.5)", "",
              "| mode | examples | share |", "|---|---|---|"]
    for mode in ("psm", "spm", "none"):
        n = dist["modes"].get(mode, 0)
        lines.append(f"| {mode} | {n:,} | {n / max(1, total):.1%} |")
    fallbacks = {k.split("/", 2)[2]: v for k, v in manifest["counters"].items()
                 if k.startswith("fim/structure_fallback/")}
    lines += ["", f"Structure fallbacks (wanted a structure span, got a random one): "
              + (", ".join(f"{k} {v:,}" for k, v in sorted(fallbacks.items())) or "none") + ".",
              "", "### Span kinds per language", "",
              "Languages with a grammar in full; others as random / none counts.", "",
              "| language | examples | none | random | structure spans (node type: count) |", "|---|---|---|---|---|"]
    for lang, kinds in sorted(dist["kinds"].items(), key=lambda kv: -sum(kv[1].values())):
        structure = {k: v for k, v in kinds.items() if k not in ("none", "random")}
        detail = ", ".join(f"{k} {v}" for k, v in sorted(structure.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"| {lang} | {sum(kinds.values()):,} | {kinds.get('none', 0)} | {kinds.get('random', 0)} | "
                     f"{detail or '–'} |")
    lines += ["", "### Middle length (characters) of FIM examples", "",
              "| length | random spans | structure spans |", "|---|---|---|"]
    for lo, hi in LENGTH_BINS:
        label = bin_label(lo, hi)
        random_n, structure_n = dist["hist"]["random"].get(label, 0), dist["hist"]["structure"].get(label, 0)
        lines.append(f"| {label} | {random_n:,} | {structure_n:,} |")
    for source in ("random", "structure"):
        values = dist["lengths"][source]
        if values:
            lines.append(f"\n{source}: median {statistics.median(values):,.0f}, mean {statistics.mean(values):,.0f}, "
                         f"max {max(values):,} characters over {len(values):,} examples.")
    lines += ["", "![middle lengths](files_middle_lengths.png)" if png else
              "(No PNG: matplotlib is not installed here; it is not a dependency of codecorpus.)", ""]
    (out / "files.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(DEFAULT_INPUT))
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--parse-repeats", type=int, default=5)
    parser.add_argument("--java-files", type=int, default=150)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="files-bench-"))
    runs: dict = {name: [] for name in CONFIGS}
    first_output = work / "mix-0"
    for i in range(args.runs):
        for j, (name, extra) in enumerate(CONFIGS.items()):
            if j and i:  # the other configurations once; the main one --runs times
                continue
            output = work / ("mix-0" if (j, i) == (0, 0) else f"run-{j}-{i}")
            result = run_job(args.input, output, extra)
            print(f"{name} #{i}: {result['wall_s']:.1f}s wall, {result['files_per_s']:.1f} files/s", file=sys.stderr)
            runs[name].append(result)

    import pyarrow.parquet as pq

    files = pq.read_table(first_output / "files").to_pylist()
    fim_rows = pq.read_table(first_output / "fim").to_pylist()
    manifest = json.loads((first_output / "manifest.json").read_text())
    texts: dict = defaultdict(list)
    for r in files:
        if r["lang"] in ("Python", "JavaScript", "Go", "JSX"):
            texts[r["lang"]].append(r["content"])
    texts["Java"] = synthetic_java(args.java_files)
    rates = parse_rates(texts, args.parse_repeats)
    dist = distribution(fim_rows)
    png = plot(dist["lengths"], out / "files_middle_lengths.png")
    write_report(out, args, runs, rates, dist, png, manifest)
    (out / "files.json").write_text(json.dumps({"runs": runs, "parse_rates": rates,
                                                "distribution": {k: v for k, v in dist.items() if k != "lengths"}},
                                               indent=2, default=str))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print((out / "files.md").read_text())


if __name__ == "__main__":
    main()
