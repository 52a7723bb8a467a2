"""Structure-aware FIM spans with tree-sitter: Python, JavaScript, Java and Go; byte -> character
offsets on non-ASCII text; parse failures, empty files, one-line files and CRLF falling back or
working as they should, and the fallbacks counted."""

from __future__ import annotations

import pickle
import random

import pytest

from codecorpus.fim import render as fim
from codecorpus.fim.render import FileExamples, FimSettings
from codecorpus.fim.structure import KINDS, StructureSpans, char_offsets
from codecorpus.core.routing import Count

SOURCES = {
    "Python": ('''import os


class Greeter:
    def greet(self, name, punctuation="!"):
        """Say hello."""
        message = "Hello, " + name
        if not name:
            raise ValueError("empty name")
        return message + punctuation


def total(values):
    return sum(v * 2 for v in values if v > 0)
''', "return message + punctuation", "greet"),
    "JavaScript": ('''const path = require("path");

function join(a, b) {
  if (!a) {
    throw new Error("no base");
  }
  return path.join(a, b);
}

class Box {
  constructor(value) { this.value = value; }
  map(fn) { return new Box(fn(this.value)); }
}
module.exports = { join, Box };
''', "return path.join(a, b);", "join"),
    "Java": ('''package demo;

import java.util.List;

public class Stats {
    private final List<Integer> values;

    public Stats(List<Integer> values) {
        this.values = values;
    }

    public int sum() {
        int total = 0;
        for (int v : values) {
            total += v;
        }
        System.out.println(String.format("sum %d", total));
        return total;
    }
}
''', "return total;", "sum"),
    "Go": ('''package stats

import "fmt"

// Sum adds the values.
func Sum(values []int) int {
	total := 0
	for _, v := range values {
		total += v
	}
	return total
}

func Describe(values []int) string {
	return fmt.Sprintf("%d values, sum %d", len(values), Sum(values))
}
''', "return total", "Sum"),
}


@pytest.fixture(scope="module")
def spans() -> StructureSpans:
    s = StructureSpans()
    s.setup()
    return s


def node_texts(parsed, text):
    return {(text[n.start:n.end], n.kind) for n in parsed.nodes}


@pytest.mark.parametrize("lang", sorted(SOURCES))
def test_each_language_parses_into_every_kind_of_middle(spans, lang):
    text, statement, _ = SOURCES[lang]
    parsed = spans.parse(text, lang)
    assert parsed.reason is None
    kinds = {n.kind for n in parsed.nodes}
    assert kinds == set(KINDS), f"{lang}: {kinds}"
    assert (statement, "statement") in node_texts(parsed, text)
    for n in parsed.nodes:
        assert 0 <= n.start < n.end <= len(text)


@pytest.mark.parametrize("lang", sorted(SOURCES))
def test_function_bodies_are_whole_nodes(spans, lang):
    text, _, function = SOURCES[lang]
    parsed = spans.parse(text, lang)
    bodies = [text[n.start:n.end] for n in parsed.nodes if n.kind == "body"]
    body = next(b for b in bodies if "total" in b or "message" in b or "path.join" in b)
    # The body is exactly the function's block: after the signature, to the function's end.
    head = text.index(function)
    assert text.index(body) > head
    if lang == "Python":
        assert body.startswith('"""Say hello."""') and body.endswith("return message + punctuation")
    else:
        assert body.startswith("{") and body.endswith("}")


@pytest.mark.parametrize("lang", sorted(SOURCES))
def test_structure_examples_have_whole_node_middles(spans, lang):
    text, _, _ = SOURCES[lang]
    parsed = spans.parse(text, lang)
    node_spans = {(n.start, n.end, n.type) for n in parsed.nodes}
    settings = FimSettings(fim_rate=1.0, span="structure")
    seen_kinds = set()
    for i in range(150):
        plan = fim.plan(fim.Chunk(0, 0, text), settings, "acme/x", f"f{i}", "s")
        span = spans.pick(parsed, 0, len(text), plan.rng)
        assert span in node_spans
        example = fim.make_example(plan, settings, span)
        assert example.prefix + example.middle + example.suffix == text
        assert example.span_kind == span[2] and example.middle == text[span[0]:span[1]]
        seen_kinds.add(next(n.kind for n in parsed.nodes if (n.start, n.end, n.type) == span))
    assert seen_kinds == set(KINDS)  # each kind is drawn (kinds first, then a node)


