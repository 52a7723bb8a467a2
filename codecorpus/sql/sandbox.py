"""Safe, bounded execution of candidate SQL in SQLite and DuckDB, and result comparison.

REFERENCE §6. SQLite: the database file is opened read-only (``file:…?mode=ro``), an
authorizer allows only reading (``SELECT``, column reads, recursive CTEs and a vetted set of
functions) and denies ``ATTACH``, ``PRAGMA``, every write and schema change,
``load_extension`` / ``readfile`` / ``writefile`` and non-deterministic functions; a progress
handler aborts a statement past its deadline (it runs inside SQLite's VM loop, which a Python
thread timer cannot interrupt); ``setlimit`` caps string/blob sizes, SQL length and nesting.
DuckDB: opened read-only with ``enable_external_access=false``, a memory and thread limit,
extension auto-loading off, then ``lock_configuration`` so SQL cannot undo any of it; a timer
thread calls ``interrupt()`` at the deadline. Both engines fetch at most ``max_result_rows + 1``
rows, so a huge result is a counted rejection, not an out-of-memory.

Results are compared as Spider's test suite does: as multisets of rows unless the query has a
top-level ``ORDER BY`` (then as sequences), values in a canonical form (numbers to 9
significant digits, booleans as integers, dates and timestamps as ISO text), optionally
invariant to a permutation of the columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from codecorpus.sql.schema import NotRunnable


@dataclass
class Limits:
    timeout_seconds: float = 2.0
    progress_steps: int = 1000             # SQLite VM instructions between deadline checks
    max_result_rows: int = 1000
    max_value_bytes: int = 1_000_000       # SQLite: longest string or blob a query may build
    max_sql_chars: int = 20_000
    duckdb_memory_limit: str = "256MB"     # queries and builds
    duckdb_threads: int = 1
    file_budget_seconds: float = 30.0      # all queries of one database (one schema file), both engines

    @classmethod
    def from_config(cls, cfg: dict) -> "Limits":
        known = {k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg}
        return cls(**known)


class OverMemoryLimit(NotRunnable):
    """A DuckDB build that needed more than ``duckdb_memory_limit``."""


class Budget:
    """The time every query of one database may take together (``file_budget_seconds``): the
    per-query timeout alone lets a file of 50 runaway queries run for 50 timeouts. A query
    runs at most until the earlier of its own timeout and the budget's end."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline: Optional[float] = None  # the clock starts with the first query, not with parsing
        self.hit = False

    def remaining(self) -> float:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.seconds
        return self.deadline - time.monotonic()

    def exhausted(self) -> bool:
        if self.remaining() <= 0:
            self.hit = True
        return self.hit


UNLIMITED = None  # a sandbox without a budget: only the per-query timeout applies


@dataclass
class Outcome:
    status: str                     # ok | timeout | over_budget | denied | error | too_many_rows | not_select
    rows: list = field(default_factory=list)     # canonical rows (tuples)
    columns: list = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


# --- building a database ----------------------------------------------------------------------------


