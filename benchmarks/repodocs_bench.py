"""Repository documents (``repo_documents/`` of ``codecorpus files``): speed and how many files the
import graph places.

1. **End to end.** ``codecorpus files`` as a subprocess on each input, with repository documents
   (the default) and with ``--no-repo-documents``: wall seconds, and the difference = what the
   step costs inside the job (parsing imports, the group by repository, ordering, rendering,
   writing the table).
2. **The step alone.** The ``files/`` table of the first run, grouped by repository, through the
   pure functions (``file_entry`` per file: tree-sitter imports; ``repository_documents`` per
   repository: resolve, order, split, render), in-process, best of ``--repeats``: repositories/s,
   files/s, MB/s.
3. **Placement** per repository: files, files in a language whose imports are read, imports
   resolved / unresolved, files placed by dependency (the rest follow by path), cycles,
   documents, and the share of files placed by dependency (of all files, and of those in a
   supported language).

Inputs: a dump (the shared sample by default) and, with ``--git DIR``, the git histories in DIR
(``OWNER+NAME.tar`` archives of bare repositories, as in ``../shared/data/git``: each is
unpacked into a temporary folder and given the ``origin`` GitHub remote its name says, so the
repository is named as on GitHub). The licence filter is off for the git inputs (htop is GPL:
it would leave nothing to order).

    python benchmarks/repodocs_bench.py --input ../shared/data/github_repos_sample --git ../shared/data/git
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
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"


def run_job(inputs: list[str], output: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "codecorpus.cli", "files", *[a for i in inputs for a in ("--input", i)],
           "--output", str(output), "--overwrite", "--quiet", *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"job failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    match = re.search(r"done in ([0-9.]+)s", proc.stderr)
    manifest = json.loads((output / "manifest.json").read_text())
    return {"wall_s": wall, "pipeline_s": float(match.group(1)) if match else None,
            "files": manifest["tables"]["files"]["rows"],
            "documents": manifest["tables"].get("repo_documents", {}).get("rows"),
            "accounting_holds": all(t["holds"] for t in manifest["accounting"].values()), "manifest": manifest}


def missing_blobs(repo: Path) -> int:
    """Blobs of HEAD's tree that the (partial) clone does not have: the git reader stops on them."""
    tree = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "HEAD"], capture_output=True, text=True,
                          check=True).stdout
    listing = "".join(line.split()[2] + "\n" for line in tree.splitlines() if line.split()[1] == "blob")
    check = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-check"], input=listing, capture_output=True,
                           text=True).stdout
    return sum(line.endswith(" missing") for line in check.splitlines())


def unpack_git(folder: Path, into: Path, skipped: dict) -> list[str]:
    specs = []
    for archive in sorted(folder.glob("*+*.tar")):
        owner, name = archive.stem.split("+", 1)
        target = into / archive.stem
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        repo = next(p.parent for p in target.rglob("HEAD") if (p.parent / "objects").is_dir())
        subprocess.run(["git", "-C", str(repo), "remote", "remove", "origin"], capture_output=True)
        subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", f"https://github.com/{owner}/{name}.git"],
                       check=True)
        missing = missing_blobs(repo)
        if missing:
            skipped[f"{owner}/{name}"] = f"{missing} blobs of HEAD missing from the partial clone"
            continue
        specs.append(f"git:{repo}")
    return specs


def step_alone(files_table: Path, repeats: int) -> dict:
    import pyarrow.parquet as pq

    from codecorpus.config import default_config
    from codecorpus.repodocs.documents import RepoDocSettings
    from codecorpus.repodocs.imports import ImportFinder
    from codecorpus.repodocs.repository import file_entry, repo_key, repository_documents

    rows = pq.read_table(files_table).to_pylist()
    settings = RepoDocSettings.from_config(default_config())
    finder = ImportFinder()
    finder.setup()
    best = None
    for _ in range(repeats):
        started = time.perf_counter()
        by_repo = defaultdict(list)
        for row in rows:
            by_repo[repo_key(row)].append(file_entry(row, finder, settings))
        parsed = time.perf_counter()
        per_repo = {key: repository_documents(key, entries, settings) for key, entries in sorted(by_repo.items())}
        done = time.perf_counter()
        if best is None or done - started < best["seconds"]:
            best = {"seconds": done - started, "parse_seconds": parsed - started, "per_repo": per_repo}
    mb = sum(len(r["content"].encode("utf-8", "surrogatepass")) for r in rows) / 1e6
    n = len(best["per_repo"])
    return {"repositories": n, "files": len(rows), "mb": mb, "seconds": best["seconds"],
            "parse_seconds": best["parse_seconds"], "repos_per_s": n / best["seconds"],
            "files_per_s": len(rows) / best["seconds"], "mb_per_s": mb / best["seconds"],
            "placement": {key.rsplit(":", 1)[0]: placement(counts, docs) for key, (docs, counts)
                          in best["per_repo"].items()}}


