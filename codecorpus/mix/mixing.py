"""From per-source tables to one training set: sources, rendering, splits, sampling (pure parts).

A *source* is one of our output tables (or any JSONL/Parquet table) plus how to turn its rows
into training rows. Its ``kind`` presets the templates for our own tables; every template can be
overridden in the mixture config. Templates are ``str.format`` strings over the row's columns
(``"{subject}\\n{old_contents}"``); a null column renders as "", a list column one item per line.

Every rendered row has the common schema (``schemas.MIXTURE_EXAMPLES``) and three grouping keys
that decide its split together with the dedup clusters: ``member`` (the id the dedup
``clusters`` table knows the row by), ``file`` (repository + path: every commit and chunk of a
file) and ``repo``.

Randomness is a seeded hash of names, never a random generator: the same inputs and seed give
the same split, the same samples and the same order on any runner, in any process.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from typing import Any, Optional

import apache_beam as beam
import xxhash

from codecorpus.config import ConfigError
from codecorpus.io import tables
from codecorpus.io.shards import approx_bytes, split_shard_count as shard_count  # noqa: F401 (re-used names)
from codecorpus.core.graph import ConnectedComponents, stream_join
from codecorpus.dedup.deduplicate import canonical_json
from codecorpus.dedup.near import NearDuplicateEdges, NearSettings, SignTexts
from codecorpus.core.routing import STATS, Count, Drop, dead_letter, routed

SPLITS = ("train", "validation", "test")
RENDERS = ("text", "messages", "prompt_completion")
AMOUNTS = ("weight", "repeat", "target_rows", "target_tokens")
TEMPLATE_KEYS = ("id", "member", "file", "text", "system", "user", "assistant", "prompt", "completion")
PROVENANCE = ("repo", "commit", "path", "license", "lang")
SQL_PROMPT_KEYS = ("prompt_format", "sample_rows", "max_value_chars", "near_identical")  # sql_triples only
NEAR_IDENTICAL = ("representative", "all")                # (mix.sql_triples) ``near_identical``
SOURCE_KEYS = {"name", "path", "kind", "render", "where", "clusters", "join", "provenance", *AMOUNTS, *TEMPLATE_KEYS,
               *SQL_PROMPT_KEYS}

# Presets for the tables our jobs write. ``member`` is the id the job's ``clusters`` table uses;
# ``file`` joins every commit or chunk of one file; ``provenance`` fills the output's columns.
_COMMIT_KEYS = {"member": "{commit}", "file": "{repos}:{new_file}",
                "provenance": {"repo": "{repos}", "commit": "{commit}", "path": "{new_file}", "license": "{license}",
                               "lang": "{lang}"}}
_FILE_KEYS = {"member": "{repo}:{ref}:{path}", "file": "{repo}:{path}",
              "provenance": {"repo": "{repo}", "path": "{path}", "license": "{license}", "lang": "{lang}"}}
KINDS = {
    # codecorpus commits -> instructions/: already rendered (octocoder or commit_tokens)
    "instructions": {"render": "prompt_completion", "id": "{commit}:{format}", "prompt": "{prompt}",
                     "completion": "{completion}", "text": "{text}", **_COMMIT_KEYS},
    # codecorpus commits -> commitpack/ or commitpackft/: a chat turn per commit (OctoCoder's prompt)
    "commitpack": {"render": "messages", "id": "{commit}", "user": "{subject}\n{old_contents}",
                   "assistant": "{new_contents}", **_COMMIT_KEYS},
    # codecorpus files -> fim/: pretraining text with FIM sentinels
    "fim": {"render": "text", "id": "{repo}:{ref}:{path}:{chunk}", "text": "{text}", **_FILE_KEYS},
    # codecorpus files -> files/: plain file contents
    "files": {"render": "text", "id": "{repo}:{ref}:{path}", "text": "{content}", **_FILE_KEYS},
    # codecorpus files -> repo_documents/: a repository (or a chunk of one) as one document. Its
    # files' rows in other sources share its repository, and the plan groups by repository
    # whenever this kind is mixed, so a repository's documents and rows stay in one split.
    "repo_documents": {"render": "text", "id": "{repo}:{ref}:{chunk}", "text": "{text}", "member": None,
                       "file": None, "provenance": {"repo": "{repo}", "license": "{license}"}},
    # codecorpus sql -> sql_triples/ joined with sql_databases/ (``join``) for the schema. ``file`` is
    # the schema fingerprint: near-identical databases of different repositories (one sample
    # database vendored into many) share it, so their triples fall on one side of the split.
    "sql_triples": {"render": "messages", "id": None, "user": "{ddl}\n\n-- {question}", "assistant": "{sql}",
                    "member": "{db_id}", "file": "{schema_fingerprint}",
                    "provenance": {"repo": "{repo_name}", "path": "{path}", "license": "{license}", "lang": "sql"}},
    # codecorpus instruct -> code_instructions/: a chat turn, question -> the passing solution
    "code_instructions": {"render": "messages", "id": "{id}", "user": "{question}", "assistant": "{solution}",
                          "member": "{id}", "file": "{seed_ref}",
                          "provenance": {"path": "{seed_ref}", "license": "{license}", "lang": "{language}"}},
    # codecorpus instruct -> code_preferences/: supervised on the chosen response (the pairs
    # themselves, for DPO-style training, are the table as it is)
    "code_preferences": {"render": "prompt_completion", "id": None,
                         "prompt": "{prompt}\n\n", "completion": "{chosen}", "member": "{id}",
                         "provenance": {"lang": "{language}"}},
    # anything else: say what to render
    "custom": {"render": "text", "id": None, "text": "{text}"},
}

# ``prompt_format: sql_palm``: the joined database as SQL-PaLM's prompt shows it (``sql.prompts``),
# in a column of its own that the templates can use, and the question as SQL-PaLM asks it.
PROMPT_FORMATS = ("ddl", "sql_palm")
DATABASE_PROMPT = "database_prompt"
SQL_PALM_USER = "{database_prompt}\n[Q]: {question}"

CHATML = {"turn": "<|im_start|>{role}\n{content}<|im_end|>\n", "system": None}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


# --- the mixture config -----------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    name: str
    path: str
    kind: str
    render: str
    templates: dict                 # TEMPLATE_KEYS and PROVENANCE -> template string or None
    where: dict = field(default_factory=dict)   # column -> allowed values
    amount: tuple = ("repeat", 1.0)             # one of AMOUNTS and its value
    clusters: Optional[str] = None
    join: Optional[dict] = None     # {path, on, columns}
    sql_prompt: Optional[dict] = None   # sql_triples: {prompt_format, sample_rows, max_value_chars}

    @property
    def sql_palm(self) -> bool:
        return bool(self.sql_prompt) and self.sql_prompt["prompt_format"] == "sql_palm"

    @property
    def representatives_only(self) -> bool:
        """Only the triples of each near-identical group's kept database (``near_identical``)."""
        return bool(self.sql_prompt) and self.sql_prompt["near_identical"] == "representative"

    def join_reads(self) -> list[str]:
        """The columns read from the join table: the ``join`` columns, the database's ``ddl``
        and ``inserts`` when the prompt is built from them, and its group's ``representative``
        when only representatives are mixed."""
        columns = list(self.join["columns"]) if self.join else []
        extra = (["ddl", "inserts"] if self.sql_palm else []) + (["representative"] if self.representatives_only else [])
        return columns + [c for c in extra if c not in columns]

    def derived_columns(self) -> set[str]:
        """Columns the join computes for the templates (not in any table)."""
        return {DATABASE_PROMPT} if self.sql_palm else set()

    def columns_needed(self) -> set[str]:
        """Columns the templates and ``where`` read (from the table or its join)."""
        names = set(self.where)
        for template in self.templates.values():
            if template:
                names |= template_fields(template)
        return names


