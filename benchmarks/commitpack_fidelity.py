"""How closely `codecorpus commits` with default settings reproduces CommitPack / CommitPackFT.

A plain-Python port of the original OctoPack scripts (bigcode-project/octopack, as REFERENCE.md
§2 lists them rule by rule), written independently of codecorpus' filter classes, is run over a
dump; the job is run over the same dump; the selected commit sets are compared (Jaccard) and
every disagreement is explained: for a commit only the port keeps, the codecorpus filter that
drops it (or dedup, or a dead letter); for one only the job keeps, the port's rule.

Inputs the port cannot have: contents come from the dump's `contents` table (the original
fetched them with `git fetch --depth 2`, a missing file giving empty contents, as here); the
ft bump draw uses the job's seeded hash (the original's `random.random()` was unseeded, so any
other draw would make the sets differ by chance); lengths in StarCoder tokens are measured as
the job measures them without a tokenizer (characters / 3.5). The repo-level `languages` table
(sql_1's 22 languages) is used when the dump has one.

    python benchmarks/commitpack_fidelity.py --input ../shared/data/github_repos_sample
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_INPUT = REPO.parent / "shared" / "data" / "github_repos_sample"
REFERENCE = Path(os.environ.get("CODECORPUS_SHARED") or REPO.parent / "shared") / "reference"

# --- the original rules, ported -------------------------------------------------------------

LICENCES = {"mit", "artistic-2.0", "isc", "cc0-1.0", "epl-1.0", "mpl-2.0", "unlicense", "apache-2.0",
            "bsd-3-clause", "agpl-3.0", "lgpl-2.1", "bsd-2-clause"}
SQL1_LANGUAGES = {"Python", "Java", "JavaScript", "HTML", "Common Lisp", "Shell", "R", "SQL", "C", "C#", "C++",
                  "TypeScript", "Go", "Rust", "Swift", "PHP", "Dart", "Kotlin", "Matlab", "MATLAB", "Ruby"}  # + Perl%
SQL1_NOT_LIKE = ["update readme.md", "initial commit", "update", "mirroring from micro.blog.", "update data.json",
                 "update data.js", "add files via upload", "update readme", "can't you see i'm updating the time?",
                 "pi push", "dummy", "update index.html", "first commit", "create readme.md", "heartbeat update",
                 "updated readme", "update log", "test", "no message", "readme", "wip", "updates", "first commit",
                 "commit", "update _config.yaml", "update data.json", "update data.js", "merge%"]
SCRAPE_MESSAGES = ["initial commit", "please\n", "please", "lalala"]
LANG_TO_EXTENSIONS_SHELL = ["sh", "bash", "zsh", "csh", "slurm"]
SPECIFIC = ["fix that bug where things didn't work but now they should", "put the thingie in the thingie",
            "add a beter commit message"]


def like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def read_table(folder: Path, table: str) -> list[dict]:
    paths = sorted(glob.glob(str(folder / f"{table}.json*"))) + sorted(glob.glob(str(folder / f"{table}-*.json*")))
    rows = []
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def port_commitpack(folder: Path, rules: dict, languages: dict) -> dict[str, dict]:
    """CommitPack rows by commit sha: sql_1 … sql_5, scrape_github.py, licenses_optout_langs.py,
    misc_scripts.add_lang."""
    licence_of = {}
    for row in read_table(folder, "licenses"):
        licence_of.setdefault(row["repo_name"], row["license"])
    repo_languages = None
    if glob.glob(str(folder / "languages*")):
        repo_languages = {r["repo_name"]: {lang["name"] for lang in r.get("language") or []}
                          for r in read_table(folder, "languages")}
    blobs = {b["id"]: b for b in read_table(folder, "contents")}
    ext_to_lang = {ext: lang for lang, exts in languages.items() for ext in exts}
    suffixes = tuple(ext_to_lang)
    rows_by_commit: dict[str, set] = {}   # sql_2: one row per (commit, licence); repos aggregated
    meta = {}
    for c in read_table(folder, "commits"):
        message = c.get("message")
        if message is None or not 5 < len(message) < 10000:
            continue
        if any(like(message.lower(), p) for p in SQL1_NOT_LIKE):
            continue
        for repo in c["repo_name"]:
            lic = licence_of.get(repo)
            if lic not in LICENCES:   # LIKE 'mit' … is case-sensitive
                continue
            if repo_languages is not None and not any(
                    lang in SQL1_LANGUAGES or lang.startswith("Perl") for lang in repo_languages.get(repo, ())):
                continue
            rows_by_commit.setdefault(c["commit"], set()).add(lic)
            meta.setdefault(c["commit"], {"c": c, "repos": []})["repos"].append(repo)
    out = {}
    for sha, lics in rows_by_commit.items():
        c, repos = meta[sha]["c"], meta[sha]["repos"]
        mods = [d for d in c.get("difference") or []
                if d.get("old_path") is not None and d.get("new_path") is not None and d["old_path"] == d["new_path"]]
        if len(mods) * len(lics) != 1:   # sql_4 + sql_5: HAVING COUNT(*) = 1
            continue
        d = mods[0]
        message = c["message"]
        if not d["new_path"].endswith(suffixes):               # scrape_github.py filter_extension
            continue
        if message == "Update " + d["old_path"] or message in SCRAPE_MESSAGES:
            continue
        if len(set(repos)) == 1 and repos[0].split("/")[0] in rules["optout_owners"]:
            continue
        ext = d["new_path"].split("/")[-1].split(".")[-1]
        if "." in d["new_path"]:
            ext = "." + ext
        old, new = blobs.get(d["old_sha1"]) or {}, blobs.get(d["new_sha1"]) or {}
        out[sha] = {"commit": sha, "old_file": d["old_path"], "new_file": d["new_path"],
                    "old_contents": old.get("content") or "", "new_contents": new.get("content") or "",
                    "subject": c.get("subject") or "", "message": message, "lang": ext_to_lang.get(ext, "unknown"),
                    "license": next(iter(lics)), "repos": ",".join(repos)}
    return out


def clean_issues_and_refs(subject: str) -> str:
    if len(subject) == 0:
        return subject
    subject = subject.strip().replace("[skip ci]", "")
    words = subject.strip().split()
    if words and words[0].startswith("[") and words[0].endswith("]"):
        words = words[1:]
    if words and words[0].endswith(":"):
        words = words[1:]
    if words and words[-1].startswith("[") and words[-1].endswith("]"):
        words = words[:-1]
    return " ".join(words).strip()


def port_ft_reason(row: dict, rules: dict, bump_draw) -> str | None:
    """commitpackft_filters1.py then commitpackft_filters2.py; None = kept."""
    old, new, subject, path = row["old_contents"], row["new_contents"], row["subject"], row["new_file"]
    if not len(old) < 50_000:
        return "old < 50k"
    if len(new) == 0:
        return "empty new"
    if old == new:
        return "old == new"
    if "#" in subject:
        return "# in subject"
    if len(path.split(".")) <= 1 or (row["lang"].lower() == "shell" and path.split(".")[-1] not in LANG_TO_EXTENSIONS_SHELL):
        return "extension"
    base = path.split("/")[-1].split(".")
    if len(base) >= 2 and base[-2] in subject:
        return "file stem in subject"

    def lengths(s):
        return 10 < len(s) < 1000 and 4 < len(s.split()) < 1000

    if not lengths(subject):
        return "length"
    subject = clean_issues_and_refs(subject)
    if not lengths(subject):
        return "length after cleaning"
    if not subject.strip()[0].isupper():
        return "capital"
    if not 50 <= (len(old) + len(new)) / 3.5 <= 768:
        return "token length"
    lower = subject.lower()
    if not lower.startswith(tuple(v + " " for v in rules["imperative_verbs_en"])):
        return "imperative"
    if lower in rules["bad_subjects"] or any(b in lower for b in rules["bad_subject_substrings"]):
        return "bad subject"
    if "cherry picked from commit" in subject or re.search(r"([a-f0-9]{40})", subject):
        return "cherry pick / sha"
    subject = subject.replace("[ci skip]", "").strip()
    if subject.startswith(("Bump", "Set version", "Update version")) and bump_draw(row["commit"]) < 0.9:
        return "bump"
    lower = subject.lower()
    checks = [(" i " in lower or "i've" in lower or "i'm" in lower, "first person"),
              ("thanks to" in lower and "for" in subject, "thanks"), ("code review" in lower, "code review"),
              (lower in SPECIFIC, "specific"),
              (bool(re.search(r"issue\s*\d+", lower, re.I) or re.search(r"bug\s*\d+", lower, re.I)
                    or re.search(r"feature\s*\d+", lower, re.I)), "issue"),
              ("cdpcp" in lower, "cdpcp"), ("//codereview" in lower, "codereview"),
              ("work in progress" in lower or "wip" in lower, "wip"),
              ("https://" in lower or "http://" in lower, "url"), ("| leetcode" in lower, "leetcode"),
              (len(subject.split()) < 4, "words")]
    for failed, name in checks:
        if failed:
            return name
    return None


# --- the job, and why it disagrees ----------------------------------------------------------


def run_job(folder: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "codecorpus.cli", "commits", "--input", str(folder), "--output",
                    str(out), "--overwrite", "--quiet"], check=True, cwd=REPO)


def read_output(out: Path, table: str) -> dict[str, dict]:
    import pyarrow.parquet as pq

    rows = {}
    for path in sorted(glob.glob(str(out / table / "*.parquet"))):
        for row in pq.read_table(path).to_pylist():
            rows[row["commit"]] = row
    return rows


def job_reason(sha: str, folder: Path, cache: dict) -> str:
    """The first codecorpus filter that drops the commit, replayed with the job's own classes."""
    from codecorpus.commits.commitpack import answer_licence_requests, licence_requests  # noqa: F401
    from codecorpus.config import default_config
    from codecorpus.io.records import normalise
    from codecorpus.jobs.commits import filter_chains

    if not cache:
        cache["chains"] = filter_chains(default_config())
        cache["commits"] = {}
        for raw in read_table(folder, "commits"):
            cache["commits"].setdefault(raw["commit"], raw)
        cache["licences"] = {r["repo_name"]: r["license"] for r in read_table(folder, "licenses")}
        cache["blobs"] = {b["id"]: b for b in read_table(folder, "contents")}
    commit_chain, licence_chain, content_chain, _ft = cache["chains"]
    commit = normalise("commits", cache["commits"][sha])
    dropped = commit_chain.first_drop(commit)
    if dropped:
        return "/".join(dropped)
    commit["_licenses"] = [(r, cache["licences"].get(r)) for r in sorted(set(commit["repo_name"]))]
    dropped = licence_chain.first_drop(commit)
    if dropped:
        return "/".join(dropped)
    from codecorpus.commits.filters import single_difference

    d = single_difference(commit)
    old, new = cache["blobs"].get(d["old_sha1"]), cache["blobs"].get(d["new_sha1"])
    if old is None or new is None:
        return "dead letter (missing blob)"
    commit["_old_blob"], commit["_new_blob"] = old, new
    dropped = content_chain.first_drop(commit)
    if dropped:
        return "/".join(dropped)
    return "dedup (exact or near duplicate)"


