"""Every filter rule, as a pure function on records (REFERENCE.md §2)."""

import pytest

from codecorpus.config import ConfigError, default_config, load_config
from codecorpus.core.filters import FilterChain, build_chain
from codecorpus.commits.filters import (COMMIT_FILTERS, EXCLUDED_MESSAGES, BinaryFilter, LanguageFilter, LicenceFilter, MessageFilter, SingleFileFilter, SizeFilter)
from codecorpus.commits.ft_filters import BumpFilter, LengthFilter, SubjectFilter, clean_subject, subject_core


def diff(old_path="a.py", new_path="a.py", old_sha1="1" * 40, new_sha1="2" * 40):
    return {"old_path": old_path, "new_path": new_path, "old_sha1": old_sha1, "new_sha1": new_sha1}


# --- single_file ---------------------------------------------------------------------------

@pytest.mark.parametrize("difference, truncated, reason", [
    ([diff()], None, None),
    ([], None, "no_files"),
    ([diff(), diff("b.py", "b.py")], None, "multiple_files"),
    ([diff(old_path=None, old_sha1=None)], None, "added_file"),
    ([diff(new_path=None, new_sha1=None)], None, "deleted_file"),
    ([diff(old_path="a.py", new_path="b.py")], None, "renamed_file"),
    ([diff(old_sha1=None)], None, "missing_sha"),
    ([diff()], True, "difference_truncated"),
])
def test_single_file(difference, truncated, reason):
    record = {"difference": difference, "difference_truncated": truncated}
    assert SingleFileFilter().drop_reason(record) == reason


# --- message -------------------------------------------------------------------------------

@pytest.mark.parametrize("message, reason", [
    ("Fix the parser for empty input\n", None),
    ("12345", "too_short"),                     # length must be > 5
    ("\n  12345 \n", "too_short"),              # surrounding whitespace does not count
    ("123456", None),
    ("x" * 9999, None),
    ("x" * 10000, "too_long"),                  # and < 10,000
    ("Initial commit\n", "excluded_message"),
    ("UPDATE README.md", "excluded_message"),
    ("can't you see i'm updating the time?", "excluded_message"),
    ("Merge branch 'main' into dev", "excluded_prefix"),
    ("merged the thing properly", "excluded_prefix"),  # CommitPack: anything starting with "merge"
    (None, "too_short"),
])
def test_message(message, reason):
    assert MessageFilter().drop_reason({"message": message}) == reason


def test_message_excluded_list_is_commitpacks():
    assert len(EXCLUDED_MESSAGES) == 24
    for message in EXCLUDED_MESSAGES:
        if len(message) > 5:
            assert MessageFilter().drop_reason({"message": message.title()}) == "excluded_message"


# --- lang ----------------------------------------------------------------------------------

def test_lang_known_unknown_and_allow_list():
    record = lambda path: {"difference": [diff(path, path)]}  # noqa: E731
    assert LanguageFilter().drop_reason(record("src/x.py")) is None
    assert LanguageFilter().drop_reason(record("Makefile")) is None
    assert LanguageFilter().drop_reason(record("data.xyz123")) == "unknown_language"
    assert LanguageFilter(unknown="keep").drop_reason(record("data.xyz123")) is None
    assert LanguageFilter(allow=["Go"]).drop_reason(record("x.py")) == "language_not_allowed"
    assert LanguageFilter(allow=["Go"]).drop_reason(record("main.go")) is None
    with pytest.raises(TypeError):
        LanguageFilter(unknown="maybe")


# --- licence -------------------------------------------------------------------------------

