"""FIM on pure functions (REFERENCE §5): split invariants, renderings, token sets, rates,
determinism and chunking, on awkward texts (empty, one line, CRLF, non-ASCII)."""

from __future__ import annotations

import math
import pickle

import pytest

from codecorpus.fim import render as fim
from codecorpus.fim.render import Chunk, FimSettings, TokenSet

AWKWARD = {
    "empty": "",
    "one_char": "x",
    "one_line": "print('hello')",
    "one_line_nl": "print('hello')\n",
    "crlf": "def f(x):\r\n    return x + 1\r\n\r\nprint(f(2))\r\n",
    "non_ascii": "# Grüße, 日本語, emoji 🐍🚀\ns = 'ça coûte 5 €'\nπ = 3.14159  # 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\n",
    "combining": "e\u0301te\u0301 = 'cafe\u0301'\n",
    "only_newlines": "\n\n\n",
}


def assert_valid(example: fim.Example, doc: str, tokens: TokenSet = fim.TOKEN_SETS["starcoder"]) -> None:
    assert example.prefix + example.middle + example.suffix == doc
    for part in (example.prefix, example.middle, example.suffix, example.text):
        part.encode("utf-8")  # a cut surrogate pair or lone surrogate would raise here
    assert example.text == fim.render(example.mode, example.prefix, example.middle, example.suffix, tokens)


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_every_example_reassembles_its_document(name):
    doc = AWKWARD[name]
    for rate in (0.0, 0.5, 1.0):
        settings = FimSettings(fim_rate=rate)
        for i in range(200):
            example = fim.fim_example(doc, settings, repo="r/r", path=f"f{i}.py", sha="s")
            assert_valid(example, doc)
            if rate == 0.0:
                assert example.mode == "none" and example.span_kind == "none" and example.prefix == doc


def test_split_points_are_character_positions_never_inside_a_utf8_sequence():
    doc = AWKWARD["non_ascii"]
    seen_cuts = set()
    for i in range(2000):
        example = fim.fim_example(doc, FimSettings(fim_rate=1.0), path=str(i))
        assert_valid(example, doc)
        a, b = len(example.prefix), len(example.prefix) + len(example.middle)
        seen_cuts |= {a, b}
        # Each piece is whole UTF-8: its bytes decode back to itself.
        for part in (example.prefix, example.middle, example.suffix):
            assert part.encode("utf-8").decode("utf-8") == part
    assert seen_cuts == set(range(len(doc) + 1))  # every character position, both ends included


def test_psm_and_spm_renderings_are_exactly_reference_section_5():
    sc, cl = fim.TOKEN_SETS["starcoder"], fim.TOKEN_SETS["codellama"]
    assert fim.render("psm", "P", "M", "S", sc) == "<fim_prefix>P<fim_suffix>S<fim_middle>M<|endoftext|>"
    assert fim.render("spm", "P", "M", "S", sc) == "<fim_prefix><fim_suffix>S<fim_middle>PM"
    assert fim.render("none", "doc", "", "", sc) == "doc<|endoftext|>"
    assert fim.render("psm", "P", "M", "S", cl) == "<PRE>P<SUF>S<MID>M<EOT>"
    assert fim.render("spm", "P", "M", "S", cl) == "<PRE><SUF>S<MID>PM"
    assert (fim.render("spm", "P", "M", "S", sc, eot_after=("psm", "spm"))
            == "<fim_prefix><fim_suffix>S<fim_middle>PM<|endoftext|>")
    assert fim.render("psm", "P", "M", "S", sc, eot_after=()) == "<fim_prefix>P<fim_suffix>S<fim_middle>M"
    assert (sc.prefix, sc.suffix, sc.middle, sc.pad) == ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>")
    assert (cl.prefix, cl.suffix, cl.middle, cl.eot) == ("<PRE>", "<SUF>", "<MID>", "<EOT>")
    with pytest.raises(ValueError, match="unknown FIM mode"):
        fim.render("pms", "P", "M", "S", sc)


def test_rendered_example_matches_its_parts():
    doc = "def add(a, b):\n    return a + b\n"
    for i in range(50):
        e = fim.fim_example(doc, FimSettings(fim_rate=1.0), path=str(i))
        if e.mode == "psm":
            assert e.text == f"<fim_prefix>{e.prefix}<fim_suffix>{e.suffix}<fim_middle>{e.middle}<|endoftext|>"
        else:
            assert e.text == f"<fim_prefix><fim_suffix>{e.suffix}<fim_middle>{e.prefix}{e.middle}"


def test_custom_token_sets_from_config():
    custom = {"mine": {"prefix": "<|fim_begin|>", "suffix": "<|fim_hole|>", "middle": "<|fim_end|>",
                       "eot": "<|end|>", "pad": None}}
    tokens = fim.token_set("mine", custom)
    assert fim.render("psm", "P", "M", "S", tokens) == "<|fim_begin|>P<|fim_hole|>S<|fim_end|>M<|end|>"
    assert fim.token_set("codellama", custom) is fim.TOKEN_SETS["codellama"]
    with pytest.raises(ValueError, match="unknown token set 'nope'"):
        fim.token_set("nope", custom)
    with pytest.raises(ValueError, match="missing"):
        fim.token_set("bad", {"bad": {"prefix": "<p>"}})
    with pytest.raises(ValueError, match="unknown"):
        fim.token_set("bad", {"bad": {**custom["mine"], "typo": "x"}})


