"""``repos:`` inputs on the shared sample's real histories: clone cost, and the jobs against ``git:``.

Serves ``../shared/data/git/*.tar`` with ``git daemon`` on 127.0.0.1 and

1. clones each repository as the ``repos:`` stage does (``io.git.clone_repository``), with its
   whole history (the ``commits`` job), its last commit only (``files``) and its last commit with
   only the ``.sql`` (and licence, symlink) blobs (``sql``): seconds and bytes of the object store;
2. runs ``codecorpus sql`` (or ``--job files``) on a ``repos:`` list of them and on ``git:`` inputs
   of the same bare repositories, and says whether every table but ``dead_letter`` is byte-identical.

    python benchmarks/repos_clone.py [--shared ../shared/data] [--work /tmp/repos-bench] [--job sql]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "commits"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from fetch_sample import serve_root  # noqa: E402
from gitserve import git_daemon  # noqa: E402


def run_job(job: str, inputs: list[str], out: Path) -> tuple[dict, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "codecorpus.cli", job, "--quiet", "--output", str(out), *inputs],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads((out / "manifest.json").read_text()), time.monotonic() - started


def tables_equal(a: Path, b: Path, tables) -> dict:
    return {t: [p.read_bytes() for p in sorted((a / t).glob("*.parquet"))] ==
            [p.read_bytes() for p in sorted((b / t).glob("*.parquet"))] for t in tables}


def main() -> None:
    from codecorpus.io import git as gitio

    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--work", default="/tmp/repos-bench")
    parser.add_argument("--job", default="sql", choices=("sql", "files"))
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    names = serve_root(Path(args.shared) / "git", work / "served")
    for name in names:  # git: reads repo_name from origin: the same name the list gives
        subprocess.run(["git", "-C", str(work / "served" / name), "config", "remote.origin.url",
                        f"https://github.com/{name}.git"], check=True, capture_output=True)
    print("| repository | history | seconds | bytes |\n|---|---|---:|---:|")
    with git_daemon(work / "served") as url:
        for name in names:
            for mode, history, wanted in (("whole", True, None), ("last commit", False, None),
                                          ("last commit, .sql blobs", False, lambda p: p.lower().endswith(".sql"))):
                target = work / "clones" / f"{name.replace('/', '+')}-{mode.replace(' ', '_')}"
                started = time.monotonic()
                try:
                    cloned = gitio.clone_repository(f"{url}/{name}", str(target), 300, 4 << 30, history, wanted)
                    got = f"{cloned.bytes_fetched:,}"
                except gitio.FetchError as e:  # the shared histories are partial clones: old blobs are missing
                    got = f"failed: {e.reason}"
                print(f"| {name} | {mode} | {time.monotonic() - started:.2f} | {got} |")
        listing = work / "repos.txt"
        listing.write_text("".join(f"{name}\n" for name in names))
        config = work / "remote.yaml"
        config.write_text(json.dumps({"fetch": {"remote": url + "/{repo_name}"}}))
        manifest, seconds = run_job(args.job, ["--input", f"repos:{listing}", "--config", str(config)],
                                    work / "out-repos")
    tables = [t for t in manifest["tables"] if t != "dead_letter"]
    print(f"\n{args.job} on repos: {seconds:.1f} s; rows { {t: manifest['tables'][t]['rows'] for t in tables} }")
    try:
        _, ref_seconds = run_job(args.job, [a for n in names for a in ("--input", f"git:{work / 'served' / n}")],
                                 work / "out-git")
        print(f"on git: {ref_seconds:.1f} s; byte-identical tables:",
              tables_equal(work / "out-repos", work / "out-git", tables))
    except SystemExit as e:  # git: reads every blob of the history, which a partial clone lacks
        print("git: inputs of the served repositories failed:", str(e).strip().splitlines()[-1][:200])
    print("accounting:", {k: v["holds"] for k, v in manifest["accounting"].items()})
    print("clone counters:", {k: v for k, v in manifest["counters"].items() if k.startswith(("clone/", "repositories/"))})


if __name__ == "__main__":
    main()
