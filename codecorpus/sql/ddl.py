"""SQL files -> statements -> a schema model -> runnable SQLite and DuckDB DDL.

Nothing from an input file is ever executed as written. ``CREATE TABLE`` (plus ``ALTER TABLE …
ADD CONSTRAINT`` and ``CREATE [UNIQUE] INDEX``) are parsed with sqlglot into ``Schema``: tables,
typed columns, primary keys, unique sets and foreign keys. The DDL both engines run is rendered
from that model, so everything dialect-only disappears by construction: ``CHARACTER SET``,
``COLLATE``, ``ON UPDATE``, ``ENGINE``, ``COMMENT``, storage and partition clauses, ``CHECK``
and computed expressions, non-literal ``DEFAULT``s. Schema prefixes are stripped, ``SERIAL`` /
``IDENTITY`` / ``AUTO_INCREMENT`` become plain integer keys, ``ENUM`` becomes text with a
``CHECK (col IN (…))``, arrays / JSON / UUID / user-defined types become text. What was dropped
is counted (``notes``) rather than silently lost.

Splitting is a single regular-expression scan (sqlglot's tokenizer needs ~1 s for a 600 KB
Chinook file; this needs a few ms): strings, quoted identifiers, comments and PostgreSQL
dollar-quoted bodies are skipped as atoms, statements end at ``;``, at T-SQL ``GO`` lines, at
Oracle ``/`` lines (which also end PL/SQL blocks), at a MySQL ``DELIMITER``, and T-SQL batches
without semicolons are cut where a new top-level statement starts a line.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

DIALECTS = ("mysql", "postgres", "sqlite", "tsql", "oracle", "db2", "generic")
# sqlglot has no Db2 dialect; Db2 DDL is ANSI with double-quoted identifiers.
SQLGLOT_DIALECT = {"mysql": "mysql", "postgres": "postgres", "sqlite": "sqlite", "tsql": "tsql",
                   "oracle": "oracle", "db2": None, "generic": None}
ENGINES = ("sqlite", "duckdb")


# --- dialect detection ----------------------------------------------------------------------

_PATH_HINTS = (
    ("mysql", re.compile(r"mysql|mariadb", re.I)),
    ("postgres", re.compile(r"postgres|pgsql|(?:^|[^a-z])pg(?:[^a-z]|$)|psql|pagila", re.I)),
    ("sqlite", re.compile(r"sqlite", re.I)),
    ("tsql", re.compile(r"sql_?server|mssql|t-?sql|azure_?sql", re.I)),
    ("oracle", re.compile(r"oracle|pl_?sql|(?:^|[^a-z])ora(?:[^a-z]|$)", re.I)),
    ("db2", re.compile(r"(?:^|[^a-z])db2(?:[^a-z]|$)", re.I)),
)

_CONTENT_HINTS = {
    "mysql": [(r"`", 0.02), (r"\bENGINE\s*=", 5), (r"\bAUTO_INCREMENT\b", 3), (r"\bUNSIGNED\b", 2),
              (r"^\s*DELIMITER\b", 5), (r"\bCHARSET\b", 3), (r"\\'", 0.5)],
    "postgres": [(r"\b(?:BIG|SMALL)?SERIAL\b", 4), (r"::\s*[a-z]", 1), (r"\$\$", 3), (r"\bFROM\s+stdin\b", 10),
                 (r"^\s*\\(?:c|connect|set)\b", 10), (r"\bnextval\s*\(", 4), (r"\bOWNER\s+TO\b", 5),
                 (r"\bsearch_path\b", 5), (r"\bCREATE\s+EXTENSION\b", 5), (r"\bBYTEA\b|\bJSONB\b", 3)],
    "sqlite": [(r"\bAUTOINCREMENT\b", 5), (r"^\s*PRAGMA\b", 3), (r"\bWITHOUT\s+ROWID\b", 5)],
    "tsql": [(r"^\s*GO\s*$", 3), (r"\[dbo\]", 3), (r"\bIDENTITY\s*\(", 4), (r"\bNVARCHAR\s*\(\s*MAX\b", 4),
             (r"\b(?:NON)?CLUSTERED\b", 3), (r"\bSET\s+ANSI_NULLS\b", 5), (r"\bsysobjects\b|\bOBJECT_ID\s*\(", 3),
             (r"\bUNIQUEIDENTIFIER\b|\bDATETIME2\b", 3)],
    "oracle": [(r"\bVARCHAR2\b", 4), (r"\bNUMBER\s*\(", 2), (r"^\s*/\s*$", 3), (r"\bTO_DATE\s*\(", 2),
               (r"\bNVL\s*\(|\bSYSDATE\b", 2), (r"\bNOCACHE\b|\bNOCYCLE\b", 3), (r"^\s*CONNECT\s+\w+/", 5)],
}
_CONTENT_RES = {d: [(re.compile(p, re.I | re.M), w) for p, w in hints] for d, hints in _CONTENT_HINTS.items()}


def detect_dialect(path: str, text: str) -> str:
    """The SQL dialect of a file: a name in the path wins (``Chinook_MySql.sql``), else the
    dialect whose tell-tale syntax scores highest in the first 200 KB, else ``generic``."""
    base = (path or "").rsplit("/", 1)[-1]
    for name in (base, path or ""):
        for dialect, pattern in _PATH_HINTS:
            if pattern.search(name):
                return dialect
    head = text[:200_000]
    scores = {d: sum(min(len(rx.findall(head)), 50) * w for rx, w in res) for d, res in _CONTENT_RES.items()}
    best = max(scores, key=lambda d: (scores[d], d))
    return best if scores[best] >= 3 else "generic"


# --- statement splitting -------------------------------------------------------------------------


@dataclass
class Statement:
    text: str               # the statement without its terminator
    kind: str               # create_table, alter_table, create_index, insert, copy, query, …, other
    line: int               # 1-based line where it starts
    data: Optional[str] = None  # the rows of a ``COPY … FROM stdin`` block


_HEAD_RE = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*", re.S)  # leading blanks and comments
_KINDS = [
    ("create_table", re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMP(?:ORARY)?\s+)?"
                                r"(?:UNLOGGED\s+)?TABLE\b", re.I)),
    ("create_index", re.compile(r"CREATE\s+(?:UNIQUE\s+)?(?:(?:NON)?CLUSTERED\s+)?(?:BITMAP\s+)?INDEX\b", re.I)),
    ("alter_table", re.compile(r"ALTER\s+TABLE\b", re.I)),
    ("insert", re.compile(r"(?:INSERT|REPLACE)\s+(?:(?:IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY)\s+)*"
                          r"(?:INTO\b|(?!SELECT\b)[\w\"`\[])", re.I)),
    ("copy", re.compile(r"COPY\s+[^;]*?\bFROM\s+STDIN\b", re.I)),
    ("query", re.compile(r"(?:SELECT|WITH)\b|\(\s*SELECT\b", re.I)),
    ("create_view", re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:MATERIALIZED|TEMP|TEMPORARY)\s+)?VIEW\b", re.I)),
    ("create_type", re.compile(r"CREATE\s+TYPE\b", re.I)),
    ("create_domain", re.compile(r"CREATE\s+DOMAIN\b", re.I)),
    ("create_routine", re.compile(r"CREATE\s+(?:OR\s+(?:REPLACE|ALTER)\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:EDITIONABLE\s+)?"
                                  r"(?:PROCEDURE|PROC|FUNCTION|TRIGGER|PACKAGE|TYPE\s+BODY)\b", re.I)),
    ("block", re.compile(r"(?:BEGIN|DECLARE)\b", re.I)),
    ("drop", re.compile(r"DROP\b", re.I)),
    ("update", re.compile(r"(?:UPDATE|DELETE|MERGE|TRUNCATE)\b", re.I)),
]


def statement_kind(text: str) -> str:
    body = text[_HEAD_RE.match(text).end():]
    for kind, rx in _KINDS:
        if rx.match(body):
            return kind
    return "other"


@lru_cache(maxsize=None)
def _scanner(dialect: str) -> re.Pattern:
    parts = [r"(?P<lc>--[^\n]*)", r"(?P<bc>/\*.*?(?:\*/|\Z))"]
    if dialect == "postgres":
        parts.append(r"(?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z))")
        parts.append(r"(?P<esq>(?<![\w$])[Ee]'(?:[^'\\]|''|\\.)*(?:'|\Z))")
        parts.append(r"(?P<meta>^[ \t]*\\[^\n]*)")
    if dialect == "mysql":
        parts.append(r"(?P<sq>'(?:[^'\\]|''|\\.)*(?:'|\Z))")
    else:
        parts.append(r"(?P<sq>'(?:[^']|'')*(?:'|\Z))")
    parts.append(r"(?P<dq>\"(?:[^\"]|\"\")*(?:\"|\Z))")
    if dialect in ("mysql", "sqlite", "generic"):
        parts.append(r"(?P<bt>`(?:[^`]|``)*(?:`|\Z))")
    if dialect in ("tsql", "sqlite", "generic"):
        parts.append(r"(?P<br>\[[^\]\n]*\])")
    if dialect == "tsql":
        parts.append(r"(?P<go>^[ \t]*GO(?:[ \t]+\d+)?[ \t]*;?[ \t]*$)")
        parts.append(r"(?P<kw>^[ \t]*(?:CREATE|ALTER|INSERT|DROP|EXEC|EXECUTE|GRANT|USE|SET|PRINT|IF|DECLARE)\b)")
    if dialect in ("oracle", "db2", "generic"):
        parts.append(r"(?P<slash>^[ \t]*/[ \t]*$)")
    parts.append(r"(?P<open>\()")
    parts.append(r"(?P<close>\))")
    parts.append(r"(?P<semi>;)")
    return re.compile("|".join(parts), re.S | re.M | re.I)


_ROUTINE_RE = re.compile(r"CREATE\s+(?:OR\s+(?:REPLACE|ALTER)\s+)?(?:EDITIONABLE\s+|NONEDITIONABLE\s+)?"
                         r"(?:PROCEDURE|PROC|FUNCTION|TRIGGER|PACKAGE|TYPE\s+BODY|VIEW)\b|(?:BEGIN|DECLARE)\b", re.I)
_COPY_END_RE = re.compile(r"^\\\.[ \t]*$", re.M)


def split_statements(text: str, dialect: str) -> list[Statement]:
    """Top-level statements of a SQL file, terminators and blank ones left out."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if dialect == "mysql" and re.search(r"^[ \t]*DELIMITER\b", text, re.I | re.M):
        return _split_mysql_delimiters(text)
    scanner = _scanner(dialect)
    out: list[Statement] = []
    start, pos, depth, n = 0, 0, 0, len(text)
    line_of = _LineIndex(text)

    def emit(end: int, data: Optional[str] = None) -> None:
        chunk = text[start:end]
        stripped = chunk.strip()
        head = _HEAD_RE.match(chunk).end()
        if stripped and head < len(chunk):
            out.append(Statement(stripped, statement_kind(stripped), line_of(start + head), data))

    def in_routine() -> bool:
        return bool(_ROUTINE_RE.match(text, _HEAD_RE.match(text, start).end()))

    while pos < n:
        m = scanner.search(text, pos)
        if not m:
            break
        group = m.lastgroup
        pos = m.end()
        if group == "open":
            depth += 1
        elif group == "close":
            depth = max(0, depth - 1)
        elif group == "semi":
            if dialect in ("oracle", "tsql") and in_routine():
                continue  # PL/SQL and T-SQL bodies end at '/' or GO, not at ';'
            data = None
            if dialect == "postgres" and statement_kind(text[start:m.start()]) == "copy":
                end = _COPY_END_RE.search(text, pos)
                data_end = end.start() if end else n
                data = text[pos:data_end].lstrip("\n")
                emit(m.start(), data)
                pos = end.end() if end else n
                start, depth = pos, 0
                continue
            emit(m.start())
            start, depth = pos, 0
        elif group in ("go", "slash"):
            emit(m.start())
            start, depth = pos, 0
        elif group == "meta":  # a psql meta-command line (\c db, \set …) is a statement of its own
            if not text[start:m.start()].strip():
                start = m.start()
                emit(m.end())
                start, depth = pos, 0
        elif group == "kw":
            if depth == 0 and text[start:m.start()].strip() and not in_routine():
                emit(m.start())
                start = m.start()
    emit(n)
    return out


