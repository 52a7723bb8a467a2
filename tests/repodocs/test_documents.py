"""Documents: the StarCoder2 layout, every file rebuilt exactly, every document within the bound
(characters and tokens), long files cut at line ends, repository-level FIM, settings."""

from __future__ import annotations

import pytest

from codecorpus.config import default_config, merge
from codecorpus.fim import render as fim
from codecorpus.repodocs.documents import (RepoDocSettings, SourceFile, char_measure, plan_documents,
                                           rebuild_files, render_document, repo_token_set, document_rng)
from codecorpus.repodocs.repository import file_entry, repository_documents
from codecorpus.repodocs.transform import TokenMeasure, load_tokenizer

LONG = "".join(f"def handler_{i}(event):\n    return {{'status': {i}}}\n\n" for i in range(40))
FILES = {
    "a.py": "import b\nprint(b.x)\n",
    "b.py": "x = 'Grüße 🐍 — 日本語'\n",
    "tricky.py": "S = '<file_sep>not/a/path\\n<repo_name>x<|endoftext|>'\n",   # token strings in a file
    "long.py": LONG,
    "crlf.py": "a = 1\r\nb = 2\r\n",
    "no_newline.txt": "last line without newline",
    "wide.py": "W = '" + "w" * 500 + "'\n",                                   # one line longer than a document
}


def rows_for(settings: RepoDocSettings, measure=char_measure, files=FILES, repo="o/r") -> tuple[list, dict]:
    entries = [file_entry({"repo": repo, "ref": "main", "path": p, "content": c, "lang": "Python" if p.endswith(".py")
                           else "Text", "sha": f"s{p}", "license": "mit"}, None, settings) for p, c in files.items()]
    return repository_documents(f"{repo}:main", entries, settings, measure)


def test_layout_of_one_document():
    rows, counts = rows_for(RepoDocSettings(), files={"a.py": "x = 1\n", "b/c.js": "let y;\n"})
    assert len(rows) == 1 and counts["documents"] == 1
    assert rows[0]["text"] == "<repo_name>o/r<file_sep>a.py\nx = 1\n<file_sep>b/c.js\nlet y;\n<|endoftext|>"
    row = rows[0]
    assert (row["chunk"], row["num_chunks"], row["num_files"], row["fim_mode"], row["license"]) == (0, 1, 2, "none", "mit")
    assert row["num_chars"] == len(row["text"]) and row["num_tokens"] is None
    assert [(p["path"], p["lang"], p["sha"], p["offset"], p["length"]) for p in row["files"]] == [
        ("a.py", "Python", "sa.py", 0, 6), ("b/c.js", "Text", "sb/c.js", 0, 7)]


@pytest.mark.parametrize("max_tokens", [40, 60, 120, 100_000])
def test_every_file_rebuilt_and_every_document_within_the_bound(max_tokens):
    settings = RepoDocSettings(max_tokens=max_tokens)
    rows, counts = rows_for(settings)
    assert rebuild_files(rows) == FILES
    assert all(r["num_chars"] == len(r["text"]) <= settings.budget == int(max_tokens * 3.5) for r in rows)
    assert all(r["text"].startswith("<repo_name>o/r<file_sep>") and r["text"].endswith("<|endoftext|>") for r in rows)
    assert [r["chunk"] for r in rows] == list(range(len(rows))) and {r["num_chunks"] for r in rows} == {len(rows)}
    assert counts["documents"] == len(rows) and counts["files"] == len(FILES) and counts.get("over_limit", 0) == 0
    if max_tokens == 100_000:
        assert len(rows) == 1
    else:
        assert len(rows) > 1 and counts["split_files"] >= 1


def test_documents_split_at_file_boundaries_and_long_files_at_line_ends():
    settings = RepoDocSettings(max_tokens=60)     # 210 characters
    rows, _ = rows_for(settings)
    pieces = [(p["path"], p["offset"], p["length"], r["chunk"]) for r in rows for p in r["files"]]
    whole = {path for path, offset, length, _ in pieces if offset == 0 and length == len(FILES[path])}
    # a file that fits a document is never cut
    fits = {p for p, c in FILES.items() if len(c) + len(f"<file_sep>{p}\n") + len("<repo_name>o/r<|endoftext|>") <= 210}
    assert fits <= whole
    for path, offset, length, _ in pieces:
        if path == "long.py" and offset + length < len(LONG):
            assert LONG[offset + length - 1] == "\n"                        # cut at a line end
    long_chunks = sorted(chunk for path, *_, chunk in pieces if path == "long.py")
    assert len(long_chunks) > 3 and long_chunks == list(range(long_chunks[0], long_chunks[-1] + 1))


