"""Secrets and contact PII in the formats real code uses (issue 18): recall per family and cell,
false-positive rate on negatives, for codecorpus, the BigCode regex pipeline and detect-secrets,
in one run, plus codecorpus' speed on 4 KB code files.

The set is ``pii_secrets_set.build_set`` (seeded, built from the providers' documented token
formats and a table of contexts; see that module). Scoring:

- a positive case is found when the predicted spans of a matching entity cover every character of
  its secret (a partial find leaks the rest: ``<IP_ADDRESS>.14.33.1``). Secrets match KEY or
  PASSWORD (both are replaced); contact cases match EMAIL or IP_ADDRESS. detect-secrets reports
  no contact PII, so it has no number there;
- a negative case is a false positive when the system reports any secret in the document.

    python benchmarks/pii_secrets_eval.py --sample ../shared/data/github_repos_sample   # the reported run
    python benchmarks/pii_secrets_eval.py --per-cell 2 --systems codecorpus
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = ROOT.parent / "shared" / "data" / "github_repos_sample"

from pii_secrets_set import build_set  # noqa: E402

SECRET_ENTITIES = {"KEY", "PASSWORD"}


def covered(gold: tuple, spans: list) -> bool:
    start, end = gold
    pos = start
    for s, e in sorted(spans):
        if s <= pos < e:
            pos = e
        if pos >= end:
            return True
    return pos >= end


def evaluate(case: dict, found: list) -> bool:
    """True when the case is handled right: a positive fully found, a negative left alone."""
    if case["negative"]:
        return not any(e in SECRET_ENTITIES for e, _s, _e in found)
    wanted = SECRET_ENTITIES if case["entity"] == "secret" else {case["entity"]}
    spans = [(s, e) for ent, s, e in found if ent in wanted]
    return all(covered(g, spans) for g in case["gold"])


def systems(names: list[str]) -> list:
    import pii_eval

    made = {"codecorpus": pii_eval.Ours, "bigcode-regex": pii_eval.BigCodeRegex, "detect-secrets": pii_eval.DetectSecrets}
    return [made[n]() for n in names]


def speed(sample: Path, n_docs: int = 2000) -> dict:
    """codecorpus' documents/s per core (CPU time) on 4 KB pieces of real code (the shared sample's
    contents; the set's own documents, padded, when the sample is absent)."""
    docs = []
    source = "set"
    if (sample / "contents.jsonl.gz").exists():
        source = "sample"
        with gzip.open(sample / "contents.jsonl.gz", "rt") as f:
            for line in f:
                text = json.loads(line).get("content") or ""
                if len(text) >= 4096 and "\x00" not in text:
                    docs.append(text[:4096])
                if len(docs) >= n_docs:
                    break
    if not docs:
        texts = [c["text"] for c in build_set()]
        blob = "".join(texts)
        docs = [(blob * 2)[i * 4096 % len(blob):][:4096] for i in range(n_docs)]
    from codecorpus.config import load_config
    from codecorpus.pii.redact import Redactor

    redactor = Redactor(load_config())
    redactor.redact(docs[0])
    cpu = time.process_time()
    for d in docs:
        redactor.redact(d)
    cpu = time.process_time() - cpu
    return {"docs": len(docs), "source": source, "docs_per_cpu_s": round(len(docs) / cpu, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--per-cell", type=int, default=6)
    ap.add_argument("--systems", default="codecorpus,bigcode-regex,detect-secrets")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--sample", type=Path, default=SAMPLE, help="real code for the speed column")
    args = ap.parse_args(argv)
    cases = build_set(args.seed, args.per_cell)
    names = args.systems.split(",")
    outcome = {}   # system -> list of bools (per case)
    misses = defaultdict(list)
    seconds = {}
    for system in systems(names):
        ok = []
        started = time.perf_counter()
        for c in cases:
            found = system.find(c["text"], c["path"])
            good = evaluate(c, found)
            ok.append(good)
            if not good and len(misses[system.name]) < 400:
                misses[system.name].append({"cell": c["cell"], "family": c["family"], "text": c["text"][:300],
                                            "found": [(e, c["text"][s:t]) for e, s, t in found][:5]})
        outcome[system.name] = ok
        seconds[system.name] = round(time.perf_counter() - started, 1)
    report = summarise(cases, outcome, names)
    report.update(seed=args.seed, per_cell=args.per_cell, cases=len(cases), seconds=seconds)
    if not args.no_speed and "codecorpus" in names:
        report["speed"] = speed(args.sample)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pii_secrets.json").write_text(json.dumps({**report, "misses": misses}, indent=1) + "\n")
    (args.out / "pii_secrets.md").write_text(markdown(report, names, misses.get("codecorpus", [])))
    print((args.out / "pii_secrets.md").read_text())
    return 0


def summarise(cases, outcome, names) -> dict:
    families, cells = defaultdict(lambda: defaultdict(list)), defaultdict(lambda: defaultdict(list))
    for i, c in enumerate(cases):
        family = "negatives" if c["negative"] else c["family"]
        for n in names:
            families[family][n].append(outcome[n][i])
            cells[(family, c["cell"])][n].append(outcome[n][i])

    def rate(values, negative, name, family):
        if not values or (name == "detect-secrets" and family == "contact"):
            return None
        good = sum(values) / len(values)
        return round(1 - good if negative else good, 3)

    fam = {f: {"cases": len(next(iter(v.values()))), "negative": f == "negatives",
               **{n: rate(v[n], f == "negatives", n, f) for n in names}} for f, v in families.items()}
    cel = [{"family": f, "cell": c, "cases": len(next(iter(v.values()))),
            **{n: rate(v[n], f == "negatives", n, f) for n in names}} for (f, c), v in sorted(cells.items())]
    return {"families": fam, "cells": cel}


def fmt(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def markdown(report: dict, names: list[str], misses: list) -> str:
    lines = ["# Secrets and contact PII in real formats (`benchmarks/pii_secrets_eval.py`)", "",
             f"{report['cases']} cases (seed {report['seed']}, {report['per_cell']} per cell) from "
             "`benchmarks/pii_secrets_set.py`: provider token formats from the providers' documentation, a "
             "table of contexts × value shapes, named UUIDs, passwords with template characters, punycode "
             "emails, IPv4 in IPv6, and negatives. Positives: recall (the whole secret covered by KEY/PASSWORD, "
             "or the whole address by EMAIL/IP_ADDRESS). Negatives: false-positive rate (any secret reported "
             "in the document).", "",
             "| family | cases | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    order = ["provider_tokens", "contexts", "named_uuid", "template_chars", "contact", "negatives"]
    for f in order:
        if f in report["families"]:
            row = report["families"][f]
            label = f + (" (false-positive rate)" if row["negative"] else " (recall)")
            lines.append(f"| {label} | {row['cases']} | " + " | ".join(fmt(row[n]) for n in names) + " |")
    if "speed" in report:
        sp = report["speed"]
        lines += ["", f"Speed: codecorpus {sp['docs_per_cpu_s']:,} documents/s per core on {sp['docs']} documents "
                  f"of 4 KB ({'real code from the shared sample' if sp['source'] == 'sample' else 'the set, padded'}; "
                  "CPU time of one process, all six entities, find and replace)."]
    lines += ["", f"Time for the whole set: {report['seconds']} (seconds, wall).", "",
              "## Every cell", "", "| family | cell | cases | " + " | ".join(names) + " |",
              "|---|---|---|" + "---|" * len(names)]
    for c in report["cells"]:
        lines.append(f"| {c['family']} | {c['cell']} | {c['cases']} | " + " | ".join(fmt(c[n]) for n in names) + " |")
    if misses:
        lines += ["", "## codecorpus' misses and false positives (first 30)", ""]
        for m in misses[:30]:
            text = m["text"].replace("\n", "⏎")[:160]
            lines.append(f"- {m['family']} / {m['cell']}: `{text}` found {m['found']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
