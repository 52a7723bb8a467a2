"""Counts per filter and reason on a dump, per repository, next to what REFERENCE.md §2 predicts.

Two sources, cross-checked:

1. the job's own counters: ``manifest.json`` of an existing output (``--manifest-from OUT``), or
   of a fresh in-memory run of ``codecorpus commits`` in a temporary folder (the default);
2. a replay in plain Python of the same decisions, record by record, with the package's own
   pieces (``codecorpus.io.dump.iter_file_events``, ``pipelines.commits.filter_chains``,
   ``transforms.commitpack.assemble`` and ``commitpackft_events``), which gives every count per
   repository and lets the script ask why a commit went where it went.

The replay must reproduce the job's counters exactly; the report says whether it does.
Filters are applied in configuration order and a record is counted under the first filter that
drops it, so the script also counts what each filter would drop *on its own* (on every record
reaching its stage), which is what most REFERENCE statements are about.

    python benchmarks/filter_counts.py --input ../shared/data/github_repos_sample
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_commits import code_version  # noqa: E402
DEFAULT_INPUT = HERE.parent.parent / "shared" / "data" / "github_repos_sample"


# --- the job's counters ----------------------------------------------------------------------


def job_manifest(input_path: str, manifest_from: str | None) -> tuple[dict, str]:
    if manifest_from:
        path = Path(manifest_from)
        path = path if path.name == "manifest.json" else path / "manifest.json"
        return json.loads(path.read_text()), f"read from `{path}`"
    workdir = Path(tempfile.mkdtemp(prefix="filter_counts_"))
    try:
        cmd = [sys.executable, "-m", "codecorpus.cli", "commits", "--input", input_path,
               "--output", str(workdir / "out"), "--quiet"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        manifest_path = workdir / "out" / "manifest.json"
        if not manifest_path.exists():
            raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return (json.loads(manifest_path.read_text()),
                "from a fresh run: `python -m codecorpus.cli commits --input INPUT --output TMP`"
                f" (exit code {done.returncode})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the replay ------------------------------------------------------------------------------


def _records(input_path: str, table: str) -> list:
    from codecorpus.io import dump

    events = []
    for path in dump.table_files(input_path, table):
        events += list(dump.iter_file_events(path, table))
    return events


def replay(input_path: str, config: dict) -> dict:
    """Every commit's fate, decided as the job decides it, plus what each filter would do alone."""
    from codecorpus.commits.filters import single_difference
    from codecorpus.jobs.commits import filter_chains
    from codecorpus.commits import commitpack as cp
    from codecorpus.core.routing import Count, DeadLetter, Drop

    commit_chain, licence_chain, content_chain, ft_chain = filter_chains(config)
    counters: Counter = Counter()
    per_repo: dict[str, Counter] = defaultdict(Counter)
    fate: dict[str, str] = {}  # sha -> counter name, "kept_commitpack" or "kept_commitpackft"
    alone: Counter = Counter()  # "filter/reason" -> records it would drop on its own
    alone_repo: dict[str, Counter] = defaultdict(Counter)

    commits = []
    for e in _records(input_path, "commits"):
        if isinstance(e, Count):
            counters[e.counter] += e.value
        elif isinstance(e, DeadLetter):
            counters[f"dead_letter/commits/{e.row['stage']}"] += 1
        else:
            commits.append(e)

    def repo_of(commit: dict) -> str:
        return ",".join(sorted(set(commit["repo_name"]))) or "(none)"

    def count(name: str, commit: dict):
        counters[name] += 1
        per_repo[repo_of(commit)][name] += 1

    # Commit-level filters.
    candidates = []
    single_file = next((f for f in commit_chain.filters if f.name == "single_file"), None)
    for c in commits:
        is_single = single_file is None or single_file.drop_reason(c) is None
        for f in commit_chain.filters:
            if f.name == "lang" and not is_single:
                continue  # a language needs the one file; "alone" for lang means on single-file commits
            reason = f.drop_reason(c)
            if reason:
                alone[f"filter/{f.name}/{reason}"] += 1
                alone_repo[repo_of(c)][f"filter/{f.name}/{reason}"] += 1
        dropped = commit_chain.first_drop(c)
        if dropped:
            name = f"filter/{dropped[0]}/{dropped[1]}"
            count(name, c)
            fate[c["commit"]] = name
        else:
            candidates.append(c)

    # Licences: the job's request/answer join, as plain dictionaries.
    licences_by_repo: dict[str, set] = defaultdict(set)
    for e in _records(input_path, "licenses"):
        if isinstance(e, dict):
            licences_by_repo[e["repo_name"]].add(e["license"])

    def licence_of(repo: str):
        found = sorted(lic for lic in licences_by_repo.get(repo, ()) if lic is not None)
        return found[0] if found else None

    # Blobs: only those the candidates ask for; prefer a copy with text, as the job does.
    wanted = set()
    for c in candidates:
        d = single_difference(c)
        wanted.update((d["old_sha1"], d["new_sha1"]))
    blobs: dict[str, dict] = {}
    contents_read = 0
    for e in _records(input_path, "contents"):
        if isinstance(e, dict):
            contents_read += 1
            if e["id"] in wanted and (e["id"] not in blobs or blobs[e["id"]].get("content") is None):
                blobs[e["id"]] = e

    # The licence filter alone, on every commit (it needs only the repositories).
    for c in commits:
        probe = dict(c, _licenses=[(repo, licence_of(repo)) for repo in sorted(set(c["repo_name"]))])
        for f in licence_chain.filters:
            reason = f.drop_reason(probe)
            if reason:
                alone[f"filter/{f.name}/{reason}"] += 1
                alone_repo[repo_of(c)][f"filter/{f.name}/{reason}"] += 1

    by_sha: dict[str, list] = defaultdict(list)
    for c in candidates:
        by_sha[c["commit"]].append(c)
    commitpack_rows = []
    for sha, group in by_sha.items():
        repos = sorted({r for c in group for r in c["repo_name"]})
        d = single_difference(group[0])
        element = (sha, {
            "commit": group,
            "licence": [(repo, licence_of(repo)) for repo in repos],
            "blob": [(side, blob_id, blobs.get(blob_id)) for side, blob_id in
                     (("old", d["old_sha1"]), ("new", d["new_sha1"])) if blob_id in blobs],
        })
        try:
            events = list(cp.assemble(element, licence_chain, content_chain))
        except Exception as e:  # noqa: BLE001 - the job dead-letters these too
            events = [DeadLetter({"stage": "join_contents", "table": "commits", "error": repr(e)})]
        for event in events:
            if isinstance(event, Count):
                continue  # where the blobs came from (contents/from_dump): not a fate
            if isinstance(event, Drop):
                count(event.counter, group[0])
                fate.setdefault(sha, event.counter)
            elif isinstance(event, DeadLetter):
                name = f"dead_letter/{event.row['table']}/{event.row['stage']}"
                count(name, group[0])
                fate[sha] = name
            else:
                commitpack_rows.append(event)
                fate[sha] = "kept_commitpack"
                per_repo[repo_of(group[0])]["table/commitpack"] += 1
                counters["table/commitpack"] += 1

    # CommitPackFT filters on commitpack rows.
    for row in commitpack_rows:
        repo = row["repos"]
        for f in ft_chain.filters:
            reason = f.drop_reason(row)
            if reason:
                alone[f"filter/{f.name}/{reason}"] += 1
                alone_repo[repo][f"filter/{f.name}/{reason}"] += 1
        events = list(cp.commitpackft_events(row, ft_chain))
        for event in events:
            if isinstance(event, Drop):
                counters[event.counter] += 1
                per_repo[repo][event.counter] += 1
                fate[row["commit"]] = event.counter
            else:
                counters["table/commitpackft"] += 1
                per_repo[repo]["table/commitpackft"] += 1
                fate[row["commit"]] = "kept_commitpackft"

    return {"counters": counters, "per_repo": per_repo, "fate": fate, "alone": alone, "alone_repo": alone_repo,
            "commits": commits, "commitpack_rows": commitpack_rows, "blobs_wanted": len(wanted),
            "contents_read": contents_read, "ft_chain": ft_chain}


