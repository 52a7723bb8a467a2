"""Live BigQuery input: the ``github_repos`` tables read with the CommitPack filters pushed down.

``commits_query`` turns the enabled commit-level filters of ``config["commits"]["filters"]``
(``single_file``, ``message``, ``licence``) into BigQuery Standard SQL, so BigQuery returns only
the commits CommitPack can use instead of all ~260 million. ``contents_query`` returns only the
blobs those commits name (a semi-join: ``contents`` is scanned once and only needed rows come
back; BigQuery still bills the full size of the columns it reads, as for any query). The SQL is generated from the same filter objects the pipeline builds from the config
(``codecorpus.filters.commit``), and ``tests/test_bigquery_sql.py`` runs it (transpiled to
DuckDB) against the sample dump to prove it selects exactly the commits the Python filters keep.
The pipeline still applies every filter after reading: the push-down only saves transfer.

``ReadBigQueryTable`` runs a query with Beam's ``ReadFromBigQuery`` (needs ``codecorpus[gcp]``)
or with the plain ``google-cloud-bigquery`` client, and yields plain dicts in the dump's field
layout, for ``codecorpus.io.records.normalise``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import re
from typing import Any, Callable, Iterable, Optional

import apache_beam as beam

from codecorpus.config import ConfigError
from codecorpus.filters.base import Filter, build_chain
from codecorpus.filters.commit import MESSAGE_STRIP_CHARS, LicenceFilter, MessageFilter, SingleFileFilter

PUBLIC_DATASET = "bigquery-public-data.github_repos"

# The filters that have an SQL form, in the order they appear in the query.
PUSHDOWN_FILTERS: dict[str, type[Filter]] = {
    SingleFileFilter.name: SingleFileFilter,
    MessageFilter.name: MessageFilter,
    LicenceFilter.name: LicenceFilter,
}

# Letters, digits, '-' and '_' only: a dataset name is pasted into SQL, so nothing that could
# close the backquoted identifier (or start a comment) may get through.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+")


def parse_dataset(spec: str) -> str:
    """``bq:PROJECT.DATASET`` -> ``PROJECT.DATASET``; ``bq:`` and ``bq:public`` name the public
    ``bigquery-public-data.github_repos``."""
    if not isinstance(spec, str) or not spec.startswith("bq:"):
        raise ValueError(f"a BigQuery input must look like bq:PROJECT.DATASET or bq:public, got {spec!r}")
    name = spec[len("bq:"):]
    if name in ("", "public"):
        return PUBLIC_DATASET
    return _checked_dataset(name, spec)


def _checked_dataset(name: str, spec: Optional[str] = None) -> str:
    parts = name.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise ValueError(
            f"invalid BigQuery dataset {spec or name!r}: expected PROJECT.DATASET, each part made of "
            "letters, digits, '-' and '_' only (e.g. bq:my-project.github_repos, or bq:public)")
    return name


# --- SQL building blocks ----------------------------------------------------------------------

# BigQuery escapes for the control characters that have a short form; other control characters
# become \xHH. Everything else printable (any Unicode) goes in as itself: queries are UTF-8.
_SHORT_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def sql_string(value: Any) -> str:
    """A BigQuery Standard SQL string literal holding exactly ``value``."""
    if not isinstance(value, str):
        raise ConfigError(f"expected a string for an SQL literal, got {value!r}")
    out = []
    for ch in value:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ConfigError(f"string {value!r} holds a lone surrogate and cannot be sent to BigQuery")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def _sql_int(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    return str(value)


def _sql_in_list(values: Iterable[str]) -> str:
    # Sorted so the same config always gives the same query text (and BigQuery's cache hits).
    return "(" + ", ".join(sql_string(v) for v in sorted(values)) + ")"


def _table(dataset: str, table: str) -> str:
    return f"`{_checked_dataset(dataset)}.{table}`"


def pushdown_filters(config: dict) -> dict[str, Filter]:
    """The enabled push-down filters, built exactly as the pipeline builds them from ``config``
    (same defaults, same ``enabled`` rule), keyed by name."""
    section = config["commits"]["filters"]
    chain = build_chain(PUSHDOWN_FILTERS, {name: section[name] for name in PUSHDOWN_FILTERS if name in section})
    return {f.name: f for f in chain.filters}


# A filter's SQL form: comment lines saying what it does, then conditions that are ANDed.
Conditions = tuple[list[str], list[str]]


def _single_file_conditions(_f: SingleFileFilter) -> Conditions:
    return (["single_file: exactly one changed file, modified in place (no add, delete or",
             "rename), with both blob ids, and the file list not truncated."],
            ["ARRAY_LENGTH(c.difference) = 1",
             "NOT COALESCE(c.difference_truncated, FALSE)",
             """EXISTS (
  SELECT 1
  FROM UNNEST(c.difference) AS d
  WHERE d.old_path IS NOT NULL
    AND d.new_path IS NOT NULL
    AND d.old_path = d.new_path
    -- the Python filter treats an empty sha like a missing one
    AND COALESCE(d.old_sha1, '') != ''
    AND COALESCE(d.new_sha1, '') != ''
)"""])


def _message_conditions(f: MessageFilter) -> Conditions:
    conditions = [f"LENGTH(c._normalised_message) > {_sql_int(f.min_chars, 'message.min_chars')}",
                  f"LENGTH(c._normalised_message) < {_sql_int(f.max_chars, 'message.max_chars')}"]
    if f.excluded:
        conditions.append(f"c._lowered_message NOT IN {_sql_in_list(f.excluded)}")
    conditions += [f"NOT STARTS_WITH(c._lowered_message, {sql_string(prefix)})"
                   for prefix in sorted(f.excluded_prefixes)]
    return (["message: the trimmed message (see normalised_commits) is longer than min_chars and",
             "shorter than max_chars; lower-cased, it is no excluded message and has no excluded prefix."],
            conditions)


def _licence_conditions(_f: LicenceFilter) -> Conditions:
    return (["licence: some repository of the commit has an allowed licence (see licensed_commits)."],
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
    allowed = f"LOWER(rl.license) IN {_sql_in_list(f.allow)}" if f.allow else "FALSE  -- empty allow-list"
    repo_licences = f"""\
  -- One licence per repository, chosen as the pipeline's licence join chooses it: the smallest
  -- non-null value (the public table has one row per repository; copies may not).
  SELECT repo_name, MIN(license) AS license
  FROM {_table(dataset, 'licenses')}
  GROUP BY repo_name"""
    licensed_commits = f"""\
  -- Commits of which some repository's licence, lower-cased, is on the allow-list. An
  -- uncorrelated semi-join on the sha (BigQuery cannot always de-correlate a subquery that
  -- joins another table), reading only the sha and repo_name columns of commits. The pipeline
  -- also judges a commit by its sha: duplicate rows are merged with all their repositories.
  SELECT DISTINCT lc.`commit`
  FROM {_table(dataset, 'commits')} AS lc
  CROSS JOIN UNNEST(lc.repo_name) AS repo
  JOIN repo_licences AS rl ON rl.repo_name = repo
  WHERE {allowed}"""
    return [("repo_licences", repo_licences), ("licensed_commits", licensed_commits)]


def _selected_commits_ctes(dataset: str, config: dict) -> list[tuple[str, str]]:
    """CTEs ending in ``selected_commits``: the rows of ``commits`` (all columns, unchanged) that
    pass the enabled push-down filters."""
    filters = pushdown_filters(config)
    ctes: list[tuple[str, str]] = []
    if "licence" in filters:
        ctes += _licence_ctes(dataset, filters["licence"])
    ctes.append(("normalised_commits", f"""\
  -- normalised_message() of codecorpus.filters.commit: NULL counts as '', and exactly
  -- MESSAGE_STRIP_CHARS are trimmed (plain TRIM would strip all Unicode white space).
  SELECT
    c.*,
    TRIM(COALESCE(c.message, ''), {sql_string(MESSAGE_STRIP_CHARS)}) AS _normalised_message,
    LOWER(TRIM(COALESCE(c.message, ''), {sql_string(MESSAGE_STRIP_CHARS)})) AS _lowered_message
  FROM {_table(dataset, 'commits')} AS c"""))
    groups = [conditions(filters[name]) for name, conditions in (
        ("single_file", _single_file_conditions), ("message", _message_conditions),
        ("licence", _licence_conditions)) if name in filters]
    where = _where(groups)
    ctes.append(("selected_commits", f"""\
  SELECT * EXCEPT (_normalised_message, _lowered_message)
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
             f"SELECT ct.*\nFROM {_table(dataset, 'contents')} AS ct\n"
             f"WHERE ct.id IN (SELECT id FROM wanted_blobs)")
    return _with(ctes, final, "blobs before and after the selected commits")


