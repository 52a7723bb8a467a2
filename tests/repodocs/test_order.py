"""File order on small fixture repositories with known import graphs: chains, cycles, imports of
missing files and of libraries, four languages; the order is a function of the files alone."""

from __future__ import annotations

import random

import pytest

from codecorpus.repodocs.documents import RepoDocSettings
from codecorpus.repodocs.imports import ImportFinder
from codecorpus.repodocs.order import dependency_order, strongly_connected
from codecorpus.repodocs.repository import file_entry, repository_documents

PYTHON_REPO = {
    "app/__init__.py": "from .core import run\n",
    "app/core.py": "from . import util\nfrom .models import Model\n\ndef run():\n    return Model()\n",
    "app/models.py": "from .util import helper\nimport numpy\n\nclass Model:\n    pass\n",
    "app/util.py": "import os\n\ndef helper():\n    return os.sep\n",
    "app/cycle_a.py": "from . import cycle_b\nx = 1\n",
    "app/cycle_b.py": "from .cycle_a import x\nfrom . import util\n",
    "README.md": "# app\n",
    "setup.py": "import setuptools\nsetuptools.setup()\n",
}
JS_REPO = {
    "index.js": "module.exports = require('./lib/app');\n",
    "lib/app.js": "const router = require('./router');\nrequire('./missing');\nconst e = require('express');\n",
    "lib/router.js": "const route = require('./route');\n",
    "lib/route.js": "const app = require('./app');\n",
    "lib/view.js": "module.exports = function view() {};\n",
}
JAVA_REPO = {
    "src/a/Main.java": "package a;\nimport a.util.Strings;\nimport a.model.*;\nimport java.util.List;\nclass Main {}\n",
    "src/a/util/Strings.java": "package a.util;\npublic class Strings {}\n",
    "src/a/model/User.java": "package a.model;\nimport a.util.Strings;\npublic class User {}\n",
    "src/a/model/Role.java": "package a.model;\npublic class Role {}\n",
}
GO_REPO = {
    "main.go": 'package main\n\nimport (\n\t"fmt"\n\t"github.com/o/tool/internal/db"\n)\n\nfunc main() { fmt.Println(db.X) }\n',
    "internal/db/db.go": 'package db\n\nimport "github.com/o/tool/internal/log"\n\nvar X = log.Y\n',
    "internal/log/log.go": "package log\n\nvar Y = 1\n",
}
LANG = {".py": "Python", ".js": "JavaScript", ".java": "Java", ".go": "Go", ".md": "Markdown", ".txt": "Text"}


@pytest.fixture(scope="module")
def finder():
    return ImportFinder()


def entries(repo: str, files: dict, finder, settings=None) -> list[dict]:
    settings = settings or RepoDocSettings()
    rows = []
    for path, content in files.items():
        lang = LANG[path[path.rindex("."):]]
        rows.append(file_entry({"repo": repo, "ref": "refs/heads/main", "path": path, "content": content,
                                "lang": lang, "sha": f"sha-{path}", "license": "mit"}, finder, settings))
    return rows


def order_of(rows: list[dict]) -> list[str]:
    seen = []
    for row in sorted(rows, key=lambda r: r["chunk"]):
        for piece in row["files"]:
            if piece["path"] not in seen:
                seen.append(piece["path"])
    return seen


def test_python_chain_cycle_and_missing(finder):
    rows, counts = repository_documents("o/app:refs/heads/main", entries("o/app", PYTHON_REPO, finder),
                                        RepoDocSettings())
    assert order_of(rows) == ["app/util.py", "app/cycle_a.py", "app/cycle_b.py", "app/models.py", "app/core.py",
                              "app/__init__.py", "README.md", "setup.py"]
    assert {r["order"] for r in rows} == {"dependency"}
    assert counts["imports/resolved"] == 7 and counts["imports/unresolved"] == 3   # numpy, os, setuptools
    assert counts["imports/Python/resolved"] == 7
    assert (counts["cycles"], counts["cycle_files"], counts["back_edges"]) == (1, 2, 1)
    assert (counts["files_by_dependency"], counts["files_by_path"]) == (6, 2)
    assert counts["order/dependency"] == 1 and counts["parse/Python/ok"] == 7


def test_javascript_three_cycle(finder):
    rows, counts = repository_documents("o/js:", entries("o/js", JS_REPO, finder), RepoDocSettings())
    # app -> router -> route -> app: the cycle is entered at its smallest path, then the file
    # with the fewest imports still to place (route: its only import, app, is placed).
    assert order_of(rows) == ["lib/app.js", "lib/route.js", "lib/router.js", "index.js", "lib/view.js"]
    assert counts["imports/resolved"] == 4 and counts["imports/unresolved"] == 2       # ./missing, express
    assert (counts["cycles"], counts["cycle_files"], counts["back_edges"]) == (1, 3, 1)


def test_java_and_go(finder):
    rows, counts = repository_documents("o/j:", entries("o/j", JAVA_REPO, finder), RepoDocSettings())
    assert order_of(rows) == ["src/a/model/Role.java", "src/a/util/Strings.java", "src/a/model/User.java",
                              "src/a/Main.java"]
    assert counts["imports/resolved"] == 3 and counts["imports/unresolved"] == 1      # java.util.List
    rows, counts = repository_documents("o/tool:", entries("o/tool", GO_REPO, finder), RepoDocSettings())
    assert order_of(rows) == ["internal/log/log.go", "internal/db/db.go", "main.go"]
    assert counts["imports/Go/resolved"] == 2 and counts["imports/Go/unresolved"] == 1  # fmt


def test_no_imports_or_path_order_is_by_path(finder):
    files = {"b.md": "b\n", "a.txt": "a\n", "C.py": "x = 1\n"}
    rows, counts = repository_documents("o/p:", entries("o/p", files, finder), RepoDocSettings())
    assert order_of(rows) == ["C.py", "a.txt", "b.md"] and rows[0]["order"] == "path"
    settings = RepoDocSettings(order="path")
    rows, counts = repository_documents("o/app:", entries("o/app", PYTHON_REPO, finder, settings), settings)
    assert order_of(rows) == sorted(PYTHON_REPO) and rows[0]["order"] == "path"
    assert not any(k.startswith(("imports/", "parse/")) for k in counts)             # nothing was parsed


def test_order_is_deterministic(finder):
    base = entries("o/app", {**PYTHON_REPO, **JS_REPO}, finder)
    expected = repository_documents("o/app:", base, RepoDocSettings(max_tokens=40))
    for seed in range(5):
        shuffled = list(base)
        random.Random(seed).shuffle(shuffled)
        assert repository_documents("o/app:", shuffled, RepoDocSettings(max_tokens=40)) == expected


def test_deep_chain_and_components():
    n = 5000
    paths = [f"m{i:05d}.py" for i in range(n)]
    edges = [(paths[i], paths[i + 1]) for i in range(n - 1)]      # each file imports the next
    ordering = dependency_order(paths, edges + [("outside.py", paths[0]), (paths[3], paths[3])])
    assert list(ordering.paths) == paths[::-1] and ordering.by_dependency == n and ordering.cycles == 0
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"]}
    components = sorted(sorted(c) for c in strongly_connected(sorted(graph), graph))
    assert components == [["a", "b", "c"], ["d"], ["e"]]