def test_token_bound_with_a_tokenizer(tiny_tokenizer):
    tokenizer = load_tokenizer(tiny_tokenizer)
    measure = TokenMeasure(tokenizer)
    settings = RepoDocSettings(max_tokens=80, tokenizer=tiny_tokenizer)
    rows, counts = rows_for(settings, measure)
    assert rebuild_files(rows) == FILES and len(rows) > 2
    for r in rows:
        assert r["num_tokens"] == len(tokenizer.encode(r["text"], add_special_tokens=False).ids) <= 80
    assert counts.get("over_limit", 0) == 0


def test_repository_fim_renders_one_file_per_document():
    settings = RepoDocSettings(max_tokens=60, fim_rate=1.0, spm_rate=0.5, seed=3)
    rows, counts = rows_for(settings)
    assert rebuild_files(rows) == FILES
    assert all(r["num_chars"] <= settings.budget for r in rows)              # FIM tokens were reserved
    assert {r["fim_mode"] for r in rows} == {"psm", "spm"}
    assert counts["fim/psm"] + counts["fim/spm"] == len(rows)
    t = fim.TOKEN_SETS["starcoder"]
    for r in rows:
        piece = next(p for p in r["files"] if len(p["starts"]) == 3)
        assert piece["path"] == r["fim_path"]
        prefix, middle, suffix = (r["text"][s:e] for s, e in zip(piece["starts"], piece["ends"]))
        expected = "<file_sep>" + fim.render(r["fim_mode"], f"{piece['path']}\n{prefix}", middle, suffix, t, ())
        assert expected in r["text"]
        assert r["text"].count(t.middle) == 1 + occurrences_in_files(r, t.middle)
    again, _ = rows_for(settings)
    assert again == rows                                                     # seeded per document
    other, _ = rows_for(RepoDocSettings(max_tokens=60, fim_rate=1.0, spm_rate=0.5, seed=4))
    assert [r["text"] for r in other] != [r["text"] for r in rows]


def occurrences_in_files(row: dict, token: str) -> int:
    """How often ``token`` occurs inside the file contents of a row (not as a sentinel)."""
    return sum(FILES[p["path"]][p["offset"]:p["offset"] + p["length"]].count(token) for p in row["files"])


def test_render_psm_and_spm_exactly():
    settings = RepoDocSettings(fim_rate=1.0)
    pieces = plan_documents("o/r", [SourceFile("a.py", "abcdef\n")], settings.budget, settings)[0]
    for seed in range(20):
        doc = render_document("o/r", pieces, settings, document_rng(seed, "o/r", "main", 0))
        (p0, m0, s0), (p1, m1, s1) = doc.pieces[0]["starts"], doc.pieces[0]["ends"]
        prefix, middle, suffix = doc.text[p0:p1], doc.text[m0:m1], doc.text[s0:s1]
        assert prefix + middle + suffix == "abcdef\n"
        body = fim.render(doc.fim_mode, "a.py\n" + prefix, middle, suffix, fim.TOKEN_SETS["starcoder"], ())
        assert doc.text == f"<repo_name>o/r<file_sep>{body}<|endoftext|>"


def test_token_sets_and_settings():
    config = default_config()
    settings = RepoDocSettings.from_config(config)
    assert (settings.enabled, settings.max_tokens, settings.budget, settings.unit) == (True, 16384, 57344, "characters")
    assert settings.tokens.repo_name == "<repo_name>" and settings.fim_rate == 0.0
    custom = merge(config, {"repo_documents": {"token_set": "mine", "token_sets": {
        "mine": {"repo_name": "<|repo|>", "file_sep": "<|file|>", "eot": "<|end|>"}}},
        "files": {"fim": {"token_set": "codellama"}}})
    settings = RepoDocSettings.from_config(custom)
    rows, _ = rows_for(settings, files={"a.py": "x\n"})
    assert rows[0]["text"] == "<|repo|>o/r<|file|>a.py\nx\n<|end|>" and settings.fim_tokens.prefix == "<PRE>"
    with pytest.raises(ValueError, match="needs string repo_name"):
        repo_token_set("bad", {"bad": {"repo_name": "<r>"}})
    with pytest.raises(ValueError, match="unknown repo_documents token set"):
        repo_token_set("nope")
    for bad, message in (({"max_tokens": 0}, "max_tokens"), ({"fim_rate": 2}, "fim_rate"),
                         ({"order": "random"}, "order must be"), ({"languages": ("Cobol",)}, "no import grammar")):
        with pytest.raises(ValueError, match=message):
            RepoDocSettings(**bad)


def test_no_room_for_a_file_is_an_error():
    settings = RepoDocSettings(max_tokens=8)        # 28 characters: the header alone takes most of it
    with pytest.raises(ValueError, match="leaves no room"):
        rows_for(settings, files={"a/very/long/path/name.py": "x\n"})
