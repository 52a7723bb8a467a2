"""Imports -> the repository's files they name (or nothing: a library, the standard library, a
file the filters left out).

Only the files of the repository that reached the corpus are known (the filters, PII and dedup
ran before), so resolution is by path, as an editor without the build configuration would do:

- **Python**: a relative import (``from .m import x``, ``from .. import y``) is resolved exactly
  from the importer's folder: ``m.py`` or ``m/__init__.py``; for ``from M import n`` the
  submodule ``M.n`` is tried before ``M``. An absolute import ``a.b`` matches every file whose
  path, as dotted parts, ends with ``a.b`` (``src/a/b.py``, ``a/b/__init__.py``), since the
  source root (``src/``, ``lib/``) is unknown. A one-part name (``import utils``) matches only a
  module at the top (the repository root, ``src/``, ``lib/``) or beside the importer, so
  ``import logging`` does not land on ``pkg/logging.py``.
- **JavaScript / TypeScript**: ``./`` and ``../`` specifiers from the importer's folder, then
  as written from the repository root (``baseUrl`` setups); each tried as is, with the
  extensions ``.js .jsx .ts .tsx .mjs .cjs .json`` and as a folder's ``index``; a ``.js``
  specifier also as the ``.ts``/``.tsx`` file TypeScript compiles to it. Bare names (``express``)
  are packages: unresolved unless the repository has that path.
- **Java**: ``a.b.C`` matches a file ending in ``a/b/C.java`` (a nested class ``a.b.C.D`` or a
  static member ``a.b.C.m``: the longest prefix that is a file); ``a.b.*`` every ``.java`` file
  of a folder ending in ``a/b``.
- **Go**: a package path names a folder: ``github.com/OWNER/NAME`` (the repository's module path
  as GitHub serves it, or one inferred from the other imports) plus the folder, or else any
  folder the path ends with; it resolves to that folder's non-test ``.go`` files.

When several files match, the one nearest the importer wins (longest common folder prefix,
then fewest folders, then by path): deterministic, and right for ``tests/utils.py`` against
``src/pkg/utils.py`` from a test.
"""

from __future__ import annotations

import posixpath
from typing import Iterable, Optional

from codecorpus.repodocs.imports import FAMILY, Import

PY_SUFFIXES = (".py", ".pyi")
JS_EXTENSIONS = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".json")
TS_FOR_JS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
TOP_FOLDERS = ("", "src", "lib")


def _dir(path: str) -> str:
    return posixpath.dirname(path)


def _parts(folder: str) -> list[str]:
    return [p for p in folder.split("/") if p]


def nearest(importer: str, candidates: Iterable[str]) -> Optional[str]:
    """The candidate closest to ``importer`` (see the module docstring), or None."""
    here = _parts(_dir(importer))

    def key(path: str):
        there = _parts(_dir(path))
        common = 0
        for a, b in zip(here, there):
            if a != b:
                break
            common += 1
        return -common, len(there), path

    ordered = sorted(set(candidates), key=key)
    return ordered[0] if ordered else None


