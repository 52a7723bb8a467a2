"""Import statements of a source file, found with tree-sitter.

One query per grammar finds the statements (in C, so a file's other nodes cost nothing in
Python); each match becomes an ``Import``: what the file names, not yet where it is
(``resolve.py`` does that against the repository's files).

- **Python**: ``import a.b`` (``spec="a.b"``), ``from a.b import c, d`` (``names=("c", "d")``),
  ``from ..pkg import x`` (``level=2``), ``from m import *`` (``wildcard``), anywhere in the
  file (imports inside ``try`` or functions count). ``from __future__`` is not an import.
- **JavaScript / JSX / TypeScript / TSX**: ``import … from "s"``, ``export … from "s"``,
  ``require("s")``, dynamic ``import("s")`` and TypeScript's ``import x = require("s")``, with a
  string literal (template strings and computed names cannot be resolved statically).
- **Java**: ``import a.b.C;``, ``import a.b.*;`` (``wildcard``), ``import static a.b.C.m;``
  (``static``).
- **Go**: every ``import_spec``'s path.

The grammars are the wheels from the package registry (``tree-sitter-python`` …,
``tree-sitter-typescript`` for TypeScript and TSX); parsers are built on first use per
instance and never pickled. A file that cannot be encoded yields no imports (reason
``encode_error``); tree-sitter recovers from syntax errors, so a file with one still gives the
imports it has (reason ``syntax_error``, counted by the caller).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple, Optional

# linguist language name (codecorpus.core.languages) -> (grammar module, function giving the language)
GRAMMARS = {
    "Python": ("tree_sitter_python", "language"),
    "JavaScript": ("tree_sitter_javascript", "language"),
    "JSX": ("tree_sitter_javascript", "language"),
    "TypeScript": ("tree_sitter_typescript", "language_typescript"),
    "TSX": ("tree_sitter_typescript", "language_tsx"),
    "Java": ("tree_sitter_java", "language"),
    "Go": ("tree_sitter_go", "language"),
}

# The family of each language: how its imports are read and resolved.
FAMILY = {"Python": "python", "JavaScript": "js", "JSX": "js", "TypeScript": "js", "TSX": "js",
          "Java": "java", "Go": "go"}

_JS_QUERY = """
(import_statement source: (string) @src)
(export_statement source: (string) @src)
(call_expression function: (identifier) @fn arguments: (arguments . (string) @src) (#eq? @fn "require"))
(call_expression function: (import) arguments: (arguments . (string) @src))
"""
_QUERIES = {
    "python": "(import_statement) @import (import_from_statement) @from",
    "js": _JS_QUERY,
    "ts": _JS_QUERY + "(import_require_clause source: (string) @src)",
    "java": "(import_declaration) @import",
    "go": "(import_spec path: (_) @src)",
}


class Import(NamedTuple):
    """One import as written. ``spec``: a dotted module/class name (Python, Java), a module
    specifier (JavaScript/TypeScript) or a package path (Go)."""

    spec: str
    level: int = 0              # Python: leading dots of a relative import
    names: tuple = ()           # Python: the names of ``from spec import names``
    wildcard: bool = False      # Python ``import *``, Java ``.*``
    static: bool = False        # Java ``import static``


class FileImports(NamedTuple):
    imports: tuple
    reason: Optional[str] = None    # None (parsed cleanly), "syntax_error", "encode_error", "unsupported_language"


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def _unquote(node) -> Optional[str]:
    text = _text(node)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1]
    return None


def _python_imports(captures: dict) -> list[Import]:
    found = []
    for node in captures.get("import", []):
        for name in node.children_by_field_name("name"):
            dotted = name.child_by_field_name("name") if name.type == "aliased_import" else name
            if dotted is not None:
                found.append((node.start_byte, Import(_text(dotted))))
    for node in captures.get("from", []):
        module = node.child_by_field_name("module_name")
        if module is None:
            continue
        level, spec = 0, _text(module)
        if module.type == "relative_import":
            prefix = next((c for c in module.children if c.type == "import_prefix"), None)
            level = len(_text(prefix)) if prefix is not None else 0
            dotted = next((c for c in module.children if c.type == "dotted_name"), None)
            spec = _text(dotted) if dotted is not None else ""
        names = []
        for name in node.children_by_field_name("name"):
            dotted = name.child_by_field_name("name") if name.type == "aliased_import" else name
            if dotted is not None:
                names.append(_text(dotted))
        wildcard = any(c.type == "wildcard_import" for c in node.children)
        found.append((node.start_byte, Import(spec, level, tuple(names), wildcard)))
    return [imp for _, imp in sorted(found, key=lambda x: x[0])]


def _java_imports(captures: dict) -> list[Import]:
    found = []
    for node in sorted(captures.get("import", []), key=lambda n: n.start_byte):
        name = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
        if name is None:
            continue
        static = any(c.type == "static" or _text(c) == "static" for c in node.children if not c.is_named)
        wildcard = any(c.type == "asterisk" for c in node.children)
        found.append(Import(_text(name), wildcard=wildcard, static=static))
    return found


def _string_imports(captures: dict) -> list[Import]:
    found = []
    for node in sorted(captures.get("src", []), key=lambda n: n.start_byte):
        spec = _unquote(node)
        if spec and "${" not in spec:
            found.append(Import(spec))
    return found


class ImportFinder:
    """Finds the imports of a file. Pickles as its language list; parsers and queries are
    built on first use (in a worker)."""

    def __init__(self, languages=None):
        self.languages = tuple(GRAMMARS if languages is None else languages)
        unknown = set(self.languages) - set(GRAMMARS)
        if unknown:
            raise ValueError(f"no import grammar for {sorted(unknown)}; known: {sorted(GRAMMARS)}")
        self._built = None

    def __getstate__(self):
        return {**self.__dict__, "_built": None}

    def supports(self, lang: Optional[str]) -> bool:
        return lang in self.languages

    def setup(self) -> None:
        if self._built is not None:
            return
        from tree_sitter import Language, Parser, Query

        built = {}
        for lang in self.languages:
            module_name, function = GRAMMARS[lang]
            language = Language(getattr(importlib.import_module(module_name), function)())
            family = FAMILY[lang]
            query_key = "ts" if lang in ("TypeScript", "TSX") else family
            built[lang] = (Parser(language), Query(language, _QUERIES[query_key]), family)
        self._built = built

    def find(self, text: str, lang: Optional[str]) -> FileImports:
        if not self.supports(lang):
            return FileImports((), "unsupported_language")
        self.setup()
        from tree_sitter import QueryCursor

        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return FileImports((), "encode_error")
        parser, query, family = self._built[lang]
        tree = parser.parse(data)
        captures = QueryCursor(query).captures(tree.root_node)
        if family == "python":
            found = _python_imports(captures)
        elif family == "java":
            found = _java_imports(captures)
        else:
            found = _string_imports(captures)
        return FileImports(tuple(found), "syntax_error" if tree.root_node.has_error else None)
