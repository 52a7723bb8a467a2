"""INSERT and COPY statements: the repository's rows read, values fitted to types, rows written back.

Repository rows come from ``INSERT … VALUES`` and PostgreSQL ``COPY … FROM stdin`` blocks.
They are read by a literal scanner (numbers, strings in every dialect's quoting, ``NULL``,
booleans, hex blobs, ``TO_DATE(…)`` / ``CAST(… AS …)`` / ``'…'::type`` / ``DATE '…'`` wrappers),
not by sqlglot: a 600 KB Chinook file has ~15,000 rows and sqlglot would need seconds for it.
Any other expression (a function call, a sub-select) makes its row unusable, and it is counted.
``coerce`` fits a value to a column's type family (dates to ISO text, decimals to their scale).

``render_inserts`` writes the final rows as canonical INSERT statements that rebuild the
database exactly in SQLite and in DuckDB (DuckDB checks foreign keys row by row against rows
already stored, so a self-referencing table is inserted in waves, parents first).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, ROUND_HALF_EVEN
from typing import Optional

from codecorpus.sql.schema import Column, Schema, bare_name, quote
from codecorpus.sql.statements import Statement


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
