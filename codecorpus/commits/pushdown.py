"""The commit job's BigQuery SQL: the ``github_repos`` tables read with the CommitPack filters pushed down.

``commits_query`` turns the enabled commit-level filters of ``config["commits"]["filters"]``
(``single_file``, ``message``, ``optout``, ``licence``) into BigQuery Standard SQL, so BigQuery returns only
the commits CommitPack can use instead of all ~260 million. ``contents_query`` returns only the
blobs those commits name (a semi-join: ``contents`` is scanned once and only needed rows come
back; BigQuery still bills the full size of the columns it reads, as for any query). The SQL is generated from the same filter objects the pipeline builds from the config
(``codecorpus.commits.filters``), and ``tests/commits/test_pushdown_sql.py`` runs it (transpiled to
DuckDB) against the sample dump to prove it selects exactly the commits the Python filters keep.
The pipeline still applies every filter after reading: the push-down only saves transfer.

``codecorpus.io.bigquery.ReadBigQueryTable`` runs these queries.
"""

from __future__ import annotations

from typing import Callable, Optional

from codecorpus.commits.filters import (MESSAGE_STRIP_CHARS, SPECIAL_MODES, LicenceFilter, MessageFilter,
                                       OptOutFilter, SingleFileFilter)
from codecorpus.core.filters import Filter, build_chain
from codecorpus.io.bigquery import (PUBLIC_DATASET, checked_dataset, licenses_query, sql_in_list, sql_int, sql_string,
                                    table_name)

# The filters that have an SQL form, in the order they appear in the query.
PUSHDOWN_FILTERS: dict[str, type[Filter]] = {
    SingleFileFilter.name: SingleFileFilter,
    MessageFilter.name: MessageFilter,
    OptOutFilter.name: OptOutFilter,
    LicenceFilter.name: LicenceFilter,
}


def pushdown_filters(config: dict) -> dict[str, Filter]:
    """The enabled push-down filters, built exactly as the pipeline builds them from ``config``
    (same defaults, same ``enabled`` rule), keyed by name."""
    section = config["commits"]["filters"]
    chain = build_chain(PUSHDOWN_FILTERS, {name: section[name] for name in PUSHDOWN_FILTERS if name in section})
    return {f.name: f for f in chain.filters}


# A filter's SQL form: comment lines saying what it does, then conditions that are ANDed.
Conditions = tuple[list[str], list[str]]


# is_in_place() of codecorpus.commits.filters, on an UNNEST(difference) AS d.
_IN_PLACE = "d.old_path IS NOT NULL AND d.new_path IS NOT NULL AND d.old_path = d.new_path"


def _single_file_conditions(f: SingleFileFilter) -> Conditions:
    modes = ", ".join(str(m) for m in SPECIAL_MODES)
    conditions = ["NOT COALESCE(c.difference_truncated, FALSE)", "c._in_place_count = 1"]
    if f.mode == "strict":
        conditions.append("ARRAY_LENGTH(c.difference) = 1")
    conditions.append(f"""EXISTS (
  SELECT 1
  FROM UNNEST(c.difference) AS d
  WHERE {_IN_PLACE}
    -- the Python filter treats an empty sha like a missing one
    AND COALESCE(d.old_sha1, '') != ''
    AND COALESCE(d.new_sha1, '') != ''
    -- neither side a submodule (160000) or a symlink (120000)
    AND COALESCE(d.old_mode, 0) NOT IN ({modes})
    AND COALESCE(d.new_mode, 0) NOT IN ({modes})
)""")
    what = ("that is the commit's only entry" if f.mode == "strict"
            else "(other entries may add, delete or rename files)")
    return ([f"single_file: (mode {f.mode}) exactly one entry modifies a file in place {what},",
             "with both blob ids, no submodule or symlink, and the file list not truncated."],
            conditions)


