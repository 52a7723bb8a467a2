"""Rows for a schema: the repository's own INSERT data when it has some, synthetic rows otherwise.

Repository rows come from ``INSERT … VALUES`` and PostgreSQL ``COPY … FROM stdin`` blocks.
They are read by a literal scanner (numbers, strings in every dialect's quoting, ``NULL``,
booleans, hex blobs, ``TO_DATE(…)`` / ``CAST(… AS …)`` / ``'…'::type`` / ``DATE '…'`` wrappers),
not by sqlglot: a 600 KB Chinook file has ~15,000 rows and sqlglot would need seconds for it.
Any other expression (a function call, a sub-select) makes its row unusable, and it is counted.

Rows are then fitted to the schema: coerced to each column's type family (dates to ISO text,
decimals to their scale), missing columns filled (auto-increment keys numbered as the engine
would, literal defaults, NULL, or a synthetic value for NOT NULL), and rows that break a key,
``NOT NULL`` or a foreign key are left out. Tables without repository rows get deterministic
synthetic rows seeded by (seed, schema hash, table): realistic values by column name where the
name says what it holds, keys unique, foreign keys pointing at existing parent rows.

``render_inserts`` writes the final rows as canonical INSERT statements that rebuild the
database exactly in SQLite and in DuckDB (DuckDB checks foreign keys row by row against rows
already stored, so a self-referencing table is inserted in waves, parents first).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, ROUND_HALF_EVEN
from typing import Optional

from codecorpus.sql.ddl import Column, Schema, Statement, Table, bare_name, quote

INT32 = 2**31 - 1
INT64 = 2**63 - 1


class UnsupportedInsert(ValueError):
    """An INSERT whose values are not plain literals (the reason is the message)."""


@dataclass
class Batch:
    """Rows of one table read from one statement: ``columns`` is None when the statement
    gave no column list (values are then positional)."""

    table: str
    columns: Optional[tuple]
    rows: list = field(default_factory=list)


# --- reading INSERT and COPY statements ---------------------------------------------------------

_INSERT_HEAD_RE = re.compile(
    r"(?:INSERT|REPLACE)\s+(?:(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY)\s+)*(?:INTO\s+)?"
    r"((?:\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|[\w$#@]+)"
    r"(?:\s*\.\s*(?:\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|[\w$#@]+))*)"
    r"\s*(?:\(([^()]*)\))?\s*(VALUES|VALUE|SELECT|SET|DEFAULT\s+VALUES|\()", re.I | re.S)

_VALUE_TOKEN_RE = {
    True: re.compile(  # backslash escapes (MySQL, PostgreSQL E'')
        r"\s*(?:(?P<str>[NnEe]?'(?:[^'\\]|''|\\.)*')|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
        r"|(?P<hex>[xX]'[0-9a-fA-F]*'|0x[0-9a-fA-F]+)|(?P<word>[A-Za-z_][\w$]*)|(?P<punct>::|\|\||[(),.]))"
        r"|\s*(?P<dstr>\"(?:[^\"\\]|\"\"|\\.)*\")", re.S),
    False: re.compile(
        r"\s*(?:(?P<str>[NnEe]?'(?:[^']|'')*')|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
        r"|(?P<hex>[xX]'[0-9a-fA-F]*'|0x[0-9a-fA-F]+)|(?P<word>[A-Za-z_][\w$]*)|(?P<punct>::|\|\||[(),.]))", re.S),
}
_LITERAL = {
    True: r"(?:[Nn]?'(?:[^'\\]|''|\\.)*'|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?i:NULL|TRUE|FALSE)\b)",
    False: r"(?:[Nn]?'(?:[^']|'')*'|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?i:NULL|TRUE|FALSE)\b)",
}
_FAST_ROW = {k: re.compile(rf"\s*\(\s*{lit}(?:\s*,\s*{lit})*\s*\)", re.S) for k, lit in _LITERAL.items()}
_FAST_LITERAL = {k: re.compile(lit, re.S) for k, lit in _LITERAL.items()}
_MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "\\": "\\", "'": "'", '"': '"',
                  "%": "\\%", "_": "\\_"}
_TRAILER_RE = re.compile(r"\s*(?:ON\s+CONFLICT\b.*|ON\s+DUPLICATE\s+KEY\b.*|RETURNING\b.*)?\s*;?\s*\Z", re.I | re.S)


def _split_columns(text: str) -> tuple:
    return tuple(bare_name(c) for c in text.split(",") if c.strip())


def read_insert(statement: Statement, dialect: str) -> Batch:
    """The table, column list and literal rows of one ``INSERT … VALUES`` statement."""
    text = statement.text
    start = 0
    m = _INSERT_HEAD_RE.search(text)
    if not m:
        raise UnsupportedInsert("insert_form")
    if m.group(3).upper() not in ("VALUES", "VALUE"):
        raise UnsupportedInsert("insert_select_or_set")
    batch = Batch(bare_name(m.group(1)), _split_columns(m.group(2)) if m.group(2) else None)
    start = m.end()
    backslash = dialect in ("mysql",)
    token_re = _VALUE_TOKEN_RE[backslash]
    scanner = _ValueScanner(text, start, token_re, backslash or dialect == "postgres")
    while True:
        batch.rows.append(tuple(scanner.row()))
        tok = scanner.peek()
        if tok is None:
            break
        if tok == ("punct", ","):
            scanner.next()
            continue
        rest = text[scanner.pos:]
        if _TRAILER_RE.fullmatch(rest):
            break
        raise UnsupportedInsert("insert_trailer")
    return batch


class _ValueScanner:
    def __init__(self, text: str, pos: int, token_re: re.Pattern, postgres_e: bool):
        self.text, self.pos, self.token_re = text, pos, token_re
        self.mysql = token_re is _VALUE_TOKEN_RE[True]
        self.postgres_e = postgres_e
        self._peeked = None

    def peek(self):
        if self._peeked is None:
            m = self.token_re.match(self.text, self.pos)
            if not m:
                rest = self.text[self.pos:]
                if not rest.strip() or rest.strip() == ";":
                    return None
                if _TRAILER_RE.fullmatch(rest):
                    return None
                raise UnsupportedInsert("unreadable_value")
            kind = m.lastgroup
            self._peeked = (kind, m.group(kind), m.end())
        return self._peeked[:2]

    def next(self):
        tok = self.peek()
        if tok is None:
            raise UnsupportedInsert("truncated_insert")
        self.pos = self._peeked[2]
        self._peeked = None
        return tok

    def expect(self, value: str):
        tok = self.next()
        if tok != ("punct", value):
            raise UnsupportedInsert("unexpected_token")

    def row(self) -> list:
        if self._peeked is None:  # fast path: a tuple of plain literals, read with two regex calls
            fast = _FAST_ROW[self.mysql].match(self.text, self.pos)
            if fast:
                self.pos = fast.end()
                return [self._literal(tok) for tok in _FAST_LITERAL[self.mysql].findall(fast.group())]
        self.expect("(")
        values = []
        while True:
            values.append(self.value())
            tok = self.next()
            if tok == ("punct", ")"):
                return values
            if tok != ("punct", ","):
                raise UnsupportedInsert("unexpected_token")

    def _literal(self, tok: str):
        head = tok[0]
        if head == "'" or head in "Nn" and tok[1:2] == "'":
            return self._string(tok)
        upper = tok.upper()
        if upper == "NULL":
            return None
        if upper in ("TRUE", "FALSE"):
            return upper == "TRUE"
        try:
            return int(tok)
        except ValueError:
            return Decimal(tok)

    def value(self):
        kind, text = self.next()
        value = self._atom(kind, text)
        while self.peek() in (("punct", "::"), ("punct", "||")):
            if self.next()[1] == "::":  # PostgreSQL cast: the literal stays as it is
                self._type_name()
            else:  # 'AC' || chr(38) || 'DC': Oracle spells '&' this way to dodge SQL*Plus substitution
                right = self._atom(*self.next())
                value = _concat_text(value) + _concat_text(right)
        return value

    def _type_name(self):
        kind, _ = self.next()
        if kind != "word":
            raise UnsupportedInsert("unexpected_token")
        while self.peek() and (self.peek()[0] == "word" or self.peek() == ("punct", ".")):
            self.next()  # timestamp with time zone, character varying, public.mpaa_rating
        if self.peek() == ("punct", "("):
            depth = 0
            while True:
                tok = self.next()
                depth += tok == ("punct", "(")
                depth -= tok == ("punct", ")")
                if depth == 0:
                    break

    def _atom(self, kind: str, text: str):
        if kind == "str":
            return self._string(text)
        if kind == "dstr":  # MySQL: a double-quoted string literal
            return self._string("'" + text[1:-1].replace('""', '"').replace("'", "''") + "'")
        if kind == "num":
            if re.fullmatch(r"[-+]?\d+", text):
                return int(text)
            return Decimal(text)
        if kind == "hex":
            digits = text[2:-1] if text[0] in "xX" and text[1] == "'" else text[2:]
            try:
                return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)
            except ValueError:
                raise UnsupportedInsert("bad_hex") from None
        if kind == "punct":
            if text == "(":  # a parenthesised literal: (1)
                value = self.value()
                self.expect(")")
                return value
            raise UnsupportedInsert("unexpected_token")
        word = text.upper()
        if word == "NULL":
            return None
        if word in ("TRUE", "FALSE"):
            return word == "TRUE"
        if word in ("DATE", "TIMESTAMP", "TIME", "DATETIME") and self.peek() and self.peek()[0] == "str":
            return self._string(self.next()[1])
        if self.peek() == ("punct", "("):
            return self._call(word)
        raise UnsupportedInsert("expression_value")

    def _call(self, name: str):
        self.expect("(")
        if name in ("TO_DATE", "TO_TIMESTAMP", "STR_TO_DATE", "DATE", "TIMESTAMP", "DATETIME", "N", "UNHEX",
                    "TO_CHAR", "TO_NUMBER", "DECIMAL"):
            args = [self.value()]
            while self.peek() == ("punct", ","):
                self.next()
                args.append(self.value())
            self.expect(")")
            if name == "UNHEX" and isinstance(args[0], str):
                try:
                    return bytes.fromhex(args[0])
                except ValueError:
                    raise UnsupportedInsert("bad_hex") from None
            if name == "TO_NUMBER" and isinstance(args[0], str):
                try:
                    return Decimal(args[0])
                except InvalidOperation:
                    raise UnsupportedInsert("bad_number") from None
            return args[0]
        if name in ("CHR", "CHAR", "NCHAR"):
            code = self.value()
            self.expect(")")
            if not isinstance(code, int) or not 0 < code < 0x110000:
                raise UnsupportedInsert("function_value")
            return chr(code)
        if name == "CONCAT":
            parts = [self.value()]
            while self.peek() == ("punct", ","):
                self.next()
                parts.append(self.value())
            self.expect(")")
            return "".join(_concat_text(p) for p in parts)
        if name in ("CAST", "TRY_CAST"):
            value = self.value()
            kind, word = self.next()
            if word.upper() != "AS":
                raise UnsupportedInsert("unexpected_token")
            self._type_name()
            self.expect(")")
            return value
        if name in ("CONVERT", "TRY_CONVERT"):  # T-SQL CONVERT(type, value [, style])
            self._type_name()
            self.expect(",")
            value = self.value()
            if self.peek() == ("punct", ","):
                self.next()
                self.value()
            self.expect(")")
            return value
        raise UnsupportedInsert("function_value")

    def _string(self, text: str) -> str:
        prefix = text[0] if text[0] in "NnEe" else ""
        body = text[len(prefix) + 1:-1]
        if self.mysql or (prefix in "Ee" and prefix and self.postgres_e):
            unescape = lambda m: "'" if m.group(0) == "''" else _MYSQL_ESCAPES.get(m.group(1), m.group(1))  # noqa: E731
            return re.sub(r"\\(.)|''", unescape, body, flags=re.S)
        return body.replace("''", "'")


def _concat_text(value) -> str:
    if value is None:
        raise UnsupportedInsert("expression_value")
    if isinstance(value, bytes):  # SQLite: 'a' || x'0a' || 'b' is text
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedInsert("expression_value") from None
    return value if isinstance(value, str) else str(value)


def read_copy(statement: Statement) -> Batch:
    """Rows of a PostgreSQL ``COPY table (cols) FROM stdin;`` block (text format)."""
    m = re.search(r"COPY\s+([\w.\"]+)\s*(?:\(([^)]*)\))?\s+FROM\s+stdin", statement.text, re.I)
    if not m:
        raise UnsupportedInsert("copy_form")
    if re.search(r"\b(?:CSV|BINARY)\b|FORMAT\s+(?:csv|binary)", statement.text[m.end():], re.I):
        raise UnsupportedInsert("copy_csv_or_binary")
    batch = Batch(bare_name(m.group(1)), _split_columns(m.group(2)) if m.group(2) else None)
    for line in (statement.data or "").split("\n"):
        if not line:
            continue
        batch.rows.append(tuple(None if f == "\\N" else _copy_unescape(f) for f in line.split("\t")))
    return batch


_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _copy_unescape(field: str) -> str:
    if "\\" not in field:
        return field
    return re.sub(r"\\(.)", lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), field)


def collect_batches(statements: list, dialect: str, max_rows_per_table: int, counts: Counter) -> list:
    """Batches of every INSERT / COPY statement, at most ``max_rows_per_table`` rows per table
    (in file order). ``counts`` gets ``inserts/<outcome>`` tallies."""
    batches: list = []
    per_table: Counter = Counter()
    for st in statements:
        if st.kind not in ("insert", "copy"):
            continue
        try:
            batch = read_copy(st) if st.kind == "copy" else read_insert(st, dialect)
        except UnsupportedInsert as e:
            counts[f"inserts/unsupported/{e}"] += 1
            continue
        except RecursionError:
            counts["inserts/unsupported/too_deep"] += 1
            continue
        key = batch.table.lower()
        room = max_rows_per_table - per_table[key]
        if room <= 0:
            counts["rows/over_cap"] += len(batch.rows)
            continue
        if len(batch.rows) > room:
            counts["rows/over_cap"] += len(batch.rows) - room
            batch.rows = batch.rows[:room]
        per_table[key] += len(batch.rows)
        counts["inserts/read"] += 1
        counts["rows/read"] += len(batch.rows)
        batches.append(batch)
    return batches


def refine_types(schema: Schema, batches: list) -> None:
    """Unconstrained ``NUMBER`` / ``NUMERIC`` columns become integers when every repository value
    for them is integral, reals otherwise (the DDL alone cannot tell)."""
    for table in schema.tables.values():
        guessed = [c for c in table.columns if c.guessed]
        if not guessed:
            continue
        names = [c.name.lower() for c in table.columns]
        values: dict = {c.name: [] for c in guessed}
        for batch in batches:
            if batch.table.lower() != table.name.lower():
                continue
            cols = [c.lower() for c in batch.columns] if batch.columns else names
            for col in guessed:
                if col.name.lower() in cols:
                    i = cols.index(col.name.lower())
                    values[col.name].extend(r[i] for r in batch.rows if i < len(r) and r[i] is not None)
        for col in guessed:
            seen = values[col.name]
            if not seen:
                continue
            integral = all(isinstance(v, int) or (isinstance(v, Decimal) and v == v.to_integral_value())
                           for v in seen if not isinstance(v, bool))
            col.family, col.big = ("integer", True) if integral else ("real", False)


# --- fitting values to column types --------------------------------------------------------------


class BadValue(ValueError):
    pass


_DATE_RE = re.compile(r"\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
                      r"\s*(?:[AaPp][Mm])?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?|UTC)?\s*\Z")
_DATE_COMPACT_RE = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*\Z")
_DATE_US_RE = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*\Z")
_TIME_RE = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*\Z")


def _parse_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise BadValue("not a date")
    m = _DATE_RE.match(value)
    if m:
        y, mo, d, hh, mi, ss, frac = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
    else:
        m = _DATE_COMPACT_RE.match(value)
        if m:
            (y, mo, d), hh, mi, ss, micro = m.groups(), None, None, None, 0
        else:
            m = _DATE_US_RE.match(value)
            if not m:
                raise BadValue("not a date")
            mo, d, y, hh, mi, ss = m.groups()
            micro = 0
    try:
        return dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
    except ValueError as e:
        raise BadValue(str(e)) from None


def format_timestamp(value: dt.datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def coerce(value, col: Column):
    """``value`` as column ``col`` stores it (None stays None); raises ``BadValue``."""
    if value is None:
        return None
    f = col.family
    try:
        if f == "integer":
            if isinstance(value, bool):
                out = int(value)
            elif isinstance(value, int):
                out = value
            elif isinstance(value, (Decimal, float)):
                if not math.isfinite(float(value)) or value != int(value):
                    raise BadValue("not an integer")
                out = int(value)
            elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(?:\.0*)?\s*", value):
                out = int(Decimal(value.strip()))
            else:
                raise BadValue("not an integer")
            if abs(out) > INT64:
                raise BadValue("integer out of range")
            if abs(out) > INT32:
                col.big = True
            return out
        if f in ("real", "decimal"):
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, str):
                value = Decimal(value.strip().replace(",", ""))
            if isinstance(value, float) and not math.isfinite(value):
                raise BadValue("not finite")
            if f == "real":
                out = float(value)
                if not math.isfinite(out):
                    raise BadValue("not finite")
                return out
            quantum = Decimal(1).scaleb(-col.scale)
            out = Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN)
            if out.adjusted() >= col.precision - col.scale:
                raise BadValue("decimal out of range")
            return out
        if f == "text":
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif not isinstance(value, str):
                value = str(value)
            if "\x00" in value:
                raise BadValue("NUL character")
            value.encode("utf-8")  # lone surrogates fail here
            if col.enum and value not in col.enum:
                raise BadValue("not an enum value")
            return value
        if f == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, Decimal)) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("t", "true", "y", "yes", "1", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("f", "false", "n", "no", "0", "off"):
                return False
            raise BadValue("not a boolean")
        if f == "date":
            return _parse_datetime(value).strftime("%Y-%m-%d")
        if f == "timestamp":
            return format_timestamp(_parse_datetime(value))
        if f == "time":
            m = _TIME_RE.match(value) if isinstance(value, str) else None
            if not m:
                return _parse_datetime(value).strftime("%H:%M:%S")
            hh, mi, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            if hh > 23 or mi > 59 or ss > 59:
                raise BadValue("not a time")
            return f"{hh:02d}:{mi:02d}:{ss:02d}"
        if f == "blob":
            if isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return value.encode("utf-8")
            raise BadValue("not a blob")
    except (InvalidOperation, ValueError, TypeError, OverflowError, UnicodeError) as e:
        if isinstance(e, BadValue):
            raise
        raise BadValue(str(e)) from None
    raise BadValue(f"unknown family {f}")


# --- assembling the rows of every table -------------------------------------------------------------


@dataclass
class TableRows:
    table: Table
    rows: list = field(default_factory=list)    # tuples in column order
    waves: list = field(default_factory=list)   # insertion order: lists of row indexes
    source: str = "synthetic"                   # "repository" | "synthetic" | "empty"


def assemble(schema: Schema, batches: list, seed: int, schema_hash: str, synthetic_rows: int,
             max_rows_per_table: int, counts: Counter) -> list:
    """Rows for every table of ``schema`` (parents first): repository batches fitted to the
    schema, synthetic rows for the tables that have none. ``counts`` gets ``rows/<outcome>``."""
    by_table: dict = {}
    for batch in batches:
        by_table.setdefault(batch.table.lower(), []).append(batch)
    done: dict = {}
    out = []
    for key, table in schema.tables.items():
        rng = random.Random(f"{seed}:{schema_hash}:{table.name}")
        result = TableRows(table)
        if by_table.get(key):
            result.rows = _fit_batches(table, by_table[key], rng, counts)
            result.source = "repository"
        result.rows = _enforce_keys(schema, table, result.rows, done, counts, source=result.source)
        if not result.rows and result.source == "repository":
            counts["tables/repository_rows_all_dropped"] += 1
        if not result.rows:
            result.rows = synthesise(schema, table, done, rng, synthetic_rows)
            result.rows = _enforce_keys(schema, table, result.rows, done, counts, source="synthetic")
            result.source = "synthetic" if result.rows else "empty"
        if len(result.rows) > max_rows_per_table:
            counts["rows/over_cap"] += len(result.rows) - max_rows_per_table
            result.rows = result.rows[:max_rows_per_table]
            result.rows = _enforce_keys(schema, table, result.rows, done, counts, source=result.source)
        result.waves = _waves(table, result.rows, counts)
        kept = {i for wave in result.waves for i in wave}
        if len(kept) != len(result.rows):
            result.rows = [r for i, r in enumerate(result.rows) if i in kept]
            result.waves = _waves(table, result.rows, counts)
        counts[f"rows/{result.source}"] += len(result.rows)
        done[key] = result
        out.append(result)
    return out


def _fit_batches(table: Table, batches: list, rng: random.Random, counts: Counter) -> list:
    cols = table.columns
    index = {c.name.lower(): i for i, c in enumerate(cols)}
    next_id = {}
    rows = []
    for batch in batches:
        if batch.columns is None:
            if batch.rows and len(batch.rows[0]) != len(cols):
                counts["rows/column_mismatch"] += len(batch.rows)
                continue
            positions = list(range(len(cols)))
        else:
            positions = [index.get(c.lower()) for c in batch.columns]
            if any(p is None for p in positions) or len(set(positions)) != len(positions):
                counts["rows/column_mismatch"] += len(batch.rows)
                continue
        missing = [i for i in range(len(cols)) if i not in positions]
        for raw in batch.rows:
            if len(raw) != len(positions):
                counts["rows/column_mismatch"] += 1
                continue
            row = [None] * len(cols)
            try:
                for p, value in zip(positions, raw):
                    row[p] = coerce(value, cols[p])
            except BadValue:
                counts["rows/bad_value"] += 1
                continue
            for i in missing:
                col = cols[i]
                if col.autoincrement:
                    row[i] = None  # numbered below, after the explicit ids are known
                elif col.has_default and col.default != "CURRENT_TIMESTAMP":
                    try:
                        row[i] = coerce(col.default, col)
                    except BadValue:
                        row[i] = None
                elif col.not_null:
                    row[i] = _value_for(col, table, rng, len(rows))
            rows.append(row)
    for i, col in enumerate(cols):
        if col.autoincrement:
            taken = {r[i] for r in rows if r[i] is not None}
            next_id[i] = max(taken, default=0) + 1
            for r in rows:
                if r[i] is None:
                    r[i] = next_id[i]
                    next_id[i] += 1
    return [tuple(r) for r in rows]


def _enforce_keys(schema: Schema, table: Table, rows: list, done: dict, counts: Counter, source: str) -> list:
    """Rows that keep NOT NULL, primary-key / unique and foreign-key constraints (self
    references are checked in ``_waves``)."""
    cols = table.columns
    pos = {c.name: i for i, c in enumerate(cols)}
    not_null = [i for i, c in enumerate(cols) if c.not_null]
    key_sets = [[pos[c] for c in ks] for ks in table.key_sets()]
    seen = [set() for _ in key_sets]
    parent_keys = []
    for fk in table.foreign_keys:
        if fk.ref_table.lower() == table.name.lower():
            continue
        parent = done.get(fk.ref_table.lower())
        pcols = [c.name for c in parent.table.columns] if parent else []
        ppos = [pcols.index(c) for c in fk.ref_columns] if parent else []
        keys = {tuple(r[p] for p in ppos) for r in parent.rows} if parent else set()
        parent_keys.append(([pos[c] for c in fk.columns], keys))
    kept = []
    for row in rows:
        if any(row[i] is None for i in not_null):
            counts[f"rows/{source}/null_in_not_null"] += 1
            continue
        keys = [tuple(row[i] for i in ks) for ks in key_sets]
        if any(k in s for k, s in zip(keys, seen) if None not in k):
            counts[f"rows/{source}/duplicate_key"] += 1
            continue
        dangling = False
        for fpos, pkeys in parent_keys:
            value = tuple(row[i] for i in fpos)
            if None not in value and value not in pkeys:
                dangling = True
                break
        if dangling:
            counts[f"rows/{source}/dangling_foreign_key"] += 1
            continue
        for k, s in zip(keys, seen):
            if None not in k:
                s.add(k)
        kept.append(row)
    return kept


def _waves(table: Table, rows: list, counts: Counter) -> list:
    """Insertion waves: rows whose self-reference points at an earlier wave. Rows whose
    self-reference never resolves (dangling, or a cycle) are left out."""
    self_fks = [fk for fk in table.foreign_keys if fk.ref_table.lower() == table.name.lower()]
    if not self_fks or not rows:
        return [list(range(len(rows)))] if rows else []
    names = [c.name for c in table.columns]
    links = [([names.index(c) for c in fk.columns], [names.index(c) for c in fk.ref_columns]) for fk in self_fks]
    placed_keys = [set() for _ in links]
    remaining = list(range(len(rows)))
    waves = []
    while remaining:
        wave, rest = [], []
        for i in remaining:
            row = rows[i]
            ok = True
            for (src, _), keys in zip(links, placed_keys):
                value = tuple(row[p] for p in src)
                if None not in value and value not in keys:
                    ok = False
                    break
            (wave if ok else rest).append(i)
        if not wave:
            counts["rows/self_reference_unresolved"] += len(rest)
            break
        for i in wave:
            for (_, dst), keys in zip(links, placed_keys):
                keys.add(tuple(rows[i][p] for p in dst))
        waves.append(wave)
        remaining = rest
    return waves


# --- synthetic rows ---------------------------------------------------------------------------------

FIRST_NAMES = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia",
               "Donald", "Katherine", "John", "Hedy", "Tim", "Annie", "Guido", "Shafi", "Niklaus", "Sophie", "Yukihiro",
               "Leslie", "Mary", "Carlos", "Amara", "Priya", "Mateo", "Chen", "Fatima", "Olga", "Kwame"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
              "Dijkstra", "Perlman", "Knuth", "Johnson", "McCarthy", "Lamarr", "Berners", "Easley", "Rossum",
              "Goldwasser", "Wirth", "Wilson", "Matsumoto", "Lamport", "Keller", "Silva", "Okafor", "Patel", "Garcia",
              "Wei", "Hassan", "Ivanova", "Mensah"]
CITIES = [("Lisbon", "Portugal"), ("Toronto", "Canada"), ("Oslo", "Norway"), ("Berlin", "Germany"),
          ("Sao Paulo", "Brazil"), ("Chicago", "USA"), ("Paris", "France"), ("Prague", "Czech Republic"),
          ("Sydney", "Australia"), ("Bangalore", "India"), ("Santiago", "Chile"), ("Dublin", "Ireland"),
          ("Madrid", "Spain"), ("Stockholm", "Sweden"), ("Boston", "USA"), ("Vienna", "Austria")]
STATES = ["CA", "NY", "TX", "WA", "ON", "BC", "SP", "NSW", "IL", "MA"]
STREETS = ["Main", "Oak", "Maple", "Cedar", "Elm", "Park", "Lake", "Hill", "River", "Station"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Industries", "Wayne Enterprises", "Hooli",
             "Vandelay Imports", "Soylent", "Tyrell Systems"]
JOB_TITLES = ["Sales Manager", "Sales Support Agent", "IT Manager", "IT Staff", "General Manager", "Engineer",
              "Analyst", "Accountant", "Designer", "Consultant"]
WORDS = ["river", "silver", "harbor", "quiet", "golden", "north", "echo", "stone", "velvet", "summer", "crimson",
         "forest", "signal", "paper", "lantern", "ocean", "thunder", "glass", "maple", "orbit", "winter", "copper"]
CATEGORIES = {
    "status": ["active", "inactive", "pending", "closed"],
    "state": STATES,
    "gender": ["female", "male", "nonbinary"],
    "genre": ["Rock", "Jazz", "Blues", "Pop", "Classical", "Metal"],
    "category": ["Books", "Electronics", "Garden", "Toys", "Sports", "Music"],
    "type": ["standard", "premium", "basic", "custom"],
    "kind": ["standard", "premium", "basic", "custom"],
    "level": ["beginner", "intermediate", "advanced"],
    "grade": ["A", "B", "C", "D"],
    "priority": ["low", "medium", "high", "urgent"],
    "department": ["Sales", "Engineering", "Finance", "Support", "Marketing"],
    "role": ["admin", "editor", "viewer", "owner"],
    "currency": ["USD", "EUR", "GBP", "JPY", "BRL"],
    "language": ["English", "Spanish", "French", "German", "Japanese"],
    "color": ["red", "green", "blue", "black", "white"],
    "colour": ["red", "green", "blue", "black", "white"],
    "method": ["card", "cash", "transfer"],
    "channel": ["web", "store", "phone"],
    "format": ["MPEG audio file", "AAC audio file", "Protected video file"],
    "rating": ["G", "PG", "PG-13", "R"],
}
COUNTRIES = ["Portugal", "Canada", "Norway", "Germany", "Brazil", "USA", "France", "Czech Republic", "Australia",
             "India", "Chile", "Ireland", "Spain", "Sweden", "Austria", "Japan", "Kenya", "Mexico", "Poland", "Italy"]
# What a thing's `name` column holds, by the table (or a column prefix): country.name -> a country.
NAMED_THINGS = {
    "country": COUNTRIES, "countries": COUNTRIES, "city": [c for c, _ in CITIES], "genre": CATEGORIES["genre"],
    "category": CATEGORIES["category"], "department": CATEGORIES["department"], "language": CATEGORIES["language"],
    "company": COMPANIES, "publisher": COMPANIES, "supplier": COMPANIES, "vendor": COMPANIES, "brand": COMPANIES,
    "color": CATEGORIES["color"], "currency": CATEGORIES["currency"], "role": CATEGORIES["role"],
    "status": CATEGORIES["status"],
}
PERSON_TABLES = ("customer", "employee", "user", "staff", "author", "person", "people", "student", "actor", "member",
                 "client", "patient", "teacher", "driver", "player", "contact", "account", "owner", "manager",
                 "instructor", "reviewer", "artist", "writer", "doctor")


def _tokens(name: str) -> list:
    from codecorpus.sql.ddl import humanise

    return humanise(name).split()


def _value_for(col: Column, table: Table, rng: random.Random, i: int, ctx: Optional[dict] = None):
    """A plausible value for ``col`` (row ``i``): by column name where it is obvious, else by type.
    ``ctx`` carries the row's person so its name and e-mail agree."""
    toks = _tokens(col.name)
    last = toks[-1] if toks else ""
    joined = "_".join(toks)
    tname = " ".join(_tokens(table.name))
    person = any(p in tname for p in PERSON_TABLES)
    f = col.family
    if col.enum:
        return rng.choice(col.enum)
    if f == "boolean":
        return rng.random() < (0.8 if last in ("active", "enabled", "visible", "available") else 0.5)
    if f == "blob":
        return bytes(rng.randrange(256) for _ in range(8))
    if f in ("date", "timestamp"):
        if "birth" in joined or last in ("dob", "birthday"):
            start, span = dt.datetime(1950, 1, 1), 55 * 365
        else:
            start, span = dt.datetime(2015, 1, 1), 10 * 365
        value = start + dt.timedelta(days=rng.randrange(span), seconds=rng.randrange(86400) if f == "timestamp" else 0)
        return value.strftime("%Y-%m-%d") if f == "date" else format_timestamp(value)
    if f == "time":
        return f"{rng.randrange(24):02d}:{rng.randrange(0, 60, 5):02d}:00"
    if f == "integer":
        return _int_for(joined, last, rng)
    if f in ("real", "decimal"):
        value = _number_for(joined, last, rng)
        if f == "decimal":
            limit = 10 ** (col.precision - col.scale) - 1
            value = max(-limit, min(limit, value))
            return Decimal(repr(value)).quantize(Decimal(1).scaleb(-col.scale), rounding=ROUND_HALF_EVEN)
        return round(value, 2)
    return _fit_length(_text_for(joined, last, toks, tname, person, rng, i, {} if ctx is None else ctx), col.length)


