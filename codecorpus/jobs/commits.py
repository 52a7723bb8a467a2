"""``codecorpus commits``: GitHub commits -> CommitPack, CommitPackFT and instruction examples.

The recipe (OctoPack's, on Beam):

    read commits, licences, contents         (dump folder, git:PATH or bq:DATASET)
    -> commit filters                        single_file, message, lang
    -> join licences and before/after blobs  keyed joins, no table held in memory
    -> fetch blobs the input lacks           one fetch per repository (fetch:, bq: inputs)
    -> licence and content filters           licence, binary, size
    -> deduplicate                           exact, then near (MinHash LSH), on the lines each
                                             commit changes                 => clusters/
    -> redact PII                            contents, subject, message     => commitpack/
    -> CommitPackFT filters                  ft_subject, ft_bump, ft_length => commitpackft/
    -> render training examples              OctoCoder Q/A, commit tokens   => instructions/
    every failure, its raw record redacted                                  => dead_letter/

Accounting: every commit read is kept in ``commitpack``, dropped by a named filter, or
dead-lettered; every ``commitpack`` row is kept in ``commitpackft`` or dropped by an ft filter.

Dedup runs before PII (docs/architecture.md says why). PII (``pii/``, the ``pii`` config section)
is redacted by default before any table is written, so every table downstream of it is redacted;
author, committer and trailer emails only ever reach ``dead_letter/`` raw records, where they are
removed or hashed. ``--no-pii`` turns it
all off (recorded in ``manifest.json`` -> ``pii``).
"""

from __future__ import annotations

from codecorpus import schemas
from codecorpus.core.filters import build_chain
from codecorpus.commits.filters import COMMIT_FILTERS, JOINED_FILTERS
from codecorpus.commits.ft_filters import FT_FILTERS
from codecorpus.io.sources import InputSpec, ReadTable, parse_inputs
from codecorpus.jobs import runner as common
from codecorpus.commits import commitpack as cp
from codecorpus.commits import fetch
from codecorpus.commits import pushdown
from codecorpus.pii import redact as pii
from codecorpus.dedup.deduplicate import CLUSTERS, Deduplicate, check_config
from codecorpus.config import ConfigError
from codecorpus.core.routing import dead_letter_order
from codecorpus.core.semijoin import KeepRequestedBlobs
from codecorpus.jobs.runner import Table

INSTRUCTION_FORMATS = ("octocoder", "commit_tokens")
PII_FIELDS = ("old_contents", "new_contents", "subject", "message")

SUMMARY = "commits -> CommitPack / CommitPackFT / instructions"
DESCRIPTION = """\
Build CommitPack-style tables from GitHub commits.

--input is one of:
  PATH or URL            a folder of BigQuery github_repos exports (commits, contents,
                         licenses [, files, languages]) as NDJSON, gzip NDJSON or Parquet,
                         local or on any fsspec filesystem (gs://bucket/dump)
  git:PATH[,PATH...]     local git repositories, read directly (repeat --input for more)
  repos:FILE             remote repositories listed in FILE (owner/name or git URLs), cloned
                         on the workers and read like git: inputs
  bq:PROJECT.DATASET     live BigQuery (bq:public = bigquery-public-data.github_repos), with
                         the licence, message and single-file filters pushed into the SQL

Filters (configure them in --config YAML, disable with --disable-filter NAME):
  single_file message lang     on the commit, before contents are joined
  licence binary size          after the licence and contents join
  exact_dedup near_dedup       duplicates of a commit's change (--no-dedup) -> clusters/
                                                                           -> commitpack/
  ft_subject ft_bump ft_length CommitPackFT rules                        -> commitpackft/
Training examples from commitpackft                                      -> instructions/

PII (emails, IP addresses, keys, passwords, names, usernames) is redacted in contents, subjects
and messages before any table is written, and in the raw records of dead_letter/ (author and
committer emails removed); configure it in the `pii:` section, turn it off with --no-pii.

Example:
  codecorpus commits --input ../shared/data/github_repos_sample --output out/commits
"""