class RepoIndex:
    """The files of one repository, indexed for resolving imports of every supported language."""

    def __init__(self, repo: str, paths: Iterable[str]):
        self.repo = repo
        self.paths = set(paths)
        self.py_modules: dict[str, list[str]] = {}     # dotted suffix -> files
        self.java_classes: dict[str, list[str]] = {}   # dotted suffix of a class file -> files
        self.java_folders: dict[str, list[str]] = {}   # dotted suffix of a folder -> its .java files
        self.go_folders: dict[str, list[str]] = {}     # folder -> its non-test .go files
        for path in sorted(self.paths):
            stem, ext = posixpath.splitext(path)
            if ext in PY_SUFFIXES:
                parts = _parts(stem)
                if parts and parts[-1] == "__init__":
                    parts = parts[:-1]
                for i in range(len(parts)):
                    self.py_modules.setdefault(".".join(parts[i:]), []).append(path)
            elif ext == ".java":
                parts = _parts(stem)
                for i in range(len(parts)):
                    self.java_classes.setdefault(".".join(parts[i:]), []).append(path)
                folder = parts[:-1]
                for i in range(len(folder)):
                    self.java_folders.setdefault(".".join(folder[i:]), []).append(path)
            elif ext == ".go" and not path.endswith("_test.go"):
                self.go_folders.setdefault(_dir(path), []).append(path)
        self.go_modules = self._go_module_paths()

    # --- Python --------------------------------------------------------------------------------

    def _py_exact(self, parts: list[str]) -> Optional[str]:
        base = "/".join(parts)
        for candidate in [base + s for s in PY_SUFFIXES] + [posixpath.join(base, "__init__" + s) for s in PY_SUFFIXES]:
            if candidate in self.paths and parts:
                return candidate
        return None

    def _py_absolute(self, importer: str, dotted: str) -> Optional[str]:
        candidates = self.py_modules.get(dotted, [])
        if "." not in dotted:
            here = _dir(importer)

            def at_top(path: str) -> bool:
                folder = _dir(path)
                if posixpath.basename(path).startswith("__init__."):
                    folder = _dir(folder)
                return folder in TOP_FOLDERS or folder == here

            candidates = [c for c in candidates if at_top(c)]
        return nearest(importer, candidates)

    def _python(self, importer: str, imp: Import) -> set[str]:
        if imp.level:
            base = _parts(_dir(importer))
            up = imp.level - 1
            if up > len(base):
                return set()
            base = base[:len(base) - up] if up else base
            module = base + _parts(imp.spec.replace(".", "/"))
            found = {self._py_exact(module + [n]) for n in imp.names}
            found.discard(None)
            if not found or len(found) < len(imp.names):
                whole = self._py_exact(module)
                if whole:
                    found.add(whole)
            return found
        found = {self._py_absolute(importer, f"{imp.spec}.{n}") for n in imp.names}
        found.discard(None)
        if not found or len(found) < len(imp.names):
            whole = self._py_absolute(importer, imp.spec)
            if whole:
                found.add(whole)
        return found

    # --- JavaScript / TypeScript ---------------------------------------------------------------

    def _js_file(self, base: str) -> Optional[str]:
        stem, ext = posixpath.splitext(base)
        tries = [base] + [base + e for e in JS_EXTENSIONS] + [posixpath.join(base, "index" + e) for e in JS_EXTENSIONS]
        tries += [stem + e for e in TS_FOR_JS.get(ext, ())]
        return next((t for t in tries if t in self.paths), None)

    def _js(self, importer: str, imp: Import) -> set[str]:
        spec = imp.spec.split("?", 1)[0].split("#", 1)[0]
        if not spec:
            return set()
        if spec.startswith("."):
            base = posixpath.normpath(posixpath.join(_dir(importer), spec))
            if base == ".." or base.startswith("../"):
                return set()
            found = self._js_file("index" if base == "." else base)
            return {found} if found else set()
        base = posixpath.normpath(spec.lstrip("/"))
        if base.startswith("..") or base == ".":
            return set()
        found = self._js_file(base)
        return {found} if found else set()

    # --- Java ------------------------------------------------------------------------------------

    def _java(self, importer: str, imp: Import) -> set[str]:
        parts = imp.spec.split(".")
        if imp.wildcard:
            files = self.java_folders.get(imp.spec, [])
            if files:
                folder = _dir(nearest(importer, files))
                return {f for f in files if _dir(f) == folder}
        for k in range(len(parts), 1, -1):  # a class, or the class of a nested class / static member
            found = nearest(importer, self.java_classes.get(".".join(parts[:k]), []))
            if found:
                return {found}
        return set()

    # --- Go ----------------------------------------------------------------------------------------

    def _go_module_paths(self) -> set[str]:
        return {f"github.com/{self.repo}"} if self.repo and "/" in self.repo else set()

    def _go_folder(self, spec: str) -> Optional[str]:
        for module in sorted(self.go_modules, key=lambda m: (-len(m), m)):
            if spec == module:
                return "" if "" in self.go_folders else None
            if spec.startswith(module + "/"):
                folder = spec[len(module) + 1:]
                if folder in self.go_folders:
                    return folder
        matches = [f for f in self.go_folders if f and (spec == f or spec.endswith("/" + f))]
        if matches:
            return max(matches, key=lambda f: (len(f), f))
        return None

    def learn_go_modules(self, specs: Iterable[str]) -> None:
        """Infer module paths from imports that end with a folder of the repository
        (``github.com/x/y/doc`` with a ``doc/`` folder: ``github.com/x/y``), so the root
        package resolves even when the module path is not ``github.com/<repo>``."""
        for spec in sorted(set(specs)):
            folder = self._go_folder(spec)
            if folder and spec != folder and spec.endswith("/" + folder):
                self.go_modules.add(spec[:-len(folder) - 1])

    def _go(self, importer: str, imp: Import) -> set[str]:
        folder = self._go_folder(imp.spec)
        return set(self.go_folders[folder]) if folder is not None else set()

    # --- all ---------------------------------------------------------------------------------------

    def resolve(self, importer: str, lang: str, imp: Import) -> set[str]:
        """The repository files ``imp`` (in ``importer``, of language ``lang``) names (possibly
        the importer itself: a package's ``__init__`` importing its own names)."""
        family = FAMILY.get(lang)
        if family == "python":
            found = self._python(importer, imp)
        elif family == "js":
            found = self._js(importer, imp)
        elif family == "java":
            found = self._java(importer, imp)
        elif family == "go":
            found = self._go(importer, imp)
        else:
            found = set()
        return found
