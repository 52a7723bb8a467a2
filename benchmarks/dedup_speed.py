"""MinHash signature speed against datasketch, and end-to-end ``codecorpus dedup`` scaling.

1. Signatures per second on one core, 4 KB documents (non-overlapping 4,096-character pieces
   of the sample's text blobs), 256 permutations, 5-gram shingles, in the same process:

   - ``codecorpus``: ``MinHasher.signature(text)``: tokens hashed once in NumPy, n-gram
     hashes combined in NumPy, 256 affine permutations mod 2**32;
   - ``datasketch``: ``MinHash(num_perm=256).update_batch(shingles)`` with its default hash
     (sha1_hash32; 2.0's default ``affine32`` scheme), the shingles being the set of
     space-joined 5-grams of the same tokens (as BigCode's and text-dedup's scripts build them).
     Timed with and without building the shingle strings.

   The paths take turns, best of 5 each, so a busy machine slows them alike.

   Signature quality: for document pairs of known exact Jaccard (each document against a copy
   with a share of its tokens replaced), the error of each estimator against the exact Jaccard
   of its own shingle set: bias, RMSE, and the theoretical sqrt(J(1-J)/256).

2. ``codecorpus dedup`` end to end (a subprocess, in-memory FnApiRunner unless said) on the
   sample's text blobs, and on the input replicated 2x, 4x and 8x: replica k of a document gets
   a line ``replica k`` appended (a new id and content hash, so every stage sees k times the
   records, and the near stage k times larger clusters).

Needs ``pip install datasketch==2.0.0`` (it brings scipy).

    python benchmarks/dedup_speed.py [--input DUMP] [--docs 2000] [--scales 1 2 4 8] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"
PIECE = 4096
NUM_PERM, NGRAM = 256, 5


def load_texts(dump: Path) -> list[tuple[str, str]]:
    with gzip.open(dump / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return sorted((r["id"], r["content"]) for r in rows if r.get("content") is not None and not r.get("binary"))


def pieces(texts, count: int) -> list[str]:
    out = []
    for _, text in texts:
        for start in range(0, len(text) - PIECE + 1, PIECE):
            out.append(text[start:start + PIECE])
    step = max(1, len(out) // count)
    return out[::step][:count]


def string_shingles(text: str) -> set[bytes]:
    from codecorpus.dedup.minhash import tokens

    toks = tokens(text)
    if len(toks) < NGRAM:
        return {" ".join(toks).encode()} if toks else set()
    return {" ".join(toks[i:i + NGRAM]).encode() for i in range(len(toks) - NGRAM + 1)}


def best_rates(paths: dict, items, repeats: int = 5) -> dict:
    """docs/s of each path, best of ``repeats``; the paths take turns, so a busy machine slows
    them alike and their ratio stays fair."""
    best = {name: float("inf") for name in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            started = time.perf_counter()
            for item in items:
                fn(item)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: len(items) / seconds for name, seconds in best.items()}


def signature_speed(docs: list[str]) -> dict:
    from datasketch import MinHash

    from codecorpus.dedup.minhash import MinHasher

    hasher = MinHasher(num_perm=NUM_PERM, ngram=NGRAM)
    hasher.signature(docs[0])  # warm the cached constants
    shingled = [string_shingles(d) for d in docs]

    def datasketch_sig(shingles):
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(shingles)
        return m

    rates = best_rates({
        "codecorpus MinHasher.signature (text -> signature)": hasher.signature,
        "datasketch update_batch, sha1 (text -> shingles -> signature)": lambda d: datasketch_sig(string_shingles(d)),
        "shingle strings alone (text -> set of 5-gram strings)": string_shingles,
    }, docs)
    rates.update(best_rates({"datasketch update_batch, sha1 (prebuilt shingles -> signature)": datasketch_sig},
                            shingled))
    return rates


def mutate(text: str, share: float, rng) -> str:
    parts = re.split(r"(\W+)", text)
    words = [i for i, p in enumerate(parts) if p and re.match(r"\w", p)]
    for i in rng.choice(words, size=int(share * len(words)), replace=False) if words else []:
        parts[i] = f"x{rng.integers(1 << 30)}"
    return "".join(parts)


def signature_quality(docs: list[str], seed: int = 7) -> dict:
    from datasketch import MinHash

    from codecorpus.dedup.minhash import MinHasher, exact_jaccard, jaccard_estimate

    rng = np.random.default_rng(seed)
    hasher = MinHasher(num_perm=NUM_PERM, ngram=NGRAM)
    errors = {"codecorpus": [], "datasketch": []}
    truths = []
    for i, doc in enumerate(docs):
        other = mutate(doc, float(rng.choice([0.01, 0.02, 0.04, 0.08, 0.15])), rng)
        a, b = hasher.shingle_set(doc), hasher.shingle_set(other)
        if not len(a) or not len(b):
            continue
        truth = exact_jaccard(a, b)
        errors["codecorpus"].append(jaccard_estimate(hasher.signature(doc), hasher.signature(other)) - truth)
        sa, sb = string_shingles(doc), string_shingles(other)
        truth_strings = len(sa & sb) / len(sa | sb)
        ma, mb = MinHash(num_perm=NUM_PERM, seed=i + 1), MinHash(num_perm=NUM_PERM, seed=i + 1)
        ma.update_batch(sa)
        mb.update_batch(sb)
        errors["datasketch"].append(ma.jaccard(mb) - truth_strings)
        truths.append(truth)
    truths = np.array(truths)
    out = {"pairs": len(truths), "mean_exact_jaccard": float(truths.mean()),
           "theoretical_rmse": float(np.sqrt(np.mean(truths * (1 - truths) / NUM_PERM)))}
    for name, errs in errors.items():
        errs = np.array(errs)
        out[name] = {"bias": float(errs.mean()), "rmse": float(np.sqrt(np.mean(errs ** 2))),
                     "max_abs": float(np.abs(errs).max())}
    return out


def write_replicated(texts, factor: int, path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for k in range(factor):
            for doc_id, text in texts:
                row = {"id": doc_id if k == 0 else f"{doc_id}-r{k}",
                       "content": text if k == 0 else f"{text}\nreplica {k}\n"}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    return n


# Runs the job as its child and reports the job's own resource use (its worker processes
# included, as they are reaped by it): a fresh parent per run, so peaks never carry over.
_MEASURE = """
import json, resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mib": usage.ru_maxrss / 1024}))
sys.exit(code)
"""


def run_dedup(source: Path, out: Path, extra: list[str]) -> dict:
    usage_file = out.with_suffix(".usage.json")
    cmd = [sys.executable, "-c", _MEASURE, str(usage_file),
           sys.executable, "-m", "codecorpus.cli", "dedup", "--input", str(source), "--output", str(out),
           "--text-field", "content", "--id-field", "id", "--quiet", "--overwrite", *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dedup failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    usage = json.loads(usage_file.read_text())
    return {"wall_s": wall, "cpu_s": usage["cpu_s"], "max_rss_mib": usage["max_rss_mib"],
            "pipeline_s": float(re.search(r"done in ([\d.]+)s", proc.stderr).group(1)),
            "read": manifest["counters"]["read/records"], "kept": manifest["tables"]["records"]["rows"],
            "near_dropped": manifest["counters"].get("filter/near_dedup/near_duplicate", 0),
            "cc_rounds_changing": sum(1 for k, v in manifest["counters"].items()
                                      if k.startswith("dedup/cc/round_") and v),
            "unconverged": manifest["counters"].get("dedup/cc/unconverged_changes", 0),
            "holds": all(t["holds"] for t in manifest["accounting"].values())}


def scaling(texts, scales: list[int], multi: bool) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="dedup-speed-") as tmp:
        tmp = Path(tmp)
        runs = [(s, "in_memory", []) for s in scales]
        if multi:
            runs.append((1, "multi_processing x2", ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]))
        for factor, mode, extra in runs:
            source = tmp / f"x{factor}.jsonl"
            if not source.exists():
                write_replicated(texts, factor, source)
            out = tmp / f"out-x{factor}-{mode.split()[0]}"
            result = run_dedup(source, out, extra)
            result.update({"factor": factor, "mode": mode, "input_mib": source.stat().st_size / 2 ** 20})
            if mode != "in_memory" and (tmp / f"out-x{factor}-in_memory").exists():  # byte for byte?
                result["identical_to_in_memory"] = all(
                    [p.read_bytes() for p in sorted((out / t).iterdir())]
                    == [p.read_bytes() for p in sorted((tmp / f"out-x{factor}-in_memory" / t).iterdir())]
                    for t in ("records", "clusters", "dead_letter"))
            rows.append(result)
            print(f"x{factor} {mode}: {result['read']:,} records in {result['pipeline_s']:.1f}s", file=sys.stderr)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--docs", type=int, default=2000, help="4 KB documents for the signature timing")
    parser.add_argument("--scales", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--no-multi", action="store_true", help="skip the multi_processing run")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)

    import datasketch

    texts = load_texts(args.input)
    docs = pieces(texts, args.docs)
    speed = signature_speed(docs)
    for name, rate in speed.items():
        print(f"{name}: {rate:,.0f} docs/s", file=sys.stderr)
    quality = signature_quality(docs[:1000])
    scale_rows = scaling(texts, args.scales, not args.no_multi) if args.scales else []
    report = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}, numpy {np.__version__}, datasketch {datasketch.__version__}",
              "documents": len(docs), "piece_chars": PIECE, "speed": speed, "quality": quality, "scaling": scale_rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dedup_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "dedup_speed.md").write_text(render(report))
    print((args.out / "dedup_speed.md").read_text())
    return 0


def render(report: dict) -> str:
    speed = report["speed"]
    ours = speed["codecorpus MinHasher.signature (text -> signature)"]
    theirs = speed["datasketch update_batch, sha1 (text -> shingles -> signature)"]
    q = report["quality"]
    lines = [
        "# MinHash signature speed and end-to-end dedup scaling", "",
        f"`python benchmarks/dedup_speed.py` ({report['date']}; {report['machine']}).", "",
        f"## Signatures per second, one core ({report['documents']:,} documents of {report['piece_chars']:,} "
        f"characters, {NUM_PERM} permutations, {NGRAM}-gram shingles, best of 5, taking turns)", "",
        "| path | docs/s | vs datasketch |", "|---|---:|---:|"]
    for name, rate in speed.items():
        lines.append(f"| {name} | {rate:,.0f} | {rate / theirs:.2f}x |")
    lines += ["", f"codecorpus is **{ours / theirs:.1f}x** datasketch `update_batch` (goal: 3x).", "",
              f"## Signature quality ({q['pairs']:,} pairs, mean exact Jaccard {q['mean_exact_jaccard']:.3f})", "",
              "Estimate minus exact Jaccard of each library's own shingle sets "
              f"(theoretical RMSE sqrt(J(1-J)/{NUM_PERM}): {q['theoretical_rmse']:.4f}).", "",
              "| estimator | bias | RMSE | max abs error |", "|---|---:|---:|---:|"]
    for name in ("codecorpus", "datasketch"):
        lines.append(f"| {name} | {q[name]['bias']:+.4f} | {q[name]['rmse']:.4f} | {q[name]['max_abs']:.4f} |")
    if report["scaling"]:
        base = report["scaling"][0]
        lines += ["", "## `codecorpus dedup` end to end, input replicated", "",
                  "`pipeline s`: the run itself (`done in`); `CPU s`: user + system time of the whole job, "
                  "worker processes included (steadier than wall time on a shared machine); `peak RSS`: the "
                  "largest single process of the job (the in-memory runner holds every PCollection in it).",
                  "",
                  "| input | mode | records | input MiB | kept | pipeline s | wall s | CPU s | CPU ms per record | "
                  "vs 1x per record (CPU) | peak RSS MiB | CC rounds that changed | accounting |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in report["scaling"]:
            per_record = r["cpu_s"] / r["read"] * 1000
            rel = per_record / (base["cpu_s"] / base["read"] * 1000)
            lines.append(f"| {r['factor']}x | {r['mode']} | {r['read']:,} | {r['input_mib']:.0f} | {r['kept']:,} | "
                         f"{r['pipeline_s']:.1f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {per_record:.2f} | "
                         f"{rel:.2f} | {r['max_rss_mib']:,.0f} | "
                         f"{r['cc_rounds_changing']} (unconverged {r['unconverged']}) | "
                         f"{'holds' if r['holds'] else 'FAILS'} |")
        for r in report["scaling"]:
            if "identical_to_in_memory" in r:
                lines += ["", f"{r['mode']} at {r['factor']}x wrote tables "
                          f"{'byte-identical to' if r['identical_to_in_memory'] else 'DIFFERENT from'} the in-memory run's."]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
