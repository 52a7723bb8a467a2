"""Structure-aware FIM spans: the middle is a whole syntax node, found with tree-sitter.

REFERENCE.md §5: whole-AST-node middles (a function body, a block, an expression) improve
infilling over random character spans. For Python, JavaScript (and JSX), Java and Go, a file is
parsed once with its grammar wheel (``tree-sitter-python`` …; never the language pack, which
downloads grammars at run time) and its nodes are sorted into five kinds of middle:

- ``body``: a function's, method's, constructor's or lambda's body;
- ``block``: any other block (of an ``if``, a loop, a ``with``, a class …);
- ``statement``: one statement;
- ``expression``: a call, an operator expression, a literal collection, a lambda …;
- ``arguments``: a call's argument list, parentheses included.

A span is drawn by picking one of the kinds present (uniformly), then one node of that kind
(uniformly): so small, numerous nodes (expressions) do not crowd out bodies. ``span_kind`` is
the node's grammar type (``block``, ``argument_list``, ``call_expression`` …).

tree-sitter reports **byte** offsets into the UTF-8 text; ``char_offsets`` turns them into
character (code point) offsets and refuses any offset that is not on a character boundary, so
a span never cuts a multi-byte character. A file that does not parse cleanly (any ERROR or
MISSING node), cannot be encoded, or is in a language without a grammar here gets no nodes,
with a reason (the caller falls back to a random span and counts it).

Parsers are built per worker in ``setup()`` (or on first use), never pickled.
"""

from __future__ import annotations

import importlib
import random
from typing import NamedTuple, Optional, Sequence

import numpy as np

# linguist language name -> grammar module (a wheel from the package registry).
GRAMMARS = {
    "Python": "tree_sitter_python",
    "JavaScript": "tree_sitter_javascript",
    "JSX": "tree_sitter_javascript",
    "Java": "tree_sitter_java",
    "Go": "tree_sitter_go",
}

KINDS = ("body", "block", "statement", "expression", "arguments")

# Per grammar: node types that are blocks, the parents that make a block a function body,
# statements, expressions, and argument lists (with the parents they must have, if any).
_RULES = {
    "tree_sitter_python": {
        "block": {"block"},
        "body_parents": {"function_definition"},
        "statement": {"expression_statement", "return_statement", "if_statement", "for_statement",
                      "while_statement", "with_statement", "try_statement", "raise_statement", "assert_statement",
                      "delete_statement", "match_statement"},
        "expression": {"call", "binary_operator", "boolean_operator", "comparison_operator", "lambda",
                       "list_comprehension", "dictionary_comprehension", "set_comprehension",
                       "generator_expression", "conditional_expression", "list", "dictionary", "tuple", "set",
                       "subscript", "await"},
        "arguments": {"argument_list"},
        "arguments_parents": {"call"},
    },
    "tree_sitter_javascript": {
        "block": {"statement_block", "class_body"},
        "body_parents": {"function_declaration", "function_expression", "arrow_function", "method_definition",
                         "generator_function_declaration", "generator_function"},
        "statement": {"expression_statement", "return_statement", "if_statement", "for_statement",
                      "for_in_statement", "while_statement", "do_statement", "try_statement", "throw_statement",
                      "lexical_declaration", "variable_declaration", "switch_statement"},
        "expression": {"call_expression", "binary_expression", "arrow_function", "function_expression",
                       "new_expression", "ternary_expression", "object", "array", "template_string",
                       "assignment_expression", "await_expression", "member_expression", "subscript_expression"},
        "arguments": {"arguments"},
        "arguments_parents": None,
    },
    "tree_sitter_java": {
        "block": {"block", "constructor_body", "class_body"},
        "body_parents": {"method_declaration", "constructor_declaration", "lambda_expression"},
        "body_types": {"constructor_body"},
        "statement": {"expression_statement", "local_variable_declaration", "return_statement", "if_statement",
                      "for_statement", "enhanced_for_statement", "while_statement", "do_statement",
                      "try_statement", "try_with_resources_statement", "throw_statement", "switch_expression"},
        "expression": {"method_invocation", "binary_expression", "object_creation_expression",
                       "lambda_expression", "ternary_expression", "array_initializer", "assignment_expression",
                       "array_creation_expression", "cast_expression", "field_access", "array_access"},
        "arguments": {"argument_list"},
        "arguments_parents": None,
    },
    "tree_sitter_go": {
        "block": {"block"},
        "body_parents": {"function_declaration", "method_declaration", "func_literal"},
        "statement": {"expression_statement", "short_var_declaration", "assignment_statement", "return_statement",
                      "if_statement", "for_statement", "go_statement", "defer_statement", "var_declaration",
                      "expression_switch_statement", "type_switch_statement", "select_statement", "inc_statement",
                      "dec_statement", "send_statement"},
        "expression": {"call_expression", "binary_expression", "composite_literal", "func_literal",
                       "selector_expression", "index_expression", "slice_expression", "unary_expression",
                       "type_assertion_expression"},
        "arguments": {"argument_list"},
        "arguments_parents": {"call_expression"},
    },
}


