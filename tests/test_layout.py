"""The package's layer rules (docs/architecture.md), checked on every import in the source.

``core`` imports no capability and no ``io``; ``io`` imports only ``core``, ``config`` and
``schemas``; capabilities never import ``jobs``; only ``cli`` and ``jobs`` import ``jobs``.
Lazy imports inside functions count too: a rule broken at run time is still broken.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "codecorpus"
CAPABILITIES = {"commits", "files", "fim", "pii", "dedup", "sql", "mix", "instruct"}
SHARED = {"config", "schemas", "__init__"}


def _room(module: str) -> str:
    """``codecorpus.commits.filters`` -> ``commits``; top-level modules name themselves."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "codecorpus" and name != "codecorpus":
                    found.append((module, name, node.lineno))
    return found


def _allowed(source: str, target: str) -> bool:
    src, dst = _room(source), _room(target)
    if src == dst or dst in ("", "__init__"):
        return True
    if dst == "jobs":
        return src in ("cli", "jobs")
    if src == "core":
        return dst in SHARED or dst == "core"
    if src == "io":
        return dst in SHARED | {"core"}
    if src in SHARED:
        return dst in SHARED
    return True


def test_every_import_keeps_the_layer_rules():
    broken = [f"{s} imports {t} (line {n})" for s, t, n in _imports() if not _allowed(s, t)]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("source,target,ok", [
    ("codecorpus.core.routing", "codecorpus.commits.filters", False),
    ("codecorpus.core.routing", "codecorpus.io.parquet", False),
    ("codecorpus.io.sources", "codecorpus.commits.pushdown", False),
    ("codecorpus.io.sources", "codecorpus.core.routing", True),
    ("codecorpus.dedup.deduplicate", "codecorpus.jobs.runner", False),
    ("codecorpus.mix.mixing", "codecorpus.dedup.deduplicate", True),
    ("codecorpus.cli", "codecorpus.jobs.commits", True),
    ("codecorpus.config", "codecorpus.io.dump", False),
])
def test_the_rules_themselves(source, target, ok):
    assert _allowed(source, target) is ok


def test_the_checker_sees_the_package():
    imports = _imports()
    assert len(imports) > 100 and any(t.startswith("codecorpus.core.") for _, t, _ in imports)
