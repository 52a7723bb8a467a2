"""From a commit record to CommitPack rows, CommitPackFT rows and instruction examples.

The join that gives each single-file commit its licence and its before/after contents is two
keyed request/answer joins and one final CoGroupByKey, so no worker ever holds a whole table:

0. a semi-join first (``KeepRequestedBlobs``): ``contents`` is read once, and only the blobs some
   commit that passed the commit-level filters names go on (on the shared sample 22 % of them);
   the others never reach a shuffle;
1. ``(repo, commit)`` requests meet ``licenses`` on repo -> ``(commit, (repo, licence))``;
2. ``(blob sha, (commit, side))`` requests meet ``contents`` on blob id -> ``(commit, (side, blob))``;
3. commit, licence answers and blob answers meet on the commit sha -> ``assemble``.

Blobs cross these shuffles with their ``content`` zstd-compressed (``core.blobs``, packed as
they are keyed for the lookup) and are decompressed in ``assemble``, the first step that reads
the text; a commit passed on to ``commits.fetch`` keeps the blobs it has packed.

Only commits that passed the commit-level filters send requests, so only their blobs are
shuffled with their commit.
"""

from __future__ import annotations

import functools
import json
import posixpath
import zlib
from collections import Counter
from typing import Iterable, Optional

import apache_beam as beam

from codecorpus.core import blobs as packing
from codecorpus.core.filters import FilterChain, counter_name
from codecorpus.commits.filters import LanguageFilter, SingleFileFilter, allowed_license, single_difference
from codecorpus.commits.ft_filters import clean_subject, seeded_fraction
from codecorpus.core.languages import commitpack_table
from codecorpus.core.routing import Count, Drop, dead_letter

LANG_FIELD = "_lang"
ROW_TEXT = ("old_contents", "new_contents")   # a commitpack row's, through dedup's shuffle
KEPT_WITH_OTHER_CHANGES = "single_file/kept_with_other_changes"


# --- commit-level filters --------------------------------------------------------------------


def commit_filter_events(commit: dict, chain: FilterChain):
    """A commit through the commit-level filters: a ``Drop``, or the commit with its ``lang``
    (``_lang``, from the lang filter's table, CommitPack's when the filter is off) and, for a
    kept commit that also adds, deletes or renames files, a ``Count`` of it."""
    dropped = chain.first_drop(commit)
    if dropped:
        return [Drop(counter_name(*dropped))]
    lang_filter = next((f for f in chain.filters if isinstance(f, LanguageFilter)), None)
    d = single_difference(commit)
    path = d["new_path"] if d else None
    lang = lang_filter.table.language_of(path) if lang_filter else _default_table().language_of(path)
    events = [{**commit, LANG_FIELD: lang}]
    if any(isinstance(f, SingleFileFilter) for f in chain.filters) and SingleFileFilter.has_other_changes(commit):
        events.append(Count(KEPT_WITH_OTHER_CHANGES))
    return events


@functools.lru_cache(maxsize=1)
def _default_table():
    return commitpack_table()  # loaded once per process, on first use

# --- the join, as pure functions -------------------------------------------------------------


def licence_requests(commit: dict) -> list[tuple[str, str]]:
    return [(repo, commit["commit"]) for repo in sorted(set(commit["repo_name"]))]


def pick_licence(licences: Iterable[Optional[str]]) -> Optional[str]:
    found = sorted({lic for lic in licences if lic is not None})
    return found[0] if found else None


def blob_requests(commit: dict) -> list[tuple[str, tuple[str, str]]]:
    d = single_difference(commit)
    return [(d["old_sha1"], (commit["commit"], "old")), (d["new_sha1"], (commit["commit"], "new"))]


# --- the semi-join (core.semijoin): only the blobs some candidate commit names reach the join ---


def requested_blob_ids(commit: dict) -> list:
    """The blob ids a candidate commit will request (``blob_requests``)."""
    return [blob_id for blob_id, _request in blob_requests(commit)]


# A key requested by very many commits (a licence: every commit of its repository; a blob: a
# vendored file or an empty __init__.py shared by thousands of commits) must not put all its
# requests in one group: CoGroupByKey hands a worker each group as a list. So requests carry a
# salt (a hash of the requesting commit, FANOUT values), the looked-up value is copied to each
# salt its key is requested with, and the join is on (key, salt): a group holds about
# 1/FANOUT of a hot key's requests. A key requested once is copied once, so the extra shuffle
# is at most one copy of the value per request, which the answers carry anyway.
FANOUT = 256


def salt_of(commit_sha: str, fanout: int) -> int:
    return zlib.crc32(commit_sha.encode("utf-8")) % fanout


class _Salts(beam.CombineFn):
    """The set of salts a key is requested with (at most ``fanout`` integers)."""

    def create_accumulator(self):
        return set()

    def add_input(self, acc, salt):
        acc.add(salt)
        return acc

    def merge_accumulators(self, accs):
        return set().union(*accs)

    def extract_output(self, acc):
        return sorted(acc)


def _copy_to_salts(element, pick):
    key, grouped = element
    value = pick(grouped["value"])
    for salts in grouped["salts"]:
        for salt in salts:
            yield (key, salt), value