def licenses_query(dataset: str) -> str:
    """BigQuery Standard SQL: every ``licenses`` row (the table is small: one row a repository)."""
    return (f"-- codecorpus: repository licences (all of them; the table is small)\n"
            f"SELECT repo_name, license\nFROM {_table(dataset, 'licenses')}\n")


QUERIES: dict[str, Callable[[str, dict], str]] = {
    "commits": commits_query,
    "contents": contents_query,
    "licenses": lambda dataset, _config: licenses_query(dataset),
}


# --- the push-down SQL as files (infra/bigquery/) ----------------------------------------------

SQL_FILES_HEADER = (
    "-- Generated by `python infra/bigquery/render_sql.py` from codecorpus/io/bigquery.py with the\n"
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
    dataset = _checked_dataset(dataset)
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


# --- rows as the dump has them ----------------------------------------------------------------


def _timestamp_text(value: datetime.datetime) -> str:
    # BigQuery's own text form of a TIMESTAMP, as in its JSON exports: "2016-03-11 20:37:39 UTC".
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + " UTC"


def plain_value(value: Any) -> Any:
    """A BigQuery row value (from either reader) as the NDJSON export holds it: STRUCTs as dicts,
    REPEATED as lists, TIMESTAMP as BigQuery's text form, BYTES as base64."""
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if isinstance(value, datetime.datetime):
        return _timestamp_text(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def plain_row(row: Any) -> dict:
    """A client ``Row`` (or any mapping) as a plain dict in the dump's layout."""
    return {key: plain_value(value) for key, value in dict(row.items() if hasattr(row, "items") else row).items()}


class RunBigQueryQuery(beam.DoFn):
    """Runs each SQL string it receives with ``google-cloud-bigquery`` and yields the rows."""

    def __init__(self, project: Optional[str] = None):
        self.project = project
        self._client = None

    def setup(self):
        from google.cloud import bigquery  # imported on the worker, not at pipeline build time

        self._client = bigquery.Client(project=self.project)

    def process(self, sql: str):
        for row in self._client.query(sql).result():
            yield plain_row(row)

    def teardown(self):
        if self._client is not None:
            self._client.close()
            self._client = None


def _require_beam_gcp() -> None:
    # Beam's ReadFromBigQuery can be built without apitools and only fails when it runs, with
    # an obscure error; check up front instead.
    try:
        import apitools.base.py  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            "reading BigQuery with method 'beam' needs Beam's gcp extra (apitools), which is not "
            "installed: pip install 'codecorpus[gcp]', or set bigquery.method to 'client' to use "
            "google-cloud-bigquery directly") from e


class ReadBigQueryTable(beam.PTransform):
    """Rows of ``commits``, ``contents`` or ``licenses`` from a BigQuery dataset, with the
    push-down filters applied, as plain dicts in the dump's layout (normalise them next).

    ``method="beam"`` uses ``ReadFromBigQuery`` (export through GCS, parallel, needs
    ``codecorpus[gcp]`` and a ``--temp_location``); ``method="client"`` runs the query with the
    BigQuery client in one worker and spreads the rows afterwards (fine for modest results).
    """

    METHODS = ("beam", "client")

    def __init__(self, dataset: str, table: str, config: dict, method: str = "beam",
                 project: Optional[str] = None):
        super().__init__()
        if table not in QUERIES:
            raise ValueError(f"cannot read table {table!r} from BigQuery; tables: {', '.join(QUERIES)}")
        if method not in self.METHODS:
            raise ValueError(f"unknown BigQuery read method {method!r}; methods: {', '.join(self.METHODS)}")
        self.dataset = _checked_dataset(dataset)
        self.table = table
        self.method = method
        self.project = project
        # Built now, so a bad config fails when the pipeline is built, not on a worker.
        self.sql = QUERIES[table](self.dataset, config)

    def expand(self, pbegin):
        if self.method == "beam":
            _require_beam_gcp()
            kwargs = {"project": self.project} if self.project else {}
            return (pbegin
                    | "ReadFromBigQuery" >> beam.io.ReadFromBigQuery(query=self.sql, use_standard_sql=True, **kwargs)
                    | "AsDumpRows" >> beam.Map(plain_row))
        return (pbegin
                | "Query" >> beam.Create([self.sql])
                | "RunQuery" >> beam.ParDo(RunBigQueryQuery(self.project))
                # All rows come from one element; without this they would stay on one worker.
                | "SpreadRows" >> beam.Reshuffle())
