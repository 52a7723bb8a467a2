"""The Beam step: ``files`` rows -> ``repo_documents`` rows, with dead letters and counters.

    files rows -> FileImports (per file: tree-sitter imports, in parallel)
               -> GroupByKey on repo:ref (a repository's files meet on one worker, their
                  content zstd-compressed through the shuffle: ``core.blobs``)
               -> RepositoryDocuments (order, split, render; tokenizer built in setup())

A repository that fails as a whole is one dead letter (stage ``repo_documents``, table
``repo_documents``, raw: its paths) and its files are counted in
``repo_documents/files_failed``, so ``files == repo_documents/files + repo_documents/files_failed``.
"""

from __future__ import annotations

import apache_beam as beam

from codecorpus.core import blobs
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, dead_letter, route_events
from codecorpus.repodocs.documents import RepoDocSettings, char_measure
from codecorpus.repodocs.imports import ImportFinder
from codecorpus.repodocs.repository import counter, file_entry, repo_key, repository_documents


def load_tokenizer(path: str):
    """A ``tokenizers.Tokenizer`` from a local or fsspec ``tokenizer.json`` (nothing is fetched)."""
    import fsspec
    from tokenizers import Tokenizer

    with fsspec.open(path, "r", encoding="utf-8") as f:
        return Tokenizer.from_str(f.read())


class TokenMeasure:
    """texts -> token counts (no special tokens added), with one tokenizer."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, texts: list) -> list:
        present = [t for t in texts if t]
        counts = iter(len(e.ids) for e in self.tokenizer.encode_batch(present, add_special_tokens=False))
        return [next(counts) if t else 0 for t in texts]


ENTRY_TEXT = ("content",)  # a file entry's text, packed through the grouping


class _FileImports(beam.DoFn):
    def __init__(self, settings: RepoDocSettings):
        self.settings = settings

    def setup(self):
        self.finder = ImportFinder(self.settings.languages or None)
        self.finder.setup()

    def process(self, row):
        yield repo_key(row), blobs.pack(file_entry(row, self.finder, self.settings), ENTRY_TEXT)


class _RepositoryDocuments(beam.DoFn):
    def __init__(self, settings: RepoDocSettings):
        self.settings = settings

    def setup(self):
        self.measure = TokenMeasure(load_tokenizer(self.settings.tokenizer)) if self.settings.tokenizer \
            else char_measure

    def process(self, element):
        key, entries = element
        entries = [blobs.unpack(e, ENTRY_TEXT) for e in entries]
        try:
            rows, counts = repository_documents(key, entries, self.settings, self.measure)
            events = [Count(counter(name), n) for name, n in sorted(counts.items())] + rows
        except Exception as e:  # noqa: BLE001 - one repository must not take the others down
            raw = {"repo": entries[0]["repo"], "ref": entries[0].get("ref"),
                   "paths": sorted(x["path"] for x in entries)}
            events = [dead_letter("repo_documents", "repo_documents", key, f"{type(e).__name__}: {e}", raw),
                      Count(counter("files_failed"), len(entries))]
        yield from route_events(events, "repo_documents")


class RepoDocuments(beam.PTransform):
    """``files`` rows -> ``repo_documents`` rows (``kept``), ``dead_letter`` and ``stats``
    (``Ledger.take``)."""

    def __init__(self, settings: RepoDocSettings):
        super().__init__()
        self.settings = settings

    def expand(self, rows):
        out = (rows
               | "FileImports" >> beam.ParDo(_FileImports(self.settings))
               | "GroupByRepository" >> beam.GroupByKey()
               | "RepositoryDocuments" >> beam.ParDo(_RepositoryDocuments(self.settings))
               .with_outputs(DEAD_LETTER, STATS, main="kept"))
        return {"kept": out.kept, DEAD_LETTER: out[DEAD_LETTER], STATS: out[STATS]}