def test_licence():
    f = LicenceFilter()
    assert f.drop_reason({"_licenses": [("a/b", "mit")]}) is None
    assert f.drop_reason({"_licenses": [("a/b", "MIT")]}) is None
    assert f.drop_reason({"_licenses": [("a/b", "gpl-2.0")]}) == "licence_not_allowed"
    assert f.drop_reason({"_licenses": [("a/b", None)]}) == "unknown_licence"
    assert f.drop_reason({"_licenses": []}) == "unknown_licence"
    # A commit in two repositories is kept when one of them is permissively licensed.
    assert f.drop_reason({"_licenses": [("a/b", "gpl-3.0"), ("c/d", "apache-2.0")]}) is None
    assert LicenceFilter(allow=["gpl-2.0"]).drop_reason({"_licenses": [("a/b", "gpl-2.0")]}) is None


# --- binary and size -----------------------------------------------------------------------

def blobs(old, new):
    return {"_old_blob": old, "_new_blob": new}


def test_binary():
    text = {"content": "hello", "binary": False, "size": 5}
    assert BinaryFilter().drop_reason(blobs(text, text)) is None
    assert BinaryFilter().drop_reason(blobs(text, {"content": None, "binary": True, "size": 9})) == "binary_content"
    assert BinaryFilter().drop_reason(blobs({"content": "a\x00b", "binary": False}, text)) == "binary_content"


def test_size():
    small = {"content": "x" * 10, "size": 10}
    assert SizeFilter(max_bytes=10).drop_reason(blobs(small, small)) is None
    assert SizeFilter(max_bytes=9).drop_reason(blobs(small, small)) == "too_large"
    # size measured from the text when the dump has none; UTF-8 bytes, not characters
    assert SizeFilter(max_bytes=10).drop_reason(blobs(small, {"content": "é" * 6, "size": None})) == "too_large"
    assert SizeFilter().drop_reason(blobs(small, {"content": None, "size": 2_000, "binary": False})) == "content_unavailable"


# --- CommitPackFT subject ------------------------------------------------------------------

def ft_row(subject, new_file="src/parser.py"):
    return {"subject": subject, "new_file": new_file, "commit": "a" * 40}


@pytest.mark.parametrize("subject, reason", [
    ("Fix crash when the input is empty", None),
    ("Add retry with backoff to the client", None),
    ("[core] Fix crash when the input is empty", None),        # leading [tag] stripped
    ("docs: Clarify the install steps for Windows", None),      # leading word: stripped
    ("Fix crash when the input is empty [ci skip]", None),      # [ci skip] removed
    ("update readme", "excluded_subject"),
    ("Updated README", "excluded_subject"),
    ("Fix crash, see https://example.org/x for details", "excluded_substring"),
    ("Merge pull request from the fork into main", "excluded_substring"),
    ("Fix crash reported in issue 42 by users", "excluded_substring"),
    ("Fix crash reported in bug #42 by users", "excluded_substring"),
    ("Revert 0123456789abcdef0123456789abcdef01234567 because it broke", "excluded_substring"),
    ("Fix what I broke in the last change", "excluded_substring"),   # " i "
    ("Fix crash when the input is empty (#123)", "has_hash"),
    ("Fix crash in parser when input is empty", "contains_file_stem"),
    ("Fix crash", "char_length"),                               # 9 chars: must be > 10
    ("Fix the crashing", "word_count"),                         # 3 words: must be > 4
    ("Fix the crash now", "word_count"),                        # 4 words: still not > 4
    ("fix crash when the input is empty", "not_capitalised"),
    ("Crash fixed when the input is empty", "not_imperative"),
    ("The crash when the input is empty is gone", "not_imperative"),
])
def test_ft_subject(subject, reason):
    assert SubjectFilter().drop_reason(ft_row(subject)) == reason


def test_subject_helpers():
    assert clean_subject("Fix X [ci skip]") == "Fix X"
    assert clean_subject("[CI SKIP] Fix X") == "Fix X"
    assert subject_core("[tag] Fix the thing [wip]") == "Fix the thing"
    assert subject_core("scope: Fix the thing") == "Fix the thing"


# --- CommitPackFT bump ---------------------------------------------------------------------