def _int_for(joined: str, last: str, rng: random.Random) -> int:
    if last in ("age",):
        return rng.randint(18, 80)
    if last in ("year", "yr"):
        return rng.randint(1990, 2024)
    if last in ("quantity", "qty", "count", "stock", "units", "seats", "copies"):
        return rng.randint(1, 50)
    if last in ("rating", "stars", "score", "rank", "priority"):
        return rng.randint(1, 5) if last != "score" else rng.randint(0, 100)
    if last in ("milliseconds", "ms"):
        return rng.randint(60_000, 600_000)
    if last in ("seconds", "duration", "length", "minutes"):
        return rng.randint(30, 300) if last != "seconds" else rng.randint(60, 3600)
    if last in ("bytes", "size"):
        return rng.randint(1_000, 10_000_000)
    if last in ("id", "no", "number", "num", "code"):
        return rng.randint(1, 1000)
    return rng.randint(0, 1000)


def _number_for(joined: str, last: str, rng: random.Random) -> float:
    if last in ("salary", "income", "wage"):
        return float(rng.randrange(30_000, 150_000, 500))
    if last in ("price", "cost", "fee", "rate", "charge") or "price" in joined:
        return rng.choice([0.99, 1.99, 4.99, 9.99, 14.99, 19.99, 29.99, 49.99, 99.0])
    if last in ("amount", "total", "balance", "payment", "revenue", "budget", "subtotal", "tax"):
        return round(rng.uniform(1, 500), 2)
    if last in ("lat", "latitude"):
        return round(rng.uniform(-60, 70), 4)
    if last in ("lon", "lng", "longitude"):
        return round(rng.uniform(-170, 170), 4)
    if last in ("percent", "percentage", "discount", "ratio", "share"):
        return round(rng.uniform(0, 1), 2)
    if last in ("rating", "score", "stars"):
        return round(rng.uniform(1, 5), 1)
    return round(rng.uniform(0, 1000), 2)