def template_fields(template: str) -> set[str]:
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as e:
        raise ConfigError(f"template {template!r} is not a valid format string: {e}") from e


def fix_yaml_on_keys(mix: dict) -> dict:
    """YAML 1.1 (PyYAML) reads an unquoted key ``on`` as true: the README's ``join: {…, on: db_id}``
    is ``{True: "db_id"}``. Fixed in the config itself, so the manifest records ``on`` (and can be
    written: JSON keys are text)."""
    for entry in mix.get("sources") or []:
        join = entry.get("join") if isinstance(entry, dict) else None
        if isinstance(join, dict) and True in join and "on" not in join:
            entry["join"] = {("on" if key is True else key): value for key, value in join.items()}
    return mix


def parse_sources(mix: dict, paths: dict[str, str] | None = None) -> list[Source]:
    """``mix.sources`` (a list of mappings) -> checked ``Source``s; ``paths`` (name -> path, from
    ``--input NAME=PATH``) override or supply a source's ``path``."""
    raw = mix.get("sources") or []
    if not isinstance(raw, list) or not raw:
        raise ConfigError("mix.sources must list at least one source (name, path, kind ...); "
                          "see `codecorpus mix --help`")
    paths = dict(paths or {})
    fix_yaml_on_keys(mix)
    sources, seen = [], set()
    for i, entry in enumerate(raw):
        where = f"mix.sources[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping, got {entry!r}")
        unknown = set(entry) - SOURCE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {', '.join(sorted(SOURCE_KEYS))}")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{where}: `name` must be a word (letters, digits, _ . -), got {name!r}")
        if name in seen:
            raise ConfigError(f"{where}: source name '{name}' is used twice")
        seen.add(name)
        kind = entry.get("kind", "custom")
        if kind not in KINDS:
            raise ConfigError(f"source '{name}': unknown kind '{kind}'; kinds: {', '.join(KINDS)}")
        preset = KINDS[kind]
        path = paths.pop(name, None) or entry.get("path")
        if not path:
            raise ConfigError(f"source '{name}': no `path` (give it in the config or as --input {name}=PATH)")
        render = entry.get("render", preset["render"])
        if render not in RENDERS:
            raise ConfigError(f"source '{name}': render must be one of {', '.join(RENDERS)}, got {render!r}")
        sql_prompt = _parse_sql_prompt(name, kind, entry, mix)
        if sql_prompt and sql_prompt["near_identical"] == "representative" and entry.get("join") is None:
            raise ConfigError(f"source '{name}': near_identical: representative reads each database's group from "
                              "the join: give `join: {path: out/sql/sql_databases, on: db_id, columns: [ddl]}` "
                              "or set near_identical: all")
        if sql_prompt and sql_prompt["prompt_format"] == "sql_palm":
            preset = {**preset, "user": SQL_PALM_USER}
            if entry.get("join") is None:
                raise ConfigError(f"source '{name}': prompt_format sql_palm builds the prompt from the database: "
                                  "give `join: {path: out/sql/sql_databases, on: db_id, columns: [ddl]}`")
        templates = {key: entry.get(key, preset.get(key)) for key in TEMPLATE_KEYS}
        provenance = entry.get("provenance") or {}
        if not isinstance(provenance, dict) or set(provenance) - set(PROVENANCE):
            raise ConfigError(f"source '{name}': `provenance` maps {', '.join(PROVENANCE)} to templates")
        templates.update({key: provenance.get(key, preset.get("provenance", {}).get(key)) for key in PROVENANCE})
        _check_render_templates(name, render, templates)
        amounts = [(key, entry[key]) for key in AMOUNTS if entry.get(key) is not None]
        if len(amounts) > 1:
            raise ConfigError(f"source '{name}': give at most one of {', '.join(AMOUNTS)}")
        amount = amounts[0] if amounts else ("repeat", 1.0)
        if not is_amount(amount[1]):
            raise ConfigError(f"source '{name}': {amount[0]} must be a finite number >= 0, got {amount[1]!r}")
        sources.append(Source(name=name, path=str(path), kind=kind, render=render, templates=templates,
                              where=_parse_where(name, entry.get("where")), amount=amount,
                              clusters=entry.get("clusters"), join=_parse_join(name, entry.get("join")),
                              sql_prompt=sql_prompt))
    if paths:
        raise ConfigError(f"--input names no source of the mixture: {', '.join(sorted(paths))}")
    weighted = [s.name for s in sources if s.amount[0] == "weight"]
    if weighted and len(weighted) != len(sources):
        raise ConfigError("mix: give `weight` to every source or to none (weights are shares of the mixture; "
                          "use repeat / target_rows / target_tokens for fixed amounts)")
    if weighted and not sum(s.amount[1] for s in sources) > 0:
        raise ConfigError("mix: the weights must not all be 0")
    return sources


