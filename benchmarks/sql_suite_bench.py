"""Issue 20's measurements: what the test suites cost and catch, how the questions read, and how
often the one-database vote and the suite vote disagree on the LLM path.

    python benchmarks/sql_suite_bench.py [--input ../shared/data/github_repos_sample]
        [--folder-repo ../shared/data/git/devrimgunduz+pagila.tar] [--baseline-tree TREE]

For each input the `sql` job runs twice, with ``sql.test_suite.size: 0`` (no suite) and with the
default suite, and the report gives triples per database before and after the suite check, the
drops by reason, and the wall time the suite adds. ``--folder-repo`` is a git repository (a bare
repository in a tar, as ``../shared/data/git`` holds them); it is cloned fresh and its working tree
is the input, a folder of ``.sql`` files. ``--baseline-tree`` is a checkout of the code before the
question rewrite (e.g. ``git worktree add /tmp/base d96e1b4``): its questions are checked with this
tree's ``naming.question_issues`` next to ours. The LLM path runs against a local fake server
whose student answers the gold SQL three times and two near misses (a comparison loosened and a
LIMIT added) that often agree with the gold on the one database and not on its neighbours.
Writes ``benchmarks/results/sql_suites.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CODECORPUS_SHARED") or ROOT.parent / "shared")
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))

from codecorpus.sql import llm, naming  # noqa: E402
from fake_chat import ChatServer  # noqa: E402  (the tests' fake OpenAI-compatible server)


def run_job(tree: Path, source: str, out: Path, config: str, *extra: str) -> tuple[float, dict]:
    cfg = out.with_suffix(".yaml")
    cfg.write_text(config)
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "codecorpus.cli", "sql", "--input", source, "--output", str(out),
                           "--config", str(cfg), "--quiet", *extra], env=env, capture_output=True, text=True,
                          cwd=out.parent)  # not a folder with a codecorpus/ in it: `-m` puts the cwd first
    wall = time.perf_counter() - start
    # (an older tree can crash at interpreter exit after writing everything: the manifest decides)
    if done.returncode != 0 and not (out / "manifest.json").exists():
        raise SystemExit(f"sql job failed on {source}:\n{done.stderr[-2000:]}")
    return wall, json.loads((out / "manifest.json").read_text())


def table(out: Path, name: str) -> list:
    files = sorted((out / name).glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def identifiers(ddl: list) -> set:
    return {a or b for a, b in re.findall(r'"([^"]+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b', " ".join(ddl))}


def question_report(out: Path) -> dict:
    """Share of template questions with each issue of ``naming.question_issues``."""
    names = {d["db_id"]: identifiers(d["ddl"]) for d in table(out, "sql_databases")}
    triples = [t for t in table(out, "sql_triples") if t.get("question_source", "template") == "template"]
    issues = collections.Counter()
    flagged = 0
    for t in triples:
        found = naming.question_issues(t["question"], names.get(t["db_id"], ()))
        issues.update(found)
        flagged += bool(found)
    n = max(len(triples), 1)
    return {"questions": len(triples), "with_an_issue": flagged, "share_with_an_issue": round(flagged / n, 4),
            "by_issue": {k: round(v / n, 4) for k, v in sorted(issues.items())}}


def suite_report(tree: Path, source: str, work: Path, name: str) -> dict:
    off_wall, off = run_job(tree, source, work / f"{name}-nosuite", "sql:\n  test_suite:\n    size: 0\n")
    on_wall, on = run_job(tree, source, work / f"{name}-suite", "{}\n")
    before = collections.Counter(t["db_id"] for t in table(work / f"{name}-nosuite", "sql_triples"))
    after = collections.Counter(t["db_id"] for t in table(work / f"{name}-suite", "sql_triples"))
    triples = table(work / f"{name}-suite", "sql_triples")
    suite_runs = sum(len(t["suite_result_hashes"]) for t in triples)
    dropped = {k.split("/")[-1]: v for k, v in on["counters"].items() if k.startswith("filter/sql_check/suite_")}
    return {
        "input": source,
        "databases": len(before | after),
        "triples_without_suite": sum(before.values()), "triples_with_suite": sum(after.values()),
        # the per-level quota refills from the candidates behind: the suite's cost is in candidates
        "candidates_checked_without_suite": off["counters"].get("sql/candidates", 0),
        "candidates_checked_with_suite": on["counters"].get("sql/candidates", 0),
        "dropped_by_the_suite": dropped,
        "share_dropped_by_the_suite": round(sum(dropped.values()) / max(sum(before.values()), 1), 4),
        "per_database": {db: [before[db], after[db]] for db in sorted(before | after)},
        "suite_databases_built": on["counters"].get("sql/test_suite/databases", 0),
        "kept_triple_suite_executions": suite_runs * 2,  # both engines
        "wall_without_suite_s": round(off_wall, 1), "wall_with_suite_s": round(on_wall, 1),
        "suite_s": round(on_wall - off_wall, 1),
        "suite_executions_per_s": round(suite_runs * 2 / max(on_wall - off_wall, 1e-9), 1),
        "questions": question_report(work / f"{name}-suite"),
    }


class StudentServer(ChatServer):
    """An OpenAI-compatible chat server on 127.0.0.1. A question request gets ``Which rows does
    this return: <sql>?``; a SQL request gets the gold three times and two near misses."""

    @staticmethod
    def near_misses(gold: str) -> list:
        loosened = re.sub(r"(?<![<>!])>(?!=)", ">=", gold, count=1) if ">" in gold else \
            re.sub(r"(?<![<>!])=", "<=", gold, count=1)
        limited = gold if re.search(r"\bLIMIT\b", gold, re.I) else gold + " LIMIT 5"
        return [loosened, limited]

    def answer(self, body: dict, path: str) -> tuple:
        return 200, [(content, "stop") for content in self.contents(body)]

    def contents(self, body: dict) -> list:
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        if system == llm.SYSTEM_QUESTION:
            sql = user.split("SQL:\n", 1)[1].rsplit("\n\nQuestion:", 1)[0]
            return [f"Question: Which rows does this return: {sql}?"]
        gold = re.search(r"Question: Which rows does this return: (.*)\?\n\nSQL:", user, re.S).group(1)
        script = [gold, gold, gold] + self.near_misses(gold)
        return [f"```sql\n{s}\n```" for s in script][:body.get("n", 1)]


def llm_report(tree: Path, source: str, work: Path) -> dict:
    with StudentServer() as server:
        wall, manifest = run_job(tree, source, work / "llm", "sql:\n  llm:\n    max_triples_per_database: 10\n",
                                 "--llm-endpoint", server.url, "--llm-candidates", "5")
    c = manifest["counters"]
    votes = c.get("sql/llm/votes", 0)
    return {"votes": votes, "vote_disagreement": c.get("sql/llm/vote_disagreement", 0),
            "share_disagreeing": round(c.get("sql/llm/vote_disagreement", 0) / max(votes, 1), 4),
            "ranks": {k.split("/")[-1]: v for k, v in c.items() if k.startswith("sql/llm/rank/")},
            "question_accepted": c.get("sql/llm/question_accepted", 0),
            "question_rejected": c.get("sql/llm/question_rejected", 0), "wall_s": round(wall, 1)}


MISSING: dict = {}


def fresh_clone(tar_path: Path, work: Path) -> Path:
    bare = work / "bare"
    with tarfile.open(tar_path) as tar:
        tar.extractall(bare, filter="data")
    repo = next(p.parent for p in bare.rglob("packed-refs"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(clone)], check=True)
    # The stored histories are partial clones that miss a few HEAD blobs (pagila's big data
    # files): check out every file whose blob is there, and say how many were not.
    listing = subprocess.run(["git", "-C", str(clone), "ls-tree", "-r", "-z", "HEAD"], check=True,
                             capture_output=True).stdout.decode().strip("\0").split("\0")
    missing = []
    for entry in listing:
        meta, path = entry.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind != "blob" or mode == "120000":
            continue
        blob = subprocess.run(["git", "-C", str(clone), "cat-file", "blob", sha], capture_output=True)
        if blob.returncode != 0:
            missing.append(path)
            continue
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_bytes(blob.stdout)
    MISSING[str(clone)] = missing
    return clone


def markdown(report: dict) -> str:
    lines = ["# `codecorpus sql`: test suites, questions, votes (issue 20)", "",
             f"Generated by `benchmarks/sql_suite_bench.py` on {report['date']} ({report['machine']}).", ""]
    for name, r in report["suites"].items():
        lines += [f"## Test suites: {name}", "",
                  f"Input `{r['input']}`: {r['databases']} databases; triples {r['triples_without_suite']} without "
                  f"the suite, {r['triples_with_suite']} with it ({r['share_dropped_by_the_suite']:.1%} of the "
                  f"candidates that passed the one-database checks dropped by it; the per-level quota refilled from "
                  f"{r['candidates_checked_with_suite']} candidates checked instead of "
                  f"{r['candidates_checked_without_suite']}; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(r["dropped_by_the_suite"].items())) + "). "
                  f"{r['suite_databases_built']} suite databases built; the suite adds {r['suite_s']} s of wall time "
                  f"({r['wall_without_suite_s']} s -> {r['wall_with_suite_s']} s), with at least "
                  f"{r['kept_triple_suite_executions']} executions of kept triples "
                  f"({r['suite_executions_per_s']}/s counting build time).", "",
                  "| database | triples without suite | with suite |", "|---|---|---|"]
        if r.get("blobs_missing_from_the_clone"):
            lines[-3:-3] = [f"(The stored partial clone lacks {len(r['blobs_missing_from_the_clone'])} HEAD blobs: "
                            + ", ".join(r["blobs_missing_from_the_clone"]) + ".)", ""]
        lines += [f"| {db} | {a} | {b} |" for db, (a, b) in r["per_database"].items()]
        q = r["questions"]
        lines += ["", f"Template questions with a checker issue: {q['with_an_issue']} of {q['questions']} "
                  f"({q['share_with_an_issue']:.1%}); by issue: {q['by_issue']}.", ""]
    if report.get("baseline_questions"):
        lines += ["## Questions before the rewrite (same checker)", ""]
        for name, q in report["baseline_questions"].items():
            lines.append(f"- {name}: {q['with_an_issue']} of {q['questions']} ({q['share_with_an_issue']:.1%}); "
                         f"by issue {q['by_issue']}")
        lines.append("")
    if report.get("llm"):
        r = report["llm"]
        lines += ["## One-database vote vs suite vote (fake student on 127.0.0.1)", "",
                  f"{r['votes']} votes; the consensus of the one-database vote and of the suite vote differ in "
                  f"{r['vote_disagreement']} ({r['share_disagreeing']:.1%}); ranks {r['ranks']}; questions "
                  f"accepted {r['question_accepted']}, rejected {r['question_rejected']}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", default=str(SHARED / "data/github_repos_sample"))
    parser.add_argument("--folder-repo", default=str(SHARED / "data/git/devrimgunduz+pagila.tar"))
    parser.add_argument("--hard-names", action="store_true", default=True,
                        help="also the generated corpus of hard identifiers (benchmarks/sql_hard_names.py)")
    parser.add_argument("--baseline-tree", help="a checkout of the code before the question rewrite")
    parser.add_argument("--no-llm", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/sql_suites"))
    args = parser.parse_args()
    report = {"date": time.strftime("%Y-%m-%d %H:%M"),
              "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start",
              "suites": {}, "baseline_questions": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = {"shared sample": args.input}
        if args.folder_repo and Path(args.folder_repo).exists():
            inputs["fresh clone of " + Path(args.folder_repo).name.removesuffix(".tar").replace("+", "/")] = \
                str(fresh_clone(Path(args.folder_repo), work))
        if args.hard_names:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            import sql_hard_names
            inputs["hard identifiers (generated)"] = str(sql_hard_names.write(work / "hard-names"))
        for i, (name, source) in enumerate(inputs.items()):
            report["suites"][name] = suite_report(ROOT, source, work, f"in{i}")
            report["suites"][name]["blobs_missing_from_the_clone"] = MISSING.get(source, [])
            print(name, json.dumps({k: v for k, v in report["suites"][name].items() if k != "per_database"}),
                  flush=True)
            if args.baseline_tree:
                run_job(Path(args.baseline_tree), source, work / f"base{i}", "{}\n")
                report["baseline_questions"][name] = question_report(work / f"base{i}")
        if not args.no_llm:
            report["llm"] = llm_report(ROOT, args.input, work)
            print("llm", json.dumps(report["llm"]), flush=True)
    Path(args.out + ".json").write_text(json.dumps(report, indent=2) + "\n")
    Path(args.out + ".md").write_text(markdown(report))
    print(f"wrote {args.out}.md")


if __name__ == "__main__":
    main()