def _split_mysql_delimiters(text: str) -> list[Statement]:
    """MySQL scripts that switch ``DELIMITER``: each region is split on its own delimiter
    (routine bodies between ``DELIMITER $$`` lines are single statements)."""
    out: list[Statement] = []
    line = 1
    delim = ";"
    pieces = re.split(r"^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*$", text, flags=re.I | re.M)
    for i, piece in enumerate(pieces):
        if i % 2 == 1:
            delim = piece
            continue
        if delim == ";":
            for st in split_statements(piece, "mysql"):  # no DELIMITER lines left in a piece
                out.append(Statement(st.text, st.kind, st.line + line - 1, st.data))
        else:
            offset = 0
            for chunk in piece.split(delim):
                stripped = chunk.strip()
                if stripped:
                    out.append(Statement(stripped, statement_kind(stripped), line + piece.count("\n", 0, offset)))
                offset += len(chunk) + len(delim)
        line += piece.count("\n")
    return out


class _LineIndex:
    def __init__(self, text: str):
        self.text = text
        self._pos = 0
        self._line = 1

    def __call__(self, offset: int) -> int:
        if offset < self._pos:
            self._pos, self._line = 0, 1
        self._line += self.text.count("\n", self._pos, offset)
        self._pos = offset
        return self._line