# --- predictions -----------------------------------------------------------------------------


def share(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f} %)" if b else f"{a}/0"


def predictions(r: dict, config: dict) -> list[dict]:
    """Each REFERENCE §2 statement, the numbers that test it on this dump, and a verdict."""
    from codecorpus.commits.ft_filters import BUMP_PREFIXES, clean_subject

    commits, fate, rows = r["commits"], r["fate"], r["commitpack_rows"]
    repo = {c["commit"]: ",".join(sorted(set(c["repo_name"]))) for c in commits}
    out = []

    def add(statement, evidence, holds, note=""):
        """``holds``: True, False, or a string verdict such as "partly"."""
        verdict = holds if isinstance(holds, str) else ("yes" if holds else "**no**")
        out.append({"statement": statement, "evidence": evidence, "verdict": verdict, "note": note})

    # 1. Licence allow-list.
    allow = set(config["commits"]["filters"]["licence"]["allow"])
    not_allowed_repos = sorted(rp for rp in r["per_repo"] if r["per_repo"][rp]["filter/licence/licence_not_allowed"])
    htop = [c["commit"] for c in commits if "htop-dev/htop" in c["repo_name"]]
    htop_fates = Counter(fate.get(s) for s in htop)
    htop_reaching = sum(v for k, v in htop_fates.items() if not k.startswith(("filter/single_file", "filter/message",
                                                                              "filter/lang")))
    htop_licence = htop_fates["filter/licence/licence_not_allowed"]
    htop_kept = htop_fates["kept_commitpack"] + htop_fates["kept_commitpackft"] + sum(
        v for k, v in htop_fates.items() if k.startswith("filter/ft_"))
    add("Licence allow-list (gpl-2.0 is not on it): htop-dev/htop's commits are all dropped by `licence`; "
        "no other repository loses commits to it.",
        f"htop commits: {len(htop)}; reaching the licence filter (after single_file, message, lang): "
        f"{htop_reaching}; dropped by licence: {htop_licence}; htop rows in commitpack: {htop_kept}. "
        f"Repositories with licence drops: {', '.join(not_allowed_repos) or 'none'}. "
        f"On its own (on every commit) the licence filter drops "
        f"{r['alone_repo']['htop-dev/htop']['filter/licence/licence_not_allowed']} of the {len(htop)} htop commits and "
        f"{r['alone']['filter/licence/licence_not_allowed'] - r['alone_repo']['htop-dev/htop']['filter/licence/licence_not_allowed']}"
        " of the others.",
        htop_kept == 0 and htop_licence == htop_reaching and not_allowed_repos == ["htop-dev/htop"],
        f"Holds for every htop commit that reaches the licence stage; the other {len(htop) - htop_reaching} htop "
        "commits are counted under an earlier filter (first drop wins), so the `licence` counter is "
        f"{htop_licence}, not {len(htop)}. Allowed licences in this dump: "
        f"{', '.join(sorted(allow & {'apache-2.0', 'bsd-3-clause', 'mit'}))}.")

    # 2. Merges.
    merges = [c for c in commits if len(c["parent"]) > 1]
    merge_fates = Counter(fate.get(c["commit"]) for c in merges)
    merge_msg = [c for c in merges if (c.get("message") or "").strip().lower().startswith("merge")]
    merge_msg_fates = Counter(fate.get(c["commit"]) for c in merge_msg)
    kept_merges = [c for c in merges if fate.get(c["commit"], "").startswith(("kept", "filter/ft_"))]
    prefix_total = r["counters"]["filter/message/excluded_prefix"]
    prefix_merges = merge_fates["filter/message/excluded_prefix"]
    by_single = sum(v for k, v in merge_fates.items() if k and k.startswith("filter/single_file"))
    merge_rule_holds = not any((c.get("message") or "").strip().lower().startswith("merge") for c in commits
                               if fate.get(c["commit"], "").startswith(("kept", "filter/ft_")))
    add("Merges are dropped by `message` (messages starting with \"merge\": excluded_prefix).",
        f"merge commits (2+ parents): {len(merges)}; their fates: single_file {by_single}, "
        f"message/excluded_prefix {prefix_merges}, other message {sum(v for k, v in merge_fates.items() if k and k.startswith('filter/message') and k != 'filter/message/excluded_prefix')}, "
        f"lang {sum(v for k, v in merge_fates.items() if k and k.startswith('filter/lang'))}, "
        f"licence {merge_fates['filter/licence/licence_not_allowed']}, in commitpack {len(kept_merges)}. "
        f"Merges whose message starts with \"merge\": {len(merge_msg)}, of which "
        f"{merge_msg_fates['filter/message/excluded_prefix']} counted under message/excluded_prefix and "
        f"{sum(v for k, v in merge_msg_fates.items() if k and k.startswith('filter/single_file'))} under single_file. "
        f"excluded_prefix total {prefix_total}, of which merge commits {prefix_merges}.",
        ("partly" if merge_rule_holds and kept_merges else merge_rule_holds),
        "The rule holds: no kept row has a \"merge…\" message. But most merges are counted under "
        "`single_file` (their diff against the first parent touches several files), and merge commits "
        f"whose message does not start with \"merge\" pass: {len(kept_merges)} merge commit(s) are in commitpack"
        + (f" (e.g. {', '.join(repr((c.get('subject') or '')[:60]) for c in kept_merges[:3])})" if kept_merges else "")
        + ". The reference filters on the message only, so this matches it; it is a property of the rule.")

    # 3. Multi-file commits.
    multi = [c for c in commits if len(c.get("difference") or []) > 1]
    multi_fates = Counter(fate.get(c["commit"]) for c in multi)
    add("Single-file commits only: multi-file commits are dropped by `single_file`.",
        f"commits with 2+ `difference` entries: {len(multi)}; counted under single_file/multiple_files: "
        f"{multi_fates['filter/single_file/multiple_files']}; counter total "
        f"{r['counters']['filter/single_file/multiple_files']}.",
        multi_fates["filter/single_file/multiple_files"] == len(multi)
        == r["counters"]["filter/single_file/multiple_files"])

    adds = sum(1 for c in commits if len(c.get("difference") or []) == 1 and c["difference"][0]["old_path"] is None)
    dels = sum(1 for c in commits if len(c.get("difference") or []) == 1 and c["difference"][0]["new_path"] is None)
    add("Pure additions and deletions are dropped (`single_file` added_file / deleted_file).",
        f"single-entry commits adding a file: {adds}, counted added_file: {r['counters']['filter/single_file/added_file']}; "
        f"deleting one: {dels}, counted deleted_file: {r['counters']['filter/single_file/deleted_file']}; "
        f"commits with no `difference` at all: {r['counters']['filter/single_file/no_files']} (no_files).",
        adds == r["counters"]["filter/single_file/added_file"] and dels == r["counters"]["filter/single_file/deleted_file"])

    # 4. "(#123)" subjects.
    pr_re = re.compile(r"\(#\d+\)")
    pr_rows = [row for row in rows if pr_re.search(row["subject"] or "")]
    pr_fates = Counter(fate.get(row["commit"]) for row in pr_rows)
    others = ", ".join(f"{k.split('/')[-1]} {v}" for k, v in sorted(pr_fates.items()) if k != "filter/ft_subject/has_hash")
    add("Subjects with a `#` (GitHub squash-merge \"(#123)\" PR numbers) are dropped by `ft_subject`/has_hash.",
        f"commitpack rows with \"(#N)\" in the subject: {len(pr_rows)}; has_hash: {pr_fates['filter/ft_subject/has_hash']}; "
        f"earlier ft_subject reasons: {others or 'none'}; "
        f"kept in commitpackft: {pr_fates['kept_commitpackft']}. has_hash total: {r['counters']['filter/ft_subject/has_hash']} "
        f"of {len(rows)} commitpack rows ({100 * r['counters']['filter/ft_subject/has_hash'] / max(1, len(rows)):.0f} %).",
        pr_fates["kept_commitpackft"] == 0 and pr_fates["filter/ft_subject/has_hash"] >= 0.9 * len(pr_rows),
        "The rest are counted under a reason checked before `#` (excluded_substring: \"https://\", "
        "\"issue 12\"…; excluded_subject).")

    # 5. Bump subjects.
    bump_all = [c for c in commits if clean_subject(c.get("subject")).lower().startswith(BUMP_PREFIXES)]
    bump_rows = [row for row in rows if clean_subject(row["subject"]).lower().startswith(BUMP_PREFIXES)]
    bump_fates = Counter(fate.get(row["commit"]) for row in bump_rows)
    reaching = [row for row in bump_rows if not fate.get(row["commit"], "").startswith("filter/ft_subject")]
    dropped_bump = bump_fates["filter/ft_bump/version_bump"]
    rate = config["commits"]["ft_filters"]["ft_bump"]["rate"]
    alone_bump = r["alone"]["filter/ft_bump/version_bump"]
    add(f"{rate:.0%} of subjects starting with \"Bump\", \"Set version\", \"Update version\" are dropped by "
        "`ft_bump` (seeded).",
        f"such subjects: {len(bump_all)} commits, {len(bump_rows)} commitpack rows; of the rows, "
        f"ft_subject drops {sum(v for k, v in bump_fates.items() if k and k.startswith('filter/ft_subject'))} first "
        f"(has_hash {bump_fates['filter/ft_subject/has_hash']}); ft_bump sees {len(reaching)} and drops "
        f"{share(dropped_bump, len(reaching))}; kept in commitpackft: {bump_fates['kept_commitpackft']}. "
        f"On its own ft_bump would drop {share(alone_bump, len(bump_rows))} of the bump rows.",
        ("yes (rate); the counter shows "
         f"{share(dropped_bump, len(bump_rows))} of the bump rows"
         if abs(alone_bump / max(1, len(bump_rows)) - rate) <= 0.1
         and (not reaching or abs(dropped_bump / len(reaching) - rate) <= 0.15) else False),
        "The seeded rate holds both on its own and for the rows ft_bump sees, but the `ft_bump` counter is "
        "only part of the story: dependabot subjects ending in \"(#N)\" are counted under ft_subject/has_hash "
        "first, and others under word_count/contains_file_stem.")

    # 5b. Language from the extension.
    from codecorpus.commits.filters import single_difference
    from codecorpus.core.languages import UNKNOWN, language_of

    unknown_names = Counter()
    for c in commits:
        if fate.get(c["commit"]) == "filter/lang/unknown_language":
            d = single_difference(c)
            unknown_names[(d["new_path"] or "").rsplit("/", 1)[-1]] += 1
    add("Language from the file extension; files of no known language are dropped (`lang`).",
        f"unknown_language {r['counters']['filter/lang/unknown_language']}; most common file names: "
        + ", ".join(f"`{n}` {v}" for n, v in unknown_names.most_common(8)) + ".",
        all(language_of(n) == UNKNOWN for n in unknown_names),
        "Mostly build and template files (autoconf `configure.ac`, `*.in`, T4 `*.tt`/`*.ttinclude`). "
        "Whether CommitPack kept such files depends on its extension list, which REFERENCE §2 does not give.")

    # 6. Message rules.
    add("Messages of <= 5 or >= 10,000 characters, or equal to boilerplate (\"update\", \"initial commit\", …), "
        "are dropped (`message`).",
        f"too_short {r['counters']['filter/message/too_short']}, too_long {r['counters']['filter/message/too_long']}, "
        f"excluded_message {r['counters']['filter/message/excluded_message']} (after single_file); on their own: "
        f"too_short {r['alone']['filter/message/too_short']}, excluded_message {r['alone']['filter/message/excluded_message']}, "
        f"excluded_prefix {r['alone']['filter/message/excluded_prefix']}.",
        True, "Counts are small on curated projects; nothing to contradict.")

    # 7. Contents.
    add("Contents before and after come from joining `old_sha1`/`new_sha1` to `contents.id` "
        "(codecorpus adds `binary` and `size` filters, not in §2).",
        f"binary {r['counters']['filter/binary/binary_content']}, size too_large {r['counters']['filter/size/too_large']}, "
        f"content_unavailable {r['counters']['filter/size/content_unavailable']}; dead letters (blob missing from "
        f"contents): {r['counters']['dead_letter/commits/join_contents']}. Blobs read: {r['contents_read']:,}; "
        f"blobs the candidates need: {r['blobs_wanted']:,}.",
        "yes" if not r["counters"]["dead_letter/commits/join_contents"] else
        f"yes, except {r['counters']['dead_letter/commits/join_contents']} commit(s) whose blob is not in the dump",
        "A commit whose blob is missing from `contents` is dead-lettered (`join_contents`), not dropped; on the "
        "sample these are pagila commits of `pagila-insert-data.sql` whose before/after blobs the export lacks.")

    # 8. ft_length.
    lengths = r["alone"]
    add("CommitPackFT keeps old contents < 50,000 characters and old + new within 50..768 tokens "
        "(characters / 3.5 without a tokenizer).",
        f"first-drop counts: old_too_long {r['counters']['filter/ft_length/old_too_long']}, too_long "
        f"{r['counters']['filter/ft_length/too_long']}, too_short {r['counters']['filter/ft_length/too_short']}; "
        f"on its own over all {len(rows)} commitpack rows ft_length would drop: old_too_long "
        f"{lengths['filter/ft_length/old_too_long']}, too_long {lengths['filter/ft_length/too_long']}, too_short "
        f"{lengths['filter/ft_length/too_short']}, new_empty {lengths['filter/ft_length/new_empty']}, unchanged "
        f"{lengths['filter/ft_length/unchanged']}.",
        True, "The 768-token bound alone removes most rows of these repositories (whole files, not snippets); "
        "it looks minor in the first-drop counters only because ft_subject runs first.")
    return out