def _answer(element):
    (key, _salt), grouped = element
    values = grouped["value"]
    value = values[0] if values else None
    for commit_sha, payload in grouped["request"]:
        yield commit_sha, (key, payload, value)


class SaltedLookup(beam.PTransform):
    """``(key, (commit sha, payload))`` requests x ``(key, value)`` table ->
    ``(commit sha, (key, payload, picked value or None))``, one answer per request, with no
    group larger than about ``1/fanout`` of one key's requests (see ``FANOUT``)."""

    def __init__(self, table, pick, fanout: int = FANOUT):
        super().__init__()
        self.table = table
        self.pick = pick
        self.fanout = fanout

    def expand(self, requests):
        fanout = self.fanout
        salted = requests | "Salt" >> beam.MapTuple(lambda key, req: ((key, salt_of(req[0], fanout)), req))
        salts = (salted | "SaltOfRequest" >> beam.MapTuple(lambda key_salt, _req: key_salt)
                 | "SaltsPerKey" >> beam.CombinePerKey(_Salts()))
        copies = ({"value": self.table, "salts": salts}
                  | "JoinValuesWithSalts" >> beam.CoGroupByKey()
                  | "CopyToSalts" >> beam.FlatMap(_copy_to_salts, self.pick))
        return ({"request": salted, "value": copies}
                | "JoinRequestsOnKeyAndSalt" >> beam.CoGroupByKey()
                | "Answer" >> beam.FlatMap(_answer))


class JoinLicencesAndContents(beam.PTransform):
    """commits -> ``(sha, {"commit": [...], "licence": [(repo, licence)], "blob": [(side, id, blob)]})``."""

    def __init__(self, licenses, contents, fanout: int = FANOUT):
        super().__init__()
        self.licenses = licenses
        self.contents = contents
        self.fanout = fanout

    def expand(self, commits):
        licence_answers = (
            commits | "RequestLicences" >> beam.FlatMap(lambda c: [(r, (s, None)) for r, s in licence_requests(c)])
            | "LookUpLicences" >> SaltedLookup(
                self.licenses | "KeyLicenceByRepo" >> beam.Map(lambda r: (r["repo_name"], r["license"])),
                pick_licence, self.fanout)
            | "LicenceAnswers" >> beam.MapTuple(lambda sha, answer: (sha, (answer[0], answer[2]))))
        blob_answers = (
            commits | "RequestBlobs" >> beam.FlatMap(blob_requests)
            | "LookUpBlobs" >> SaltedLookup(
                self.contents | "KeyBlobById" >> beam.Map(packing.keyed_blob), packing.pick_blob, self.fanout)
            | "BlobAnswers" >> beam.MapTuple(lambda sha, answer: (sha, (answer[1], answer[0], answer[2]))))
        return (
            {"commit": commits | "KeyCommitBySha" >> beam.Map(lambda c: (c["commit"], c)),
             "licence": licence_answers, "blob": blob_answers}
            | "JoinOnCommitSha" >> beam.CoGroupByKey())


# --- assembling a joined commit into a CommitPack row ----------------------------------------


def _public(commit: dict) -> dict:
    return {k: v for k, v in commit.items() if not k.startswith("_")}


def assemble(element, licence_chain: FilterChain, content_chain: FilterChain, fetch_missing: bool = False):
    """Events for one commit sha: a commitpack row, drops, or dead letters; with
    ``fetch_missing``, a commit whose blobs are not all in ``contents`` is passed on, marked
    ``_fetch`` (side -> blob id), for ``commits.fetch`` to complete with ``finish``."""
    sha, grouped = element
    commits = sorted(grouped["commit"], key=lambda c: json.dumps(_public(c), sort_keys=True))
    if not commits:
        return  # answers for a commit that was never requested cannot happen; nothing to place
    commit = dict(commits[0])
    for _duplicate in commits[1:]:
        # The same commit listed twice (forks, overlapping exports): one row, all its repos.
        yield Drop(counter_name("duplicate_commit", "same_sha"))
    commit["repo_name"] = sorted({r for c in commits for r in c["repo_name"]})
    commit["_licenses"] = sorted(set(grouped["licence"]), key=lambda p: (p[0], p[1] or ""))

    dropped = licence_chain.first_drop(commit)
    if dropped:
        yield Drop(counter_name(*dropped))
        return

    blobs = {side: (blob_id, blob) for side, blob_id, blob in grouped["blob"]}
    missing = {side: blobs[side][0] for side in ("old", "new") if blobs.get(side, (None, None))[1] is None}
    if missing and fetch_missing and all(missing.values()):
        commit["_fetch"] = missing  # the blobs it has go on packed, across the fetch's join
        commit["_found"] = {side: blob for side, (_id, blob) in blobs.items() if blob is not None}
        yield commit
        return
    blobs = {side: (blob_id, None if blob is None else packing.unpack(blob, packing.BLOB_TEXT))
             for side, (blob_id, blob) in blobs.items()}
    cached = any(blob.get("_cached") for _id, blob in blobs.values() if blob is not None)
    yield from finish(commit, blobs, licence_chain, content_chain,
                      "contents/from_cache" if cached else "contents/from_dump")