def is_amount(value: Any) -> bool:
    """A finite number >= 0 (YAML's ``.inf`` and ``.nan`` are floats too)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _check_render_templates(name: str, render: str, templates: dict) -> None:
    needed = {"text": ("text",), "messages": ("user", "assistant"), "prompt_completion": ("prompt", "completion")}
    missing = [key for key in needed[render] if not templates.get(key)]
    if missing:
        raise ConfigError(f"source '{name}': render '{render}' needs template(s) {', '.join(missing)}")
    for key, template in templates.items():
        if template is not None and not isinstance(template, str):
            raise ConfigError(f"source '{name}': `{key}` must be a template string or null, got {template!r}")
        if template:
            template_fields(template)


def _parse_sql_prompt(name: str, kind: str, entry: dict, mix: dict) -> Optional[dict]:
    """A ``sql_triples`` source's prompt options: its own keys over ``mix.sql_triples`` (the
    defaults), type-checked against them; None for other kinds, which must not set them."""
    given = [key for key in SQL_PROMPT_KEYS if key in entry]
    if kind != "sql_triples":
        if given:
            raise ConfigError(f"source '{name}': {', '.join(given)} only apply to kind sql_triples")
        return None
    from codecorpus.config import checked_value, default_config

    defaults = {**default_config()["mix"]["sql_triples"], **(mix.get("sql_triples") or {})}
    options = {key: checked_value(f"source '{name}' {key}", defaults[key], entry.get(key, defaults[key]))
               for key in SQL_PROMPT_KEYS}
    if options["prompt_format"] not in PROMPT_FORMATS:
        raise ConfigError(f"source '{name}': prompt_format must be one of {', '.join(PROMPT_FORMATS)}, "
                          f"got {options['prompt_format']!r}")
    if options["near_identical"] not in NEAR_IDENTICAL:
        raise ConfigError(f"source '{name}': near_identical must be one of {', '.join(NEAR_IDENTICAL)}, "
                          f"got {options['near_identical']!r}")
    if options["sample_rows"] < 0 or options["max_value_chars"] < 1:
        raise ConfigError(f"source '{name}': sample_rows must be >= 0 and max_value_chars >= 1, got "
                          f"{options['sample_rows']!r} and {options['max_value_chars']!r}")
    return options


def database_prompt(joined: dict, options: dict, keep: list) -> dict:
    """The join table's ``keep`` columns for a row, with ``database_prompt`` built from its
    ``ddl`` and ``inserts`` (once per database, on the join side; the inserts, when no template
    reads them, go no further). A database whose prompt cannot be built carries the reason
    instead: its rows are dead-lettered with it, the job goes on."""
    from codecorpus.sql.prompts import sql_palm_schema

    kept = {c: joined.get(c) for c in keep}
    try:
        prompt = sql_palm_schema(joined.get("ddl") or [], joined.get("inserts") or [], options["sample_rows"],
                                 options["max_value_chars"])
    except Exception as e:  # noqa: BLE001 - one unreadable database must not stop the job
        return {**kept, "_prompt_error": f"prompt_format sql_palm: {type(e).__name__}: {e}"}
    return {**kept, DATABASE_PROMPT: prompt}


def _parse_where(name: str, where: Any) -> dict:
    if where is None:
        return {}
    if not isinstance(where, dict):
        raise ConfigError(f"source '{name}': `where` must map columns to a value or a list of values")
    return {column: tuple(v) if isinstance(v, list) else (v,) for column, v in where.items()}


def _parse_join(name: str, join: Any) -> Optional[dict]:
    if join is None:
        return None
    if not isinstance(join, dict) or set(join) - {"path", "on", "columns"} or not join.get("path") \
            or not join.get("on") or not isinstance(join.get("columns"), list) or not join["columns"]:
        raise ConfigError(f"source '{name}': `join` must be {{path: TABLE, on: COLUMN, columns: [COLUMN, ...]}}")
    return {"path": str(join["path"]), "on": str(join["on"]), "columns": [str(c) for c in join["columns"]]}


def check_columns(source: Source, columns: set[str]) -> None:
    """Fail before the run when a template or ``where`` names a column the input lacks."""
    available = set(columns) | set(source.join["columns"] if source.join else ()) | source.derived_columns()
    missing = sorted(source.columns_needed() - available)
    if missing:
        raise ConfigError(f"source '{source.name}' ({source.kind}) reads column(s) {', '.join(missing)} that "
                          f"{source.path} does not have; its columns: {', '.join(sorted(columns))}")


def split_fractions(mix: dict) -> dict[str, float]:
    """``mix.splits`` -> {split: fraction} with train taking the rest."""
    fractions = {}
    for split, value in (mix.get("splits") or {}).items():
        if split not in SPLITS[1:]:
            raise ConfigError(f"mix.splits: unknown split '{split}'; splits are validation and test (train is the rest)")
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(f"mix.splits.{split} must be a fraction in [0, 1), got {value!r}")
        fractions[split] = float(value)
    if sum(fractions.values()) >= 1:
        raise ConfigError("mix.splits: validation + test must leave something for train")
    return {"train": 1 - sum(fractions.values()), **fractions}


def active_splits(fractions: dict[str, float]) -> list[str]:
    return [s for s in SPLITS if fractions.get(s, 0) > 0 or s == "train"]


# --- rendering --------------------------------------------------------------------------------


class _Values(dict):
    """Row columns for ``format_map``: null -> "", lists one item per line, missing -> KeyError."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return "\n".join("" if v is None else str(v) for v in value)
        return value


