"""Live BigQuery: dataset names, SQL literals, and the transform that runs a query.

``ReadBigQueryTable`` runs one SQL query with Beam's ``ReadFromBigQuery`` (needs
``codecorpus[gcp]``) or with the plain ``google-cloud-bigquery`` client, and yields plain dicts in
the dump's field layout, for ``codecorpus.io.records.normalise``. What to ask for is the job's
business: the commit job's push-down SQL lives in ``codecorpus.commits.pushdown``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import re
from typing import Any, Iterable, Optional

import apache_beam as beam

from codecorpus.config import ConfigError

PUBLIC_DATASET = "bigquery-public-data.github_repos"

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
    return checked_dataset(name, spec)


def checked_dataset(name: str, spec: Optional[str] = None) -> str:
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


def sql_int(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    return str(value)


def sql_in_list(values: Iterable[str]) -> str:
    # Sorted so the same config always gives the same query text (and BigQuery's cache hits).
    return "(" + ", ".join(sql_string(v) for v in sorted(values)) + ")"


def licenses_query(dataset: str, _config: Optional[dict] = None) -> str:
    """BigQuery Standard SQL: every ``licenses`` row (the table is small: one row a repository).
    The same for every job that joins licences (``ReadTable``'s ``queries``)."""
    return (f"-- codecorpus: repository licences (all of them; the table is small)\n"
            f"SELECT repo_name, license\nFROM {table_name(dataset, 'licenses')}\n")


def table_name(dataset: str, table: str) -> str:
    return f"`{checked_dataset(dataset)}.{table}`"


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
        from codecorpus.config import ConfigError

        raise ConfigError(
            "reading BigQuery with method 'beam' needs Beam's gcp extra (apitools), which is not "
            "installed: pip install 'codecorpus[gcp]', or set bigquery.method to 'client' to use "
            "google-cloud-bigquery directly") from e


class ReadBigQueryTable(beam.PTransform):
    """The rows of one SQL query (a job's push-down query for a ``github_repos`` table) as
    plain dicts in the dump's layout (normalise them next).

    ``method="beam"`` uses ``ReadFromBigQuery`` (export through GCS, parallel, needs
    ``codecorpus[gcp]`` and a ``--temp_location``); ``method="client"`` runs the query with the
    BigQuery client in one worker and spreads the rows afterwards (fine for modest results).
    """

    METHODS = ("beam", "client")

    def __init__(self, sql: str, method: str = "beam", project: Optional[str] = None):
        super().__init__()
        if method not in self.METHODS:
            raise ValueError(f"unknown BigQuery read method {method!r}; methods: {', '.join(self.METHODS)}")
        self.sql = sql
        self.method = method
        self.project = project

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
