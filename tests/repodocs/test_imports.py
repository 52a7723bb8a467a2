"""Import statements per language, and their resolution against a repository's files."""

from __future__ import annotations

import pickle

import pytest

from codecorpus.repodocs.imports import Import, ImportFinder
from codecorpus.repodocs.resolve import RepoIndex, nearest


@pytest.fixture(scope="module")
def finder():
    return ImportFinder()


def test_python_imports(finder):
    text = ("import os, a.b as c\nfrom . import x, y as z\nfrom ..pkg.m import (q, r)\nfrom os.path import *\n"
            "from __future__ import annotations\ntry:\n    import json\nexcept ImportError:\n    pass\n"
            "def f():\n    from .late import thing\n")
    found = finder.find(text, "Python")
    assert found.reason is None
    assert list(found.imports) == [
        Import("os"), Import("a.b"), Import("", 1, ("x", "y")), Import("pkg.m", 2, ("q", "r")),
        Import("os.path", wildcard=True), Import("json"), Import("late", 1, ("thing",))]


def test_javascript_and_typescript_imports(finder):
    js = ('import x, {y} from "./a";\nexport * from "./b";\nconst c = require("./c");\nfoo("./not-an-import");\n'
          'import("./d").then(m => m);\nconst t = require(`./t${n}`);\nfunction g() { return require(\'../e\'); }\n')
    assert [i.spec for i in finder.find(js, "JavaScript").imports] == ["./a", "./b", "./c", "./d", "../e"]
    ts = ('import type { T } from "../types.js";\nimport e = require("./legacy");\nlet n: number = 1;\n'
          'export { a } from "./a";\n')
    assert [i.spec for i in finder.find(ts, "TypeScript").imports] == ["../types.js", "./legacy", "./a"]
    tsx = 'import React from "react";\nimport { B } from "./B";\nexport const A = () => <B x={1} />;\n'
    found = finder.find(tsx, "TSX")
    assert [i.spec for i in found.imports] == ["react", "./B"] and found.reason is None


def test_java_and_go_imports(finder):
    java = ("package a.b;\nimport a.c.Util;\nimport static a.c.Consts.MAX;\nimport a.d.*;\n"
            "public class X { }\n")
    assert list(finder.find(java, "Java").imports) == [
        Import("a.c.Util"), Import("a.c.Consts.MAX", static=True), Import("a.d", wildcard=True)]
    go = 'package main\n\nimport "fmt"\n\nimport (\n\tf "github.com/o/r/pkg/x"\n\t_ "embed"\n)\n'
    assert [i.spec for i in finder.find(go, "Go").imports] == ["fmt", "github.com/o/r/pkg/x", "embed"]


def test_syntax_errors_and_unsupported(finder):
    found = finder.find("import os\ndef broken(:\n", "Python")
    assert found.reason == "syntax_error" and found.imports == (Import("os"),)
    assert finder.find("#include <x.h>\n", "C").reason == "unsupported_language"
    assert finder.find("import os  # \udc80\n", "Python").reason == "encode_error"


def test_finder_pickles_without_parsers(finder):
    finder.find("import os\n", "Python")
    again = pickle.loads(pickle.dumps(finder))
    assert again._built is None and again.find("import os\n", "Python").imports == (Import("os"),)


def test_python_resolution():
    index = RepoIndex("o/r", ["src/pkg/__init__.py", "src/pkg/models.py", "src/pkg/sub/helpers.py",
                              "src/pkg/utils.py", "tests/utils.py", "tests/test_models.py", "pkg2/logging.py"])
    r = lambda importer, imp: index.resolve(importer, "Python", imp)  # noqa: E731
    assert r("src/pkg/sub/helpers.py", Import("", 2, ("models",))) == {"src/pkg/models.py"}
    assert r("src/pkg/models.py", Import("utils", 1, ("x",))) == {"src/pkg/utils.py"}
    assert r("src/pkg/models.py", Import("", 1, ("nothing",))) == {"src/pkg/__init__.py"}   # a name of the package
    assert r("src/pkg/models.py", Import("", 4, ("x",))) == set()                          # above the root
    assert r("tests/test_models.py", Import("pkg.models")) == {"src/pkg/models.py"}         # source root unknown
    assert r("tests/test_models.py", Import("pkg", names=("models", "utils"))) == {
        "src/pkg/models.py", "src/pkg/utils.py"}
    assert r("tests/test_models.py", Import("utils")) == {"tests/utils.py"}                 # beside the importer
    assert r("src/pkg/models.py", Import("logging")) == set()                               # not pkg2/logging.py
    assert r("tests/test_models.py", Import("pkg")) == {"src/pkg/__init__.py"}
    assert r("tests/test_models.py", Import("requests")) == set()


def test_js_java_go_resolution():
    index = RepoIndex("o/r", ["lib/a.js", "lib/b/index.js", "lib/c.ts", "lib/d.json", "src/App.tsx",
                              "src/main/java/a/c/Util.java", "src/main/java/a/c/Consts.java",
                              "src/main/java/a/d/One.java", "src/main/java/a/d/Two.java",
                              "go.go", "root.go", "pkg/x/x.go", "pkg/x/x_test.go", "cmd/tool/main.go"])
    js = lambda importer, spec, lang="JavaScript": index.resolve(importer, lang, Import(spec))  # noqa: E731
    assert js("lib/b/index.js", "../a") == {"lib/a.js"}
    assert js("lib/a.js", "./b") == {"lib/b/index.js"}
    assert js("lib/a.js", "./c.js", "TypeScript") == {"lib/c.ts"}       # TS: ./c.js is c.ts compiled
    assert js("lib/a.js", "./d.json") == {"lib/d.json"}
    assert js("lib/a.js", "lib/a") == {"lib/a.js"}                      # from the root (baseUrl)
    assert js("lib/a.js", "express") == set() and js("lib/a.js", "../../x") == set()
    java = lambda spec, **kw: index.resolve("src/main/java/a/b/X.java", "Java", Import(spec, **kw))  # noqa: E731
    assert java("a.c.Util") == {"src/main/java/a/c/Util.java"}
    assert java("a.c.Consts.MAX", static=True) == {"src/main/java/a/c/Consts.java"}
    assert java("a.c.Util.Inner") == {"src/main/java/a/c/Util.java"}
    assert java("a.d", wildcard=True) == {"src/main/java/a/d/One.java", "src/main/java/a/d/Two.java"}
    assert java("java.util.List") == set()
    go = lambda spec: index.resolve("cmd/tool/main.go", "Go", Import(spec))  # noqa: E731
    assert go("github.com/o/r/pkg/x") == {"pkg/x/x.go"}                  # test files are not imported
    assert go("github.com/o/r") == {"go.go", "root.go"}
    assert go("fmt") == set()
    other = RepoIndex("fork/copy", ["root.go", "pkg/x/x.go"])           # module path is not github.com/<repo>
    other.learn_go_modules(["example.org/lib/pkg/x", "example.org/lib"])
    assert other.resolve("pkg/x/x.go", "Go", Import("example.org/lib")) == {"root.go"}


def test_nearest_is_deterministic():
    assert nearest("a/b/c.py", ["x/c.py", "a/b/d.py", "a/e.py"]) == "a/b/d.py"
    assert nearest("z.py", ["b/x.py", "a/x.py"]) == "a/x.py"
    assert nearest("z.py", []) is None