def fill(template: Optional[str], row: dict) -> Optional[str]:
    if template is None:
        return None
    try:
        return template.format_map(_Values(row))
    except KeyError as e:
        raise ValueError(f"column {e} is missing from the row") from None


def matches(where: dict, row: dict) -> bool:
    return all(row.get(column) in allowed for column, allowed in where.items())


def chat_text(messages: list[dict], template: dict) -> tuple[str, str]:
    """(prompt, completion) for a conversation whose last message is the assistant's: the
    prompt is every turn before it plus the assistant turn's opening; the completion is the
    reply and the turn's closing. ``prompt + completion`` is the whole conversation."""
    turn = template["turn"]
    before = "".join(turn.format(role=m["role"], content=m["content"]) for m in messages[:-1])
    marker = "\x00codecorpus-content\x00"
    opening, closing = turn.format(role=messages[-1]["role"], content=marker).split(marker, 1)
    return before + opening, messages[-1]["content"] + closing


def check_chat_template(template: dict) -> None:
    turn = template.get("turn")
    if not isinstance(turn, str) or template_fields(turn) != {"role", "content"} or turn.count("{content}") != 1:
        raise ConfigError("mix.chat_template.turn must use {role} and {content} (once each), "
                          f"e.g. {CHATML['turn']!r}; got {turn!r}")


def render(row: dict, source: Source, template: dict) -> dict:
    """One input row -> one training row of the common schema, plus the grouping keys
    ``_member``, ``_file`` and ``_repo`` (internal: they decide the split, and are not written)."""
    t = source.templates
    rid = fill(t["id"], row) if t["id"] else None
    if not rid:
        rid = xxhash.xxh3_128_hexdigest(canonical_json(row).encode("utf-8", "surrogatepass"))
    out = {"id": f"{source.name}/{rid}", "source": source.name, "text": None, "messages": None,
           "prompt": None, "completion": None}
    if source.render == "text":
        out["text"] = fill(t["text"], row)
    elif source.render == "messages":
        system = fill(t["system"], row) if t["system"] else template.get("system")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": fill(t["user"], row)},
            {"role": "assistant", "content": fill(t["assistant"], row)}]
        out["messages"] = messages
        out["prompt"], out["completion"] = chat_text(messages, template)
        out["text"] = out["prompt"] + out["completion"]
    else:
        out["prompt"], out["completion"] = fill(t["prompt"], row), fill(t["completion"], row)
        out["text"] = out["prompt"] + out["completion"]
    for column in ("repo", "commit", "path", "license", "lang"):
        out[column] = fill(t[column], row) or None
    out["_member"] = fill(t["member"], row) or rid
    out["_file"] = fill(t["file"], row) if t["file"] else None
    out["_repo"] = out["repo"]
    return out


def slim(row: dict) -> dict:
    """The row without what ``complete`` can rebuild (``text``, and a chat row's ``prompt`` and
    ``completion``): half the bytes of a chat row through the shuffles."""
    if row["messages"] is not None:
        return {**row, "text": None, "prompt": None, "completion": None}
    if row["prompt"] is not None:
        return {**row, "text": None}
    return row


def complete(row: dict, template: dict) -> dict:
    """A ``slim`` row as written: ``text``, ``prompt`` and ``completion`` filled in again."""
    if row["messages"] is not None and row["prompt"] is None:
        prompt, completion = chat_text(row["messages"], template)
        return {**row, "prompt": prompt, "completion": completion, "text": prompt + completion}
    if row["prompt"] is not None and row["text"] is None:
        return {**row, "text": row["prompt"] + row["completion"]}
    return row