def build_sqlite(path: str, ddl: list, inserts: list) -> None:
    """Create a SQLite database at ``path`` (``:memory:`` to only check) from our own DDL and
    INSERT statements, foreign keys enforced. Raises ``NotRunnable``."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = OFF")  # a scratch file we build once: no journal, no fsync
        conn.execute("PRAGMA synchronous = OFF")
        with conn:
            for statement in ddl:
                conn.execute(statement)
            for statement in inserts:
                conn.execute(statement)
    except sqlite3.Error as e:
        raise NotRunnable(f"sqlite: {type(e).__name__}: {e}") from None
    finally:
        conn.close()


def build_duckdb(path: str, ddl: list, inserts: list, memory_limit: Optional[str] = None) -> None:
    """Create a DuckDB database at ``path`` (``:memory:`` to only check). Raises ``NotRunnable``,
    ``OverMemoryLimit`` past ``memory_limit`` (unbounded, a file of 10,000 small tables took 20 GB).

    The INSERT statements are read with ``data.read_insert`` and their rows handed to DuckDB as
    Arrow tables: the same values as executing them (our literals only: numbers, strings,
    NULL, TRUE/FALSE, X'…'), three times faster than DuckDB parsing large VALUES lists. A
    statement that cannot be read that way is executed as written."""
    import duckdb

    config = {"threads": 1, "autoload_known_extensions": False, "autoinstall_known_extensions": False}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        conn = duckdb.connect(path, config=config)
    except duckdb.Error as e:
        raise NotRunnable(f"duckdb: {type(e).__name__}: {e}") from None
    try:
        conn.execute("BEGIN TRANSACTION")
        for statement in ddl:
            conn.execute(statement)
        for statement in inserts:
            _insert_duckdb(conn, statement)
        conn.execute("COMMIT")
        if path != ":memory:":
            conn.execute("CHECKPOINT")
    except duckdb.OutOfMemoryException as e:
        raise OverMemoryLimit(f"duckdb: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    except duckdb.Error as e:
        raise NotRunnable(f"duckdb: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    finally:
        conn.close()


def _insert_duckdb(conn, statement: str) -> None:
    import duckdb
    import pyarrow as pa

    from codecorpus.sql.inserts import UnsupportedInsert, read_insert
    from codecorpus.sql.schema import quote
    from codecorpus.sql.statements import Statement

    try:
        batch = read_insert(Statement(statement, "insert", 0), "generic")
        columns = list(zip(*batch.rows))
        rows = pa.Table.from_arrays([pa.array(list(values)) for values in columns], names=list(batch.columns))
    except (UnsupportedInsert, pa.ArrowException, TypeError, ValueError):
        conn.execute(statement)
        return
    conn.register("codecorpus_rows", rows)
    try:
        names = ", ".join(quote(c) for c in batch.columns)
        conn.execute(f"INSERT INTO {quote(batch.table)} ({names}) SELECT {names} FROM codecorpus_rows")
    finally:
        try:
            conn.unregister("codecorpus_rows")
        except duckdb.Error as e:  # an aborted transaction: the INSERT's own error is the one to report
            if "aborted" not in str(e):
                raise


def table_counts_sqlite(path: str, tables: list) -> dict:
    from codecorpus.sql.schema import quote

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {quote(t)}").fetchone()[0] for t in tables}
    finally:
        conn.close()


# --- the SQLite sandbox -----------------------------------------------------------------------------

_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
# Functions that reach outside the database, or whose value changes from run to run (a result
# hash must be reproducible from sql_databases/).
DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "random", "randomblob",
                    "changes", "total_changes", "last_insert_rowid", "current_timestamp", "current_date",
                    "current_time", "sqlite_version", "sqlite_source_id", "sqlite_compileoption_used",
                    "sqlite_compileoption_get", "sqlite_offset", "unixepoch"}
_ACTION_NAMES = {getattr(sqlite3, "SQLITE_" + name): name.lower() for name in (
    "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE", "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW",
    "CREATE_TRIGGER", "CREATE_VIEW", "DELETE", "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE",
    "DROP_TEMP_TRIGGER", "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "PRAGMA", "READ", "SELECT",
    "TRANSACTION", "UPDATE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE", "DROP_VTABLE",
    "FUNCTION", "SAVEPOINT", "RECURSIVE") if hasattr(sqlite3, "SQLITE_" + name)}


class SQLiteSandbox:
    """One read-only connection to a built database, with every guard installed."""

    def __init__(self, path: str, limits: Limits, budget: Optional[Budget] = UNLIMITED):
        self.limits = limits
        self.budget = budget
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, max(1000, limits.max_sql_chars))
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 200)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 50)
        self._deadline = math.inf
        self._denied: Optional[str] = None
        self.conn.set_authorizer(self._authorize)
        self.conn.set_progress_handler(self._progress, limits.progress_steps)

    def _authorize(self, action, arg1, arg2, db_name, trigger):
        if action in _ALLOWED_ACTIONS:
            if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
                self._denied = f"function {arg2}"
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        self._denied = _ACTION_NAMES.get(action, str(action))
        return sqlite3.SQLITE_DENY

    def _progress(self):
        return 1 if time.monotonic() > self._deadline else 0

    def explain(self, sql: str) -> Optional[str]:
        """None if ``EXPLAIN QUERY PLAN`` accepts the statement, else the error."""
        outcome = self._run("EXPLAIN QUERY PLAN " + sql, fetch_all=True)
        return None if outcome.status == "ok" else f"{outcome.status}: {outcome.error}"

    def run(self, sql: str) -> Outcome:
        return self._run(sql)

    def _run(self, sql: str, fetch_all: bool = False) -> Outcome:
        self._denied = None
        timeout, capped = _timeout(self.limits, self.budget)
        if timeout <= 0:
            return Outcome("over_budget", error="the database's query time budget is spent")
        started = time.monotonic()
        self._deadline = started + timeout
        try:
            cursor = self.conn.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall() if fetch_all else cursor.fetchmany(self.limits.max_result_rows + 1)
            cursor.close()
        except (sqlite3.Warning, sqlite3.Error) as e:
            elapsed = time.monotonic() - started
            message = str(e)
            if "one statement at a time" in message:
                return Outcome("not_select", error=message, seconds=elapsed)
            if self._denied or "not authorized" in message or "prohibited" in message:
                return Outcome("denied", error=f"{self._denied or ''}: {message}".strip(": "), seconds=elapsed)
            if "interrupted" in message:
                return Outcome("over_budget" if capped else "timeout", error=message, seconds=elapsed)
            return Outcome("error", error=f"{type(e).__name__}: {message}", seconds=elapsed)
        finally:
            self._deadline = math.inf
        elapsed = time.monotonic() - started
        if not fetch_all and len(rows) > self.limits.max_result_rows:
            return Outcome("too_many_rows", columns=columns, seconds=elapsed)
        return Outcome("ok", [canonical_row(r) for r in rows], columns, seconds=elapsed)

    def close(self) -> None:
        self.conn.close()


# --- the DuckDB sandbox -----------------------------------------------------------------------------


class DuckDBSandbox:
    """A read-only DuckDB connection, external access off, limits locked."""

    def __init__(self, path: str, limits: Limits, budget: Optional[Budget] = UNLIMITED):
        import duckdb

        self.duckdb = duckdb
        self.limits = limits
        self.budget = budget
        self.conn = duckdb.connect(path, read_only=True, config={
            "enable_external_access": False,
            "memory_limit": limits.duckdb_memory_limit,
            "threads": int(limits.duckdb_threads),
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "allow_community_extensions": False,
            "lock_configuration": True,
        })
        self._lock = threading.Lock()
        self._active = None

    def _interrupt(self, token) -> None:
        with self._lock:
            if self._active is token:
                self.conn.interrupt()

    def explain(self, sql: str) -> Optional[str]:
        outcome = self._run(sql, explain=True)
        return None if outcome.status == "ok" else f"{outcome.status}: {outcome.error}"

    def run(self, sql: str) -> Outcome:
        return self._run(sql)

    def _run(self, sql: str, explain: bool = False) -> Outcome:
        duckdb = self.duckdb
        started = time.monotonic()
        try:
            statements = self.conn.extract_statements(sql)
        except duckdb.Error as e:
            return Outcome("error", error=f"{type(e).__name__}: {str(e).splitlines()[0]}")
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            return Outcome("not_select", error="only one SELECT statement is allowed")
        timeout, capped = _timeout(self.limits, self.budget)
        if timeout <= 0:
            return Outcome("over_budget", error="the database's query time budget is spent")
        token = object()
        with self._lock:
            self._active = token
        timer = threading.Timer(timeout, self._interrupt, args=(token,))
        timer.daemon = True
        timer.start()
        try:
            cursor = self.conn.execute(("EXPLAIN " if explain else "") + sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall() if explain else cursor.fetchmany(self.limits.max_result_rows + 1)
        except duckdb.InterruptException as e:
            return Outcome("over_budget" if capped else "timeout", error=str(e).splitlines()[0],
                           seconds=time.monotonic() - started)
        except duckdb.PermissionException as e:
            return Outcome("denied", error=str(e).splitlines()[0], seconds=time.monotonic() - started)
        except duckdb.Error as e:
            return Outcome("error", error=f"{type(e).__name__}: {str(e).splitlines()[0]}",
                           seconds=time.monotonic() - started)
        finally:
            with self._lock:
                self._active = None
            timer.cancel()
        elapsed = time.monotonic() - started
        if not explain and len(rows) > self.limits.max_result_rows:
            return Outcome("too_many_rows", columns=columns, seconds=elapsed)
        return Outcome("ok", [] if explain else [canonical_row(r) for r in rows], columns, seconds=elapsed)

    def close(self) -> None:
        self.conn.close()


def _timeout(limits: Limits, budget: Optional[Budget]) -> tuple:
    """``(seconds, capped)``: the query's timeout, or what is left of the budget when that is less."""
    if budget is None:
        return limits.timeout_seconds, False
    left = budget.remaining()
    if left <= 0:
        budget.hit = True
        return 0.0, True
    return (left, True) if left < limits.timeout_seconds else (limits.timeout_seconds, False)


