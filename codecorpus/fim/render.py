"""Fill-in-the-middle examples from files (REFERENCE.md §5), as pure functions.

- **Split points** are two uniformly random *character* positions of the document (Python
  ``str`` indices are code points, so no split ever cuts a multi-byte UTF-8 character), sorted:
  ``prefix = doc[:a]``, ``middle = doc[a:b]``, ``suffix = doc[b:]``, so
  ``prefix + middle + suffix == doc`` always. A structure-aware span (``fim_structure.py``)
  replaces ``(a, b)`` with a whole syntax node's character range.
- **Modes**: with probability ``fim_rate`` (0.5, StarCoder) a document becomes a FIM example,
  of which a share ``spm_rate`` (0.5) is SPM and the rest PSM; the others are ``none`` (the
  document as it is, ``prefix`` = the document).
- **Renderings** (``render``), with a token set's ``prefix``/``suffix``/``middle`` tokens and
  its end of text ``eot``:
  PSM ``<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>{middle}<|endoftext|>``,
  SPM ``<fim_prefix><fim_suffix>{suffix}<fim_middle>{prefix}{middle}`` (the FIM paper's variant,
  exactly as REFERENCE §5 writes it: no end of text unless ``spm`` is in ``eot_after``),
  none ``{document}<|endoftext|>``.
- **Token sets**: ``starcoder`` (``<fim_prefix> <fim_suffix> <fim_middle> <fim_pad>``, end of
  text ``<|endoftext|>``) and ``codellama`` (``<PRE> <SUF> <MID>``, end of text ``<EOT>``) are
  built in; more come from the configuration (``files.fim.token_sets``).
- **Randomness** is seeded per example from (seed, repository, path, blob sha, chunk index), so
  a rerun, on any runner and any number of workers, gives byte-identical examples.
- **Chunks**: a file longer than ``chunk_chars`` characters is cut into chunks at line ends
  (a line longer than a chunk is cut inside), and each chunk is one example.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Optional

import apache_beam as beam

from codecorpus.fim.structure import Parsed
from codecorpus.io import records
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, Route, dead_letter

MODES = ("psm", "spm", "none")
SPAN_MODES = ("random", "structure", "mix")
RANDOM = "random"
NONE = "none"


@dataclass(frozen=True)
class TokenSet:
    name: str
    prefix: str
    suffix: str
    middle: str
    eot: str
    pad: Optional[str] = None


TOKEN_SETS = {
    "starcoder": TokenSet("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>", "<fim_pad>"),
    "codellama": TokenSet("codellama", "<PRE>", "<SUF>", "<MID>", "<EOT>", None),
}


def token_set(name: str, custom: Optional[dict] = None) -> TokenSet:
    """A built-in token set, or one of ``custom`` (name -> {prefix, suffix, middle, eot[, pad]})."""
    custom = custom or {}
    if name in custom:
        spec = dict(custom[name] or {})
        missing = [k for k in ("prefix", "suffix", "middle", "eot") if not isinstance(spec.get(k), str)]
        unknown = set(spec) - {"prefix", "suffix", "middle", "eot", "pad"}
        if missing or unknown:
            raise ValueError(f"token set '{name}': needs string prefix, suffix, middle and eot (optional pad)"
                             + (f"; missing {missing}" if missing else "") + (f"; unknown {sorted(unknown)}"
                                                                              if unknown else ""))
        return TokenSet(name, spec["prefix"], spec["suffix"], spec["middle"], spec["eot"], spec.get("pad"))
    if name in TOKEN_SETS:
        return TOKEN_SETS[name]
    raise ValueError(f"unknown token set '{name}'; known: {', '.join(sorted(set(TOKEN_SETS) | set(custom)))}")


def render(mode: str, prefix: str, middle: str, suffix: str, tokens: TokenSet,
           eot_after: Iterable[str] = ("psm", "none")) -> str:
    """The training text of one example (see the module docstring for the three layouts)."""
    if mode == "psm":
        text = f"{tokens.prefix}{prefix}{tokens.suffix}{suffix}{tokens.middle}{middle}"
    elif mode == "spm":
        text = f"{tokens.prefix}{tokens.suffix}{suffix}{tokens.middle}{prefix}{middle}"
    elif mode == NONE:
        text = f"{prefix}{middle}{suffix}"
    else:
        raise ValueError(f"unknown FIM mode {mode!r}; known: {MODES}")
    return text + tokens.eot if mode in eot_after else text


def example_rng(seed: int, repo: str, path: str, sha: str, chunk: int = 0) -> random.Random:
    """The random stream of one example: from a hash of what names it, never of the process."""
    key = "\x1f".join((str(seed), repo or "", path or "", sha or "", str(chunk))).encode("utf-8", "surrogatepass")
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def draw_mode(rng: random.Random, fim_rate: float, spm_rate: float) -> str:
    """``none`` with probability 1 - fim_rate, else ``spm`` with probability spm_rate, else ``psm``.
    Always draws twice, so the rest of the stream does not depend on the outcome."""
    is_fim, is_spm = rng.random() < fim_rate, rng.random() < spm_rate
    if not is_fim:
        return NONE
    return "spm" if is_spm else "psm"


def random_split(n: int, rng: random.Random) -> tuple[int, int]:
    """Two uniformly random positions in ``0..n`` (both ends included), sorted: the middle is
    ``doc[a:b]`` and may be empty (as StarCoder's Megatron implementation)."""
    a, b = rng.randint(0, n), rng.randint(0, n)
    return (a, b) if a <= b else (b, a)


class Chunk(NamedTuple):
    index: int
    offset: int     # character offset of the chunk in the file
    text: str


def chunks(content: str, chunk_chars: Optional[int]) -> list[Chunk]:
    """``content`` cut into pieces of at most ``chunk_chars`` characters, at line ends where a
    line fits (``"".join(c.text for c in chunks) == content``). One chunk (possibly empty)
    when ``chunk_chars`` is None or the content fits."""
    if not chunk_chars or len(content) <= chunk_chars:
        return [Chunk(0, 0, content)]
    out: list[Chunk] = []
    start, n = 0, len(content)
    while start < n:
        end = min(n, start + chunk_chars)
        if end < n:
            cut = content.rfind("\n", start, end)
            if cut >= start:
                end = cut + 1   # keep the newline with its line
        out.append(Chunk(len(out), start, content[start:end]))
        start = end
    return out


@dataclass(frozen=True)
class FimSettings:
    fim_rate: float = 0.5
    spm_rate: float = 0.5
    span: str = RANDOM                  # random | structure | mix
    structure_rate: float = 0.5         # share of FIM examples with a structure span, when span: mix
    tokens: TokenSet = TOKEN_SETS["starcoder"]
    eot_after: tuple = ("psm", "none")
    chunk_chars: Optional[int] = 16384
    seed: int = 0

    def __post_init__(self):
        for name in ("fim_rate", "spm_rate", "structure_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.span not in SPAN_MODES:
            raise ValueError(f"span must be one of {SPAN_MODES}, got {self.span!r}")
        if set(self.eot_after) - set(MODES):
            raise ValueError(f"eot_after: unknown modes {sorted(set(self.eot_after) - set(MODES))}; known: {MODES}")
        if self.chunk_chars is not None and int(self.chunk_chars) < 1:
            raise ValueError(f"chunk_chars must be positive or null, got {self.chunk_chars!r}")

    @property
    def structure_share(self) -> float:
        return {"random": 0.0, "structure": 1.0}.get(self.span, self.structure_rate)

    @classmethod
    def from_config(cls, fim: dict) -> "FimSettings":
        """From the ``files.fim`` configuration section."""
        return cls(fim_rate=float(fim["fim_rate"]), spm_rate=float(fim["spm_rate"]), span=fim["span"],
                   structure_rate=float(fim["structure_rate"]),
                   tokens=token_set(fim["token_set"], fim.get("token_sets")),
                   eot_after=tuple(fim["eot_after"] or ()), chunk_chars=fim["chunk_chars"], seed=int(fim["seed"]))


@dataclass
class Plan:
    """What was drawn for one chunk before any span is chosen."""

    chunk: Chunk
    rng: random.Random
    mode: str
    wants_structure: bool


def plan(chunk: Chunk, settings: FimSettings, repo: str, path: str, sha: str) -> Plan:
    rng = example_rng(settings.seed, repo, path, sha, chunk.index)
    mode = draw_mode(rng, settings.fim_rate, settings.spm_rate)
    wants_structure = rng.random() < settings.structure_share
    return Plan(chunk, rng, mode, mode != NONE and wants_structure)


class Example(NamedTuple):
    mode: str
    span_kind: str      # "none", "random" or the syntax node type of the middle
    prefix: str
    middle: str
    suffix: str
    text: str


def make_example(p: Plan, settings: FimSettings, span: Optional[tuple[int, int, str]] = None) -> Example:
    """The example of a planned chunk; ``span`` = (start, end, node type) in chunk characters
    when a structure span was found, else a random split is drawn."""
    doc = p.chunk.text
    if p.mode == NONE:
        return Example(NONE, NONE, doc, "", "", render(NONE, doc, "", "", settings.tokens, settings.eot_after))
    if span is not None:
        a, b, kind = span
    else:
        (a, b), kind = random_split(len(doc), p.rng), RANDOM
    prefix, middle, suffix = doc[:a], doc[a:b], doc[b:]
    return Example(p.mode, kind, prefix, middle, suffix,
                   render(p.mode, prefix, middle, suffix, settings.tokens, settings.eot_after))


def fim_example(doc: str, settings: FimSettings, repo: str = "", path: str = "", sha: str = "",
                chunk: int = 0) -> Example:
    """One random-span example of ``doc`` (no structure): the pure core, for tests and tools."""
    return make_example(plan(Chunk(chunk, 0, doc), settings, repo, path, sha), settings)


# --- file rows -> FIM rows (the job's step) ---------------------------------------------------------


def file_key(row: dict) -> str:
    """A ``files`` row's key (:func:`codecorpus.io.records.file_key`)."""
    return records.file_key(row["repo"], row.get("ref"), row["path"])


class FileExamples:
    """``routed`` body: a ``files`` row -> its FIM rows, one per chunk, with counters:

    - ``fim/files``, ``fim/chunks``: files seen and chunks made (the job's accounting);
    - ``fim/mode/<mode>``, ``fim/span_kind/<lang>/<kind>``: the distribution;
    - ``fim/parse/<lang>/ok|parse_error|encode_error``: files parsed for structure spans;
    - ``fim/structure_fallback/<reason>``: examples that wanted a structure span and got a random
      one (``parse_error``, ``encode_error``, ``unsupported_language``, ``no_node``).

    A chunk that fails is dead-lettered (stage ``fim_chunk``, table ``fim``) on its own; the
    other chunks of the file still become rows. Parsers are built in ``setup()``."""

    def __init__(self, settings: FimSettings, spans):
        self.settings = settings
        self.spans = spans

    def setup(self) -> None:
        if self.spans is not None and self.settings.structure_share > 0:
            self.spans.setup()

    def __call__(self, row: dict) -> list:
        settings, content, lang = self.settings, row["content"], row.get("lang")
        sha = row.get("sha") or ""
        pieces = chunks(content, settings.chunk_chars)
        plans = [plan(c, settings, row["repo"], row["path"], sha) for c in pieces]
        events: list = [Count("fim/files"), Count("fim/chunks", len(pieces))]
        parsed = None
        if any(p.wants_structure for p in plans):
            if self.spans is None or not self.spans.supports(lang):
                parsed = Parsed((), "unsupported_language")
            else:
                parsed = self.spans.parse(content, lang)
                events.append(Count(f"fim/parse/{lang}/{parsed.reason or 'ok'}"))
        for p in plans:
            try:
                span = None
                if p.wants_structure:
                    if parsed.reason is None:
                        span = self.spans.pick(parsed, p.chunk.offset, p.chunk.offset + len(p.chunk.text), p.rng)
                    reason = parsed.reason or (None if span is not None else "no_node")
                    if reason:
                        events.append(Count(f"fim/structure_fallback/{reason}"))
                example = make_example(p, settings, span)
                events += [Count(f"fim/mode/{example.mode}"), Count(f"fim/span_kind/{lang}/{example.span_kind}")]
                events.append({
                    "repo": row["repo"], "ref": row.get("ref"), "path": row["path"], "sha": row.get("sha"),
                    "lang": lang, "license": row.get("license"), "chunk": p.chunk.index, "num_chunks": len(pieces),
                    "offset": p.chunk.offset, **example._asdict()})
            except Exception as e:  # noqa: BLE001 - one bad chunk must not take the file's others
                events.append(dead_letter("fim_chunk", "fim", f"{file_key(row)}#{p.chunk.index}",
                                          f"{type(e).__name__}: {e}", {**row, "content": p.chunk.text}))
        return events


class _RouteWithSetup(Route):
    """``Route`` whose function has per-worker state (parsers), built once in ``setup()``."""

    def setup(self):
        super().setup()
        self.fn.setup()


def RenderFim(settings: FimSettings, spans, table: str = "fim"):
    """``files`` rows -> FIM rows, with ``dead_letter`` and ``stats`` outputs (``Ledger.take``);
    a file that fails as a whole is dead-lettered with stage ``fim``."""
    return beam.ParDo(_RouteWithSetup(FileExamples(settings, spans), "fim", table, key_of=file_key)).with_outputs(DEAD_LETTER, STATS, main="kept")