def _message_conditions(f: MessageFilter) -> Conditions:
    conditions = [f"LENGTH(c._message) > {sql_int(f.min_chars, 'message.min_chars')}",
                  f"LENGTH(c._message) < {sql_int(f.max_chars, 'message.max_chars')}"]
    # LIKE, as sql_1: `%` and `_` are wildcards; MessageFilter refuses backslashes in patterns.
    conditions += [f"c._lowered_message NOT LIKE {sql_string(pattern)}" for pattern in f.excluded]
    if f.excluded_exact:
        conditions.append(f"c._message NOT IN {sql_in_list(f.excluded_exact)}")
    conditions += [f"NOT STARTS_WITH(c._lowered_message, {sql_string(prefix)})"
                   for prefix in sorted(f.excluded_prefixes)]
    if f.update_file:
        conditions.append(f"""NOT (c._in_place_count = 1 AND EXISTS (
  SELECT 1
  FROM UNNEST(c.difference) AS d
  WHERE {_IN_PLACE}
    AND c._message = CONCAT('Update ', d.old_path)
))""")
    return ([f"message: (compare {f.compare}; see normalised_commits) longer than min_chars and shorter than",
             "max_chars; lower-cased, it matches no excluded LIKE pattern and has no excluded prefix;",
             "it is no excluded exact message and not 'Update ' + the modified file's path."],
            conditions)


def _optout_conditions(f: OptOutFilter) -> Conditions:
    if not f.owners:
        return (["optout: no owners listed"], ["TRUE"])
    return (["optout: not a single-repository commit of an owner who opted out (case-insensitive)."],
            [f"""NOT ((SELECT COUNT(DISTINCT r) FROM UNNEST(c.repo_name) AS r) = 1 AND EXISTS (
  SELECT 1
  FROM UNNEST(c.repo_name) AS r
  WHERE LOWER(SPLIT(r, '/')[SAFE_OFFSET(0)]) IN {sql_in_list(f.owners)}
))"""])


def _licence_conditions(f: LicenceFilter) -> Conditions:
    extra = " and, with multiple: drop, only one" if f.multiple == "drop" else ""
    return ([f"licence: some repository of the commit has an allowed licence{extra} (see licensed_commits)."],
            ["c.`commit` IN (SELECT `commit` FROM licensed_commits)"])


def _where(groups: list[Conditions], indent: str = "    ") -> str:
    lines: list[str] = []
    first = True
    for comments, conditions in groups:
        lines += [f"-- {c}" for c in comments]
        for condition in conditions:
            head, *rest = condition.split("\n")
            lines.append(("" if first else "AND ") + head)
            lines += rest
            first = False
    if first:
        lines += ["-- no push-down filter is enabled: every commit", "TRUE"]
    return "\n".join(indent + line for line in lines)


def _licence_ctes(dataset: str, f: LicenceFilter) -> list[tuple[str, str]]:
    allowed = f"LOWER(rl.license) IN {sql_in_list(f.allow)}" if f.allow else "FALSE  -- empty allow-list"
    # multiple: drop -- CommitPack's sql_5 wants one row per commit, and sql_2 made one per licence.
    having = "\n  HAVING COUNT(DISTINCT LOWER(rl.license)) = 1" if f.multiple == "drop" else ""
    repo_licences = f"""\
  -- One licence per repository, chosen as the pipeline's licence join chooses it: the smallest
  -- non-null value (the public table has one row per repository; copies may not).
  SELECT repo_name, MIN(license) AS license
  FROM {table_name(dataset, 'licenses')}
  GROUP BY repo_name"""
    licensed_commits = f"""\
  -- Commits of which some repository's licence, lower-cased, is on the allow-list. An
  -- uncorrelated semi-join on the sha (BigQuery cannot always de-correlate a subquery that
  -- joins another table), reading only the sha and repo_name columns of commits. The pipeline
  -- also judges a commit by its sha: duplicate rows are merged with all their repositories.
  SELECT lc.`commit`
  FROM {table_name(dataset, 'commits')} AS lc
  CROSS JOIN UNNEST(lc.repo_name) AS repo
  JOIN repo_licences AS rl ON rl.repo_name = repo
  WHERE {allowed}
  GROUP BY lc.`commit`{having}"""
    return [("repo_licences", repo_licences), ("licensed_commits", licensed_commits)]


