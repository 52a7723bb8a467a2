"""One repository's files -> its ``repo_documents`` rows and counters (the pure core of the step).

    imports of every file (tree-sitter, per file: ``file_entry``)
    -> resolved against the repository's files        repo_documents/imports/{resolved,unresolved}
    -> dependency order, then the rest by path        repo_documents/order/{dependency,path}
    -> documents within max_tokens                    repo_documents/documents, split_files
    -> rendered (StarCoder2 format, optional FIM)     repo_documents/fim/<mode>
"""

from __future__ import annotations

from typing import Iterable, Optional

from codecorpus.repodocs.documents import (RepoDocSettings, SourceFile, char_measure, document_rng,
                                           plan_documents, render_document)
from codecorpus.repodocs.imports import FAMILY, Import, ImportFinder
from codecorpus.repodocs.order import DEPENDENCY, dependency_order, path_order
from codecorpus.repodocs.resolve import RepoIndex

PREFIX = "repo_documents"
MAX_REPLANS = 4


def counter(name: str) -> str:
    return f"{PREFIX}/{name}"


def repo_key(row: dict) -> str:
    """``repo:ref``: a repository's files at one ref make its documents."""
    return f"{row['repo']}:{row.get('ref') or ''}"


def file_entry(row: dict, finder: Optional[ImportFinder], settings: RepoDocSettings) -> dict:
    """A ``files`` row -> what its repository's documents need: the row's identity and content
    and its imports (parsed here, per file, so a large repository's parsing spreads over
    workers before its files meet)."""
    lang = row.get("lang")
    wanted = settings.order == DEPENDENCY and finder is not None and finder.supports(lang) and (
        not settings.languages or lang in settings.languages)
    imports, reason = (), None
    if wanted:
        try:
            found = finder.find(row["content"], lang)
            imports, reason = found.imports, found.reason
        except Exception:  # noqa: BLE001 - a file whose imports cannot be read is placed by path, and counted
            reason = "failed"
    return {"repo": row["repo"], "ref": row.get("ref"), "path": row["path"], "content": row["content"],
            "lang": lang, "sha": row.get("sha"), "license": row.get("license"),
            "imports": [tuple(i) for i in imports], "parse": (reason or "ok") if wanted else None}


def resolve_imports(repo: str, entries: list[dict]) -> tuple[list[tuple[str, str]], dict]:
    """(importer, imported) edges and the counters of resolved / unresolved imports."""
    index = RepoIndex(repo, [e["path"] for e in entries])
    index.learn_go_modules(imp[0] for e in entries if FAMILY.get(e["lang"]) == "go" for imp in e["imports"])
    edges, counts = [], {}
    for e in entries:
        for raw in e["imports"]:
            found = index.resolve(e["path"], e["lang"], Import(*raw))
            outcome = "resolved" if found else "unresolved"
            for name in (f"imports/{outcome}", f"imports/{e['lang']}/{outcome}"):
                counts[name] = counts.get(name, 0) + 1
            edges += [(e["path"], target) for target in sorted(found) if target != e["path"]]
    return edges, counts


def repository_documents(key: str, entries: Iterable[dict], settings: RepoDocSettings,
                         measure=char_measure) -> tuple[list[dict], dict]:
    """The rows of one repository (``file_entry`` dicts, any order) and its counters (names
    without the ``repo_documents/`` prefix)."""
    entries = sorted(entries, key=lambda e: e["path"])
    repo, ref = entries[0]["repo"], entries[0].get("ref")
    counts: dict = {"repositories": 1, "files": len(entries)}

    def add(name: str, n: int = 1) -> None:
        if n:
            counts[name] = counts.get(name, 0) + n

    for e in entries:
        if e["parse"] is not None:
            add(f"parse/{e['lang']}/{e['parse']}")
    if settings.order == DEPENDENCY:
        edges, import_counts = resolve_imports(repo, entries)
        for name, n in import_counts.items():
            add(name, n)
        ordering = dependency_order([e["path"] for e in entries], edges)
    else:
        ordering = path_order(e["path"] for e in entries)
    add(f"order/{ordering.order}")
    add("files_by_dependency", ordering.by_dependency)
    add("files_by_path", len(entries) - ordering.by_dependency)
    add("cycles", ordering.cycles)
    add("cycle_files", ordering.cycle_files)
    add("back_edges", ordering.back_edges)

    by_path = {e["path"]: e for e in entries}
    files = [SourceFile(p, by_path[p]["content"], by_path[p]["lang"], by_path[p]["sha"]) for p in ordering.paths]
    budget = settings.budget
    for attempt in range(MAX_REPLANS + 1):
        planned = plan_documents(repo, files, budget, settings, measure)
        rendered = [render_document(repo, pieces, settings, document_rng(settings.seed, repo, ref, i))
                    for i, pieces in enumerate(planned)]
        lengths = measure([r.text for r in rendered]) if settings.tokenizer else [len(r.text) for r in rendered]
        over = max(lengths) - settings.budget
        if over <= 0 or attempt == MAX_REPLANS:
            break
        budget -= over  # token counts of the pieces under-estimated the whole: plan with less room
    add("over_limit", sum(n > settings.budget for n in lengths))
    licence = next((e["license"] for e in entries if e.get("license")), None)
    rows = []
    pieces_per_file: dict = {}
    for chunk, (doc, length) in enumerate(zip(rendered, lengths)):
        for piece in doc.pieces:
            entry = by_path[piece["path"]]
            piece.update(lang=entry["lang"], sha=entry["sha"])
            pieces_per_file[piece["path"]] = pieces_per_file.get(piece["path"], 0) + 1
        add(f"fim/{doc.fim_mode}")
        rows.append({"repo": repo, "ref": ref, "license": licence, "chunk": chunk, "num_chunks": len(rendered),
                     "order": ordering.order, "fim_mode": doc.fim_mode, "fim_path": doc.fim_path,
                     "files": doc.pieces, "num_files": len(doc.pieces), "num_chars": len(doc.text),
                     "num_tokens": length if settings.tokenizer else None, "text": doc.text})
    add("documents", len(rows))
    add("split_files", sum(n > 1 for n in pieces_per_file.values()))
    return rows, counts