# --- canonical results, comparison, hashes ------------------------------------------------------------


def canonical_value(value):
    """One engine-neutral form per value: numbers as int or a 9-significant-digit float,
    booleans as 0/1, dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        x = float(value)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        # Round first, then ask whether it is whole: a SQLite float sum of 58.99999999999999
        # and DuckDB's exact DECIMAL 59.00 must both become 59.
        x = float(f"{x:.9g}")
        if x.is_integer() and abs(x) < 1e15:
            return int(x)
        return x
    if isinstance(value, dt.datetime):
        text = value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
        return f"{text}.{value.microsecond:06d}" if value.microsecond else text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"interval:{value.total_seconds():g}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def canonical_row(row) -> tuple:
    return tuple(canonical_value(v) for v in row)


def _value_key(v):
    if v is None:
        return (0, 0, "")
    if isinstance(v, (int, float)):
        return (1, v, "")
    return (2, 0, str(v))


def row_sort_key(row) -> tuple:
    return tuple(_value_key(v) for v in row)


def normalise_result(rows: list, ordered: bool) -> list:
    """Rows as compared: in their order with ``ORDER BY``, else sorted (a multiset)."""
    rows = [tuple(r) for r in rows]
    return rows if ordered else sorted(rows, key=row_sort_key)


def results_equal(a: list, b: list, ordered: bool) -> bool:
    return normalise_result(a, ordered) == normalise_result(b, ordered)


def result_hash(rows: list, ordered: bool) -> str:
    """sha256 of the canonical result: what ``sql_triples.result_hash`` holds."""
    payload = json.dumps({"ordered": ordered, "rows": normalise_result(rows, ordered)},
                         separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def result_key(rows: list, ordered: bool, permute_columns: bool = True) -> str:
    """A key equal for results Spider's test suite counts as equivalent: same rows (as a
    multiset unless ordered) up to a permutation of the columns. Used for voting."""
    rows = [tuple(r) for r in rows]
    if not permute_columns or not rows or len(rows[0]) < 2:
        return result_hash(rows, ordered)
    ncols = len(rows[0])
    signatures = [tuple(sorted((_value_key(r[j]) for r in rows))) for j in range(ncols)]
    order = sorted(range(ncols), key=lambda j: signatures[j])
    groups = [list(g) for _, g in itertools.groupby(order, key=lambda j: signatures[j])]
    candidates = []
    permutations = [list(itertools.permutations(g)) if len(g) <= 4 else [tuple(g)] for g in groups]
    for combo in itertools.islice(itertools.product(*permutations), 120):
        columns = [j for part in combo for j in part]
        candidates.append(result_hash([tuple(r[j] for j in columns) for r in rows], ordered))
    return min(candidates)