TABLES = {
    "commitpack": Table(schemas.COMMITPACK, lambda r: (r["commit"],),
                        "single-file commits with contents before and after (CommitPack); PII in contents, "
                        "subject and message replaced by <EMAIL>, <KEY> … unless run with --no-pii"),
    "commitpackft": Table(schemas.COMMITPACKFT, lambda r: (r["commit"],),
                          "the CommitPackFT subset: imperative subjects, short files"),
    "instructions": Table(schemas.INSTRUCTIONS, lambda r: (r["commit"], r["format"]),
                          "training examples from commitpackft, one row per `format`: `octocoder` "
                          "(Question/Answer) and `commit_tokens` (`<commit_before>…<commit_after>`)"),
    "clusters": Table(schemas.CLUSTERS, lambda r: (r["cluster_id"], r["id"]),
                      "commits in a duplicate cluster (exact or near, on the lines each commit changes): "
                      "the kept commit, cluster size, Jaccard estimate"),
    "dead_letter": Table(schemas.DEAD_LETTER, dead_letter_order,
                         "records that could not be processed: stage, error and raw input (PII-redacted, "
                         "author/committer emails removed)"),
}


def filter_chains(config: dict):
    filters = config["commits"]["filters"]
    pick = lambda names: {n: filters[n] for n in filters if n in names}  # noqa: E731
    commit_chain = build_chain(COMMIT_FILTERS, pick(COMMIT_FILTERS))
    licence_chain = build_chain(JOINED_FILTERS, pick({"licence"}))
    content_chain = build_chain(JOINED_FILTERS, pick({"binary", "size"}))
    ft_chain = build_chain(FT_FILTERS, config["commits"]["ft_filters"])
    return commit_chain, licence_chain, content_chain, ft_chain


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "input dump path/URL, git:PATH or bq:PROJECT.DATASET (repeatable)")
    parser.add_argument("--no-pii", action="store_true",
                        help="do not redact PII (on by default; recorded in manifest.json -> pii)")
    parser.add_argument("--no-dedup", action="store_true",
                        help="do not deduplicate commits (commits.dedup; on by default: exact, then near, "
                             "on the lines each commit changes)")
    parser.add_argument("--fetch-remote", metavar="TEMPLATE",
                        help="fetch blobs the input lacks from each commit's repository at this URL template "
                             "(fetch.remote, e.g. https://github.com/{repo_name}.git); turns fetching on for any "
                             "input (it is on by default only for bq: inputs)")
    parser.add_argument("--no-fetch", action="store_true", help="never fetch missing blobs (fetch.enabled: false)")


def run(args, beam_args: list[str]) -> int:
    spec = parse_inputs(args.input)  # fail on a bad --input before touching the output folder
    job = common.BeamJob(
        name="commits", tables=TABLES, accounting=ACCOUNTING,
        build=lambda stages, config: build(stages, spec, config),
        card_title="codecorpus commit corpus",
        card_description="Single-file GitHub commits turned into CommitPack / CommitPackFT tables and "
                         "instruction-tuning examples by `codecorpus commits`.",
        card_licenses=lambda config: sorted(set(config["commits"]["filters"]["licence"]["allow"])),
        describe_input=lambda args: spec.describe(),
        configure=configure,
        redactor=lambda config: pii.Redactor(config) if config["pii"]["enabled"] else None,
        manifest_extra=lambda args, config: {"pii": pii.Redactor(config).describe(), "fetch": fetch.describe(config)},
        summarise=fetch.totals)
    return common.run_beam_job(job, args, beam_args)


def configure(args, config: dict) -> dict:
    """Command-line switches -> config, then a check that everything the job builds can be built."""
    if getattr(args, "no_pii", False):
        config["pii"]["enabled"] = False
    if getattr(args, "no_dedup", False):
        config["commits"]["dedup"] = False
    if config["commits"]["dedup"]:
        check_config(config["dedup"])
    filter_chains(config)
    unknown = set(config["commits"]["instructions"]["formats"]) - set(INSTRUCTION_FORMATS)
    if unknown:
        raise ConfigError(f"commits.instructions.formats: unknown format(s) {sorted(unknown)}; "
                          f"known: {', '.join(INSTRUCTION_FORMATS)}")
    return fetch.configure(config, parse_inputs(args.input).kind, getattr(args, "fetch_remote", None),
                           getattr(args, "no_fetch", False))