def placement(counts: dict, docs: list) -> dict:
    parsed = sum(v for k, v in counts.items() if k.startswith("parse/"))
    return {"files": counts["files"], "supported": parsed, "resolved": counts.get("imports/resolved", 0),
            "unresolved": counts.get("imports/unresolved", 0), "by_dependency": counts.get("files_by_dependency", 0),
            "cycles": counts.get("cycles", 0), "documents": len(docs), "order": docs[0]["order"] if docs else None,
            "split_files": counts.get("split_files", 0)}


def table(name: str, result: dict) -> list[str]:
    lines = [f"### {name}", "", "| repository | files | in a parsed language | imports resolved | unresolved | "
             "placed by dependency | share of files | share of parsed | cycles | documents | order |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    total = defaultdict(int)
    for repo, p in sorted(result["placement"].items()):
        for k in ("files", "supported", "resolved", "unresolved", "by_dependency", "cycles", "documents"):
            total[k] += p[k]
        lines.append(f"| {repo} | {p['files']} | {p['supported']} | {p['resolved']} | {p['unresolved']} | "
                     f"{p['by_dependency']} | {p['by_dependency'] / p['files']:.0%} | "
                     f"{(p['by_dependency'] / p['supported']) if p['supported'] else 0:.0%} | {p['cycles']} | "
                     f"{p['documents']} | {p['order']} |")
    lines.append(f"| **all** | {total['files']} | {total['supported']} | {total['resolved']} | {total['unresolved']} | "
                 f"{total['by_dependency']} | {total['by_dependency'] / max(1, total['files']):.1%} | "
                 f"{total['by_dependency'] / max(1, total['supported']):.1%} | {total['cycles']} | "
                 f"{total['documents']} | |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="a dump (default: the shared sample)")
    parser.add_argument("--git", help="a folder of OWNER+NAME.tar bare-repository archives (../shared/data/git)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    results, skipped = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = {"sample": ([args.input], [])}
        if args.git:
            inputs["git histories (HEAD)"] = (unpack_git(Path(args.git), tmp / "git", skipped),
                                              ["--disable-filter", "licence"])
        for name, (specs, extra) in inputs.items():
            with_docs = run_job(specs, tmp / f"{name}-on", extra)
            without = run_job(specs, tmp / f"{name}-off", extra + ["--no-repo-documents"])
            alone = step_alone(tmp / f"{name}-on" / "files", args.repeats)
            results[name] = {"inputs": specs, "job_with": {k: v for k, v in with_docs.items() if k != "manifest"},
                             "job_without": {k: v for k, v in without.items() if k != "manifest"}, "step": alone}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "repodocs.json").write_text(json.dumps({"results": results, "skipped": skipped}, indent=2, default=str))
    lines = ["# Repository documents: speed and dependency placement", "",
             f"Measured {dt.date.today()} by `benchmarks/repodocs_bench.py --input {args.input}"
             + (f" --git {args.git}" if args.git else "") + f" --repeats {args.repeats}` on {platform.machine()} "
             f"({os.cpu_count()} CPUs), Python {platform.python_version()}; in-memory FnApiRunner; the machine is "
             "shared with other work, so wall times are noisy.", "",
             "## End to end and the step alone", "",
             "*job*: `codecorpus files` wall seconds (start-up included) with repository documents and with "
             "`--no-repo-documents`. *step*: the pure functions over the first run's `files/` table in one process "
             "(imports, resolution, order, split, render; no Beam), best of the repeats. On this machine the "
             "run-to-run noise of a whole job is several seconds, larger than the step itself: read the step's "
             "seconds, not the difference.", "",
             "| input | repositories | files | MB | job s (with) | job s (without) | difference | step s | "
             "of which imports | repositories/s | files/s | MB/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        s = r["step"]
        lines.append(f"| {name} | {s['repositories']} | {s['files']} | {s['mb']:.2f} | {r['job_with']['wall_s']:.1f} | "
                     f"{r['job_without']['wall_s']:.1f} | {r['job_with']['wall_s'] - r['job_without']['wall_s']:+.1f} | "
                     f"{s['seconds']:.2f} | {s['parse_seconds']:.2f} | {s['repos_per_s']:.1f} | "
                     f"{s['files_per_s']:.0f} | {s['mb_per_s']:.1f} |")
    if skipped:
        lines += ["", "Left out: " + "; ".join(f"{repo} ({why})" for repo, why in sorted(skipped.items())) + "."]
    lines += ["", "## Files placed by dependency", "",
              "*placed by dependency*: files with at least one resolved import edge (in or out), ordered "
              "topologically; the others follow by path. Go packages are folders, so files of one package never "
              "import each other: only imports across packages place Go files.", ""]
    for name, r in results.items():
        lines += table(name, r["step"])
    (out / "repodocs.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