# --- hostile statements ------------------------------------------------------------------------

_HOSTILE = [
    ("attach", re.compile(r"^\s*ATTACH\b|\bATTACH\s+(?:DATABASE\s+)?'", re.I)),
    ("detach", re.compile(r"^\s*DETACH\b", re.I)),
    ("pragma", re.compile(r"^\s*PRAGMA\b|\bpragma_\w+\s*\(", re.I)),
    ("load_extension", re.compile(r"\bload_extension\s*\(|^\s*(?:LOAD|INSTALL)\s+['\"\w]|"
                                  r"^\s*CREATE\s+EXTENSION\b", re.I)),
    ("file_access", re.compile(
        r"\b(?:readfile|writefile|edit|pg_read_file|pg_read_binary_file|pg_ls_dir|pg_stat_file|lo_import|"
        r"lo_export|read_csv\w*|read_parquet|read_json\w*|read_text|read_blob|fts3_tokenizer)\s*\(|"
        r"\bINTO\s+(?:OUT|DUMP)FILE\b|\bLOAD\s+DATA\s+(?:LOCAL\s+)?INFILE\b|\bLOAD_FILE\s*\(|"
        r"\bTO\s+PROGRAM\b|\bFROM\s+PROGRAM\b|\bCOPY\s+[^;]*\bTO\s+'|\bOPENROWSET\b|\bBULK\s+INSERT\b|"
        r"\bUTL_FILE\b", re.I)),
    ("shell", re.compile(r"\bxp_cmdshell\b|^\s*\.(?:shell|system|load|output|once|import)\b|"
                         r"\bsys_exec\s*\(|\bDBMS_SCHEDULER\b", re.I | re.M)),
    ("recursive_cte", re.compile(r"\bWITH\s+RECURSIVE\b", re.I)),
    ("cross_join", re.compile(r"\bCROSS\s+JOIN\b", re.I)),
]


def hostile_kinds(statement: Statement) -> list[str]:
    """Kinds of hostile or unsafe SQL in a statement (``sql/hostile/<kind>``). Input statements
    are never executed as written; queries among them only ever run in the sandbox."""
    if statement.kind in ("insert", "copy"):
        return []  # their values are read as literals only: a function call there is never run
    text = statement.text
    found = [kind for kind, rx in _HOSTILE if rx.search(text)]
    if statement.kind == "query" and "cross_join" not in found and _comma_cross_join(text):
        found.append("cross_join")
    return found


_FROM_LIST_RE = re.compile(r"\bFROM\s+((?:[\w.\"`\[\]]+(?:\s+(?:AS\s+)?\w+)?\s*,\s*)+[\w.\"`\[\]]+)", re.I)


def _comma_cross_join(text: str) -> bool:
    """``FROM a, b[, c]`` with no WHERE at all: an unconstrained product."""
    return bool(_FROM_LIST_RE.search(text)) and not re.search(r"\bWHERE\b", text, re.I)


# --- the schema model ----------------------------------------------------------------------------

FAMILIES = ("integer", "real", "decimal", "text", "boolean", "date", "timestamp", "time", "blob")