def finish(commit: dict, blobs: dict, licence_chain: FilterChain, content_chain: FilterChain, where_from: str):
    """The blob checks and content filters of a joined commit (``blobs``: side -> (id, blob or
    None)), then its commitpack row, counted under ``where_from`` (``contents/from_dump`` …)."""
    sha = commit["commit"]
    source = commit.get("_source", "")
    commit = {k: v for k, v in commit.items() if k not in ("_fetch", "_found")}
    for side in ("old", "new"):
        blob_id, blob = blobs.get(side, (None, None))
        if blob is None:
            yield dead_letter("join_contents", "commits", sha, f"missing blob: {side}_sha1 {blob_id} "
                              "not in contents", _public(commit), source)
            return
        if blob.get("undecodable") and not blob.get("binary"):
            yield dead_letter("join_contents", "commits", sha, f"undecodable content: {side} blob "
                              f"{blob_id} is not valid UTF-8", _public(commit), source)
            return
        commit[f"_{side}_blob"] = blob

    dropped = content_chain.first_drop(commit)
    if dropped:
        yield Drop(counter_name(*dropped))
        return

    yield Count(where_from)
    yield commitpack_row(commit, licence_chain)


def commitpack_row(commit: dict, licence_chain: FilterChain) -> dict:
    d = single_difference(commit)
    licence_filter = next((f for f in licence_chain.filters if f.name == "licence"), None)
    if licence_filter is not None:
        licence = allowed_license(commit["_licenses"], licence_filter.allow)
    else:  # licence filter disabled: report whatever licence the repositories have
        licence = next((lic for _repo, lic in commit["_licenses"] if lic), None)
    return {
        "commit": commit["commit"],
        "old_file": d["old_path"],
        "new_file": d["new_path"],
        "old_contents": commit["_old_blob"]["content"],
        "new_contents": commit["_new_blob"]["content"],
        "subject": commit.get("subject") or "",
        "message": commit.get("message") or "",
        "lang": commit.get(LANG_FIELD) or _default_table().language_of(d["new_path"]),
        "license": licence or "unknown",
        "repos": ",".join(commit["repo_name"]),
    }


# --- what makes two commits duplicates ------------------------------------------------------

def change_text(old: str, new: str) -> str:
    """The lines a commit removed ("-") and added ("+"), in file order: what deduplication
    compares. Successive commits to one file share most of their contents but not their change,
    so comparing whole files would merge a file's history; equal changes (cherry-picks,
    re-applied patches, vendored copies) are the duplicates worth removing."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    removed, added = Counter(old_lines), Counter(new_lines)
    removed.subtract(new_lines)
    added.subtract(old_lines)
    out = []
    for line in old_lines:
        if removed[line] > 0:
            removed[line] -= 1
            out.append(f"-{line}")
    for line in new_lines:
        if added[line] > 0:
            added[line] -= 1
            out.append(f"+{line}")
    return "\n".join(out)


def change_of(row: dict) -> str:
    """A commitpack row's ``change_text``: the text ``Deduplicate`` compares for the commit job."""
    return change_text(row["old_contents"] or "", row["new_contents"] or "")


# --- CommitPackFT and instruction examples ---------------------------------------------------


def commitpackft_events(row: dict, ft_chain: FilterChain):
    dropped = ft_chain.first_drop(row)
    if dropped:
        yield Drop(counter_name(*dropped))
        return
    yield {**row, "subject": clean_subject(row["subject"])}


def render_octocoder(row: dict) -> tuple[str, str]:
    """OctoCoder's Question/Answer format: prompt = subject + "\\n" + old contents."""
    prompt = f"Question: {row['subject']}\n{row['old_contents']}\n\nAnswer: "
    return prompt, row["new_contents"]


def render_commit_tokens(row: dict, with_filename: bool) -> tuple[str, str]:
    """``<commit_before>{old}<commit_msg>{subject}<commit_after>{new}<|endoftext|>``,
    optionally prefixed with ``<filename>{basename}``."""
    prefix = f"<filename>{posixpath.basename(row['new_file'])}" if with_filename else ""
    prompt = f"{prefix}<commit_before>{row['old_contents']}<commit_msg>{row['subject']}<commit_after>"
    return prompt, f"{row['new_contents']}<|endoftext|>"


def render_instructions(row: dict, formats: Iterable[str], filename_rate: float = 0.5, seed: int = 0):
    for fmt in formats:
        if fmt == "octocoder":
            prompt, completion = render_octocoder(row)
        elif fmt == "commit_tokens":
            with_filename = seeded_fraction(seed, row["commit"]) < filename_rate
            prompt, completion = render_commit_tokens(row, with_filename)
        else:
            raise ValueError(f"unknown instruction format {fmt!r}")
        yield {
            "commit": row["commit"], "format": fmt, "prompt": prompt, "completion": completion,
            "text": prompt + completion, "lang": row["lang"], "license": row["license"], "repos": row["repos"],
            "new_file": row["new_file"],
        }