def build(stages: common.Stages, spec: InputSpec, config: dict) -> None:
    commit_chain, licence_chain, content_chain, ft_chain = filter_chains(config)
    instructions_cfg = config["commits"]["instructions"]
    redactor = pii.Redactor(config) if config["pii"]["enabled"] else None
    read = lambda table, required=True: stages.read(  # noqa: E731
        f"Read{table.title()}", ReadTable(spec, table, config, required=required, queries=pushdown.QUERIES))

    commits, licenses, contents = read("commits"), read("licenses", False), read("contents", False)
    contents = fetch.with_cache(stages.pipeline, contents, config)
    candidates = stages.step(commits, "CommitFilters", lambda c: cp.commit_filter_events(c, commit_chain),
                             "commit_filters", "commits", key_of=lambda c: c.get("commit"))
    # A semi-join first: only the blobs the candidates name go on to the join's shuffles.
    contents = stages.take(contents | "KeepRequestedBlobs" >> KeepRequestedBlobs(candidates, cp.requested_blob_ids))
    joined = candidates | "JoinLicencesAndContents" >> cp.JoinLicencesAndContents(licenses, contents)
    commitpack = stages.step(joined, "AssembleAndFilter", lambda e: cp.assemble(
        e, licence_chain, content_chain, fetch.is_enabled(config)), "join_contents", "commits", key_of=lambda e: e[0])
    if fetch.is_enabled(config):  # blobs the input lacks, from the commits' repositories
        commitpack = stages.take(commitpack | "FetchMissingBlobs" >> fetch.FetchMissingBlobs(
            fetch.FetchSettings.from_config(config), licence_chain, content_chain))
    if config["commits"]["dedup"]:
        # On the change each commit makes, before PII, so duplicates are compared unredacted.
        deduplicated = commitpack | "Deduplicate" >> Deduplicate(cp.change_of, "commit", config, table="commits",
                                                               packed=cp.ROW_TEXT)
        stages.write("clusters", deduplicated[CLUSTERS])
        commitpack = stages.take(deduplicated)
    if redactor:
        commitpack = stages.take(commitpack | "RedactPII" >> pii.RedactFields(
            PII_FIELDS, redactor, stage="pii", table="commits", key_of=lambda r: r["commit"]))
    commitpackft = stages.step(commitpack, "CommitPackFTFilters", lambda r: cp.commitpackft_events(r, ft_chain),
                               "ft_filters", "commitpack", key_of=lambda r: r["commit"])
    instructions = stages.step(commitpackft, "RenderInstructions", lambda r: cp.render_instructions(
        r, instructions_cfg["formats"], instructions_cfg["filename_rate"], instructions_cfg["seed"]),
        "render_instructions", "commitpackft", key_of=lambda r: r["commit"])
    for name, rows in (("commitpack", commitpack), ("commitpackft", commitpackft), ("instructions", instructions)):
        stages.write(name, rows)
    stages.finish()


# --- accounting identities, checked from the written tables and the counters ------------------


def other_tables_identity(counters: dict, rows: dict) -> dict:
    """Licences and contents are lookup tables: each row read is parsed or dead-lettered."""
    terms = {}
    for table in ("licenses", "contents"):
        terms[f"{table}_read"] = counters.get(f"read/{table}", 0)
        terms[f"{table}_dead_lettered"] = common.dead_lettered(counters, table)
    terms["dead_letter_rows"] = rows["dead_letter"]
    terms["holds"] = rows["dead_letter"] == common.dead_lettered(counters)
    return terms


ACCOUNTING = {
    "commits": common.records_identity("commits", "commitpack", excluding=("filter/ft_",)),
    "commitpackft": lambda counters, rows: common.balance(
        ("read", rows["commitpack"]), kept=rows["commitpackft"], dropped=common.dropped(counters, "filter/ft_"),
        dead_lettered=common.dead_lettered(counters, "commitpack")),
    "dead_letters": other_tables_identity,
}