@dataclass
class Column:
    name: str
    family: str = "text"
    length: Optional[int] = None         # VARCHAR(n)
    precision: Optional[int] = None      # DECIMAL(p, s)
    scale: Optional[int] = None
    big: bool = False                    # needs 64-bit integers
    not_null: bool = False
    default: object = None               # a literal (str, int, float, bool) or "CURRENT_TIMESTAMP"
    has_default: bool = False
    autoincrement: bool = False
    enum: Optional[tuple] = None         # allowed values of an ENUM column
    source_type: str = ""                # the type as written in the file
    guessed: bool = False                # an unconstrained NUMBER/NUMERIC: refined from the data

    def type_sql(self, engine: str) -> str:
        f = self.family
        if f == "integer":
            return "INTEGER" if engine == "sqlite" else ("BIGINT" if self.big else "INTEGER")
        if f == "real":
            return "REAL" if engine == "sqlite" else "DOUBLE"
        if f == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        if f == "text":
            return f"VARCHAR({self.length})" if self.length else "TEXT"
        return {"boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "time": "TIME", "blob": "BLOB"}[f]


@dataclass
class ForeignKey:
    columns: tuple
    ref_table: str
    ref_columns: tuple


@dataclass
class Table:
    name: str
    columns: list = field(default_factory=list)
    primary_key: tuple = ()
    uniques: list = field(default_factory=list)       # tuples of column names
    foreign_keys: list = field(default_factory=list)
    indexes: list = field(default_factory=list)       # (name, columns)

    def column(self, name: str) -> Optional[Column]:
        low = name.lower()
        for c in self.columns:
            if c.name.lower() == low:
                return c
        return None

    def key_sets(self) -> list:
        """Column sets whose values are unique: the primary key and every unique set."""
        sets = [self.primary_key] if self.primary_key else []
        return sets + [u for u in self.uniques if u and u != self.primary_key]


@dataclass
class Schema:
    tables: dict = field(default_factory=dict)        # lower-case name -> Table, in creation order
    notes: Counter = field(default_factory=Counter)   # what was dropped or changed, by kind

    def table(self, name: str) -> Optional[Table]:
        return self.tables.get(bare_name(name).lower())

    def ordered(self) -> list:
        return list(self.tables.values())


def bare_name(name: str) -> str:
    """``[dbo].[Album]`` / ``public.album`` / ``"Album"`` -> ``Album``."""
    name = name.strip()
    parts = re.findall(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|([^."`\[\]\s]+)', name)
    if not parts:
        return name
    last = parts[-1]
    return next(p for p in last if p).replace('""', '"').replace("``", "`")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- parsing: statements -> Schema -------------------------------------------------------------

_INT_TYPES = {"INT", "INTEGER", "SMALLINT", "TINYINT", "MEDIUMINT", "UINT", "USMALLINT", "UTINYINT", "UMEDIUMINT",
              "SERIAL", "SMALLSERIAL", "YEAR"}
_BIG_INT_TYPES = {"BIGINT", "UBIGINT", "BIGSERIAL", "INT128", "UINT128", "HUGEINT", "INT256", "UINT256"}
_SERIAL_TYPES = {"SERIAL", "SMALLSERIAL", "BIGSERIAL"}
_REAL_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_DECIMAL_TYPES = {"DECIMAL", "BIGDECIMAL", "UDECIMAL", "NUMERIC", "DECIMAL32", "DECIMAL64", "DECIMAL128",
                  "DECIMAL256"}
_TEXT_TYPES = {"CHAR", "NCHAR", "VARCHAR", "NVARCHAR", "TEXT", "MEDIUMTEXT", "LONGTEXT", "TINYTEXT", "NAME",
               "BPCHAR", "CITEXT", "STRING", "CLOB", "NCLOB", "NTEXT"}
_UNBOUNDED_TEXT = {"TEXT", "MEDIUMTEXT", "LONGTEXT", "TINYTEXT", "CLOB", "NCLOB", "NTEXT"}
_TEXTISH_TYPES = {"UUID", "UNIQUEIDENTIFIER", "JSON", "JSONB", "XML", "INET", "CIDR", "MACADDR", "SET", "ARRAY",
                  "INTERVAL", "HSTORE", "TSVECTOR", "GEOMETRY", "GEOGRAPHY", "VARIANT", "OBJECT", "STRUCT", "MAP",
                  "LIST", "IPADDRESS", "IPV4", "IPV6", "SUPER", "ROWVERSION", "SYSNAME", "USERDEFINED",
                  "UNKNOWN", "NULL"}
_DATE_TYPES = {"DATE", "DATE32"}
_TS_TYPES = {"DATETIME", "DATETIME2", "DATETIME64", "SMALLDATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ",
             "TIMESTAMPNTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIMEOFFSET"}
_TIME_TYPES = {"TIME", "TIMETZ"}
_BLOB_TYPES = {"BINARY", "VARBINARY", "BLOB", "MEDIUMBLOB", "LONGBLOB", "TINYBLOB", "IMAGE", "BYTEA", "RAW",
               "LONGVARBINARY"}


def _int_of(node) -> Optional[int]:
    try:
        return int(str(node.this.this if hasattr(node.this, "this") else node.this))
    except (TypeError, ValueError, AttributeError):
        try:
            return int(node.name)
        except (TypeError, ValueError, AttributeError):
            return None


def map_type(datatype, dialect: str, user_types: dict, column_name: str = "", is_key: bool = False) -> Column:
    """A sqlglot ``DataType`` -> a ``Column`` carrying the type family and its parameters."""
    from sqlglot import exp

    col = Column(column_name)
    if datatype is None:
        col.family, col.source_type = "text", ""
        return col
    col.source_type = datatype.sql(dialect=SQLGLOT_DIALECT[dialect]) if dialect in SQLGLOT_DIALECT else datatype.sql()
    name = datatype.this.name if hasattr(datatype.this, "name") else str(datatype.this)
    params = [_int_of(p) for p in datatype.expressions if isinstance(p, exp.DataTypeParam)]
    if name == "USERDEFINED":
        kind = datatype.args.get("kind")
        udt = bare_name(kind.sql() if kind is not None else "").lower()
        if udt in user_types:
            mapped = user_types[udt]
            return Column(column_name, mapped.family, mapped.length, mapped.precision, mapped.scale, mapped.big,
                          enum=mapped.enum, source_type=col.source_type)
    if name in _SERIAL_TYPES:
        col.family, col.autoincrement, col.big = "integer", True, name == "BIGSERIAL"
    elif name in _INT_TYPES:
        col.family = "integer"
    elif name in _BIG_INT_TYPES:
        col.family, col.big = "integer", True
    elif name == "BIT":
        if dialect in ("tsql", "mysql") and (not params or params[0] in (None, 1)):
            col.family = "boolean"
        else:
            col.family = "text"
    elif name == "BOOLEAN":
        col.family = "boolean"
    elif name in _REAL_TYPES:
        col.family = "real"
    elif name in ("MONEY", "SMALLMONEY"):
        col.family, col.precision, col.scale = "decimal", 19, 4
    elif name in _DECIMAL_TYPES:
        p = params[0] if params else None
        s = params[1] if len(params) > 1 else (0 if p is not None else None)
        if p is None:
            # Oracle NUMBER / unconstrained NUMERIC: integer keys, real measures.
            lname = column_name.lower()
            integer_like = is_key or lname == "id" or lname.endswith(("id", "_id", "_no", "number", "count"))
            col.family = "integer" if integer_like else "real"
            col.big = integer_like
            col.guessed = True
        elif s == 0:
            col.family, col.big = "integer", p > 9
        elif p > 38 or s is None or s > p:
            col.family = "real"
        else:
            col.family, col.precision, col.scale = "decimal", p, s
    elif name in _TEXT_TYPES:
        col.family = "text"
        if params and params[0] and name not in _UNBOUNDED_TEXT:
            col.length = params[0]
    elif name == "ENUM":
        values = tuple(str(e.this) for e in datatype.expressions if isinstance(e, exp.Literal))
        col.family, col.enum = "text", values or None
    elif name in _DATE_TYPES:
        col.family = "date"
    elif name in _TS_TYPES:
        col.family = "timestamp"
    elif name in _TIME_TYPES:
        col.family = "time"
    elif name in _BLOB_TYPES:
        col.family = "blob"
    elif name in _TEXTISH_TYPES:
        col.family = "text"
    else:
        col.family = "text"
    return col


_ENUM_TYPE_RE = re.compile(r"CREATE\s+TYPE\s+([\w.\"`\[\]]+)\s+AS\s+ENUM\s*\((.*)\)\s*$", re.I | re.S)
_DOMAIN_RE = re.compile(r"CREATE\s+DOMAIN\s+([\w.\"`\[\]]+)\s+(?:AS\s+)?(.+?)"
                        r"(?:\s+(?:DEFAULT|CONSTRAINT|CHECK|NOT\s+NULL|NULL|COLLATE)\b.*)?$", re.I | re.S)
_STR_LIT_RE = re.compile(r"'((?:[^']|'')*)'")


def _user_type(statement: Statement, dialect: str) -> Optional[tuple]:
    import sqlglot

    body = statement.text[_HEAD_RE.match(statement.text).end():]
    m = _ENUM_TYPE_RE.match(body)
    if m:
        values = tuple(v.replace("''", "'") for v in _STR_LIT_RE.findall(m.group(2)))
        return bare_name(m.group(1)).lower(), Column("", "text", enum=values or None, source_type="ENUM")
    m = _DOMAIN_RE.match(body)
    if m:
        try:
            cast = sqlglot.parse_one(f"CAST(NULL AS {m.group(2).strip()})", read=SQLGLOT_DIALECT.get(dialect))
            return bare_name(m.group(1)).lower(), map_type(cast.args.get("to"), dialect, {})
        except Exception:  # noqa: BLE001 - an unparseable domain is mapped to text
            return bare_name(m.group(1)).lower(), Column("", "text")
    return None


def quiet_sqlglot() -> None:
    """sqlglot logs a warning for every statement it falls back to parsing as a command."""
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _parse_one(text: str, dialect: str, fallback: bool = True):
    """sqlglot-parse one statement in its dialect, then the generic and the other dialects.
    Returns ``(expression, dialect used)`` or ``(None, error)``."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    quiet_sqlglot()
    error = "unparsed"
    tried = []
    for d in (dialect, "generic", "postgres", "mysql", "tsql", "oracle", "sqlite") if fallback else (dialect,):
        key = SQLGLOT_DIALECT[d]
        if key in tried:
            continue
        tried.append(key)
        try:
            parsed = sqlglot.parse(text, read=key)
        except (SqlglotError, ValueError, RecursionError, KeyError, AttributeError, TypeError) as e:
            error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            continue
        parsed = [p for p in parsed if p is not None]
        if len(parsed) == 1:
            return parsed[0], d
        error = f"{len(parsed)} statements"
    return None, error


def parse_schema(statements: list[Statement], dialect: str) -> Schema:
    """The tables of a file: ``CREATE TABLE`` with sqlglot, then ``ALTER TABLE … ADD`` keys and
    ``CREATE [UNIQUE] INDEX``; enum types and domains are resolved; partitions are left out."""
    schema = Schema()
    user_types: dict = {}
    partitions: set = set()
    for st in statements:
        if st.kind in ("create_type", "create_domain"):
            found = _user_type(st, dialect)
            if found:
                user_types[found[0]] = found[1]
        elif st.kind == "alter_table":
            m = re.search(r"\bATTACH\s+PARTITION\s+([\w.\"`\[\]]+)", st.text, re.I)
            if m:
                partitions.add(bare_name(m.group(1)).lower())
    for st in statements:
        if st.kind != "create_table":
            continue
        if re.search(r"\bPARTITION\s+OF\b", st.text, re.I) or re.search(r"\bAS\s+SELECT\b|\)\s*AS\s*\(?\s*SELECT\b|"
                                                                         r"\bLIKE\s+[\w.\"`\[\]]+\s*\)?\s*;?\s*$",
                                                                         st.text, re.I):
            schema.notes["skipped_table/partition_or_as_select"] += 1
            continue
        expr, used = _parse_one(st.text, dialect)
        if expr is None:
            expr, used = _salvage_create(st.text, dialect, schema.notes)
        if expr is None:
            schema.notes["unparsed/create_table"] += 1
            continue
        table = _table_from_create(expr, used, user_types, schema.notes)
        if table is None:
            schema.notes["unparsed/create_table"] += 1
            continue
        key = table.name.lower()
        if key in partitions:
            schema.notes["skipped_table/partition"] += 1
            continue
        if key in schema.tables:
            schema.notes["skipped_table/duplicate_name"] += 1
            continue
        schema.tables[key] = table
    for st in statements:
        if st.kind == "alter_table" and schema.tables:
            _apply_alter(st, dialect, schema)
        elif st.kind == "create_index" and schema.tables:
            _apply_index(st, dialect, schema)
    return schema


def _top_level_items(body: str) -> list:
    """Split a parenthesised column list at top-level commas (quotes and nesting respected)."""
    items, depth, start, i, n = [], 0, 0, 0, len(body)
    while i < n:
        ch = body[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = body.find(close, i + 1)
            i = n if j < 0 else j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
        i += 1
    items.append(body[start:])
    return [item.strip() for item in items if item.strip()]


def _salvage_create(text: str, dialect: str, notes: Counter):
    """A ``CREATE TABLE`` sqlglot cannot parse whole: parse it item by item and leave out the
    column definitions and constraints it cannot read (counted), so one exotic clause does not
    lose the table."""
    body = text[_HEAD_RE.match(text).end():]
    m = re.match(r"(CREATE\s+(?:[A-Z]+\s+)*?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w.\"`\[\]$]+)\s*\(", body, re.I)
    if not m:
        return None, "no column list"
    inner = body[m.end():]
    depth, end = 1, None
    for item_end, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                end = item_end
                break
    if end is None:
        return None, "unbalanced parentheses"
    kept = []
    for item in _top_level_items(inner[:end]):
        expr, _ = _parse_one(f"CREATE TABLE t ({item})", dialect, fallback=False)
        if expr is None:
            notes["dropped/unparsed_column_or_constraint"] += 1
        else:
            kept.append(item)
    if not kept:
        return None, "no column could be parsed"
    return _parse_one(f"{m.group(1)} ({', '.join(kept)})", dialect, fallback=False)


def _ident(node) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Identifier):
        return node.this
    if isinstance(node, (exp.Column, exp.Ordered)):
        inner = node.this
        while isinstance(inner, (exp.Column, exp.Ordered)):
            inner = inner.this
        if isinstance(inner, exp.Identifier):
            return inner.this
        return inner.name if hasattr(inner, "name") else str(inner)
    return node.name


def _table_name(node) -> str:
    from sqlglot import exp

    table = node.find(exp.Table) if not isinstance(node, exp.Table) else node
    return table.name if table is not None else ""


def _column_list(node) -> tuple:
    from sqlglot import exp

    if node is None:
        return ()
    items = node.expressions if hasattr(node, "expressions") else []
    out = []
    for item in items:
        if isinstance(item, (exp.Identifier, exp.Column, exp.Ordered)):
            out.append(_ident(item))
        else:
            return ()  # an expression key (e.g. lower(col)): not a column set
    return tuple(out)


def _default_literal(node, notes: Counter):
    """A literal DEFAULT value, or ``(False, None)`` when the default is an expression."""
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Cast):
        node = node.this
    if isinstance(node, exp.Literal):
        if node.is_string:
            return True, node.this
        text = node.this
        try:
            return True, int(text)
        except ValueError:
            try:
                return True, float(text)
            except ValueError:
                return False, None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        ok, value = _default_literal(node.this, notes)
        return (ok, -value) if ok and isinstance(value, (int, float)) else (False, None)
    if isinstance(node, exp.Boolean):
        return True, bool(node.this)
    if isinstance(node, exp.Null):
        return True, None
    if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDate)) or (
            isinstance(node, (exp.Anonymous, exp.Func)) and node.sql().upper().rstrip("()") in
            ("NOW", "GETDATE", "SYSDATE", "CURRENT_TIMESTAMP", "SYSDATETIME", "LOCALTIMESTAMP", "CURRENT_DATE")):
        return True, "CURRENT_TIMESTAMP"
    notes["dropped/default_expression"] += 1
    return False, None


def _table_from_create(expr, dialect: str, user_types: dict, notes: Counter) -> Optional[Table]:
    from sqlglot import exp

    if not isinstance(expr, exp.Create) or str(expr.args.get("kind", "")).upper() != "TABLE":
        return None
    schema_node = expr.this
    if not isinstance(schema_node, exp.Schema):
        return None  # CREATE TABLE x AS SELECT / LIKE: no column list
    table = Table(_table_name(schema_node.this))
    if not table.name:
        return None
    if schema_node.this.args.get("db") is not None:
        notes["dropped/schema_prefix"] += 1
    if expr.args.get("properties"):
        notes["dropped/table_options"] += 1
    inline_pk: list = []
    pk_keys: set = set()
    # primary-key columns first, so untyped NUMBER keys map to integers
    for item in schema_node.expressions:
        for pk in ([item] if isinstance(item, exp.PrimaryKey) else item.find_all(exp.PrimaryKey)):
            pk_keys.update(n.lower() for n in _column_list(pk))
    for item in schema_node.expressions:
        if isinstance(item, exp.ColumnDef):
            name = _ident(item.this)
            if table.column(name) is not None:
                notes["dropped/duplicate_column"] += 1
                continue
            fk_like = any(isinstance(c.args.get("kind"), exp.Reference) for c in item.constraints)
            col = map_type(item.args.get("kind"), dialect, user_types, name, is_key=name.lower() in pk_keys or fk_like)
            if col.source_type and col.family == "text" and not col.enum and not re.match(
                    r"(?i)(n?(var)?char|text|string|clob|nclob|ntext|varchar2|nvarchar2|citext|bpchar|enum|name|"
                    r"mediumtext|longtext|tinytext|character)", col.source_type):
                type_name = re.sub(r"[^A-Za-z0-9_]+", "_", col.source_type.split("(")[0]).strip("_").lower()
                notes["mapped_to_text/" + type_name] += 1
            for constraint in item.constraints:
                kind = constraint.args.get("kind")
                if isinstance(kind, exp.NotNullColumnConstraint):
                    col.not_null = not kind.args.get("allow_null")
                elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                    inline_pk.append(name)
                elif isinstance(kind, exp.UniqueColumnConstraint):
                    table.uniques.append((name,))
                elif isinstance(kind, (exp.AutoIncrementColumnConstraint, exp.GeneratedAsIdentityColumnConstraint)):
                    computed = isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and \
                        kind.args.get("expression") is not None
                    if computed:
                        notes["dropped/computed_column"] += 1
                    else:
                        col.autoincrement = True
                elif isinstance(kind, exp.DefaultColumnConstraint):
                    value = kind.this
                    if isinstance(value, (exp.Anonymous, exp.Func)) and "nextval" in value.sql().lower():
                        col.autoincrement = True
                        continue
                    ok, literal = _default_literal(value, notes)
                    if ok:
                        col.has_default, col.default = True, literal
                elif isinstance(kind, exp.Reference):
                    ref_table = _table_name(kind.this)
                    ref_cols = _column_list(kind.this) if isinstance(kind.this, exp.Schema) else ()
                    table.foreign_keys.append(ForeignKey((name,), ref_table, ref_cols))
                elif isinstance(kind, exp.CheckColumnConstraint):
                    values = _in_list_check(kind.this, name)
                    if values and not col.enum:
                        col.enum = values  # CHECK (col IN ('a', 'b')): an enum in all but name
                    else:
                        notes["dropped/check"] += 1
                elif isinstance(kind, (exp.CharacterSetColumnConstraint, exp.CollateColumnConstraint)):
                    notes["dropped/charset_collate"] += 1
                elif isinstance(kind, exp.OnUpdateColumnConstraint):
                    notes["dropped/on_update"] += 1
                elif isinstance(kind, exp.ComputedColumnConstraint):
                    notes["dropped/computed_column"] += 1
                elif isinstance(kind, exp.CommentColumnConstraint):
                    notes["dropped/comment"] += 1
                else:
                    notes["dropped/column_option"] += 1
            if col.enum:
                notes["mapped/enum_check"] += 1
            table.columns.append(col)
        else:
            _table_constraint(item, table, notes)
    if inline_pk and not table.primary_key:
        table.primary_key = tuple(inline_pk)
    elif inline_pk:
        notes["dropped/second_primary_key"] += 1
    return table


def _in_list_column(node) -> Optional[str]:
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and node.expressions and all(
            isinstance(e, exp.Literal) and e.is_string for e in node.expressions):
        return node.this.name
    return None


def _in_list_check(node, column: str) -> Optional[tuple]:
    """The allowed values of ``CHECK (column IN ('a', 'b', …))``, else None."""
    from sqlglot import exp

    if (_in_list_column(node) or "").lower() != column.lower():
        return None
    while isinstance(node, exp.Paren):
        node = node.this
    return tuple(e.this for e in node.expressions)


def _table_constraint(item, table: Table, notes: Counter) -> None:
    from sqlglot import exp

    nodes = item.expressions if isinstance(item, exp.Constraint) else [item]
    for i, node in enumerate(nodes):
        if isinstance(node, (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint)) and i + 1 < len(nodes) \
                and isinstance(nodes[i + 1], (exp.ClusteredColumnConstraint, exp.NonClusteredColumnConstraint)):
            # T-SQL: CONSTRAINT pk PRIMARY KEY CLUSTERED (col, ...) / UNIQUE NONCLUSTERED (...)
            ordered = nodes[i + 1].this if isinstance(nodes[i + 1].this, list) else nodes[i + 1].expressions
            cols = tuple(_ident(o) for o in ordered or [])
            if isinstance(node, exp.PrimaryKeyColumnConstraint) and cols and not table.primary_key:
                table.primary_key = cols
            elif cols and isinstance(node, exp.UniqueColumnConstraint):
                table.uniques.append(cols)
            else:
                notes["dropped/second_primary_key"] += 1
        elif isinstance(node, (exp.ClusteredColumnConstraint, exp.NonClusteredColumnConstraint)) and i > 0:
            continue
        elif isinstance(node, exp.PrimaryKey):
            cols = _column_list(node)
            if cols and not table.primary_key:
                table.primary_key = cols
            else:
                notes["dropped/second_primary_key"] += 1
        elif isinstance(node, exp.ForeignKey):
            ref = node.args.get("reference")
            if ref is None:
                notes["dropped/foreign_key"] += 1
                continue
            ref_schema = ref.this
            table.foreign_keys.append(ForeignKey(
                _column_list(node), _table_name(ref_schema),
                _column_list(ref_schema) if isinstance(ref_schema, exp.Schema) else ()))
        elif isinstance(node, exp.UniqueColumnConstraint):
            target = node.this
            cols = _column_list(target) if target is not None else ()
            if cols:
                table.uniques.append(cols)
                notes["lifted/named_unique_key"] += 1 if isinstance(target, exp.Schema) and target.this else 0
            else:
                notes["dropped/unique_expression"] += 1
        elif isinstance(node, exp.IndexColumnConstraint):
            cols = _column_list(node)
            if cols:
                name = node.this.name if node.this is not None else ""
                table.indexes.append((name, cols))
                notes["lifted/inline_index"] += 1
        elif isinstance(node, (exp.CheckColumnConstraint, exp.Check)):
            target = _in_list_column(node.this)
            col = table.column(target) if target else None
            if col is not None and not col.enum:
                col.enum = _in_list_check(node.this, col.name)
                notes["mapped/enum_check"] += 1
            else:
                notes["dropped/check"] += 1
        elif isinstance(node, exp.ColumnConstraint) and isinstance(node.args.get("kind"),
                                                                    exp.PrimaryKeyColumnConstraint):
            notes["dropped/primary_key_expression"] += 1
        else:
            notes["dropped/table_constraint"] += 1


def _apply_alter(st: Statement, dialect: str, schema: Schema) -> None:
    from sqlglot import exp

    identity = re.search(r"\bALTER\s+COLUMN\s+([\w\"`\[\]]+)\s+(?:ADD\s+GENERATED\b|SET\s+DEFAULT\s+nextval\b)",
                         st.text, re.I)
    if identity:
        table = schema.table(bare_name(re.match(r"\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?([\w.\"`\[\]]+)",
                                            st.text[_HEAD_RE.match(st.text).end():], re.I).group(1)))
        col = table.column(bare_name(identity.group(1))) if table is not None else None
        if col is not None and col.family == "integer":
            col.autoincrement = True
        return
    if not re.search(r"\bADD\s+(?:CONSTRAINT|PRIMARY|FOREIGN|UNIQUE)\b", st.text, re.I):
        return
    expr, _ = _parse_one(st.text, dialect)
    if not isinstance(expr, exp.Alter):
        schema.notes["unparsed/alter_table"] += 1
        return
    table = schema.table(_table_name(expr.this))
    if table is None:
        schema.notes["skipped/alter_unknown_table"] += 1
        return
    for action in expr.args.get("actions") or []:
        if isinstance(action, exp.AddConstraint):
            for item in action.expressions:
                _table_constraint(item, table, schema.notes)
        elif isinstance(action, exp.ColumnDef):
            schema.notes["skipped/alter_add_column"] += 1
        else:
            for item in action.find_all(exp.PrimaryKey, exp.ForeignKey, exp.Constraint):
                if isinstance(item, exp.Constraint):
                    _table_constraint(item, table, schema.notes)
                    break
            else:
                schema.notes["skipped/alter_action"] += 1


def _apply_index(st: Statement, dialect: str, schema: Schema) -> None:
    from sqlglot import exp

    expr, _ = _parse_one(st.text, dialect)
    if not isinstance(expr, exp.Create) or not isinstance(expr.this, exp.Index):
        schema.notes["unparsed/create_index"] += 1
        return
    index = expr.this
    table = schema.table(_table_name(index.args.get("table"))) if index.args.get("table") is not None else None
    if table is None:
        schema.notes["skipped/index_unknown_table"] += 1
        return
    params = index.args.get("params")
    cols = []
    for item in (params.args.get("columns") or []) if params is not None else []:
        inner = item.this if isinstance(item, exp.Ordered) else item
        if isinstance(inner, (exp.Column, exp.Identifier)):
            cols.append(_ident(inner))
        else:
            schema.notes["dropped/expression_index"] += 1
            return
    if not cols:
        return
    if expr.args.get("unique"):
        table.uniques.append(tuple(cols))
    else:
        table.indexes.append((index.name, tuple(cols)))


# --- making the model runnable ---------------------------------------------------------------------


class NotRunnable(ValueError):
    """A schema that cannot be turned into a runnable database; the message is the reason."""


def finalise_schema(schema: Schema) -> Schema:
    """Resolve names and keys so the model renders to DDL both engines accept: columns of keys
    must exist, foreign keys must point at a known table's primary key or unique set, foreign-key
    cycles are broken, tables are ordered parents first. Raises ``NotRunnable``."""
    notes = schema.notes
    for key in [k for k, t in schema.tables.items() if not t.columns]:
        notes["skipped_table/no_columns"] += 1
        del schema.tables[key]
    if not schema.tables:
        raise NotRunnable("no CREATE TABLE could be parsed")
    for table in schema.tables.values():
        fix = lambda cols, t=table: (  # noqa: E731 - the columns as the table spells them, or None
            tuple(t.column(c).name for c in cols) if all(t.column(c) for c in cols) else None)
        if table.primary_key:
            pk = fix(table.primary_key)
            if pk is None or len(set(c.lower() for c in pk)) != len(pk):
                notes["dropped/bad_primary_key"] += 1
                pk = ()
            table.primary_key = pk
        for name in table.primary_key:
            table.column(name).not_null = True
        uniques = []
        for u in table.uniques:
            fixed = fix(u)
            if fixed and fixed != table.primary_key and fixed not in uniques:
                uniques.append(fixed)
            elif not fixed:
                notes["dropped/bad_unique"] += 1
        table.uniques = uniques
        table.indexes = [(n, fix(c)) for n, c in table.indexes if fix(c)]
        for col in table.columns:
            if col.has_default:
                col.has_default, col.default = _fit_default(col)
            if col.autoincrement and (table.primary_key != (col.name,) or col.family != "integer"):
                if col.family != "integer":
                    col.autoincrement = False
                elif not table.primary_key:
                    table.primary_key = (col.name,)
                    col.not_null = True
                else:
                    col.autoincrement = False
    for table in schema.tables.values():
        kept = []
        for fk in table.foreign_keys:
            parent = schema.table(fk.ref_table)
            if parent is None:
                notes["dropped/fk_unknown_table"] += 1
                continue
            cols = tuple(table.column(c).name for c in fk.columns) if fk.columns and all(
                table.column(c) for c in fk.columns) else None
            ref_cols = fk.ref_columns or parent.primary_key
            ref_cols = tuple(parent.column(c).name for c in ref_cols) if ref_cols and all(
                parent.column(c) for c in ref_cols) else None
            if not cols or not ref_cols or len(cols) != len(ref_cols):
                notes["dropped/fk_bad_columns"] += 1
                continue
            if tuple(sorted(ref_cols)) not in [tuple(sorted(k)) for k in parent.key_sets()]:
                notes["dropped/fk_not_unique_target"] += 1
                continue
            if any(_family_group(table.column(a)) != _family_group(parent.column(b)) for a, b in zip(cols, ref_cols)):
                notes["dropped/fk_type_mismatch"] += 1
                continue
            candidate = ForeignKey(cols, parent.name, ref_cols)
            if candidate in kept:
                continue
            kept.append(candidate)
            for a, b in zip(cols, ref_cols):  # a key column takes its parent's exact type
                child_col, parent_col = table.column(a), parent.column(b)
                if (child_col.family, child_col.precision, child_col.scale) != (
                        parent_col.family, parent_col.precision, parent_col.scale):
                    notes["mapped/fk_type_to_parent"] += 1
                    child_col.family, child_col.precision, child_col.scale = (
                        parent_col.family, parent_col.precision, parent_col.scale)
                child_col.big = child_col.big or parent_col.big
        table.foreign_keys = kept
    _break_cycles_and_order(schema)
    return schema


def _fit_default(col: Column) -> tuple:
    """``(has_default, value)``: the literal default in the column's own type (``'0.00'`` for a
    decimal becomes 0.0, ``1`` for a boolean True), or no default when it does not fit the type."""
    value = col.default
    if value is None or value == "CURRENT_TIMESTAMP":
        return (True, value) if value is None or col.family in ("timestamp", "date", "time") else (False, None)
    f = col.family
    try:
        if f == "integer":
            return True, int(float(value)) if not isinstance(value, bool) else int(value)
        if f in ("real", "decimal"):
            return True, float(value)
        if f == "boolean":
            text = str(value).strip().lower()
            if text in ("1", "t", "true", "y", "yes", "on", "b'1'"):
                return True, True
            if text in ("0", "f", "false", "n", "no", "off", "b'0'"):
                return True, False
            return False, None
        if f == "text":
            value = str(value) if not isinstance(value, bool) else ("true" if value else "false")
            return (True, value) if not col.enum or value in col.enum else (False, None)
        return (True, str(value)) if isinstance(value, str) else (False, None)
    except (TypeError, ValueError):
        return False, None


def _family_group(col: Column) -> str:
    return "number" if col.family in ("integer", "decimal", "real") else col.family


def _break_cycles_and_order(schema: Schema) -> None:
    tables = schema.tables
    order: list = []
    state: dict = {}

    def visit(key: str) -> None:
        state[key] = "visiting"
        table = tables[key]
        kept = []
        for fk in table.foreign_keys:
            parent = fk.ref_table.lower()
            if parent == key:
                kept.append(fk)  # self reference: rows are inserted in waves
                continue
            if state.get(parent) == "visiting":
                schema.notes["dropped/fk_cycle"] += 1
                continue
            if parent not in state:
                visit(parent)
            kept.append(fk)
        table.foreign_keys = kept
        state[key] = "done"
        order.append(key)

    for key in list(tables):
        if key not in state:
            visit(key)
    schema.tables = {key: tables[key] for key in order}


def render_ddl(schema: Schema, engine: str) -> list:
    """``CREATE TABLE`` (parents first) and ``CREATE INDEX`` statements for ``engine``."""
    out = []
    index_names: set = set()
    for table in schema.tables.values():
        lines = []
        for col in table.columns:
            parts = [quote(col.name), col.type_sql(engine)]
            if col.not_null:
                parts.append("NOT NULL")
            if col.has_default:
                parts.append(f"DEFAULT ({_literal_sql(col.default)})")
            if col.enum:
                values = ", ".join(_literal_sql(v) for v in col.enum)
                parts.append(f"CHECK ({quote(col.name)} IN ({values}))")
            lines.append(" ".join(parts))
        if table.primary_key:
            lines.append(f"PRIMARY KEY ({', '.join(quote(c) for c in table.primary_key)})")
        for unique in table.uniques:
            lines.append(f"UNIQUE ({', '.join(quote(c) for c in unique)})")
        for fk in table.foreign_keys:
            lines.append(f"FOREIGN KEY ({', '.join(quote(c) for c in fk.columns)}) REFERENCES {quote(fk.ref_table)} "
                         f"({', '.join(quote(c) for c in fk.ref_columns)})")
        out.append(f"CREATE TABLE {quote(table.name)} (\n  " + ",\n  ".join(lines) + "\n)")
        for name, cols in table.indexes:
            base = name or f"idx_{table.name}_{'_'.join(cols)}"
            unique_name, k = base, 2
            while unique_name.lower() in index_names:
                unique_name, k = f"{base}_{k}", k + 1
            index_names.add(unique_name.lower())
            columns = ", ".join(quote(c) for c in cols)
            out.append(f"CREATE INDEX {quote(unique_name)} ON {quote(table.name)} ({columns})")
    return out


def _literal_sql(value) -> str:
    if value is None:
        return "NULL"
    if value == "CURRENT_TIMESTAMP":
        return "CURRENT_TIMESTAMP"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


_SPIDER_TYPES = {"integer": "number", "real": "number", "decimal": "number", "boolean": "boolean", "date": "time",
                 "timestamp": "time", "time": "time", "blob": "others"}


def spider_schema(db_id: str, schema: Schema) -> dict:
    """The database in Spider's ``tables.json`` shape (REFERENCE §6)."""
    tables = schema.ordered()
    column_names = [[-1, "*"]]
    column_types = ["text"]
    index: dict = {}
    for t_idx, table in enumerate(tables):
        for col in table.columns:
            index[(table.name.lower(), col.name.lower())] = len(column_names)
            column_names.append([t_idx, col.name])
            column_types.append(_SPIDER_TYPES.get(col.family, "text"))
    primary = []
    for table in tables:
        if table.primary_key:
            ids = [index[(table.name.lower(), c.lower())] for c in table.primary_key]
            primary.append(ids[0] if len(ids) == 1 else ids)
    foreign = []
    for table in tables:
        for fk in table.foreign_keys:
            for a, b in zip(fk.columns, fk.ref_columns):
                foreign.append([index[(table.name.lower(), a.lower())], index[(fk.ref_table.lower(), b.lower())]])
    return {
        "db_id": db_id,
        "table_names_original": [t.name for t in tables],
        "table_names": [humanise(t.name) for t in tables],
        "column_names_original": column_names,
        "column_names": [[i, humanise(n) if i >= 0 else n] for i, n in column_names],
        "column_types": column_types,
        "primary_keys": primary,
        "foreign_keys": foreign,
    }


def humanise(name: str) -> str:
    """``InvoiceLine`` / ``invoice_line`` / ``INVOICE_LINE`` -> ``invoice line``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return re.sub(r"[_\W]+", " ", spaced).strip().lower() or name
