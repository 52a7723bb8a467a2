"""``codecorpus mix`` on the sample's outputs: speed of mixing and packing, the mixture it
achieves against the one requested, and how even its shards are.

1. **Inputs.** Runs ``commits``, ``files`` and ``sql`` on the sample once (cached in
   ``--workdir``) and trains a byte-level BPE tokenizer (``--vocab`` tokens) on the FIM text
   with ``tokenizers`` (no hub: StarCoder's tokenizer cannot be downloaded here).
2. **Runs** (each a subprocess, ``--runs`` times, best wall kept): the weighted mixture of
   commitpack chat rows, FIM text and SQL triples (joined with their schemas) without a
   tokenizer; with one; with one and packing; and a 20x up-sampled mixture (every row 20 times
   in train) with packing, to see rates beyond start-up. Rows/s = rows read / wall; written/s =
   example rows written / wall; tokens/s = tokens of the written rows / wall (start-up included).
3. **Mixture**: requested share vs achieved share of train rows per source, and rows per split.
4. **Shards**: rows and bytes per shard, min / max / spread, for a run with 8 train shards.

    python benchmarks/bench_mix.py --input ../shared/data/github_repos_sample --runs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"
WEIGHTS = {"commits": 0.3, "fim": 0.5, "sql": 0.2}


def cli(job: str, *args: str) -> dict:
    cmd = [sys.executable, "-m", "codecorpus.cli", job, *map(str, args), "--overwrite", "--quiet"]
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        err.seek(0)
        text = err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{text[-3000:]}")
    done = re.search(r"done in ([0-9.]+)s", text)
    return {"wall_s": round(wall, 2), "pipeline_s": float(done.group(1)) if done else None,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "max_rss_mb": round(usage.ru_maxrss / 1024)}


def prepare(input_path: str, work: Path) -> dict:
    outs = {job: work / job for job in ("commits", "files", "sql")}
    for job, out in outs.items():
        if not (out / "manifest.json").exists():
            print(f"preparing {job} ...", file=sys.stderr, flush=True)
            cli(job, "--input", input_path, "--output", out)
    return outs


def train_tokenizer(fim_dir: Path, path: Path, vocab: int) -> float:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = [r["text"] for r in pq.read_table(fim_dir, columns=["text"]).to_pylist()]
    started = time.monotonic()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                                                     "<fim_prefix>", "<fim_middle>", "<fim_suffix>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))
    return time.monotonic() - started


def tokenizer_alone(examples: Path, tokenizer_path: Path) -> dict:
    """The tokenizer outside the pipeline, on the same texts: what tokenising costs by itself."""
    from codecorpus.mix.tokens import encode_texts, load_tokenizer

    texts = [r["text"] for r in pq.read_table(examples, columns=["text"]).to_pylist()]
    tokenizer = load_tokenizer(str(tokenizer_path))
    started, tokens = time.monotonic(), 0
    for i in range(0, len(texts), 256):
        tokens += sum(map(len, encode_texts(tokenizer, texts[i:i + 256])))
    seconds = time.monotonic() - started
    return {"texts": len(texts), "chars": sum(map(len, texts)), "tokens": tokens, "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / seconds), "chars_per_token": round(sum(map(len, texts)) / tokens, 2)}


def mixture(outs: dict, path: Path, amounts: dict, **mix) -> Path:
    sources = [
        {"name": "commits", "path": str(outs["commits"] / "commitpack"), "kind": "commitpack",
         "clusters": str(outs["commits"] / "clusters"), **amounts["commits"]},
        {"name": "fim", "path": str(outs["files"] / "fim"), "kind": "fim",
         "clusters": str(outs["files"] / "clusters"), **amounts["fim"]},
        {"name": "sql", "path": str(outs["sql"] / "sql_triples"), "kind": "sql_triples",
         "join": {"path": str(outs["sql"] / "sql_databases"), "on": "db_id", "columns": ["ddl"]}, **amounts["sql"]},
    ]
    path.write_text(yaml.safe_dump({"mix": {"seed": 0, "splits": {"validation": 0.05}, "sources": sources, **mix}}))
    return path


def measure(name: str, config: Path, out: Path, runs: int, extra: list[str]) -> dict:
    timings = [cli("mix", "--config", config, "--output", out, *extra) for _ in range(runs)]
    best = min(timings, key=lambda t: t["wall_s"])
    manifest = json.loads((out / "manifest.json").read_text())
    counters = manifest["counters"]
    read = manifest["accounting"]["rows"]["read"]
    written = manifest["tables"]["examples"]["rows"]
    tokens = sum(v for k, v in counters.items() if k.startswith("mix/tokens/"))
    # rows are tokenised once: all of them first when an amount is in tokens, else only the kept ones
    tokenised = sum(v for k, v in counters.items() if k.startswith("mix/available_tokens/")) or \
        sum(v for k, v in counters.items() if k.startswith("mix/unique_tokens/"))
    packed = manifest["tables"].get("packed", {}).get("rows", 0)
    result = {"name": name, "runs": timings, **best, "rows_read": read, "rows_written": written,
              "tokens_written": tokens, "packed_sequences": packed,
              "rows_per_s": round(read / best["wall_s"]), "written_per_s": round(written / best["wall_s"]),
              "tokens_per_s": round(tokens / best["wall_s"]) if tokens else None,
              "tokens_tokenised": tokenised,
              "tokenised_per_s": round(tokenised / best["wall_s"]) if tokenised else None,
              "accounting_holds": all(t["holds"] for t in manifest["accounting"].values()),
              "leakage": manifest["leakage"], "mixture": manifest["mixture"], "shards": manifest["shards"],
              "files": {t: manifest["tables"][t]["files"] for t in manifest["tables"]}}
    print(f"{name}: {best['wall_s']} s, {result['rows_per_s']} rows/s, {result['tokens_per_s']} tokens/s",
          file=sys.stderr, flush=True)
    return result


def spread(files: list[dict], split: str) -> dict:
    rows = [f["rows"] for f in files if f["split"] == split]
    sizes = [f["bytes"] for f in files if f["split"] == split]
    return {"shards": len(rows), "min_rows": min(rows), "max_rows": max(rows), "min_bytes": min(sizes),
            "max_bytes": max(sizes), "bytes_spread": round(max(sizes) / max(1, min(sizes)), 3)}


def report(results: dict, out_dir: Path) -> None:
    lines = ["# `codecorpus mix` on the sample's outputs", "",
             f"Measured {results['when']} on {results['machine']}; `python benchmarks/bench_mix.py --runs "
             f"{results['args']['runs']}`. Inputs: `commits` -> commitpack ({results['inputs']['commits']:,} rows), "
             f"`files` -> fim ({results['inputs']['fim']:,}), `sql` -> sql_triples ({results['inputs']['sql']:,}, "
             "joined with sql_databases for the schema). Tokenizer: a byte-level BPE of "
             f"{results['args']['vocab']:,} tokens trained on the FIM text here in "
             f"{results['tokenizer_train_s']:.1f} s (no hub).", "",
             "## Speed (best of the runs; wall includes interpreter and Beam start-up)", "",
             "rows/s = rows read / wall; written/s = example rows written (repeats included) / wall; tokenised/s = "
             "tokens of the rows tokenised (each once: the kept rows, or every row when an amount is in tokens) / wall; written tokens/s = tokens of "
             "the written rows (repeats included) / wall.", "",
             "| run | wall s | pipeline s | CPU s | peak RSS MB | rows read | rows written | tokens tokenised | "
             "tokens written | packed seqs | rows/s | written/s | tokenised/s | written tokens/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        lines.append(f"| {r['name']} | {r['wall_s']} | {r['pipeline_s']} | {r['cpu_s']} | {r['max_rss_mb']} | "
                     f"{r['rows_read']:,} | {r['rows_written']:,} | {r['tokens_tokenised']:,} | {r['tokens_written']:,} | "
                     f"{r['packed_sequences']:,} | {r['rows_per_s']:,} | {r['written_per_s']:,} | "
                     f"{'-' if r['tokenised_per_s'] is None else format(r['tokenised_per_s'], ',')} | "
                     f"{'-' if r['tokens_per_s'] is None else format(r['tokens_per_s'], ',')} |")
    alone = results["tokenizer_alone"]
    lines += ["", f"The tokenizer alone (`encode_batch`, batches of 256, this process, no Beam) on the "
              f"{alone['texts']:,} texts of the weighted run: {alone['tokens']:,} tokens in {alone['seconds']} s = "
              f"**{alone['tokens_per_s']:,} tokens/s** ({alone['chars_per_token']} characters per token)."]
    weighted = next(r for r in results["runs"] if r["name"].startswith("weights + tokenizer"))
    lines += ["", "## Mixture: requested vs achieved (weights 0.3 / 0.5 / 0.2 of rows, total: the largest "
              "that repeats no source)", "",
              "| source | available rows | rate | requested share | train rows | achieved share of train rows | "
              "train tokens | share of train tokens | validation rows |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in weighted["mixture"].items():
        train, val = m["splits"]["train"], m["splits"]["validation"]
        lines.append(f"| {name} | {m['rows_available']:,} | {m['rate']:.3f} | {m['requested_share']:.1%} | "
                     f"{train['rows']:,} | {train['share_of_rows']:.1%} | {train['tokens']:,} | "
                     f"{train['share_of_tokens']:.1%} | {val['rows']:,} |")
    lines += ["", f"Leakage check of that run: `{json.dumps(weighted['leakage'])}`", "",
              "## Shards (8 train and 2 validation shards requested, for examples and packed)", "", "| table | split | shards | rows min-max | bytes min-max | "
              "bytes max/min |", "|---|---|---:|---|---|---:|"]
    for table, per in results["shards"].items():
        for split, s in per.items():
            lines.append(f"| {table} | {split} | {s['shards']} | {s['min_rows']:,}-{s['max_rows']:,} | "
                         f"{s['min_bytes']:,}-{s['max_bytes']:,} | {s['bytes_spread']} |")
    lines += ["", "Rows per shard differ by at most one by construction; bytes differ as rows differ in length.", ""]
    (out_dir / "mix.md").write_text("\n".join(lines))
    (out_dir / "mix.json").write_text(json.dumps(results, indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(DEFAULT_INPUT))
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "codecorpus-bench-mix"))
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--seq-len", type=int, default=1024)
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    outs = prepare(args.input, work)
    tokenizer = work / "tokenizer.json"
    train_s = train_tokenizer(outs["files"] / "fim", tokenizer, args.vocab)
    weights = {name: {"weight": w} for name, w in WEIGHTS.items()}
    repeat20 = {name: {"repeat": 20} for name in WEIGHTS}
    tok = ["--tokenizer", tokenizer]
    pack = [*tok, "--pack", str(args.seq_len)]
    runs = [
        measure("weights, no tokenizer", mixture(outs, work / "w.yaml", weights), work / "mix-w", args.runs, []),
        measure("weights + tokenizer", mixture(outs, work / "w.yaml", weights), work / "mix-wt", args.runs, tok),
        measure(f"weights + tokenizer + pack {args.seq_len}", mixture(outs, work / "w.yaml", weights),
                work / "mix-wp", args.runs, pack),
        measure(f"repeat 20 + tokenizer + pack {args.seq_len}", mixture(outs, work / "r.yaml", repeat20),
                work / "mix-r", args.runs, pack),
    ]
    sharded = measure("8 train shards", mixture(outs, work / "s.yaml", weights,
                                                shards={"train": 8, "validation": 2, "test": None},
                                                packing={"shards": {"train": 8, "validation": 2, "test": None}}),
                      work / "mix-s", 1, pack)
    shards = {table: {split: spread(files, split) for split in ("train", "validation")}
              for table, files in sharded["files"].items() if table in ("examples", "packed")}
    inputs = {name: json.loads((outs[job] / "manifest.json").read_text())["tables"][table]["rows"]
              for name, job, table in (("commits", "commits", "commitpack"), ("fim", "files", "fim"),
                                       ("sql", "sql", "sql_triples"))}
    alone = tokenizer_alone(work / "mix-wt" / "examples", tokenizer)
    results = {"when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "args": vars(args), "inputs": inputs, "tokenizer_train_s": train_s, "tokenizer_alone": alone,
               "runs": [{k: v for k, v in r.items() if k != "files"} for r in runs], "shards": shards}
    report(results, Path(args.out))
    print((Path(args.out) / "mix.md").read_text())


if __name__ == "__main__":
    main()