def imperative_comparison(folder: Path) -> list[str]:
    """The two verb lists on every distinct cleaned, capitalised, long-enough subject of the dump:
    which subjects only one accepts (to be judged by a reader: listed in full)."""
    from codecorpus.commits.ft_filters import SubjectFilter

    original, ours = SubjectFilter(), SubjectFilter(imperative="codecorpus")
    subjects = set()
    for c in read_table(folder, "commits"):
        s = clean_issues_and_refs(c.get("subject") or "")
        if 10 < len(s) < 1000 and 4 < len(s.split()) < 1000 and s[:1].isupper():
            subjects.add(s)
    only_original = sorted(s for s in subjects if original.is_imperative(s) and not ours.is_imperative(s))
    only_ours = sorted(s for s in subjects if ours.is_imperative(s) and not original.is_imperative(s))
    return ["## Imperative rule: the original's 257 verbs vs ours (`ft_subject.imperative`)", "",
            f"{len(subjects)} distinct cleaned subjects that pass the length and capital rules: the original "
            f"accepts {sum(original.is_imperative(s) for s in subjects)}, ours "
            f"{sum(ours.is_imperative(s) for s in subjects)}.", "",
            f"Only the original ({len(only_original)}):", "", *[f"- {s}" for s in only_original], "",
            f"Only ours ({len(only_ours)}):", "", *[f"- {s}" for s in only_ours], ""]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--job-output", type=Path, help="use an existing `codecorpus commits` output")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from codecorpus.commits.ft_filters import seeded_fraction
    from codecorpus.commits.filters import commitpack_rules

    rules = commitpack_rules()
    lang_path = REFERENCE / "commitpack_languages.json"
    if not lang_path.is_file():
        lang_path = REPO / "codecorpus" / "core" / "data" / "commitpack_languages.json"
    languages = json.loads(lang_path.read_text())

    port = port_commitpack(args.input, rules, languages)
    ft_reasons = {sha: port_ft_reason(row, rules, lambda s: seeded_fraction(0, s)) for sha, row in port.items()}
    port_ft = {sha for sha, r in ft_reasons.items() if r is None}

    with tempfile.TemporaryDirectory() as tmp:
        out = args.job_output or Path(tmp) / "job"
        if not args.job_output:
            run_job(args.input, out)
        job_cp, job_ft = read_output(out, "commitpack"), read_output(out, "commitpackft")

    cache: dict = {}
    only_port = Counter(job_reason(sha, args.input, cache) for sha in set(port) - set(job_cp))
    only_job = sorted(set(job_cp) - set(port))
    ft_only_port = Counter(("not in job commitpack: " + job_reason(sha, args.input, cache)) if sha not in job_cp
                           else "job ft filter" for sha in port_ft - set(job_ft))
    ft_only_job = Counter(ft_reasons.get(sha, "not in port commitpack") for sha in set(job_ft) - port_ft)
    same_rows = [sha for sha in set(job_ft) & port_ft]
    subject_differs = sum(job_ft[sha]["subject"] != clean_issues_and_refs(port[sha]["subject"]).replace(
        "[ci skip]", "").strip() for sha in same_rows)
    lang_differs = Counter((port[s]["lang"], job_cp[s]["lang"]) for s in set(port) & set(job_cp)
                           if port[s]["lang"] != job_cp[s]["lang"])

    lines = [
        "# CommitPack / CommitPackFT fidelity on the sample", "",
        f"Input: `{args.input}`; job with default settings (`codecorpus commits --input … --output …`).", "",
        "| set | port of the original | job | both | Jaccard |", "|---|---:|---:|---:|---:|",
        f"| CommitPack | {len(port)} | {len(job_cp)} | {len(set(port) & set(job_cp))} | "
        f"{jaccard(set(port), set(job_cp)):.3f} |",
        f"| CommitPackFT | {len(port_ft)} | {len(job_ft)} | {len(port_ft & set(job_ft))} | "
        f"{jaccard(port_ft, set(job_ft)):.3f} |", "",
        "## CommitPack: kept by the port only, and the codecorpus filter that drops them", "",
        *[f"- {n} × `{reason}`" for reason, n in only_port.most_common()], *(["- none"] if not only_port else []), "",
        "## CommitPack: kept by the job only", "",
        *[f"- `{sha}`" for sha in only_job], *(["- none"] if not only_job else []), "",
        "## CommitPackFT: kept by the port only", "",
        *[f"- {n} × {reason}" for reason, n in ft_only_port.most_common()], *(["- none"] if not ft_only_port else []),
        "", "## CommitPackFT: kept by the job only (the port's reason)", "",
        *[f"- {n} × {reason}" for reason, n in ft_only_job.most_common()], *(["- none"] if not ft_only_job else []),
        "", "## Columns", "",
        f"- `lang` differs on {sum(lang_differs.values())} of {len(set(port) & set(job_cp))} common CommitPack rows"
        + (": " + ", ".join(f"{a} -> {b} ({n})" for (a, b), n in lang_differs.most_common()) if lang_differs else ""),
        f"- stored CommitPackFT `subject` differs from the original's cleaning on {subject_differs} of "
        f"{len(same_rows)} common rows (PII redaction is the only expected cause)", "",
    ]
    lines += imperative_comparison(args.input)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "commitpack_fidelity.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