def is_empty(row: dict) -> bool:
    if row["messages"] is not None:
        return not row["completion"] or not any(m["content"] for m in row["messages"][:-1])
    return not row["text"]


# --- seeded choices ---------------------------------------------------------------------------


def unit_hash(seed: int, *parts: Any) -> int:
    """A 64-bit number fixed by the seed and the parts."""
    return xxhash.xxh64_intdigest("\x1f".join(map(str, (seed, *parts))).encode("utf-8", "surrogatepass"))


def unit_draw(seed: int, *parts: Any) -> float:
    return unit_hash(seed, *parts) / 2**64


def split_of(group: str, seed: int, fractions: dict[str, float]) -> str:
    """The split of a whole group (a connected set of rows): a seeded draw against the fractions."""
    draw, edge = unit_draw(seed, "split", group), 0.0
    for split in SPLITS[1:]:
        edge += fractions.get(split, 0.0)
        if draw < edge:
            return split
    return "train"


def copies_of(rate: float, seed: int, source: str, rid: str, split: str) -> int:
    """How many times a row appears: ``rate`` = 2.3 gives 2 copies, and a 3rd for a seeded 30 %
    of rows; validation and test rows appear at most once (repeats only help training)."""
    whole = math.floor(rate)
    copies = whole + (unit_draw(seed, "sample", source, rid) < rate - whole)
    return copies if split == "train" else min(1, copies)


def shuffle_key(seed: int, split: str, rid: str, copy: int) -> int:
    return unit_hash(seed, "shuffle", split, rid, copy)


def sampling_rates(sources: list[Source], available: dict[str, tuple[int, int]], mix: dict) -> dict[str, float]:
    """Expected copies per row for each source, from the rows and tokens each source has.

    ``repeat`` is the rate itself; ``target_rows`` / ``target_tokens`` divide by what is there;
    ``weight``s are shares of the whole mixture, in rows or tokens (``mix.weight_unit``), of a
    total ``mix.total`` or, when that is null, the largest total that repeats no source."""
    rates = {}
    unit = mix.get("weight_unit", "rows")
    index = 0 if unit == "rows" else 1
    weights = {s.name: float(s.amount[1]) for s in sources if s.amount[0] == "weight"}
    if weights:
        share = {name: w / sum(weights.values()) for name, w in weights.items()}
        total = mix.get("total")
        if total is None:
            # an empty source cannot take its share; the others still fill theirs
            fits = [available[name][index] / share[name] for name in share if share[name] > 0 and available[name][index]]
            total = min(fits) if fits else 0
        for name in share:
            have = available[name][index]
            rates[name] = total * share[name] / have if have else 0.0
    for s in sources:
        kind, value = s.amount
        rows, tokens = available[s.name]
        if kind == "repeat":
            rates[s.name] = float(value)
        elif kind == "target_rows":
            rates[s.name] = value / rows if rows else 0.0
        elif kind == "target_tokens":
            rates[s.name] = value / tokens if tokens else 0.0
    return rates


# --- Beam transforms ----------------------------------------------------------------------------

INTERNAL = ("_member", "_file", "_repo", "_group", "_ids", "_key", "_copies")


def where_counter(source: str) -> str:
    return f"filter/where/{source}"


def empty_counter(source: str) -> str:
    return f"filter/empty/{source}"


def sample_counter(source: str) -> str:
    return f"filter/sample/{source}"


def near_identical_counter(source: str) -> str:
    return f"filter/near_identical/{source}"


# the drops of the rows identity, each ``filter/<name>/<source>``
DROPS = ("where", "near_identical", "empty", "sample")


class _RenderEvents:
    """``routed`` body: (record, joined columns or None) -> the training row, or a drop."""

    def __init__(self, source: Source, template: dict):
        self.source, self.template = source, template

    def __call__(self, element):
        record, joined = element
        source = self.source
        if not matches(source.where, record):
            return [Drop(where_counter(source.name))]
        if source.join is not None:
            if joined is None:
                raise ValueError(f"no row of {source.join['path']} has {source.join['on']} = "
                                 f"{record.get(source.join['on'])!r}")
            if source.representatives_only and joined.get("representative") not in (None, record.get("db_id")):
                return [Drop(near_identical_counter(source.name))]   # its group counts once, by its kept database
            if joined.get("_prompt_error"):
                raise ValueError(joined["_prompt_error"])
            record = {**record, **{c: joined.get(c) for c in source.join["columns"]},
                      **{c: joined.get(c) for c in source.derived_columns()}}
        row = render(record, source, self.template)
        if is_empty(row):
            return [Drop(empty_counter(source.name))]
        return [row]


def _join_events(key, ones, many):
    right = ones.get("right")
    for record in many:
        yield record, right