# --- report ----------------------------------------------------------------------------------


def markdown(manifest: dict, source: str, r: dict, preds: list, input_path: str) -> str:
    counters = manifest["counters"]
    names = sorted(k for k in set(counters) | set(r["counters"]) if k.startswith(("filter/", "dead_letter/")))
    repos = sorted(r["per_repo"], key=lambda rp: -sum(1 for c in r["commits"] if ",".join(sorted(set(c["repo_name"]))) == rp))
    commits_per_repo = Counter(",".join(sorted(set(c["repo_name"]))) for c in r["commits"])
    mismatches = [n for n in names if counters.get(n, 0) != r["counters"].get(n, 0)]
    for table in ("commitpack", "commitpackft"):
        if manifest["tables"][table]["rows"] != r["counters"][f"table/{table}"]:
            mismatches.append(f"table/{table}")
    short = {rp: rp.split("/")[-1] for rp in repos}
    lines = [
        "# `codecorpus commits`: counts per filter on the shared sample",
        "",
        f"Generated by `benchmarks/filter_counts.py` on {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} (code {code_version()}). "
        f"Input: `{input_path}`. Job counters {source}.",
        "",
        f"Commits read: {counters.get('read/commits', 0):,}; commitpack rows: {manifest['tables']['commitpack']['rows']:,}; "
        f"commitpackft rows: {manifest['tables']['commitpackft']['rows']:,}. Filters run in configuration order "
        "(single_file, message, lang | licence | binary, size | ft_subject, ft_bump, ft_length) and a record is "
        "counted under the first that drops it.",
        "",
        ("The Python replay reproduces every job counter and table size exactly."
         if not mismatches else f"**The replay differs from the job on: {', '.join(mismatches)}.**"),
        "",
        "## First-drop counts (the job's counters), per repository (replay)",
        "",
        "| counter | job | replay | " + " | ".join(short[rp] for rp in repos) + " |",
        "|---|---:|---:|" + "---:|" * len(repos),
        "| commits read | " + f"{counters.get('read/commits', 0):,} | {len(r['commits']):,} | "
        + " | ".join(f"{commits_per_repo[rp]:,}" for rp in repos) + " |",
    ]
    for n in names:
        lines.append(f"| `{n}` | {counters.get(n, 0):,} | {r['counters'].get(n, 0):,} | "
                     + " | ".join(f"{r['per_repo'][rp].get(n, 0):,}" or "" for rp in repos) + " |")
    for table in ("commitpack", "commitpackft"):
        lines.append(f"| **{table} rows** | {manifest['tables'][table]['rows']:,} | {r['counters'][f'table/{table}']:,} | "
                     + " | ".join(f"{r['per_repo'][rp].get(f'table/{table}', 0):,}" for rp in repos) + " |")
    lines += [
        "",
        "## What each filter would drop on its own",
        "",
        "Each filter applied alone (commit filters and licence: every commit read, except `lang`: every "
        "commit that passes `single_file`, as a language needs the one file; ft filters: every commitpack "
        "row). A record can appear in several rows.",
        "",
        "| filter/reason | alone | first-drop | " + " | ".join(short[rp] for rp in repos) + " |",
        "|---|---:|---:|" + "---:|" * len(repos),
    ]
    for n in sorted(r["alone"]):
        lines.append(f"| `{n}` | {r['alone'][n]:,} | {counters.get(n, 0):,} | "
                     + " | ".join(f"{r['alone_repo'][rp].get(n, 0):,}" for rp in repos) + " |")
    lines += ["", "## REFERENCE §2 predictions against the numbers", "",
              "| # | prediction (REFERENCE §2) | numbers on this dump | holds? |", "|---|---|---|---|"]
    for i, p in enumerate(preds, 1):
        note = f" {p['note']}" if p["note"] else ""
        lines.append(f"| {i} | {p['statement']} | {p['evidence']} | {p['verdict']}.{note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="dump folder (default: the shared sample)")
    parser.add_argument("--manifest-from", metavar="OUT",
                        help="read the counters of an existing `codecorpus commits` output instead of running it")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for filter_counts.md")
    args = parser.parse_args(argv)

    from codecorpus.config import load_config

    input_path = str(Path(args.input).resolve())
    config = load_config(None, [])
    manifest, source = job_manifest(input_path, args.manifest_from)
    r = replay(input_path, config)
    preds = predictions(r, config)
    text = markdown(manifest, source, r, preds, args.input)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "filter_counts.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