def test_byte_offsets_become_character_offsets_on_non_ascii_text(spans):
    text = ('# Grüße 🐍 — 日本語\n'
            'def größe(wert="π≈3.14"):\n'
            '    return f"{wert} → 🚀" + naïve("ça")\n')
    parsed = spans.parse(text, "Python")
    assert parsed.reason is None
    data = text.encode("utf-8")
    texts = {text[n.start:n.end] for n in parsed.nodes}
    assert 'return f"{wert} → 🚀" + naïve("ça")' in texts
    assert '("ça")' in texts
    assert 'naïve("ça")' in texts
    # against tree-sitter's own byte ranges, decoded
    from tree_sitter import Language, Parser
    import tree_sitter_python

    tree = Parser(Language(tree_sitter_python.language())).parse(data)
    call = tree.root_node.descendant_for_byte_range(data.index("naïve".encode()), data.index("naïve".encode()) + 1)
    while call.type != "call":
        call = call.parent
    assert call.text.decode("utf-8") in texts


def test_char_offsets_refuse_positions_inside_a_character():
    text = "aé🐍b"
    data = text.encode("utf-8")  # a=1 byte, é=2, 🐍=4, b=1
    assert char_offsets(text, data, [0, 1, 3, 7, 8]) == [0, 1, 2, 3, 4]
    assert char_offsets(text, data, [2, 4, 5, 6]) == [None, None, None, None]
    assert char_offsets("abc", b"abc", [0, 3]) == [0, 3]


def test_parse_failures_and_other_languages_give_reasons(spans):
    assert spans.parse("def broken(:\n    return )\n", "Python").reason == "parse_error"
    assert spans.parse("class A { void f() { int x = 1 } }", "Java").reason == "parse_error"  # MISSING ';'
    assert spans.parse("func main() {", "Go").reason == "parse_error"
    assert spans.parse("function (a, b { return", "JavaScript").reason == "parse_error"
    assert spans.parse("SELECT 1;", "SQL").reason == "unsupported_language"
    assert spans.parse("x = 1\n", "Python").reason is None


@pytest.mark.parametrize("text,expect", [
    ("", set()),                                              # empty file: parses, no nodes
    ("x = f(1, 2)", {"x = f(1, 2)", "f(1, 2)", "(1, 2)"}),    # one line, no newline
    ("def f(x):\r\n    y = x + 1\r\n    return y\r\n",        # CRLF
     {"y = x + 1", "return y", "y = x + 1\r\n    return y", "x + 1"}),
])
def test_empty_one_line_and_crlf_files(spans, text, expect):
    parsed = spans.parse(text, "Python")
    assert parsed.reason is None
    assert {text[n.start:n.end] for n in parsed.nodes} >= expect
    if not expect:
        assert parsed.nodes == () and spans.pick(parsed, 0, 0, random.Random(0)) is None
    for n in parsed.nodes:  # never a lone half of a CRLF pair
        middle = text[n.start:n.end]
        assert not middle.startswith("\n") and not middle.endswith("\r")


def test_jsx_uses_the_javascript_grammar(spans):
    text = "const App = () => <div className=\"x\">{items.map((i) => <Item key={i} />)}</div>;\n"
    parsed = spans.parse(text, "JSX")
    assert parsed.reason is None and any(text[n.start:n.end] == "items.map((i) => <Item key={i} />)"
                                         for n in parsed.nodes)


def test_length_bounds_and_chunk_bounds(spans):
    text, _, _ = SOURCES["Python"]
    parsed = spans.parse(text, "Python")
    short = StructureSpans(max_middle_chars=12, min_middle_chars=5)
    rng = random.Random(1)
    for _ in range(100):
        a, b, _ = short.pick(parsed, 0, len(text), rng)
        assert 5 <= b - a <= 12
    start = text.index("def total")
    for _ in range(100):  # only nodes inside [start, end) of the chunk; offsets chunk-relative
        a, b, _ = spans.pick(parsed, start, len(text), rng)
        assert 0 <= a < b <= len(text) - start
    assert spans.pick(parsed, 0, 3, rng) is None