def test_ft_bump_drops_about_ninety_percent_deterministically():
    f = BumpFilter(rate=0.9, seed=0)
    rows = [{"subject": "Bump lodash from 1.0 to 1.1", "commit": f"{i:040x}"} for i in range(2000)]
    decisions = [f.drop_reason(r) for r in rows]
    dropped = sum(d == "version_bump" for d in decisions)
    assert 0.87 < dropped / len(rows) < 0.93
    assert decisions == [f.drop_reason(r) for r in rows]                  # same commit, same decision
    assert [BumpFilter(seed=1).drop_reason(r) for r in rows] != decisions  # the seed matters
    for prefix in ("Set version to 2.0.0 for release", "Update version number to 2"):
        assert sum(f.drop_reason({"subject": prefix, "commit": r["commit"]}) is not None for r in rows[:200]) > 150
    assert f.drop_reason({"subject": "Fix bumpy scrolling on mobile", "commit": "0" * 40}) is None
    assert BumpFilter(rate=0.0).drop_reason(rows[0]) is None
    assert BumpFilter(rate=1.0).drop_reason(rows[0]) == "version_bump"


# --- CommitPackFT length -------------------------------------------------------------------

@pytest.mark.parametrize("old, new, reason", [
    ("a" * 200, "b" * 200, None),
    ("a" * 50_000, "b" * 10, "old_too_long"),
    ("a" * 100, "", "new_empty"),
    ("a" * 200, "a" * 200, "unchanged"),
    ("a" * 20, "b" * 20, "too_short"),          # 40 chars / 3.5 < 50 tokens
    ("a" * 1500, "b" * 1500, "too_long"),       # 3000 chars / 3.5 > 768 tokens
])
def test_ft_length_in_characters(old, new, reason):
    assert LengthFilter().drop_reason({"old_contents": old, "new_contents": new}) == reason


def test_ft_length_with_a_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    tok = tokenizers.Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    f = LengthFilter(tokenizer=str(path), min_tokens=5, max_tokens=10)
    assert f.drop_reason({"old_contents": "a a", "new_contents": "b b"}) == "too_short"
    assert f.drop_reason({"old_contents": "a a a", "new_contents": "b b b"}) is None
    assert f.drop_reason({"old_contents": "a " * 6, "new_contents": "b " * 6}) == "too_long"


# --- chains and configuration --------------------------------------------------------------

def test_chain_reports_the_first_filter_that_drops():
    chain = FilterChain([SingleFileFilter(), MessageFilter()])
    assert chain.first_drop({"difference": [], "message": "wip"}) == ("single_file", "no_files")
    assert chain.first_drop({"difference": [diff()], "message": "wip"}) == ("message", "too_short")
    assert chain.first_drop({"difference": [diff()], "message": "Fix the parser"}) is None


def test_disable_filter_and_config_errors(tmp_path):
    config = load_config(None, ["message"])
    assert config["commits"]["filters"]["message"]["enabled"] is False
    commit_filters = {n: p for n, p in config["commits"]["filters"].items() if n in COMMIT_FILTERS}
    assert build_chain(COMMIT_FILTERS, commit_filters).names == ["single_file", "lang"]
    assert load_config(None, ["ft_bump"])["commits"]["ft_filters"]["ft_bump"]["enabled"] is False
    with pytest.raises(ConfigError, match="unknown filter 'nope'"):
        load_config(None, ["nope"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("commits:\n  filters:\n    size:\n      max_byte: 5\n")
    with pytest.raises(ConfigError, match="commits.filters.size.max_byte"):
        load_config(str(bad))
    good = tmp_path / "good.yaml"
    good.write_text("commits:\n  filters:\n    size:\n      max_bytes: 5\n    licence:\n      allow: [gpl-2.0]\n")
    config = load_config(str(good))
    assert config["commits"]["filters"]["size"]["max_bytes"] == 5
    assert config["commits"]["filters"]["licence"]["allow"] == ["gpl-2.0"]
    assert config["commits"]["filters"]["message"] == default_config()["commits"]["filters"]["message"]
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))
