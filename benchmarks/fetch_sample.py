"""The fetch stage on the shared sample, with ``contents`` cut to the HEAD blobs (as BigQuery has it).

Serves the real histories in ``../shared/data/git/*.tar`` with ``git daemon`` on 127.0.0.1 (partial
clone on, as GitHub has it; ``--no-filter`` turns it off), then runs ``codecorpus commits`` three
times: on the full sample (the reference), on the head-only dump alone, and on the head-only dump
with ``--fetch-remote``. Prints rows, dead letters by reason, fetch counters and wall time.

    python benchmarks/fetch_sample.py [--shared ../shared/data] [--work /tmp/fetch-bench] [--no-filter]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "commits"))
from gitserve import git_daemon  # noqa: E402


def head_only(sample: Path, out: Path) -> int:
    out.mkdir(parents=True)
    head = {json.loads(line)["id"] for line in gzip.open(sample / "files.jsonl.gz", "rt")}
    kept = 0
    with gzip.open(out / "contents.jsonl.gz", "wt") as sink:
        for line in gzip.open(sample / "contents.jsonl.gz", "rt"):
            if json.loads(line)["id"] in head:
                sink.write(line)
                kept += 1
    for table in ("commits", "licenses", "files"):
        shutil.copy(sample / f"{table}.jsonl.gz", out / f"{table}.jsonl.gz")
    return kept


def serve_root(git_dir: Path, root: Path) -> list[str]:
    names = []
    for tar in sorted(git_dir.glob("*.tar")):
        owner, name = tar.stem.split("+", 1)
        target = root / owner / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tar) as t:
            t.extractall(target.parent / f".{name}", filter="data")
        (target.parent / f".{name}" / "repo").rename(target)
        (target.parent / f".{name}").rmdir()
        names.append(f"{owner}/{name}")
    return names


def run(argv: list[str]) -> tuple[dict, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "codecorpus.cli", "commits", "--quiet", *argv],
                          capture_output=True, text=True, cwd=ROOT)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    out = Path(argv[argv.index("--output") + 1])
    return json.loads((out / "manifest.json").read_text()), elapsed


def dead_letter_reasons(out: Path) -> Counter:
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "dead_letter").to_pylist()
    return Counter(f"{r['stage']}: {r['error'].split(':', 1)[0]}" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", default="/tmp/codecorpus-fetch-bench")
    parser.add_argument("--no-filter", action="store_true", help="serve without partial-clone support")
    args = parser.parse_args()
    shared, work = Path(args.shared), Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    head_blobs = head_only(shared / "github_repos_sample", work / "head")
    served = serve_root(shared / "git", work / "served")
    print(f"head-only contents: {head_blobs:,} blobs; served: {', '.join(served)}")
    results = {}
    results["full sample"] = run(["--input", str(shared / "github_repos_sample"), "--output", str(work / "out-full")])
    results["head-only, no fetch"] = run(["--input", str(work / "head"), "--output", str(work / "out-head")])
    with git_daemon(work / "served", allow_filter=not args.no_filter) as url:
        results["head-only + fetch"] = run(["--input", str(work / "head"), "--output", str(work / "out-fetch"),
                                            "--fetch-remote", url + "/{repo_name}"])
    print("\n| run | commitpack | commitpackft | dead letters | wall s |\n|---|---|---|---|---|")
    for name, (manifest, elapsed) in results.items():
        t = manifest["tables"]
        print(f"| {name} | {t['commitpack']['rows']:,} | {t['commitpackft']['rows']:,} | "
              f"{t['dead_letter']['rows']:,} | {elapsed:.1f} |")
    fetched = results["head-only + fetch"][0]
    print("\nfetch counters:")
    for k, v in sorted(fetched["counters"].items()):
        if k.startswith(("fetch/", "contents/")):
            print(f"  {k:<44} {v:>12,}")
    print("\ndead letters of the fetch run:")
    for k, v in sorted(dead_letter_reasons(work / "out-fetch").items()):
        print(f"  {k:<60} {v:>6,}")
    full_rows = {r["commit"] for r in _rows(work / "out-full")}
    fetch_rows = {r["commit"] for r in _rows(work / "out-fetch")}
    per_repository(shared, work, {json.loads(line)["id"] for line in gzip.open(work / "head" / "contents.jsonl.gz", "rt")})
    print(f"\nrows of the full sample also produced with fetching: {len(full_rows & fetch_rows):,} / {len(full_rows):,}; "
          f"extra: {len(fetch_rows - full_rows)}")


def per_repository(shared: Path, work: Path, head: set) -> None:
    """Time of ``io.git.fetch_repository`` per repository for every single-file commit of the
    sample whose blobs are not all at HEAD: partial (filters on) vs full (server refuses filters)."""
    from codecorpus.io import git as gitio

    wants: dict[str, dict] = {}
    for line in gzip.open(shared / "github_repos_sample" / "commits.jsonl.gz", "rt"):
        c = json.loads(line)
        if len(c.get("difference") or []) != 1:
            continue
        d = c["difference"][0]
        blobs = {b for b in (d.get("old_sha1"), d.get("new_sha1")) if b} - head
        if blobs:
            for repo in c["repo_name"] if isinstance(c["repo_name"], list) else [c["repo_name"]]:
                wants.setdefault(repo, {})[c["commit"]] = blobs
    print("\n| repository | commits | blobs | partial s | partial bytes | full s | full bytes |\n|---|---|---|---|---|---|---|")
    for repo in sorted(wants):
        if not (work / "served" / repo).exists():
            continue
        cells = []
        for allow_filter in (True, False):
            with git_daemon(work / "served", allow_filter=allow_filter) as url:
                target = work / "fetch" / f"{repo.replace('/', '+')}-{allow_filter}"
                shutil.rmtree(target, ignore_errors=True)
                target.parent.mkdir(parents=True, exist_ok=True)
                started = time.monotonic()
                try:
                    got = gitio.fetch_repository(f"{url}/{repo}", wants[repo], str(target), 300, 4 << 30)
                    n = sum(1 for _ in got.read_blobs(set().union(*wants[repo].values())))
                    cells.append(f"{time.monotonic() - started:.2f} | {got.bytes_fetched:,}")
                except gitio.FetchError as e:
                    n = 0
                    cells.append(f"{time.monotonic() - started:.2f} | {e.reason}")
                if allow_filter:
                    blobs = n
                shutil.rmtree(target, ignore_errors=True)
        print(f"| {repo} | {len(wants[repo]):,} | {blobs:,} | {cells[0]} | {cells[1]} |")


def _rows(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(out / "commitpack").to_pylist()


if __name__ == "__main__":
    main()
