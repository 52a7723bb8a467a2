"""PII redaction speed: documents per second per core on 4 KB code files, and the worst case.

Documents: the first 4,096 characters of every text blob of at least that size in
``../shared/data/github_repos_sample`` ``contents`` (real code: Python, JavaScript, Go, C, SQL, C#),
up to ``--docs``. Each system runs in this one process, on one core, over the same documents:

- ``codecorpus``: ``Redactor.redact`` with the default configuration (all six entities, find
  and replace, spans), i.e. what the ``pii`` stage does per field;
- ``presidio-defaults``: presidio's ``AnalyzerEngine`` with every predefined recognizer it loads
  for English with the no-op NLP engine (credit cards, crypto, dates, email, IBAN, IP, medical
  licence, MAC, UUID, phone, URL, US ids), analysis only;
- ``detect-secrets``: its default scan (every default plugin and filter) of each document as a
  file, the way it is run on a repository.

Docs/s per core = documents / CPU seconds of this process (``time.process_time``), so other
load on the machine does not count; wall-clock rates are reported too.

It also counts what presidio's default URL and phone recognizers report on this real code
(the reason they are not used: ``boto3.client(`` is a "URL"), and measures the worst case: a
set of pathological documents (megabyte lines, binary garbage decoded as latin-1, mixed
encodings, inputs built against each regex) without a time limit, then with the default limit,
where every one of them must finish within it (plus one regex step) or be flagged.

    python benchmarks/pii_speed.py                 # 2000 docs; detect-secrets on 300 of them
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "github_repos_sample"
RESULTS = ROOT / "benchmarks" / "results"


def load_docs(n: int, size: int = 4096, sample: Path = SAMPLE) -> list[str]:
    docs = []
    with gzip.open(sample / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = row.get("content")
            if text and not row.get("binary") and len(text) >= size and "\x00" not in text:
                docs.append(text[:size])
    random.Random(0).shuffle(docs)
    return docs[:n]


def timed(fn, docs: list[str]) -> dict:
    fn(docs[0])  # warm-up: engines, caches
    per_doc = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for d in docs:
        started = time.perf_counter()
        fn(d)
        per_doc.append(time.perf_counter() - started)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_doc.sort()
    return {"docs": len(docs), "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "docs_per_cpu_s": round(len(docs) / cpu, 1), "docs_per_wall_s": round(len(docs) / wall, 1),
            "p50_ms": round(per_doc[len(per_doc) // 2] * 1000, 3),
            "p99_ms": round(per_doc[int(len(per_doc) * 0.99)] * 1000, 3), "max_ms": round(per_doc[-1] * 1000, 3)}


def ours():
    from codecorpus.config import load_config
    from codecorpus.pii.redact import Redactor

    redactor = Redactor(load_config())
    return lambda text: redactor.redact(text)


def presidio_defaults():
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=nlp, languages=["en"])
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    return engine, [r.name for r in registry.recognizers]


def detect_secrets_scan():
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    folder = tempfile.mkdtemp(prefix="pii-speed-")
    paths = {}

    def prepare(docs):
        for i, d in enumerate(docs):
            path = os.path.join(folder, f"doc{i}.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(d)
            paths[d] = path

    def scan(text):
        with default_settings():
            secrets = SecretsCollection()
            secrets.scan_file(paths[text])
        return secrets

    return prepare, scan


def pathological() -> dict[str, str]:
    """Inputs built to be slow or odd for each recognizer, about a megabyte each."""
    mb = 1_000_000
    rng = random.Random(0)
    code = (Path(__file__).read_text() * (mb // 5000))[:mb]
    garbage = bytes(rng.getrandbits(8) for _ in range(mb)).decode("latin-1")
    mixed = ("naïve café ünïcode — ".encode("utf-8").decode("latin-1") + "日本語 ✓ " + "ascii text ") * (mb // 60)
    return {
        "empty": "",
        "megabyte_line_of_code": code.replace("\n", " "),
        "megabyte_of_code": code,
        "binary_as_latin1": garbage,
        "mixed_encodings": mixed[:mb],
        "at_signs": "a@" * (mb // 2),
        "long_local_parts": ("x" * 70 + "@") * (mb // 71),
        "dotted_domain_run": "a@" + "b." * (mb // 2),
        "digit_dots": "1." * (mb // 2),
        "ipv4_run": "1.2.3.4." * (mb // 8),
        "colons": "a:" * (mb // 2),
        "ipv6_like": "fe:" * (mb // 3),
        "quoted_tokens": '"' + ("A1b2C3d4" * 4 + '" "') * (mb // 35),
        "one_huge_token": "A1b2C3d4e5" * (mb // 10),
        "keyword_storm": "password=key=token=secret=" * (mb // 26),
        "assignments": "api_key = 'Zx9Qw8Er7Ty6Ui5Op4As3Df2'\n" * (mb // 36),
        "private_key_begins": "-----BEGIN RSA PRIVATE KEY-----\n" * (mb // 32),
        "copyright_storm": "Copyright (c) 2020 " * (mb // 19),
        "author_names": "Author: " + "Abc Def, " * (mb // 9),
        "home_paths": "/home/" * (mb // 6),
        "url_userinfo": "x://" + "a:b@" * (mb // 4),
        "many_emails": "".join(f"user{i}@corp{i % 97}.com " for i in range(mb // 22)),
    }


def worst_case(limit: float | None) -> list[dict]:
    from codecorpus.config import load_config
    from codecorpus.pii.redact import Redactor

    config = load_config()
    if limit is not None:
        config["pii"]["time_limit_seconds"] = limit
    else:
        config["pii"]["time_limit_seconds"] = 3600
        config["pii"]["max_findings_per_document"] = 10**9
    redactor = Redactor(config)
    redactor.redact("warm up")
    rows = []
    for name, text in pathological().items():
        started = time.perf_counter()
        result = redactor.redact_record({"text": text}, ["text"])
        rows.append({"input": name, "chars": len(text), "seconds": round(time.perf_counter() - started, 3),
                     "spans": len(result.spans), "over_budget": result.over_budget[1] if result.over_budget else ""})
    return rows


def url_phone_misfires(docs: list[str], engine) -> dict:
    counts, examples = Counter(), {}
    for d in docs:
        for r in engine.analyze(d, language="en", entities=["URL", "PHONE_NUMBER"]):
            counts[r.entity_type] += 1
            value = d[r.start:r.end]
            context = d[max(0, r.start - 15):r.end + 5].replace("\n", "⏎")
            examples.setdefault(r.entity_type, Counter())[f"{value!r} in {context!r}"] += 1
    return {"counts": dict(counts),
            "examples": {k: [e for e, _ in v.most_common(8)] for k, v in examples.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--slow-docs", type=int, default=300, help="documents for detect-secrets")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-worst-case", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    docs = load_docs(args.docs)
    results = {}
    results["codecorpus"] = timed(ours(), docs)
    print("codecorpus", results["codecorpus"], file=sys.stderr)
    engine, recognizers = presidio_defaults()
    results["presidio-defaults"] = timed(lambda t: engine.analyze(t, language="en"), docs[:max(args.slow_docs, 1000)])
    print("presidio", results["presidio-defaults"], file=sys.stderr)
    prepare, scan = detect_secrets_scan()
    slow = docs[:args.slow_docs]
    prepare(slow)
    results["detect-secrets"] = timed(scan, slow)
    print("detect-secrets", results["detect-secrets"], file=sys.stderr)
    misfires = url_phone_misfires(docs[:500], engine)
    worst = {"unbounded": [], "bounded": []}
    if not args.skip_worst_case:
        worst["unbounded"] = worst_case(None)
        worst["bounded"] = worst_case(2.0)
    write_report(args, docs, results, recognizers, misfires, worst)
    return 0


def write_report(args, docs, results, recognizers, misfires, worst) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
               "results": results, "presidio_recognizers": recognizers, "url_phone_on_code": misfires,
               "worst_case": worst}
    (args.out / "pii_speed.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    ours = results["codecorpus"]["docs_per_cpu_s"]
    lines = [
        "# PII redaction speed (`benchmarks/pii_speed.py`)",
        "",
        f"{len(docs)} documents of 4,096 characters of real code from `../shared/data/github_repos_sample`; one "
        f"process, one core; Python {platform.python_version()}, {os.cpu_count()} CPUs. Docs/s per core = "
        "documents / CPU seconds of the process.",
        "",
        "| system | docs | docs/s per core | docs/s wall | ms per doc p50 / p99 / max | codecorpus is |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ratio = "–" if name == "codecorpus" else f"{ours / r['docs_per_cpu_s']:.0f}x faster"
        lines.append(f"| {name} | {r['docs']} | {r['docs_per_cpu_s']:,.0f} | {r['docs_per_wall_s']:,.0f} | "
                     f"{r['p50_ms']} / {r['p99_ms']} / {r['max_ms']} | {ratio} |")
    lines += ["", "codecorpus: all six entities (EMAIL, IP_ADDRESS, KEY, PASSWORD, NAME, USERNAME), find and replace. "
              f"presidio-defaults ({len(recognizers)} recognizers): {', '.join(recognizers)}; analysis only. "
              "detect-secrets: default plugins and filters, one file per document.",
              "", "## presidio's URL and phone recognizers on code (500 of the documents)", "",
              f"Findings: {misfires['counts']}. Most common:", ""]
    for entity, examples in misfires["examples"].items():
        for e in examples[:6]:
            lines.append(f"- {entity}: {e}")
    if worst["unbounded"]:
        lines += ["", "## Worst case (about 1 MB per input)", "",
                  "| input | chars | seconds, no limit | spans | seconds, 2 s limit | over budget |", "|---|---|---|---|---|---|"]
        bounded = {r["input"]: r for r in worst["bounded"]}
        for r in worst["unbounded"]:
            b = bounded.get(r["input"], {})
            lines.append(f"| {r['input']} | {r['chars']:,} | {r['seconds']} | {r['spans']:,} | {b.get('seconds', '–')} | "
                         f"{b.get('over_budget') or '–'} |")
        slowest = max(worst["unbounded"], key=lambda r: r["seconds"])
        lines += ["", f"Slowest without a limit: `{slowest['input']}` ({slowest['seconds']} s for "
                  f"{slowest['chars']:,} characters). With the default 2 s limit per record, the slowest took "
                  f"{max(r['seconds'] for r in worst['bounded'])} s."]
    lines += ["", "Reproduce: `python benchmarks/pii_speed.py`", ""]
    (args.out / "pii_speed.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
