"""SQL files -> dialect and statements, and the hostile statements among them.

Splitting is a single regular-expression scan (sqlglot's tokenizer needs ~1 s for a 600 KB
Chinook file; this needs a few ms): strings, quoted identifiers, comments and PostgreSQL
dollar-quoted bodies are skipped as atoms, statements end at ``;``, at T-SQL ``GO`` lines, at
Oracle ``/`` lines (which also end PL/SQL blocks), at a MySQL ``DELIMITER``, and T-SQL batches
without semicolons are cut where a new top-level statement starts a line.

Nothing from an input file is ever executed as written: ``hostile_kinds`` names what a statement
would do if it were (``sql/hostile/<kind>``); queries among them only ever run in the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional


DIALECTS = ("mysql", "postgres", "sqlite", "tsql", "oracle", "db2", "generic")
# sqlglot has no Db2 dialect; Db2 DDL is ANSI with double-quoted identifiers.
SQLGLOT_DIALECT = {"mysql": "mysql", "postgres": "postgres", "sqlite": "sqlite", "tsql": "tsql",
                   "oracle": "oracle", "db2": None, "generic": None}


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
              (r"^[ \t]*DELIMITER\b", 5), (r"\bCHARSET\b", 3), (r"\\'", 0.5)],
    "postgres": [(r"\b(?:BIG|SMALL)?SERIAL\b", 4), (r"::\s*[a-z]", 1), (r"\$\$", 3), (r"\bFROM\s+stdin\b", 10),
                 (r"^[ \t]*\\(?:c|connect|set)\b", 10), (r"\bnextval\s*\(", 4), (r"\bOWNER\s+TO\b", 5),
                 (r"\bsearch_path\b", 5), (r"\bCREATE\s+EXTENSION\b", 5), (r"\bBYTEA\b|\bJSONB\b", 3)],
    "sqlite": [(r"\bAUTOINCREMENT\b", 5), (r"^[ \t]*PRAGMA\b", 3), (r"\bWITHOUT\s+ROWID\b", 5)],
    "tsql": [(r"^[ \t]*GO\s*$", 3), (r"\[dbo\]", 3), (r"\bIDENTITY\s*\(", 4), (r"\bNVARCHAR\s*\(\s*MAX\b", 4),
             (r"\b(?:NON)?CLUSTERED\b", 3), (r"\bSET\s+ANSI_NULLS\b", 5), (r"\bsysobjects\b|\bOBJECT_ID\s*\(", 3),
             (r"\bUNIQUEIDENTIFIER\b|\bDATETIME2\b", 3)],
    "oracle": [(r"\bVARCHAR2\b", 4), (r"\bNUMBER\s*\(", 2), (r"^[ \t]*/\s*$", 3), (r"\bTO_DATE\s*\(", 2),
               (r"\bNVL\s*\(|\bSYSDATE\b", 2), (r"\bNOCACHE\b|\bNOCYCLE\b", 3), (r"^[ \t]*CONNECT\s+\w+/", 5)],
}
# Line-anchored hints start with ``^[ \t]*``, not ``^\s*``: under ``re.M`` the latter rescans a run of
# blank lines from every line start in it (20,000 blank lines took 20 s).
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
_NONBLANK_RE = re.compile(r"\S")


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

    routine_at: dict = {}

    def in_routine() -> bool:
        # asked at every ';' and keyword line of a statement: once per statement start, or a
        # PL/SQL body after a long comment costs its length at each ';' (quadratic)
        if start not in routine_at:
            routine_at.clear()
            routine_at[start] = bool(_ROUTINE_RE.match(text, _HEAD_RE.match(text, start).end()))
        return routine_at[start]

    def blank_since_start(end: int) -> bool:
        return _NONBLANK_RE.search(text, start, end) is None

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
            if blank_since_start(m.start()):
                start = m.start()
                emit(m.end())
                start, depth = pos, 0
        elif group == "kw":
            if depth == 0 and not blank_since_start(m.start()) and not in_routine():
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
            chunk_line = line  # counted chunk by chunk: counting from the piece's start is quadratic
            for chunk in piece.split(delim):
                stripped = chunk.strip()
                if stripped:
                    lead = chunk[:len(chunk) - len(chunk.lstrip())].count("\n")  # the line the text starts on
                    out.append(Statement(stripped, statement_kind(stripped), chunk_line + lead))
                chunk_line += chunk.count("\n") + delim.count("\n")
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
        r"\bTO\s+PROGRAM\b|\bFROM\s+PROGRAM\b|\bOPENROWSET\b|\bBULK\s+INSERT\b|"
        r"\bUTL_FILE\b|^\s*VACUUM\b(?:\s+[\w\"`\[\]]+)?\s+INTO\b", re.I)),
    ("shell", re.compile(r"\bxp_cmdshell\b|^[ \t]*\.(?:shell|system|load|output|once|import)\b|"
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
    found = [kind for kind, rx in _HOSTILE if rx.search(text) or (kind == "file_access" and _copy_to_file(text))]
    if statement.kind == "query" and "cross_join" not in found and _comma_cross_join(text):
        found.append("cross_join")
    return found


_COPY_RE = re.compile(r"\bCOPY\s", re.I)
_TO_FILE_RE = re.compile(r"\bTO\s+'", re.I)


def _copy_to_file(text: str) -> bool:
    """``COPY … TO '<file>'`` (no ``;`` between), in linear time: the regular expression
    ``COPY\\s+[^;]*\\bTO\\s+'`` rescans to the next ``;`` from every ``COPY`` (a 210 KB statement of
    them took 77 s). Only the first ``COPY`` of each ``;``-free stretch can matter."""
    for stretch in text.split(";"):
        m = _COPY_RE.search(stretch)
        if m and _TO_FILE_RE.search(stretch, m.end()):
            return True
    return False


_FROM_LIST_RE = re.compile(r"\bFROM\s+((?:[\w.\"`\[\]]+(?:\s+(?:AS\s+)?\w+)?\s*,\s*)+[\w.\"`\[\]]+)", re.I)


def _comma_cross_join(text: str) -> bool:
    """``FROM a, b[, c]`` with no WHERE at all: an unconstrained product."""
    return bool(_FROM_LIST_RE.search(text)) and not re.search(r"\bWHERE\b", text, re.I)