def _text_for(joined: str, last: str, toks: list, tname: str, person: bool, rng: random.Random, i: int,
              ctx: dict) -> str:
    if "first" not in ctx:
        ctx["first"], ctx["last"] = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    first, lastname = ctx["first"], ctx["last"]
    if "email" in joined or last == "mail":
        return f"{first}.{lastname}{i}@example.com".lower()
    if joined in ("first_name", "firstname", "given_name", "fname", "forename") or (last == "first" and len(toks) == 1):
        return first
    if joined in ("last_name", "lastname", "surname", "family_name", "lname"):
        return lastname
    if last in ("username", "login", "handle", "nickname") or joined == "user_name":
        return f"{first.lower()}{i}"
    if last == "name" or last == "author" or joined == "full_name":
        if person or joined in ("full_name", "author", "author_name", "customer_name", "employee_name"):
            return f"{first} {lastname}"
        for word in reversed(tname.split() + toks[:-1]):
            if word in NAMED_THINGS:
                return rng.choice(NAMED_THINGS[word])
        return f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}"
    if last == "title":
        return rng.choice(JOB_TITLES) if person else f"The {rng.choice(WORDS).title()} {rng.choice(WORDS).title()}"
    if last == "city" or last == "town":
        return rng.choice(CITIES)[0]
    if last == "country":
        return rng.choice(COUNTRIES)
    if last in ("state", "province", "region") and "status" not in joined:
        return rng.choice(STATES)
    if last in ("address", "street", "address1", "address2", "line1", "line2"):
        return f"{rng.randint(1, 999)} {rng.choice(STREETS)} St"
    if last in ("zip", "zipcode", "postcode") or "postal" in joined:
        return f"{rng.randint(10000, 99999)}"
    if last in ("phone", "fax", "mobile", "telephone", "tel", "cell"):
        return f"+1 (555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    if last in ("company", "organization", "organisation", "employer", "publisher", "manufacturer", "vendor",
                "supplier", "brand"):
        return rng.choice(COMPANIES)
    if last in ("url", "website", "homepage", "link", "uri"):
        return f"https://www.example.com/{rng.choice(WORDS)}"
    if last in ("description", "comment", "comments", "notes", "note", "body", "content", "text", "bio", "summary",
                "message", "review", "details"):
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).capitalize() + "."
    if last in ("password", "hash", "token", "secret", "salt", "uuid", "guid"):
        return "".join(rng.choice("0123456789abcdef") for _ in range(16))
    if last in ("code", "sku", "isbn", "ref", "reference", "serial"):
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    for word in reversed(toks):
        if word in CATEGORIES:
            return rng.choice(CATEGORIES[word])
    return f"{rng.choice(WORDS)} {rng.choice(WORDS)}"