class ReadSource(beam.PTransform):
    """A source's files -> its training rows (``kept``), with ``dead_letter`` and ``stats``.

    Counters: ``read/<source>``, ``filter/where|near_identical|empty/<source>``,
    ``dead_letter/<source>/<stage>``."""

    def __init__(self, source: Source, files: list[str], join_files: list[str], template: dict):
        super().__init__()
        self.source, self.files, self.join_files = source, files, join_files
        self.template = template

    def expand(self, pbegin):
        source = self.source
        read = pbegin | "Read" >> tables.ReadRecords(self.files, table=source.name)
        dead, stats = [read["dead_letter"]], [read[STATS]]
        records = read["kept"]
        if source.join is None:
            pairs = records | "NothingToJoin" >> beam.Map(lambda r: (r, None))
        else:
            on, columns = source.join["on"], source.join_reads()
            right = pbegin | "ReadJoin" >> tables.ReadRecords(self.join_files, table=f"{source.name}.join")
            dead.append(right["dead_letter"])
            stats.append(right[STATS])
            keyed_right = right["kept"] | "KeyJoin" >> beam.FlatMap(
                lambda r: [(str(r[on]), {c: r.get(c) for c in columns})] if r.get(on) is not None else [])
            if source.sql_palm:  # once per database, not per triple
                keyed_right = keyed_right | "DatabasePrompt" >> beam.MapTuple(
                    lambda key, joined, options=source.sql_prompt, keep=tuple(source.join["columns"]):
                    (key, database_prompt(joined, options, keep)))
            keyed = records | "KeyRecords" >> beam.Map(lambda r: (str(r.get(on)), r))
            joined = stream_join("Join", {"right": keyed_right}, keyed, _join_events)
            pairs, stats = joined.out, stats + [joined[STATS]]
        rendered = pairs | "Render" >> routed(
            _RenderEvents(source, self.template), "render", source.name,
            key_of=lambda pair: None)
        return {"kept": rendered["kept"],
                "dead_letter": tuple(dead + [rendered["dead_letter"]]) | "DeadLetters" >> beam.Flatten(),
                STATS: tuple(stats + [rendered[STATS]]) | "Stats" >> beam.Flatten()}


# --- splits: groups of rows that must stay together ----------------------------------------------


def row_node(row: dict) -> str:
    return f"row:{row['id']}"


def group_edges(row: dict, by_repo: bool) -> list[tuple[str, str]]:
    """A row is linked to its dedup member id, its file and (optionally) its repository: rows
    sharing any of them, directly or through a chain, form one group."""
    node = row_node(row)
    edges = [(node, f"m:{row['_member']}")]
    if row.get("_file"):
        edges.append((node, f"f:{row['_file']}"))
    if by_repo and row.get("_repo"):
        edges.append((node, f"r:{row['_repo']}"))
    return edges


def cluster_edge(row: dict) -> list[tuple[str, str]]:
    """A ``clusters`` table row links a member to its cluster's kept member."""
    member, cluster = row.get("id"), row.get("cluster_id")
    if member is None or cluster is None or member == cluster:
        return []
    return [(f"m:{member}", f"m:{cluster}")]