def test_spans_pickle_without_parsers(spans):
    restored = pickle.loads(pickle.dumps(spans))
    assert restored._parsers is None and restored.max_middle_chars == spans.max_middle_chars
    assert restored.parse("x = 1\n", "Python").reason is None  # built again on first use
    with pytest.raises(ValueError, match="no grammar"):
        StructureSpans(languages=["Rust"])
    for bad in ({"max_middle_chars": 0}, {"min_middle_chars": None}, {"max_middle_chars": "4k"}):
        with pytest.raises(ValueError, match="positive integer"):
            StructureSpans(**bad)


# --- the file-level step: fallbacks counted --------------------------------------------------------


def run_file(content, lang, path="src/f", span="structure", chunk_chars=16384, fim_rate=1.0):
    settings = FimSettings(fim_rate=fim_rate, span=span, chunk_chars=chunk_chars)
    step = FileExamples(settings, StructureSpans())
    step.setup()
    events = step({"repo": "acme/x", "ref": "refs/heads/main", "path": path, "sha": "0" * 40, "lang": lang,
                   "license": "mit", "content": content})
    counters = {}
    for e in events:
        if isinstance(e, Count):
            counters[e.counter] = counters.get(e.counter, 0) + e.value
    rows = [e for e in events if isinstance(e, dict)]
    return rows, counters


def test_parse_failure_falls_back_to_random_spans_and_is_counted():
    rows, counters = run_file("def broken(:\n    return )\n" * 3, "Python")
    assert counters["fim/parse/Python/parse_error"] == 1
    assert counters["fim/structure_fallback/parse_error"] == 1
    assert rows[0]["span_kind"] == "random" and rows[0]["mode"] in ("psm", "spm")
    assert rows[0]["prefix"] + rows[0]["middle"] + rows[0]["suffix"] == "def broken(:\n    return )\n" * 3


def test_unsupported_language_and_no_node_fall_back_counted():
    _, counters = run_file("SELECT 1;\n", "SQL")
    assert counters["fim/structure_fallback/unsupported_language"] == 1 and not any(
        k.startswith("fim/parse/") for k in counters)
    rows, counters = run_file("", "Python")
    assert counters == {"fim/files": 1, "fim/chunks": 1, "fim/parse/Python/ok": 1,
                        "fim/structure_fallback/no_node": 1, f"fim/mode/{rows[0]['mode']}": 1,
                        "fim/span_kind/Python/random": 1}
    assert rows[0]["prefix"] == rows[0]["middle"] == rows[0]["suffix"] == ""


@pytest.mark.parametrize("lang", sorted(SOURCES))
def test_chunked_file_parses_once_and_keeps_every_chunk_whole(lang):
    text = SOURCES[lang][0] * 4
    rows, counters = run_file(text, lang, chunk_chars=200)
    assert counters["fim/parse/" + lang + "/ok"] == 1  # one parse per file, not per chunk
    assert len(rows) == counters["fim/chunks"] > 1
    assert "".join(r["prefix"] + r["middle"] + r["suffix"] for r in rows) == text
    for r in rows:
        assert text[r["offset"]:r["offset"] + len(r["prefix"] + r["middle"] + r["suffix"])] == \
            r["prefix"] + r["middle"] + r["suffix"]
    kinds = {r["span_kind"] for r in rows}
    assert kinds - {"random"}, kinds


def test_mix_gives_both_span_sources_at_the_configured_share():
    text = SOURCES["Python"][0]
    structured = 0
    n = 400
    for i in range(n):
        rows, _ = run_file(text, "Python", path=f"f{i}.py", span="mix")
        structured += rows[0]["span_kind"] != "random"
    assert 0.4 * n < structured < 0.6 * n


def test_random_span_mode_never_parses():
    rows, counters = run_file(SOURCES["Go"][0], "Go", span="random")
    assert not any(k.startswith("fim/parse/") for k in counters) and rows[0]["span_kind"] == "random"