def kind_of(rules: dict, node_type: str, parent_type: Optional[str]) -> Optional[str]:
    """The kind of middle a node makes (``KINDS``), or None."""
    if node_type in rules["block"]:
        if parent_type in rules["body_parents"] or node_type in rules.get("body_types", ()):
            return "body"
        return "block"
    if node_type in rules["statement"]:
        return "statement"
    if node_type in rules["arguments"]:
        parents = rules["arguments_parents"]
        return "arguments" if parents is None or parent_type in parents else None
    if node_type in rules["expression"]:
        return "expression"
    return None


class Node(NamedTuple):
    start: int      # character offsets into the parsed text
    end: int
    type: str
    kind: str


class Parsed(NamedTuple):
    """The candidate nodes of one text, or why there are none (``reason``)."""

    nodes: tuple
    reason: Optional[str] = None


def char_offsets(text: str, data: bytes, byte_offsets: Sequence[int]) -> list:
    """Character offsets of UTF-8 byte offsets into ``data == text.encode()``; None for a byte
    offset that falls inside a multi-byte character (never a valid place to cut)."""
    if len(data) == len(text):  # ASCII: bytes are characters
        return list(byte_offsets)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    widths = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
    starts = np.concatenate(([0], np.cumsum(widths)))          # byte offset of each character
    wanted = np.asarray(byte_offsets, dtype=np.int64)
    index = np.searchsorted(starts, wanted)
    on_boundary = (index < len(starts)) & (starts[np.minimum(index, len(starts) - 1)] == wanted)
    return [int(i) if ok else None for i, ok in zip(index, on_boundary)]


def build_parsers(languages: Sequence[str]) -> dict:
    """One tree-sitter parser per grammar module the languages need (built in a worker)."""
    from tree_sitter import Language, Parser

    parsers = {}
    for module_name in sorted({GRAMMARS[lang] for lang in languages if lang in GRAMMARS}):
        module = importlib.import_module(module_name)
        parsers[module_name] = Parser(Language(module.language()))
    return parsers


class StructureSpans:
    """Finds and draws whole-node middles. Pickles as its settings; parsers are built by
    ``setup()`` (a DoFn's) or on first use, one set per instance."""

    def __init__(self, max_middle_chars: Optional[int] = 4096, min_middle_chars: int = 1,
                 languages: Optional[Sequence[str]] = None):
        for name, value in (("max_middle_chars", max_middle_chars), ("min_middle_chars", min_middle_chars)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"structure.{name} must be a positive integer, got {value!r}")
        if min_middle_chars is None:
            raise ValueError("structure.min_middle_chars must be a positive integer, got None")
        self.max_middle_chars = max_middle_chars
        self.min_middle_chars = min_middle_chars
        self.languages = tuple(GRAMMARS if languages is None else languages)
        unknown = set(self.languages) - set(GRAMMARS)
        if unknown:
            raise ValueError(f"no grammar for {sorted(unknown)}; structure spans support {sorted(GRAMMARS)}")
        self._parsers = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_parsers"] = None
        return state

    def setup(self) -> None:
        if self._parsers is None:
            self._parsers = build_parsers(self.languages)

    def supports(self, lang: Optional[str]) -> bool:
        return lang in self.languages

    def parse(self, text: str, lang: str) -> Parsed:
        """The candidate nodes of ``text`` (character offsets), or a reason there are none:
        ``unsupported_language``, ``encode_error``, ``parse_error``."""
        if not self.supports(lang):
            return Parsed((), "unsupported_language")
        self.setup()
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return Parsed((), "encode_error")
        module_name = GRAMMARS[lang]
        tree = self._parsers[module_name].parse(data)
        if tree is None or tree.root_node.has_error:
            return Parsed((), "parse_error")
        found = _walk(tree, _RULES[module_name])
        offsets = char_offsets(text, data, [b for _, s, e in found for b in (s, e)])
        nodes = []
        for i, (kind_and_type, _, _) in enumerate(found):
            start, end = offsets[2 * i], offsets[2 * i + 1]
            if start is not None and end is not None and end > start:
                nodes.append(Node(start, end, kind_and_type[1], kind_and_type[0]))
        return Parsed(tuple(nodes))

    def pick(self, parsed: Parsed, chunk_start: int, chunk_end: int, rng: random.Random) -> Optional[tuple]:
        """``(start, end, node type)`` relative to the chunk, for a node inside
        ``[chunk_start, chunk_end)`` of an allowed length, or None when there is none."""
        by_kind: dict = {}
        for node in parsed.nodes:
            length = node.end - node.start
            if node.start < chunk_start or node.end > chunk_end or length < self.min_middle_chars:
                continue
            if self.max_middle_chars is not None and length > self.max_middle_chars:
                continue
            by_kind.setdefault(node.kind, []).append(node)
        if not by_kind:
            return None
        kind = rng.choice([k for k in KINDS if k in by_kind])
        node = rng.choice(by_kind[kind])
        return node.start - chunk_start, node.end - chunk_start, node.type


def _walk(tree, rules: dict) -> list:
    """``((kind, type), start_byte, end_byte)`` of every candidate node, in document order."""
    found = []
    cursor = tree.walk()
    parents: list = []
    while True:
        node = cursor.node
        if node.is_named:
            kind = kind_of(rules, node.type, parents[-1] if parents else None)
            if kind is not None:
                found.append(((kind, node.type), node.start_byte, node.end_byte))
        if cursor.goto_first_child():
            parents.append(node.type)
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return found
            parents.pop()
