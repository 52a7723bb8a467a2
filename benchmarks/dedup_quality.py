"""Near-dedup quality of ``codecorpus dedup`` on real near-duplicates.

The sample's ``contents`` table holds every version of every file touched by its commits:
successive versions of a file are natural near-duplicates.

Ground truth: the exact Jaccard similarity of every pair of documents, on the same shingles the
job uses (5-grams of lower-cased tokens split on non-alphanumerics, as 64-bit hashes:
``MinHasher.shingle_set``), by brute force: one sparse matrix product gives the intersection
size of all pairs at once. A document is a true duplicate if any other document has Jaccard
>= the threshold; the true clusters are the connected components of that graph.

Prediction: ``codecorpus dedup`` end to end (a subprocess, in-memory FnApiRunner) on the
documents written as JSONL (``id`` = blob sha, ``content``). A document is a predicted
duplicate if it is in a cluster of two or more (a row of the ``clusters`` table); predicted
clusters are ``cluster_id``.

Metrics: precision, recall and F1 of the duplicate class, and the adjusted Rand index of the
clusters over every document (singletons included): what text-dedup reports for MinHash on
pinecone/core-2020-05-10-deduplication (P 0.959, R 0.942), here on code. Documents without a
token (no shingles, Jaccard undefined) are left out of the metrics and counted.

Needs scipy (it comes with ``pip install datasketch==2.0.0``, the speed benchmark's extra).

    python benchmarks/dedup_quality.py [--input ../shared/data/github_repos_sample] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"

VARIANTS = {
    "default (verify on)": "",
    "verify off": "dedup:\n  near_dedup:\n    verify: false\n",
}


def load_documents(dump: Path) -> list[tuple[str, str]]:
    docs = []
    with gzip.open(dump / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("content") is not None and not row.get("binary"):
                docs.append((row["id"], row["content"]))
    return sorted(docs)


def ground_truth(docs, threshold: float, ngram: int, num_perm: int, seed: int):
    """(pairs with J >= threshold as (i, j, J), shingle-set sizes, seconds)."""
    import scipy.sparse as sp

    from codecorpus.dedup.minhash import MinHasher

    started = time.perf_counter()
    hasher = MinHasher(num_perm=num_perm, ngram=ngram, seed=seed)
    sets = [hasher.shingle_set(text) for _, text in docs]
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    all_hashes = np.concatenate(sets)
    _, columns = np.unique(all_hashes, return_inverse=True)
    rows = np.repeat(np.arange(len(sets)), sizes)
    matrix = sp.csr_matrix((np.ones(len(all_hashes), dtype=np.int32), (rows, columns)),
                           shape=(len(sets), int(columns.max()) + 1 if len(columns) else 0))
    inter = sp.triu(matrix @ matrix.T, k=1).tocoo()  # |A & B| for every pair sharing a shingle
    jaccard = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jaccard >= threshold
    pairs = list(zip(inter.row[keep].tolist(), inter.col[keep].tolist(), jaccard[keep].tolist()))
    return pairs, sizes, time.perf_counter() - started


def components(n: int, pairs) -> list[int]:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, _ in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(n)]


def adjusted_rand_index(labels_true, labels_pred) -> float:
    comb2 = lambda n: n * (n - 1) / 2  # noqa: E731
    n = len(labels_true)
    sum_cells = sum(comb2(c) for c in Counter(zip(labels_true, labels_pred)).values())
    sum_true = sum(comb2(c) for c in Counter(labels_true).values())
    sum_pred = sum(comb2(c) for c in Counter(labels_pred).values())
    expected = sum_true * sum_pred / comb2(n)
    maximum = (sum_true + sum_pred) / 2
    return 1.0 if maximum == expected else (sum_cells - expected) / (maximum - expected)


def run_job(docs, workdir: Path, name: str, config_text: str) -> dict:
    import pyarrow.parquet as pq

    source = workdir / "documents.jsonl"
    if not source.exists():
        with source.open("w", encoding="utf-8") as f:
            for doc_id, text in docs:
                f.write(json.dumps({"id": doc_id, "content": text}, ensure_ascii=False) + "\n")
    out = workdir / re.sub(r"\W+", "_", name)
    cmd = [sys.executable, "-m", "codecorpus.cli", "dedup", "--input", str(source), "--output", str(out),
           "--text-field", "content", "--id-field", "id", "--quiet", "--overwrite"]
    if config_text:
        config = workdir / f"{out.name}.yaml"
        config.write_text(config_text)
        cmd += ["--config", str(config)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dedup failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    pipeline = float(re.search(r"done in ([\d.]+)s", proc.stderr).group(1))
    manifest = json.loads((out / "manifest.json").read_text())
    clusters = pq.read_table(out / "clusters").to_pylist()
    return {"wall_s": wall, "pipeline_s": pipeline, "manifest": manifest, "clusters": clusters}


def evaluate(docs, sizes, pairs, result) -> dict:
    ids = [doc_id for doc_id, _ in docs]
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    scored = [i for i in range(len(docs)) if sizes[i] > 0]
    true_dup = set()
    for i, j, _ in pairs:
        true_dup.update((i, j))
    true_label = components(len(docs), pairs)
    pred_label = list(range(len(docs)))
    pred_dup = set()
    for row in result["clusters"]:
        i = index[row["id"]]
        pred_label[i] = index[row["cluster_id"]]
        if row["cluster_size"] > 1:
            pred_dup.add(i)
    scored_set = set(scored)
    true_dup &= scored_set
    pred_dup &= scored_set
    tp = len(true_dup & pred_dup)
    precision = tp / len(pred_dup) if pred_dup else 1.0
    recall = tp / len(true_dup) if true_dup else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ari = adjusted_rand_index([true_label[i] for i in scored], [pred_label[i] for i in scored])
    counters = result["manifest"]["counters"]
    return {
        "documents": len(scored), "true_duplicates": len(true_dup), "predicted_duplicates": len(pred_dup),
        "true_positives": tp, "false_positives": len(pred_dup - true_dup), "false_negatives": len(true_dup - pred_dup),
        "precision": precision, "recall": recall, "f1": f1, "ari": ari,
        "true_clusters": len({true_label[i] for i in true_dup}),
        "predicted_clusters": len({pred_label[i] for i in pred_dup}),
        "pipeline_s": result["pipeline_s"], "wall_s": result["wall_s"],
        "kept": result["manifest"]["tables"]["records"]["rows"],
        "counters": {k: v for k, v in counters.items() if k.startswith(("dedup/", "filter/"))},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="a github_repos dump with contents.jsonl.gz")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)

    from codecorpus.config import default_config
    from codecorpus.dedup.minhash import optimal_bands

    near = default_config()["dedup"]["near_dedup"]
    threshold = near["threshold"]
    docs = load_documents(args.input)
    pairs, sizes, truth_s = ground_truth(docs, threshold, near["ngram"], near["num_perm"], near["seed"])
    print(f"{len(docs):,} documents, {len(pairs):,} pairs with Jaccard >= {threshold} ({truth_s:.1f}s)", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="dedup-quality-") as tmp:
        for name, config_text in VARIANTS.items():
            results[name] = evaluate(docs, sizes, pairs, run_job(docs, Path(tmp), name, config_text))
            r = results[name]
            print(f"{name}: P {r['precision']:.4f} R {r['recall']:.4f} F1 {r['f1']:.4f} ARI {r['ari']:.4f} "
                  f"({r['pipeline_s']:.1f}s)", file=sys.stderr)

    bands, rows = optimal_bands(threshold, near["num_perm"], near["fp_weight"], near["fn_weight"])
    report = {
        "date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {platform.python_version()}",
        "input": str(args.input), "documents_read": len(docs), "no_token_documents": int((sizes == 0).sum()),
        "true_pairs": len(pairs), "ground_truth_s": truth_s, "threshold": threshold,
        "num_perm": near["num_perm"], "ngram": near["ngram"], "bands": bands, "rows": rows, "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dedup_quality.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "dedup_quality.md").write_text(render(report))
    print((args.out / "dedup_quality.md").read_text())
    return 0


def render(report: dict) -> str:
    lines = [
        "# Near-dedup quality on real near-duplicates",
        "",
        f"`python benchmarks/dedup_quality.py` ({report['date']}, {report['machine']}). Input: every text blob of "
        f"`{Path(report['input']).name}/contents` ({report['documents_read']:,} documents, successive versions of "
        f"the same files; {report['no_token_documents']} without a token left out of the metrics).",
        "",
        f"Ground truth: brute-force exact Jaccard of every pair on the job's own shingles ({report['ngram']}-grams "
        f"of tokens), threshold {report['threshold']}: {report['true_pairs']:,} pairs, in "
        f"{report['ground_truth_s']:.1f}s. Prediction: `codecorpus dedup` end to end, {report['num_perm']} "
        f"permutations, {report['bands']} bands x {report['rows']} rows.",
        "",
        "| variant | P (dup class) | R (dup class) | F1 | ARI | true dups | predicted dups | FP | FN | "
        "true clusters | predicted clusters | kept | pipeline s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["results"].items():
        lines.append(
            f"| {name} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['ari']:.4f} | "
            f"{r['true_duplicates']:,} | {r['predicted_duplicates']:,} | {r['false_positives']} | "
            f"{r['false_negatives']} | {r['true_clusters']:,} | {r['predicted_clusters']:,} | {r['kept']:,} | "
            f"{r['pipeline_s']:.1f} |")
    lines += ["", "Reference: text-dedup MinHash on pinecone/core-2020-05-10-deduplication (news, not code): "
              "P 0.959, R 0.942 (REFERENCE.md §4). Goal here: P and R >= 0.96.", "",
              "Counters of the default run:", "", "```json",
              json.dumps(next(iter(report["results"].values()))["counters"], indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
