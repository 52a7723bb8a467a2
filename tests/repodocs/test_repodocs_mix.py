"""``codecorpus files`` -> ``repo_documents/`` -> ``codecorpus mix``: every file rebuilt from the
documents, each repository (its documents and every row of its files) in one split, and packed
sequences that keep repository documents whole where they fit."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from codecorpus.mix.tokens import Packer
from codecorpus.repodocs.documents import rebuild_files
from conftest import manifest_of, read_table, run_cli


def _unique_code(seed: str, lines: int = 6) -> str:
    rng = random.Random(seed)
    names = [f"{rng.choice(['load', 'scan', 'emit', 'fold'])}_{rng.randrange(10**6)}" for _ in range(lines)]
    return "".join(f"{n} = {rng.randrange(10**6)} * {i}\n" for i, n in enumerate(names))


def make_repos(root: Path, n: int = 6) -> list[Path]:
    folders = []
    for r in range(n):
        d = root / f"proj{r}"
        files = {
            "pkg/__init__.py": f"from .core import run\n{_unique_code(f'{r}i')}",
            "pkg/core.py": f"from .util import helper\nimport requests\n{_unique_code(f'{r}c', 12)}",
            "pkg/util.py": f"import os\n{_unique_code(f'{r}u', 10)}",
            "web/index.js": f"const app = require('./app');\n{_unique_code(f'{r}j')}".replace(" = ", " == "),
            "web/app.js": f"module.exports = 1;\n{_unique_code(f'{r}a', 20)}".replace(" = ", " == "),
            "README.md": f"# proj{r}\n\n" + " ".join(f"word{r}_{i}" for i in range(30)) + "\n",
        }
        for path, text in files.items():
            (d / path).parent.mkdir(parents=True, exist_ok=True)
            (d / path).write_text(text)
        folders.append(d)
    return folders


@pytest.fixture(scope="module")
def files_run(tmp_path_factory, tiny_tokenizer):
    root = tmp_path_factory.mktemp("repodocs")
    folders = make_repos(root / "repos")
    config = root / "files.yaml"
    config.write_text(yaml.safe_dump({"repo_documents": {"max_tokens": 200, "tokenizer": tiny_tokenizer}}))
    argv = ["files", *[a for f in folders for a in ("--input", f)], "--config", config, "--no-pii",
            "--disable-filter", "licence", "--quiet"]
    assert run_cli(*argv, "--output", root / "files") == 0
    return root, root / "files"


@pytest.mark.slow
def test_files_job_writes_repository_documents(files_run):
    _, out = files_run
    manifest = manifest_of(out)
    assert manifest["accounting"]["repo_documents"]["holds"], manifest["accounting"]
    files, docs = read_table(out, "files"), read_table(out, "repo_documents")
    by_repo = defaultdict(list)
    for d in docs:
        by_repo[d["repo"]].append(d)
    assert len(by_repo) == 6
    for repo, rows in by_repo.items():
        assert rebuild_files(rows) == {f["path"]: f["content"] for f in files if f["repo"] == repo}
        assert all(r["num_tokens"] <= 200 and r["order"] == "dependency" for r in rows)
        order = [p["path"] for r in sorted(rows, key=lambda r: r["chunk"]) for p in r["files"]]
        assert order.index("pkg/util.py") < order.index("pkg/core.py") < order.index("pkg/__init__.py")
        assert order.index("web/app.js") < order.index("web/index.js")
    counters = manifest["counters"]
    assert counters["repo_documents/repositories"] == 6
    assert counters["repo_documents/imports/resolved"] == 6 * 3
    assert counters["repo_documents/imports/unresolved"] == 6 * 2                       # requests, os
    assert counters["repo_documents/files_by_dependency"] == 6 * 5 and counters["repo_documents/files_by_path"] == 6
    assert manifest["repo_documents"]["unit"] == "tokens"


@pytest.mark.slow
def test_mix_keeps_a_repository_in_one_split_and_documents_whole(files_run, tiny_tokenizer):
    root, out = files_run
    sources = [{"name": "repos", "path": str(out / "repo_documents"), "kind": "repo_documents"},
               {"name": "fim", "path": str(out / "fim"), "kind": "fim", "clusters": str(out / "clusters")},
               {"name": "files", "path": str(out / "files"), "kind": "files", "clusters": str(out / "clusters")}]
    mixture = root / "mixture.yaml"      # group_by_repo is left at its default (false): the kind implies it
    mixture.write_text(yaml.safe_dump({"mix": {"seed": 0, "splits": {"validation": 0.4}, "sources": sources}}))
    mixed = root / "mix"
    assert run_cli("mix", "--config", mixture, "--output", mixed, "--tokenizer", tiny_tokenizer, "--pack", "256",
                   "--quiet") == 0
    manifest = manifest_of(mixed)
    assert all(t["holds"] for t in manifest["accounting"].values()), manifest["accounting"]
    assert manifest["accounting"]["leakage"]["cross_split_repos"] == 0
    examples = {}
    for path in sorted((mixed / "examples").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            examples[row["id"]] = (path.name.split("-")[0], row)
    splits_of_repo = defaultdict(set)
    for split, row in examples.values():
        splits_of_repo[row["repo"]].add(split)
    assert len(splits_of_repo) == 6 and all(len(s) == 1 for s in splits_of_repo.values()), splits_of_repo
    assert {s for v in splits_of_repo.values() for s in v} == {"train", "validation"}
    docs = {f"repos/{d['repo']}:{d['ref'] or ''}:{d['chunk']}": d for d in read_table(out, "repo_documents")}
    assert {i for i in examples if i.startswith("repos/")} == set(docs)
    assert all(examples[i][1]["text"] == d["text"] for i, d in docs.items())
    # packing: every repository document (<= 200 + EOS tokens) lies in one sequence, in one piece
    pieces = defaultdict(int)
    for path in sorted((mixed / "packed").glob("*.parquet")):
        for seq in pq.read_table(path).to_pylist():
            for doc_id in seq["doc_ids"]:
                pieces[doc_id] += 1
    assert all(pieces[i] == 1 for i in docs), {i: pieces[i] for i in docs if pieces[i] != 1}
    assert sum(v for k, v in manifest["counters"].items() if k.endswith("/kept_whole")) > 0


def test_packer_keeps_whole_documents_where_they_fit():
    packer = Packer(8, eos_id=0, pad_id=9)
    assert packer.add("a", [1, 2, 3]) == []                           # 4 of 8 used
    done = packer.add("b", [4, 5, 6, 7, 8], whole=True)               # 6 tokens: not in the 4 left
    assert [s["doc_ids"] for s in done] == [["a"]] and done[0]["input_ids"] == [1, 2, 3, 0, 9, 9, 9, 9]
    assert packer.kept_whole == 1
    done = packer.add("c", list(range(1, 20)), whole=True)            # longer than a sequence: broken as before
    assert done[0]["doc_ids"] == ["b", "c"] and done[0]["continues"] is False
    assert packer.kept_whole == 1
    plain = Packer(8, eos_id=0, pad_id=9)
    plain.add("a", [1, 2, 3])
    assert plain.add("b", [4, 5, 6, 7, 8])[0]["doc_ids"] == ["a", "b"]  # without `whole`: split across two