class NearDuplicateLinks(beam.PTransform):
    """(row node, text) -> verified edges between rows whose texts are near-duplicates (the
    near-duplicate engine of dedup, ``dedup.near``, with the ``mix.leakage_check`` settings), so
    the split keeps them together even when no ``clusters`` table knew them (a renamed file, one
    file copied into two sources). Counters ``dedup/near/...`` as in dedup."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.settings = NearSettings.from_config(cfg, "mix.leakage_check")

    def expand(self, texts):
        sigs = texts | "Sign" >> SignTexts(self.settings, short=False)
        found = sigs | "NearDuplicateEdges" >> NearDuplicateEdges(self.settings)
        return {"edges": found["edges"], STATS: found[STATS]}


class _SplitOfNode:
    """``routed`` body: (node, {label, row}) -> the row with its split; a second row with the
    same id is dead-lettered (the first by content is kept, so the choice is deterministic)."""

    def __init__(self, seed: int, fractions: dict, table: str):
        self.seed, self.fractions, self.table = seed, fractions, table

    def __call__(self, element):
        node, joined = element
        rows = sorted(joined["row"], key=canonical_json)
        if not rows:
            return []
        label = min(joined["label"]) if joined["label"] else node
        split = split_of(label, self.seed, self.fractions)
        events = [{**rows[0], "split": split, "_group": label}]
        for extra in rows[1:]:
            events.append(dead_letter("split", extra["source"], extra["id"], f"duplicate id {extra['id']!r} in "
                                      f"source {extra['source']}: ids must be unique (set the source's `id` template)",
                                      {k: v for k, v in extra.items() if k not in INTERNAL}))
        return events


class AssignSplits(beam.PTransform):
    """rows -> rows with ``split``: connected components over rows, dedup members (joined by the
    ``clusters`` links), files and optionally repositories; each component's split is a seeded
    draw of its smallest node. Counters: ``mix/components/...`` (rounds, convergence) and
    ``mix/groups/<split>`` (groups per split)."""

    def __init__(self, cluster_links, seed: int, fractions: dict, by_repo: bool, max_rounds: int,
                 near: Optional[dict] = None, template: Optional[dict] = None):
        super().__init__()
        self.cluster_links, self.seed, self.fractions = cluster_links, seed, fractions
        self.by_repo, self.max_rounds = by_repo, max_rounds
        self.near, self.template = near, template   # near: link near-duplicate texts too (leakage_check settings)

    def expand(self, rows):
        by_repo, template = self.by_repo, self.template
        edges = [rows | "GroupEdges" >> beam.FlatMap(group_edges, by_repo)]
        edges += [links | f"ClusterEdges{i}" >> beam.FlatMap(cluster_edge) for i, links in enumerate(self.cluster_links)]
        stats = []
        if self.near is not None:
            near = (rows
                    | "NodeText" >> beam.Map(lambda r: (row_node(r), complete(r, template)["text"] or ""))
                    | "NearDuplicateLinks" >> NearDuplicateLinks(self.near))
            edges.append(near["edges"])
            stats.append(near[STATS])
        components = tuple(edges) | "AllEdges" >> beam.Flatten() | "Components" >> ConnectedComponents(
            self.max_rounds, counter_prefix="mix/components")
        by_node = rows | "ByNode" >> beam.Map(lambda r: (row_node(r), r))
        joined = {"label": components["labels"], "row": by_node} | "JoinLabels" >> beam.CoGroupByKey()
        split = joined | "SplitOfGroup" >> routed(_SplitOfNode(self.seed, self.fractions, "mix"), "split", "mix",
                                                   key_of=lambda kv: kv[0])
        groups = (split["kept"]
                  | "GroupAndSplit" >> beam.Map(lambda r: (r["_group"], r["split"]))
                  | "DistinctGroups" >> beam.Distinct()
                  | "GroupsPerSplit" >> beam.Map(lambda gs: (f"mix/groups/{gs[1]}", 1)))
        return {"kept": split["kept"], "dead_letter": split["dead_letter"],
                STATS: tuple([components[STATS], split[STATS], groups] + stats) | "SplitStats" >> beam.Flatten()}


# --- sampling ---------------------------------------------------------------------------------


class _Sample:
    """``routed`` body: a row -> the row with how many times it is written (``_copies``), or a drop."""

    def __init__(self, seed: int):
        self.seed = seed

    def __call__(self, row, rates):
        n = copies_of(rates.get(row["source"], 0.0), self.seed, row["source"], row["id"], row["split"])
        if n == 0:
            return [Drop(sample_counter(row["source"]))]
        return [Count(f"mix/selected/{row['source']}"), Count(f"mix/copies/{row['source']}", n), {**row, "_copies": n}]


def expand_copies(row: dict, seed: int):
    """A sampled row -> its copies (``copy`` 0.., each with its own shuffle ``_key``)."""
    n = row["_copies"]
    for k in range(n):
        yield {**row, "copy": k, "_key": shuffle_key(seed, row["split"], row["id"], k)}


class SampleRows(beam.PTransform):
    """rows -> the selected rows with their number of copies (``_copies``), by each source's rate
    (``sampling_rates`` of the rows and tokens the sources have, counted here: a few numbers per
    source reach every worker). ``counts_tokens``: the rows carry ``num_tokens`` already."""

    def __init__(self, sources: list[Source], mix: dict, counts_tokens: bool = False):
        super().__init__()
        self.sources, self.mix = sources, mix
        self.counts_tokens = counts_tokens

    def expand(self, rows):
        sources, mix = self.sources, self.mix
        names = [s.name for s in sources]
        totals = (rows
                  | "RowsAndTokens" >> beam.FlatMap(
                      lambda r: [((r["source"], "rows"), 1), ((r["source"], "tokens"), r.get("num_tokens") or 0)])
                  | "SumPerSource" >> beam.CombinePerKey(sum))
        available = [beam.pvalue.AsSingleton(
            totals | f"Only[{name}.{what}]" >> beam.Filter(lambda kv, k=(name, what): kv[0] == k)
            | f"Value[{name}.{what}]" >> beam.Map(lambda kv: kv[1])
            | f"Total[{name}.{what}]" >> beam.CombineGlobally(sum))
            for name in names for what in ("rows", "tokens")]

        def rates_of(_, *values):
            have = {name: (values[2 * i], values[2 * i + 1]) for i, name in enumerate(names)}
            return sampling_rates(sources, have, mix)

        rates = rows.pipeline | "One" >> beam.Create([None]) | "Rates" >> beam.Map(rates_of, *available)
        sampled = rows | "Sample" >> routed(_Sample(int(mix["seed"])), "sample", "mix",
                                            key_of=lambda r: r.get("id"),
                                            side_inputs=[beam.pvalue.AsSingleton(rates)])
        rate_stats = rates | "RateStats" >> beam.FlatMap(
            lambda r: [(f"mix/rate_ppm/{name}", round(rate * 1_000_000)) for name, rate in r.items()])
        counted = ("rows", "tokens") if self.counts_tokens else ("rows",)
        available_stats = totals | "AvailableStats" >> beam.FlatMap(
            lambda kv: [(f"mix/available_{kv[0][1]}/{kv[0][0]}", kv[1])] if kv[0][1] in counted else [])
        return {"kept": sampled["kept"], "dead_letter": sampled["dead_letter"],
                STATS: (sampled[STATS], rate_stats, available_stats) | "SampleStats" >> beam.Flatten()}


# --- leakage: groups that ended up on both sides --------------------------------------------------

GROUP_LEAKS = ("clusters", "files", "repos")


def leak_counter(kind: str) -> str:
    return f"leakage/cross_split_{kind}"


def _cluster_of_member(element):
    member, joined = element
    cluster = min(joined["cluster"]) if joined["cluster"] else member
    for split in set(joined["split"]):
        yield cluster, split


class CheckGroupLeakage(beam.PTransform):
    """Written rows -> counters of the groups whose rows are in more than one split: dedup
    clusters (read again from the ``clusters`` tables, not from the components that chose the
    splits), files, and repositories (counted always; zero is only promised with
    ``group_by_repo``). A check of the split, independent of how it was made."""

    def __init__(self, cluster_links):
        super().__init__()
        self.cluster_links = cluster_links

    def expand(self, rows):
        pipeline = rows.pipeline
        zero = pipeline | "ZeroLeaks" >> beam.Create([(leak_counter(kind), 0) for kind in GROUP_LEAKS])
        member_split = rows | "MemberSplit" >> beam.Map(lambda r: (r["_member"], r["split"]))
        links = [pipeline | "NoClusters" >> beam.Create([])] + [
            links | f"MemberCluster{i}" >> beam.FlatMap(
                lambda r: [(r["id"], r["cluster_id"])] if r.get("id") is not None and r.get("cluster_id") else [])
            for i, links in enumerate(self.cluster_links)]
        cluster_split = ({"split": member_split, "cluster": tuple(links) | "AllLinks" >> beam.Flatten()}
                         | "JoinClusters" >> beam.CoGroupByKey()
                         | "ClusterOfMember" >> beam.FlatMap(_cluster_of_member))
        groups = {
            "clusters": cluster_split,
            "files": rows | "FileSplit" >> beam.FlatMap(lambda r: [(r["_file"], r["split"])] if r.get("_file") else []),
            "repos": rows | "RepoSplit" >> beam.FlatMap(lambda r: [(r["_repo"], r["split"])] if r.get("_repo") else []),
        }
        counts = [zero]
        for kind, pairs in groups.items():
            counts.append(pairs
                          | f"Distinct[{kind}]" >> beam.Distinct()
                          | f"SplitsPer[{kind}]" >> beam.combiners.Count.PerKey()
                          | f"Leaked[{kind}]" >> beam.FlatMap(lambda kv, k=kind: [(leak_counter(k), 1)] if kv[1] > 1 else []))
        return tuple(counts) | "LeakCounts" >> beam.Flatten()


# --- the written shards: counts and packing ------------------------------------------------------


def shard_stats(element, split: str):
    """(shard, n, rows) -> rows and tokens written per split and source."""
    _, _, rows = element
    per = {}
    for row in rows:
        rows_tokens = per.setdefault(row["source"], [0, 0, 0, 0])
        rows_tokens[0] += 1
        rows_tokens[1] += row.get("num_tokens") or 0
        rows_tokens[2] += row.get("copy", 0) == 0
        rows_tokens[3] += (row.get("num_tokens") or 0) if row.get("copy", 0) == 0 else 0
    licences = {}
    for row in rows:
        licences[row.get("license") or "unknown"] = licences.get(row.get("license") or "unknown", 0) + 1
    for licence, n in licences.items():
        yield f"mix/licenses/{licence}", n
    for source, (n, tokens, unique, unique_tokens) in per.items():
        yield f"mix/rows/{split}/{source}", n
        yield f"mix/tokens/{split}/{source}", tokens
        yield f"mix/unique_rows/{split}/{source}", unique
        yield f"mix/unique_tokens/{split}/{source}", unique_tokens


def unpack_ids(sequence: dict) -> dict:
    """A packed sequence as written: ``input_ids`` back from bytes to a list of ints."""
    from codecorpus.mix.tokens import ids_from_bytes

    return {**sequence, "input_ids": ids_from_bytes(sequence["input_ids"])}


class PackShard(beam.DoFn):
    """(shard, n, rows) -> fixed-length sequences of the shard's ``text`` rows in shuffled order
    (each with a shuffle ``_key`` for its own balanced shards), and ``packing/<split>/...`` stats."""

    def __init__(self, split: str, seed: int, seq_len: int, eos_id, pad_id: int, remainder: str,
                 whole_sources: frozenset = frozenset()):
        self.split, self.seed, self.seq_len = split, seed, seq_len
        self.eos_id, self.pad_id, self.remainder = eos_id, pad_id, remainder
        self.whole_sources = whole_sources   # sources whose documents start a new sequence rather than break

    def process(self, element):
        from codecorpus.mix.tokens import Packer, ids_from_bytes, ids_to_bytes

        shard, _, rows = element
        packer = Packer(self.seq_len, self.eos_id, self.pad_id, self.remainder)
        sequences = []
        doc_tokens = 0
        for row in rows:
            if row.get("_ids") is None:
                continue
            ids = ids_from_bytes(row["_ids"])
            doc_tokens += len(ids)
            sequences += packer.add(row["id"] if not row.get("copy") else f"{row['id']}#{row['copy']}", ids,
                                    whole=row["source"] in self.whole_sources)
        sequences += packer.finish()
        prefix = f"packing/{self.split}"
        for i, sequence in enumerate(sequences):
            sequence["input_ids"] = ids_to_bytes(sequence["input_ids"])  # compact through the shuffle
            sequence["id"] = f"{self.split}-{shard:05d}-{i:06d}"
            sequence["_key"] = unit_hash(self.seed, "pack", self.split, shard, i)
            yield sequence
        stats = {"sequences": len(sequences), "documents": packer.documents, "document_tokens": doc_tokens,
                 "dropped_tokens": packer.dropped_tokens,
                 "pad_tokens": sum(self.seq_len - s["num_tokens"] for s in sequences),
                 "kept_whole": packer.kept_whole}
        for name, value in stats.items():
            yield beam.pvalue.TaggedOutput(STATS, (f"{prefix}/{name}", value))