def _fit_length(text: str, length: Optional[int]) -> str:
    return text[:length] if length else text


def synthesise(schema: Schema, table: Table, done: dict, rng: random.Random, n: int) -> list:
    """``n`` deterministic rows for ``table`` (fewer when keys run out): primary keys and unique
    sets unique, NOT NULL filled, foreign keys drawn from the parent rows already made."""
    cols = table.columns
    pos = {c.name: i for i, c in enumerate(cols)}
    fk_of: dict = {}
    for fk in table.foreign_keys:
        self_ref = fk.ref_table.lower() == table.name.lower()
        parent = None if self_ref else done.get(fk.ref_table.lower())
        if parent is not None:
            pnames = [c.name for c in parent.table.columns]
            choices = sorted({tuple(r[pnames.index(c)] for c in fk.ref_columns) for r in parent.rows},
                             key=lambda k: tuple((v is None, str(v)) for v in k))
        else:
            choices = None
        fk_of[tuple(pos[c] for c in fk.columns)] = (fk, self_ref, choices)
    key_sets = [[pos[c] for c in ks] for ks in table.key_sets()]
    seen = [set() for _ in key_sets]
    single_unique = {ks[0] for ks in key_sets if len(ks) == 1}
    rows: list = []
    for attempt in range(n * 4):
        if len(rows) >= n:
            break
        i = len(rows)
        row = [None] * len(cols)
        ok = True
        for fpos, (fk, self_ref, choices) in fk_of.items():
            nullable = not any(cols[p].not_null for p in fpos)
            if self_ref:
                names = [c.name for c in cols]
                pool = [tuple(r[names.index(c)] for c in fk.ref_columns) for r in rows]
                if not pool or (nullable and rng.random() < 0.25):
                    if not nullable:
                        ok = False
                    continue
                value = rng.choice(pool)
            elif not choices:
                if not nullable:
                    ok = False
                continue
            elif nullable and rng.random() < 0.1:
                continue
            else:
                value = rng.choice(choices)
            for p, v in zip(fpos, value):
                row[p] = v
        if not ok:
            continue
        fk_positions = {p for fpos in fk_of for p in fpos}
        ctx: dict = {}
        for j, col in enumerate(cols):
            if j in fk_positions:
                continue
            if col.autoincrement or (j in single_unique and col.family == "integer"):
                row[j] = i + 1
            elif j in single_unique and col.family == "text" and _is_identifier_text(col):
                row[j] = _unique_code(table, i, col.length)
            elif j in single_unique and col.family in ("date", "timestamp"):
                day = dt.datetime(2015, 1, 1) + dt.timedelta(days=i)
                row[j] = day.strftime("%Y-%m-%d") if col.family == "date" else format_timestamp(day)
            elif not col.not_null and rng.random() < 0.1 and j not in single_unique:
                row[j] = None
            else:
                row[j] = _value_for(col, table, rng, i, ctx)
                if j in single_unique and col.family == "text":
                    row[j] = _unique_text(row[j], col, seen, key_sets, j, i)
        keys = [tuple(row[p] for p in ks) for ks in key_sets]
        if any(k in s for k, s in zip(keys, seen) if None not in k):
            continue
        for k, s in zip(keys, seen):
            s.add(k)
        rows.append(tuple(row))
    return rows