def _selected_commits_ctes(dataset: str, config: dict) -> list[tuple[str, str]]:
    """CTEs ending in ``selected_commits``: the rows of ``commits`` (all columns, unchanged) that
    pass the enabled push-down filters."""
    filters = pushdown_filters(config)
    ctes: list[tuple[str, str]] = []
    if "licence" in filters:
        ctes += _licence_ctes(dataset, filters["licence"])
    message = filters.get("message")
    raw = "COALESCE(c.message, '')"
    text = raw if message is None or message.compare == "original" else f"TRIM({raw}, {sql_string(MESSAGE_STRIP_CHARS)})"
    ctes.append(("normalised_commits", f"""\
  -- MessageFilter.message_of() of codecorpus.commits.filters: NULL counts as '', and with
  -- compare: stripped exactly MESSAGE_STRIP_CHARS are trimmed (plain TRIM would strip all Unicode
  -- white space); _in_place_count counts the in-place modifications (is_in_place()).
  SELECT
    c.*,
    {text} AS _message,
    LOWER({text}) AS _lowered_message,
    (SELECT COUNT(*) FROM UNNEST(c.difference) AS d WHERE {_IN_PLACE}) AS _in_place_count
  FROM {table_name(dataset, 'commits')} AS c"""))
    groups = [conditions(filters[name]) for name, conditions in (
        ("single_file", _single_file_conditions), ("message", _message_conditions),
        ("optout", _optout_conditions), ("licence", _licence_conditions)) if name in filters]
    where = _where(groups)
    ctes.append(("selected_commits", f"""\
  SELECT * EXCEPT (_message, _lowered_message, _in_place_count)
  FROM normalised_commits AS c
  WHERE
{where}"""))
    return ctes


def _with(ctes: list[tuple[str, str]], final: str, title: str) -> str:
    body = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in ctes)
    return f"-- codecorpus: {title}\nWITH\n{body}\n{final}\n"


def commits_query(dataset: str, config: dict) -> str:
    """BigQuery Standard SQL: the ``commits`` rows (all columns, same names and nesting) that
    pass the enabled push-down filters of ``config["commits"]["filters"]``."""
    enabled = ", ".join(pushdown_filters(config)) or "none"
    return _with(_selected_commits_ctes(dataset, config), "SELECT * FROM selected_commits",
                 f"commits passing the pushed-down CommitPack filters ({enabled})")


def contents_query(dataset: str, config: dict) -> str:
    """BigQuery Standard SQL: the ``contents`` rows whose ``id`` is an ``old_sha1`` or
    ``new_sha1`` of a commit ``commits_query`` selects."""
    ctes = _selected_commits_ctes(dataset, config)
    ctes.append(("wanted_blobs", """\
  SELECT d.old_sha1 AS id
  FROM selected_commits AS c
  CROSS JOIN UNNEST(c.difference) AS d
  WHERE d.old_sha1 IS NOT NULL
  UNION DISTINCT
  SELECT d.new_sha1 AS id
  FROM selected_commits AS c
  CROSS JOIN UNNEST(c.difference) AS d
  WHERE d.new_sha1 IS NOT NULL"""))
    final = (f"-- A semi-join: each contents row is returned at most once, however many commits name it.\n"
             f"SELECT ct.*\nFROM {table_name(dataset, 'contents')} AS ct\n"
             f"WHERE ct.id IN (SELECT id FROM wanted_blobs)")
    return _with(ctes, final, "blobs before and after the selected commits")


QUERIES: dict[str, Callable[[str, dict], str]] = {
    "commits": commits_query,
    "contents": contents_query,
    "licenses": licenses_query,
}


# --- the push-down SQL as files (infra/bigquery/) ----------------------------------------------

SQL_FILES_HEADER = (
    "-- Generated by `python infra/bigquery/render_sql.py` from codecorpus/commits/pushdown.py with the\n"
    "-- default configuration (codecorpus/defaults.yaml) for {dataset}.\n"
    "-- Do not edit: change the code or the defaults and render again (tests/test_packaging.py\n"
    "-- checks that these files are up to date). Estimate bytes scanned: infra/bigquery/dry_run.py.\n"
)


def pushdown_sql_files(dataset: str = PUBLIC_DATASET, config: Optional[dict] = None) -> dict[str, str]:
    """The SQL the ``commits`` job sends to BigQuery for ``bq:DATASET``, one query per table it
    reads, as ``{relative file name: text}`` (``commits/contents.sql`` …). ``config`` defaults to
    the packaged defaults, which is what ``infra/bigquery/`` holds for the public dataset."""
    if config is None:
        from codecorpus.config import default_config

        config = default_config()
    dataset = checked_dataset(dataset)
    header = SQL_FILES_HEADER.format(dataset=dataset)
    return {f"commits/{table}.sql": header + query(dataset, config) for table, query in QUERIES.items()}


def write_pushdown_sql(directory: str, dataset: str = PUBLIC_DATASET, config: Optional[dict] = None) -> list[str]:
    """Write ``pushdown_sql_files`` under the local folder ``directory``; returns the paths written."""
    from pathlib import Path

    written = []
    for name, text in pushdown_sql_files(dataset, config).items():
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(str(path))
    return written


