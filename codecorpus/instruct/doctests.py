"""Mining already-tested examples from repositories, with no LLM: Python functions whose
docstrings carry doctest examples.

For every module-level function (``def`` / ``async def``) of a Python file whose docstring has
at least one doctest example, the solution is made self-contained: the function plus every
module-level import, function, class and assignment it (or its examples, or its decorators)
uses, transitively, in source order, so it runs alone in a fresh interpreter with the standard
library. Names are resolved statically on the AST; a function is dropped (counted) when:

- ``needs_more``: it uses a name the module neither defines nor imports (a star import, a name
  from ``globals()``, a test fixture …);
- ``non_stdlib_import``: it needs a module outside the standard library;
- ``relative_import``: it needs ``from . import …`` (a package around it);
- ``not_module_level``: a method or nested function (its class or closure would have to come too);
- ``skipped_examples``: every example is marked ``# doctest: +SKIP`` (nothing would be tested);
- ``too_large``: the self-contained solution exceeds ``max_solution_chars``.

The instruction is the signature and docstring (HumanEval's prompt shape); ``tests`` are the
doctest examples, rendered as doctest text. Running them in the sandbox decides what is kept.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import sys
from dataclasses import dataclass
from typing import Iterator, Optional

STDLIB = set(getattr(sys, "stdlib_module_names", ())) | {"__future__"}
_BUILTINS = set(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__package__",
                                  "__loader__", "__annotations__", "__dict__", "__module__", "__qualname__"}
DROP_REASONS = ("needs_more", "non_stdlib_import", "relative_import", "not_module_level", "skipped_examples",
                "too_large")


@dataclass(frozen=True)
class Mined:
    name: str
    question: str
    signature: str       # the def line(s) and docstring: what dedup compares
    solution: str
    tests: str           # doctest text
    examples: int
    lineno: int


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str
    lineno: int


def render_examples(examples: list) -> str:
    out = []
    for ex in examples:
        lines = ex.source.rstrip("\n").split("\n")
        out.append(">>> " + lines[0])
        out.extend("... " + line for line in lines[1:])
        if ex.want:
            out.append(ex.want.rstrip("\n"))
        elif ex.exc_msg is not None:
            out.append("Traceback (most recent call last):\n    ...\n" + ex.exc_msg.rstrip("\n"))
    return "\n".join(out) + "\n"


def _free_names(node: ast.AST, skip_body_of: Optional[ast.AST] = None) -> set:
    """Names read in ``node`` that it does not bind itself (parameters, assignments, imports,
    nested defs, comprehension targets): over-approximated scopes are fine here."""
    loads, stores = set(), set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loads if isinstance(sub.ctx, ast.Load) else stores).add(sub.id)
        elif isinstance(sub, ast.arg):
            stores.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            stores.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            for alias in sub.names:
                stores.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            stores.add(sub.name)
        elif isinstance(sub, (ast.Global, ast.Nonlocal)):
            loads.update(sub.names)
    return loads - stores


def _example_names(examples: list) -> set:
    loads, stores = set(), set()
    for ex in examples:
        try:
            tree = ast.parse(ex.source)
        except SyntaxError:
            continue
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Name):
                (loads if isinstance(sub.ctx, ast.Load) else stores).add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                for alias in sub.names:
                    stores.add((alias.asname or alias.name).split(".")[0])
                if isinstance(sub, ast.ImportFrom) and (sub.level or (sub.module or "").split(".")[0] not in STDLIB):
                    loads.add(f"<import {sub.module}>")
                if isinstance(sub, ast.Import):
                    loads.update(f"<import {a.name}>" for a in sub.names if a.name.split(".")[0] not in STDLIB)
            elif isinstance(sub, (ast.FunctionDef, ast.ClassDef)):
                stores.add(sub.name)
    return loads - stores


class _Module:
    """The module-level bindings of one file: name -> the statement that binds it."""

    def __init__(self, tree: ast.Module):
        self.bindings: dict = {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bindings[stmt.name] = stmt
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    self.bindings[(alias.asname or alias.name).split(".")[0]] = stmt
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            self.bindings.setdefault(sub.id, stmt)

    def closure(self, start: ast.AST, extra_names: set) -> tuple:
        """``(statements, None)`` the function needs, or ``(None, reason)``."""
        for sub in ast.walk(start):  # imports inside the function need the standard library too
            if isinstance(sub, ast.ImportFrom) and sub.level:
                return None, "relative_import"
            names = [a.name for a in sub.names] if isinstance(sub, ast.Import) else \
                [sub.module or ""] if isinstance(sub, ast.ImportFrom) else []
            if any(n.split(".")[0] not in STDLIB for n in names):
                return None, "non_stdlib_import"
        needed = {id(start): start}
        # sorted, popped from the end: the same first failing name (and reason) on every run
        todo = sorted(_free_names(start) | extra_names, reverse=True)
        seen = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("<import "):
                return None, "non_stdlib_import"
            stmt = self.bindings.get(name)
            if stmt is None:
                if name in _BUILTINS:
                    continue
                return None, "needs_more"
            if id(stmt) in needed:
                continue
            if isinstance(stmt, ast.ImportFrom):
                if stmt.level:
                    return None, "relative_import"
                if (stmt.module or "").split(".")[0] not in STDLIB:
                    return None, "non_stdlib_import"
            elif isinstance(stmt, ast.Import):
                if any(a.name.split(".")[0] not in STDLIB for a in stmt.names):
                    return None, "non_stdlib_import"
            else:
                todo.extend(sorted(_free_names(stmt), reverse=True))
            needed[id(stmt)] = stmt
        return sorted(needed.values(), key=lambda s: s.lineno), None


def _source_of(lines: list, stmt: ast.AST) -> str:
    start = min([d.lineno for d in getattr(stmt, "decorator_list", [])] + [stmt.lineno])
    return "\n".join(lines[start - 1:stmt.end_lineno])


def _signature_and_docstring(lines: list, fn: ast.AST) -> str:
    """The ``def`` line(s), decorators included, and the docstring, as the source has them."""
    doc_node = fn.body[0]
    start = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
    return "\n".join(lines[start - 1:doc_node.end_lineno])


def question_for(lines: list, fn: ast.AST) -> str:
    return ("Write the following Python function so that it does what its docstring says (the examples in it "
            "must pass). Use only the standard library.\n\n```python\n"
            f"{_signature_and_docstring(lines, fn)}\n```")


def mine(content: str, max_solution_chars: int = 20_000) -> Iterator:
    """``Mined`` and ``Rejected`` for every function with doctests in one Python file; raises
    ``SyntaxError`` when the file does not parse."""
    tree = ast.parse(content)
    lines = content.split("\n")
    module = _Module(tree)
    parser = doctest.DocTestParser()
    top_level = {id(s) for s in tree.body}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=True)
        if not doc:
            continue
        try:
            examples = parser.get_examples(doc)
        except ValueError:  # inconsistent indentation in the docstring: doctest itself would fail
            continue
        if not examples:
            continue
        runnable = [ex for ex in examples if not ex.options.get(doctest.SKIP)]
        if id(node) not in top_level:
            yield Rejected(node.name, "not_module_level", node.lineno)
            continue
        if not runnable:
            yield Rejected(node.name, "skipped_examples", node.lineno)
            continue
        needed, reason = module.closure(node, _example_names(examples))
        if reason:
            yield Rejected(node.name, reason, node.lineno)
            continue
        imports = [s for s in needed if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in needed if not isinstance(s, (ast.Import, ast.ImportFrom))]
        parts = [_source_of(lines, s) for s in imports]
        solution = "\n".join(parts) + ("\n\n\n" if parts else "") + "\n\n\n".join(_source_of(lines, s) for s in others)
        solution = solution.strip("\n") + "\n"
        if len(solution) > max_solution_chars:
            yield Rejected(node.name, "too_large", node.lineno)
            continue
        yield Mined(node.name, question_for(lines, node), _signature_and_docstring(lines, node), solution, render_examples(examples), len(examples),
                    node.lineno)
