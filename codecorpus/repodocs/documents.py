"""A repository's files -> documents in StarCoder2's repository format, within a length bound.

A document is ``<repo_name>{owner/name}`` then, for every file piece, ``<file_sep>{path}\\n
{contents}``, then the end-of-text token (StarCoder2 §5, "repository context"); the tokens come
from a token set (``starcoder`` built in, others from ``repo_documents.token_sets``).

**Length.** A document measures at most ``max_tokens``: tokens of a ``tokenizer.json`` when one
is given (``repo_documents.tokenizer``), else characters / ``chars_per_token`` (3.5), i.e. at
most ``floor(max_tokens * 3.5)`` characters. Files are added in order while they fit; a file
that does not fit starts the next document (each with its own ``<repo_name>`` header); a file
longer than a whole document is cut at line ends (a line longer than a document inside the
line) and its pieces fill documents of their own, each piece with the ``<file_sep>{path}``
line again. With a tokenizer the sum of the pieces' token counts is an estimate of the whole's
(merges across a boundary can differ), so every document is measured again after rendering
and the repository planned again with a smaller budget when one is over (at most a few times;
``repo_documents/over_limit`` counts any left).

**Repository-level FIM** (``fim_rate``, 0 by default): a seeded draw per document picks PSM or
SPM (``spm_rate``) or none, then one file piece of the document and two random split points in
it; that piece is rendered StarCoder2's way, ``<file_sep><fim_prefix>{path}\\n{prefix}
<fim_suffix>{suffix}<fim_middle>{middle}`` (SPM: ``<fim_prefix><fim_suffix>{suffix}<fim_middle>
{path}\\n{prefix}{middle}``), with the FIM token set of ``files.fim`` and no end of text inside.
The FIM tokens are reserved in every document's budget, so the bound holds either way.

**Reconstruction.** Every piece records where its content is in ``text`` (``starts``/``ends``,
in file order: one range, or three for a FIM piece) and where it is in the file (``offset``),
so the file is rebuilt exactly from the documents without parsing the text, even when a file
contains a token string itself.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

from codecorpus.fim import render as fim
from codecorpus.repodocs.imports import GRAMMARS
from codecorpus.repodocs.order import ORDERS


@dataclass(frozen=True)
class RepoTokens:
    name: str
    repo_name: str
    file_sep: str
    eot: str


REPO_TOKEN_SETS = {"starcoder": RepoTokens("starcoder", "<repo_name>", "<file_sep>", "<|endoftext|>")}
_TOKEN_KEYS = ("repo_name", "file_sep", "eot")


def repo_token_set(name: str, custom: Optional[dict] = None) -> RepoTokens:
    """A built-in set, or one of ``custom`` (name -> {repo_name, file_sep, eot})."""
    custom = custom or {}
    if name in custom:
        spec = dict(custom[name] or {})
        missing = [k for k in _TOKEN_KEYS if not isinstance(spec.get(k), str)]
        unknown = sorted(set(spec) - set(_TOKEN_KEYS))
        if missing or unknown:
            raise ValueError(f"repo_documents token set '{name}': needs string repo_name, file_sep and eot"
                             + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))
        return RepoTokens(name, spec["repo_name"], spec["file_sep"], spec["eot"])
    if name in REPO_TOKEN_SETS:
        return REPO_TOKEN_SETS[name]
    raise ValueError(f"unknown repo_documents token set '{name}'; known: "
                     f"{', '.join(sorted(set(REPO_TOKEN_SETS) | set(custom)))}")


@dataclass(frozen=True)
class RepoDocSettings:
    """The ``repo_documents`` section, checked; FIM tokens come from ``files.fim``."""

    enabled: bool = True
    max_tokens: int = 16384
    chars_per_token: float = 3.5
    tokenizer: Optional[str] = None
    tokens: RepoTokens = REPO_TOKEN_SETS["starcoder"]
    order: str = "dependency"
    fim_rate: float = 0.0
    spm_rate: float = 0.5
    fim_tokens: fim.TokenSet = fim.TOKEN_SETS["starcoder"]
    seed: int = 0
    languages: tuple = ()           # languages whose imports are read (empty: every supported one)

    def __post_init__(self):
        if not isinstance(self.max_tokens, int) or isinstance(self.max_tokens, bool) or self.max_tokens < 1:
            raise ValueError(f"repo_documents.max_tokens must be a positive integer, got {self.max_tokens!r}")
        if not isinstance(self.chars_per_token, (int, float)) or self.chars_per_token <= 0:
            raise ValueError(f"repo_documents.chars_per_token must be positive, got {self.chars_per_token!r}")
        for name in ("fim_rate", "spm_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"repo_documents.{name} must be between 0 and 1, got {value!r}")
        unknown = sorted(set(self.languages) - set(GRAMMARS))
        if unknown:
            raise ValueError(f"repo_documents.languages: no import grammar for {unknown}; known: {sorted(GRAMMARS)}")
        if self.order not in ORDERS:
            raise ValueError(f"repo_documents.order must be one of {', '.join(ORDERS)}, got {self.order!r}")

    @property
    def unit(self) -> str:
        return "tokens" if self.tokenizer else "characters"

    @property
    def budget(self) -> int:
        """The bound in the measuring unit: tokens, or characters (max_tokens x chars_per_token)."""
        return self.max_tokens if self.tokenizer else math.floor(self.max_tokens * self.chars_per_token)

    @classmethod
    def from_config(cls, config: dict) -> "RepoDocSettings":
        section, fim_cfg = config["repo_documents"], config["files"]["fim"]
        languages = section.get("languages")
        return cls(enabled=bool(section["enabled"]), max_tokens=section["max_tokens"],
                   chars_per_token=float(section["chars_per_token"]), tokenizer=section.get("tokenizer"),
                   tokens=repo_token_set(section["token_set"], section.get("token_sets")), order=section["order"],
                   fim_rate=float(section["fim_rate"]), spm_rate=float(section["spm_rate"]),
                   fim_tokens=fim.token_set(fim_cfg["token_set"], fim_cfg.get("token_sets")),
                   seed=int(section["seed"]), languages=tuple(languages or ()))

    def describe(self) -> dict:
        return {"enabled": self.enabled, "max_tokens": self.max_tokens, "unit": self.unit,
                "budget": self.budget, "tokenizer": self.tokenizer, "token_set": vars(self.tokens),
                "order": self.order, "fim_rate": self.fim_rate, "spm_rate": self.spm_rate,
                "fim_token_set": self.fim_tokens.name, "seed": self.seed}


class SourceFile(NamedTuple):
    """One ``files`` row as the documents need it."""

    path: str
    content: str
    lang: Optional[str] = None
    sha: Optional[str] = None


class Piece(NamedTuple):
    path: str
    offset: int         # character offset of the piece in the file
    content: str


Measure = Callable[[list], list]     # texts -> their costs (characters or tokens)


def char_measure(texts: list) -> list:
    return [len(t) for t in texts]


def header(tokens: RepoTokens, repo: str) -> str:
    return f"{tokens.repo_name}{repo}"


def file_line(tokens: RepoTokens, path: str) -> str:
    return f"{tokens.file_sep}{path}\n"


def _line_pieces(content: str, room: int, measure: Measure) -> list[tuple[int, str]]:
    """``content`` cut at line ends into (offset, text) pieces of at most ``room`` each (a
    line over ``room`` cut inside: by characters, which bounds tokens too — a token is at least
    a byte, and a character at most 4 bytes)."""
    lines = content.splitlines(keepends=True)
    costs = measure(lines)
    pieces, start, used, offset = [], 0, 0, 0
    for line, cost in zip(lines, costs):
        if cost > room:
            if used:
                pieces.append((start, content[start:offset]))
            step = room if measure is char_measure else max(1, room // 4)
            for i in range(0, len(line), step):
                pieces.append((offset + i, line[i:i + step]))
            offset += len(line)
            start, used = offset, 0
            continue
        if used + cost > room:
            pieces.append((start, content[start:offset]))
            start, used = offset, 0
        used += cost
        offset += len(line)
    if offset > start or not pieces:
        pieces.append((start, content[start:offset]))
    return pieces


def plan_documents(repo: str, files: list[SourceFile], budget: int, settings: RepoDocSettings,
                   measure: Measure = char_measure) -> list[list[Piece]]:
    """The files (in document order) packed into documents of at most ``budget``; see the
    module docstring. Raises ValueError when not even a header and one file line fit."""
    tokens = settings.tokens
    fixed_texts = [header(tokens, repo), tokens.eot]
    if settings.fim_rate > 0:
        fixed_texts += [settings.fim_tokens.prefix, settings.fim_tokens.suffix, settings.fim_tokens.middle]
    fixed = sum(measure(fixed_texts))
    lines = measure([file_line(tokens, f.path) for f in files])
    sizes = measure([f.content for f in files])
    room = budget - fixed
    documents: list[list[Piece]] = []
    current: list[Piece] = []
    used = 0
    for f, line_cost, size in zip(files, lines, sizes):
        if line_cost >= room:
            raise ValueError(f"repo_documents.max_tokens ({settings.max_tokens}) leaves no room for the file "
                             f"{f.path!r} in a document of {repo}")
        if line_cost + size <= room - used:
            current.append(Piece(f.path, 0, f.content))
            used += line_cost + size
            continue
        if current:
            documents.append(current)
            current, used = [], 0
        if line_cost + size <= room:
            current.append(Piece(f.path, 0, f.content))
            used = line_cost + size
            continue
        pieces = _line_pieces(f.content, room - line_cost, measure)
        for offset, text in pieces[:-1]:
            documents.append([Piece(f.path, offset, text)])
        offset, text = pieces[-1]
        current = [Piece(f.path, offset, text)]
        used = line_cost + sum(measure([text]))
    if current:
        documents.append(current)
    return documents


class Rendered(NamedTuple):
    text: str
    pieces: list            # dicts: path, offset, length, starts, ends (+ lang, sha filled by the caller)
    fim_mode: str
    fim_path: Optional[str]


def document_rng(seed: int, repo: str, ref: str, chunk: int) -> random.Random:
    return fim.example_rng(seed, repo, "\x00repo_documents", ref or "", chunk)


def render_document(repo: str, pieces: list[Piece], settings: RepoDocSettings, rng: random.Random) -> Rendered:
    """One document's text and where each piece's content is in it (see the module docstring)."""
    tokens = settings.tokens
    mode = fim.draw_mode(rng, settings.fim_rate, settings.spm_rate) if settings.fim_rate > 0 else fim.NONE
    fim_index = rng.randrange(len(pieces)) if mode != fim.NONE else -1
    out = [header(tokens, repo)]
    length = len(out[0])
    placed = []

    def put(text: str) -> tuple[int, int]:
        nonlocal length
        out.append(text)
        start = length
        length += len(text)
        return start, length

    fim_path = None
    for i, piece in enumerate(pieces):
        entry = {"path": piece.path, "offset": piece.offset, "length": len(piece.content)}
        if i != fim_index:
            put(file_line(tokens, piece.path))
            start, end = put(piece.content)
            entry.update(starts=[start], ends=[end])
        else:
            fim_path = piece.path
            t = settings.fim_tokens
            a, b = fim.random_split(len(piece.content), rng)
            prefix, middle, suffix = piece.content[:a], piece.content[a:b], piece.content[b:]
            put(tokens.file_sep)
            if mode == "psm":
                put(f"{t.prefix}{piece.path}\n")
                p = put(prefix)
                put(t.suffix)
                s = put(suffix)
                put(t.middle)
                m = put(middle)
            else:  # spm
                put(f"{t.prefix}{t.suffix}")
                s = put(suffix)
                put(f"{t.middle}{piece.path}\n")
                p = put(prefix)
                m = put(middle)
            entry.update(starts=[p[0], m[0], s[0]], ends=[p[1], m[1], s[1]])
        placed.append(entry)
    put(tokens.eot)
    return Rendered("".join(out), placed, mode, fim_path)


def rebuild_files(documents: list[dict]) -> dict[str, str]:
    """path -> content, from a repository's ``repo_documents`` rows (the inverse of the
    rendering: for tests, and for anyone checking a table)."""
    pieces: dict[str, list] = {}
    for doc in documents:
        text = doc["text"]
        for piece in doc["files"]:
            content = "".join(text[s:e] for s, e in zip(piece["starts"], piece["ends"]))
            pieces.setdefault(piece["path"], []).append((piece["offset"], content))
    return {path: "".join(c for _, c in sorted(parts)) for path, parts in pieces.items()}