def test_settings_validate_and_come_from_config():
    from codecorpus.config import default_config

    settings = FimSettings.from_config(default_config()["files"]["fim"])
    assert (settings.fim_rate, settings.spm_rate, settings.span) == (0.5, 0.5, "random")
    assert settings.tokens.name == "starcoder"
    assert settings.structure_share == 0.0
    assert FimSettings(span="structure").structure_share == 1.0
    assert FimSettings(span="mix", structure_rate=0.3).structure_share == 0.3
    for bad in ({"fim_rate": 1.5}, {"spm_rate": -0.1}, {"span": "ast"}, {"eot_after": ("psm", "xyz")},
                {"chunk_chars": 0}):
        with pytest.raises(ValueError):
            FimSettings(**bad)


def _share_within(observed: int, n: int, p: float) -> bool:
    """Within 4.5 standard deviations of a binomial(n, p) mean (false alarm ~ 1e-5)."""
    return abs(observed - n * p) <= 4.5 * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("fim_rate,spm_rate", [(0.5, 0.5), (0.9, 0.5), (0.2, 0.8), (1.0, 0.0)])
def test_fim_and_spm_rates_hold_statistically(fim_rate, spm_rate):
    n = 4000
    settings = FimSettings(fim_rate=fim_rate, spm_rate=spm_rate)
    modes = [fim.fim_example("abc\n", settings, repo="acme/x", path=f"src/f{i}.py", sha="0" * 40).mode
             for i in range(n)]
    fim_count = sum(m != "none" for m in modes)
    spm_count = sum(m == "spm" for m in modes)
    assert _share_within(fim_count, n, fim_rate)
    assert _share_within(spm_count, fim_count, spm_rate) if fim_count else spm_count == 0


def test_split_points_are_uniform():
    """Both split points are uniform over 0..n, so P(a == 0) = 1 - (n/(n+1))**2 (the min of two)."""
    doc, n, runs = "abcd", 4, 6000
    zero = sum(len(fim.fim_example(doc, FimSettings(fim_rate=1.0), path=str(i)).prefix) == 0 for i in range(runs))
    assert _share_within(zero, runs, 1 - (n / (n + 1)) ** 2)


def test_examples_are_seeded_per_file_and_chunk():
    doc = AWKWARD["non_ascii"] * 3
    settings = FimSettings(fim_rate=1.0)
    first = fim.fim_example(doc, settings, repo="a/b", path="x.py", sha="1" * 40)
    assert fim.fim_example(doc, settings, repo="a/b", path="x.py", sha="1" * 40) == first
    assert pickle.loads(pickle.dumps(first)) == first
    others = {fim.fim_example(doc, settings, repo="a/b", path="x.py", sha="1" * 40, chunk=c) for c in range(1, 6)}
    others |= {fim.fim_example(doc, settings, repo="a/b", path="y.py", sha="1" * 40),
               fim.fim_example(doc, settings, repo="a/b", path="x.py", sha="2" * 40),
               fim.fim_example(doc, FimSettings(fim_rate=1.0, seed=1), repo="a/b", path="x.py", sha="1" * 40)}
    assert first not in others and len(others) >= 6
    # The stream is fixed by the key alone (no process state): known values guard reruns across
    # Python versions and machines.
    assert fim.example_rng(0, "a/b", "x.py", "1" * 40).random() == 0.5093182682737993
    pinned = fim.fim_example("hello world\n", settings, repo="a/b", path="x.py", sha="1" * 40)
    assert (pinned.mode, pinned.prefix, pinned.middle, pinned.suffix) == ("psm", "he", "", "llo world\n")


@pytest.mark.parametrize("name", sorted(AWKWARD))
def test_chunks_cover_the_text_at_line_ends(name):
    text = AWKWARD[name] * 7
    for size in (1, 3, 10, 25, 10_000, None):
        pieces = fim.chunks(text, size)
        assert "".join(c.text for c in pieces) == text
        assert [c.index for c in pieces] == list(range(len(pieces)))
        assert all(text[c.offset:c.offset + len(c.text)] == c.text for c in pieces)
        if size:
            assert all(0 < len(c.text) <= size for c in pieces) or text == ""
            # a chunk ends at a line end unless a line is longer than a chunk
            for c in pieces[:-1]:
                line_fits = "\n" in c.text
                assert c.text.endswith("\n") or not line_fits


def test_small_file_is_one_chunk_and_long_line_is_cut():
    assert fim.chunks("abc\n", 100) == [Chunk(0, 0, "abc\n")]
    assert fim.chunks("", 100) == [Chunk(0, 0, "")]
    assert [c.text for c in fim.chunks("x" * 10 + "\n", 4)] == ["xxxx", "xxxx", "xx\n"]
    assert [c.text for c in fim.chunks("ab\r\ncd\r\nef\r\n", 8)] == ["ab\r\ncd\r\n", "ef\r\n"]


def test_custom_token_set_through_the_config_file(tmp_path):
    from codecorpus.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text("files:\n  fim:\n    token_set: mine\n    eot_after: [psm, spm, none]\n    token_sets:\n"
                    "      mine: {prefix: '<|fim_begin|>', suffix: '<|fim_hole|>', middle: '<|fim_end|>',\n"
                    "             eot: '<|end|>'}\n")
    settings = FimSettings.from_config(load_config(str(path))["files"]["fim"])
    assert settings.tokens == TokenSet("mine", "<|fim_begin|>", "<|fim_hole|>", "<|fim_end|>", "<|end|>", None)
    example = fim.fim_example("abc", FimSettings(**{**vars(settings), "fim_rate": 1.0, "spm_rate": 1.0}))
    e = example
    assert e.text == f"<|fim_begin|><|fim_hole|>{e.suffix}<|fim_end|>{e.prefix}{e.middle}<|end|>"