def _is_identifier_text(col: Column) -> bool:
    toks = _tokens(col.name)
    return not toks or toks[-1] in ("id", "code", "key", "sku", "isbn", "ref", "uuid", "guid", "slug", "no", "number")


def _unique_code(table: Table, i: int, length: Optional[int]) -> str:
    """``CUS-0001`` style keys, or base-26 letters when the column is too short for that."""
    letters = re.sub(r"[^A-Za-z]", "", table.name).upper()
    code = f"{letters[:3] or 'K'}-{i + 1:04d}"
    if not length or len(code) <= length:
        return code
    out, n = "", i
    for _ in range(max(1, length)):
        out = chr(ord("A") + n % 26) + out
        n //= 26
    return out


def _unique_text(value: str, col: Column, seen: list, key_sets: list, j: int, i: int) -> str:
    for ks, s in zip(key_sets, seen):
        if ks == [j] and (value,) in s:
            suffix = f" {i + 1}"
            base = value[: (col.length - len(suffix))] if col.length and col.length > len(suffix) else value
            return _fit_length(base + suffix, col.length)
    return value


# --- canonical INSERT statements -------------------------------------------------------------------


def literal(value) -> str:
    """A value as an SQL literal both SQLite and DuckDB read back identically."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return "X'" + value.hex().upper() + "'"
    return "'" + value.replace("'", "''") + "'"


def render_inserts(tables: list, rows_per_statement: int = 500) -> list:
    """INSERT statements for every table's rows, parents first, each self-referencing wave
    its own statement(s)."""
    out = []
    for t in tables:
        if not t.rows:
            continue
        head = f"INSERT INTO {quote(t.table.name)} ({', '.join(quote(c.name) for c in t.table.columns)}) VALUES\n"
        for wave in t.waves:
            for start in range(0, len(wave), rows_per_statement):
                chunk = wave[start:start + rows_per_statement]
                values = ",\n".join("(" + ", ".join(literal(v) for v in t.rows[i]) + ")" for i in chunk)
                out.append(head + values)
    return out
