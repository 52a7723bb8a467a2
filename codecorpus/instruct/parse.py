"""Reading LLM responses: code out of fenced blocks, questions out of prose, and the reasons a
response is unusable (each becomes a counted filter drop, never an exception).

Code responses (tests and solutions) are rejected as ``empty``, ``truncated`` (the server
stopped at ``max_tokens``, or a fence never closes), ``wrong_language`` (only blocks tagged with
another language, or untagged code in a C-family / JavaScript style), or ``not_code`` (prose
without a block that is not Python either). A solution block that does not compile is kept: a
compile error is an outcome the ranking needs. Tests must compile (``syntax_error``) and hold
at least one test (``no_tests``).

Question responses (generated, from snippets, evolved) are rejected as ``empty``,
``too_short``, ``refusal`` ("I'm sorry, …", "As an AI …"), ``answer_not_question`` (mostly a
code block, or a question that opens with a solution), ``copy`` (an evolution that changed
almost nothing: token Jaccard to its parent >= ``copy_jaccard``) or ``too_long``.
"""

from __future__ import annotations

import ast
import re
from typing import Optional

PYTHON_TAGS = {"python", "py", "python3", "py3", "pycon", ""}
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)```", re.S)
_OTHER_STYLE = re.compile(r"#include\s*<|\bpublic\s+static\b|\bfunction\s+\w+\s*\(|console\.log\(|\bfn\s+main\b|"
                          r"\bfunc\s+\w+\s*\(|\bint\s+main\s*\(|=>\s*\{|\bstd::|\bSystem\.out\.")
_REFUSAL = re.compile(r"^\s*(?:i'?m sorry|i am sorry|sorry,|i cannot|i can't|i can not|as an ai\b|i'm unable|"
                      r"i am unable|unfortunately,? i)", re.I)
_LEAD = re.compile(r"^\s*(?:\*\*)?(?:new |rewritten |evolved |revised |increased[- ]difficulty )?"
                   r"(?:question|problem|task|prompt)\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.I)
_WORD = re.compile(r"[A-Za-z0-9_]+")


def _blocks(text: str) -> list:
    return [(tag.lower(), body) for tag, body in _FENCE.findall(text)]


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _looks_like_python_code(code: str) -> bool:
    """Parses, and is more than a bare name or string (``Sure`` and ``"ok"`` parse too)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, (ast.Name, ast.Constant))) for n in tree.body)


def extract_code(text: Optional[str], finish_reason: Optional[str] = None) -> tuple:
    """``(code, None)`` or ``(None, reason)`` for a response that should hold Python code."""
    if text is None or not text.strip():
        return None, "empty"
    if finish_reason == "length":
        return None, "truncated"
    blocks = _blocks(text)
    if not blocks:
        if text.count("```") % 2 == 1:
            return None, "truncated"
        stripped = text.strip()
        if _looks_like_python_code(stripped):
            return stripped + "\n", None
        if _OTHER_STYLE.search(stripped):
            return None, "wrong_language"
        return None, "not_code"
    python = [body for tag, body in blocks if tag in PYTHON_TAGS]
    if not python:
        return None, "wrong_language"
    code = python[0]
    if not code.strip():
        return None, "empty"
    if not _parses(code) and _OTHER_STYLE.search(code):
        return None, "wrong_language"
    return code.strip("\n") + "\n", None


def count_tests(code: str) -> Optional[int]:
    """Top-level ``test*`` functions, else top-level asserts; None if the code does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    return len(functions) if functions else sum(1 for n in tree.body if isinstance(n, ast.Assert))


def extract_tests(text: Optional[str], finish_reason: Optional[str] = None) -> tuple:
    """``(tests_code, None)`` or ``(None, reason)``."""
    code, reason = extract_code(text, finish_reason)
    if reason:
        return None, reason
    n = count_tests(code)
    if n is None:
        return None, "syntax_error"
    if n == 0:
        return None, "no_tests"
    return code, None


def clean_question(text: str) -> str:
    text = text.strip()
    text = _LEAD.sub("", text, count=1).strip()
    return text.strip('"').strip()


def tokens(text: str) -> set:
    return {t.lower() for t in _WORD.findall(text)}


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def question_problem(text: Optional[str], min_chars: int = 20, max_chars: int = 8000,
                     parent: Optional[str] = None, copy_jaccard: float = 0.9) -> Optional[str]:
    """Why ``text`` is not a usable question (None: it is)."""
    if text is None or not text.strip():
        return "empty"
    if _REFUSAL.search(text):
        return "refusal"
    stripped = text.strip()
    if stripped.startswith("```") or stripped.startswith(("def ", "class ", "import ", "from ")):
        return "answer_not_question"
    code_chars = sum(len(body) for _, body in _blocks(stripped))
    if code_chars > 0.7 * len(stripped):
        return "answer_not_question"
    if len(stripped) < min_chars:
        return "too_short"
    if len(stripped) > max_chars:
        return "too_long"
    if parent is not None and jaccard(stripped, parent) >= copy_jaccard:
        return "copy"
    return None


def split_numbered(text: str) -> list:
    """``1. …\\n2. …`` -> the items (continuation lines joined to their item)."""
    items, current = [], []
    for line in (text or "").splitlines():
        m = re.match(r"^\s*(?:\d+[.)]|[-*])\s+(.*)$", line)
        if m:
            if current:
                items.append(" ".join(current).strip())
            current = [m.group(1)]
        elif current and line.strip():
            current.append(line.strip())
    if current:
        items.append(" ".join(current).strip())
    return [i for i in items if i]
