"""Every filter rule, as a pure function on records (REFERENCE.md §2: the rules of the original
OctoPack scripts, cited per test)."""

import json

import pytest

from codecorpus.config import ConfigError, default_config, load_config
from codecorpus.core.filters import FilterChain, build_chain
from codecorpus.commits.filters import (COMMIT_FILTERS, EXCLUDED_MESSAGES, BinaryFilter, ControlCharsFilter,
                                       LanguageFilter, LicenceFilter, MessageFilter, OptOutFilter,
                                       SingleFileFilter, SizeFilter, commitpack_rules)
from codecorpus.commits.commitpack import KEPT_WITH_OTHER_CHANGES, commit_filter_events, commitpack_row
from codecorpus.commits.ft_filters import BumpFilter, LengthFilter, SubjectFilter, clean_subject
from codecorpus.commits.verbs import COMMITPACKFT_VERBS
from codecorpus.core.routing import Count, Drop

from conftest import SHARED

REFERENCE = SHARED / "reference"


def diff(old_path="a.py", new_path="a.py", old_sha1="1" * 40, new_sha1="2" * 40, old_mode=33188, new_mode=33188):
    return {"old_path": old_path, "new_path": new_path, "old_sha1": old_sha1, "new_sha1": new_sha1,
            "old_mode": old_mode, "new_mode": new_mode}


ADDED = diff("new.md", "new.md", old_sha1=None)
ADDED["old_path"] = ADDED["old_mode"] = None


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
    # sql_4 + sql_5 (REFERENCE §2 "Single file"): one in-place modification, other entries allowed.
    ([diff(), ADDED], None, None),
    ([diff(new_path=None, new_sha1=None), diff("b.py", "b.py"), diff("c.py", "d.py")], None, None),
    ([ADDED, diff(old_path="a.py", new_path="b.py")], None, "no_modified_file"),
])
def test_single_file_commitpack_mode(difference, truncated, reason):
    record = {"difference": difference, "difference_truncated": truncated}
    assert SingleFileFilter().drop_reason(record) == reason


def test_single_file_strict_mode_counts_what_commitpack_keeps():
    record = {"difference": [diff(), ADDED]}
    assert SingleFileFilter(mode="strict").drop_reason(record) == "other_changes"
    assert SingleFileFilter(mode="strict").drop_reason({"difference": [diff()]}) is None
    # Both outcomes are counted: commitpack keeps it and counts it, strict drops it as other_changes.
    chain = FilterChain([SingleFileFilter()])
    events = commit_filter_events({**record, "commit": "c", "subject": "x"}, chain)
    assert Count(KEPT_WITH_OTHER_CHANGES) in events and events[0]["_lang"] == "Python"
    assert commit_filter_events({**record, "commit": "c"}, FilterChain([SingleFileFilter("strict")])) == \
        [Drop("filter/single_file/other_changes")]
    with pytest.raises(TypeError):
        SingleFileFilter(mode="loose")


def test_single_file_row_is_made_of_the_in_place_modification():
    commit = {"commit": "c", "difference": [ADDED, diff("src/x.go", "src/x.go")], "repo_name": ["o/r"],
              "_licenses": [("o/r", "mit")], "_old_blob": {"content": "a"}, "_new_blob": {"content": "b"}}
    row = commitpack_row(commit, FilterChain([LicenceFilter()]))
    assert (row["old_file"], row["new_file"], row["lang"]) == ("src/x.go", "src/x.go", "Go")


# Issue 14 item 6, issue 15 item 7: gitlinks and symlinks are not file contents.
@pytest.mark.parametrize("entry, reason", [
    (diff("vendor/lib", "vendor/lib", old_mode=0o160000, new_mode=0o160000), "submodule"),
    (diff("link", "link", old_mode=0o120000, new_mode=0o120000), "symlink"),
    (diff("a.py", "a.py", old_mode=0o100644, new_mode=0o120000), "symlink"),   # file -> symlink
    (diff("a.py", "a.py", old_mode=0o120000, new_mode=0o100755), "symlink"),   # symlink -> file
    (diff("lib", "lib", old_mode=0o100644, new_mode=0o160000), "submodule"),
    (diff("run.sh", "run.sh", old_mode=0o100644, new_mode=0o100755), None),    # chmod +x is an edit
])
def test_single_file_drops_submodules_and_symlinks(entry, reason):
    assert SingleFileFilter().drop_reason({"difference": [entry]}) == reason
    assert SingleFileFilter("strict").drop_reason({"difference": [entry]}) == reason


def test_shallow_boundary_is_not_no_files():
    # io/git.py gives a shallow clone's boundary commit no entries and difference_truncated: its
    # parent is not in the clone, so its change is unknown, not empty.
    assert SingleFileFilter().drop_reason({"difference": [], "difference_truncated": True}) == "shallow_boundary"
    assert SingleFileFilter().drop_reason({"difference": [], "difference_truncated": None}) == "no_files"


# --- message -------------------------------------------------------------------------------

@pytest.mark.parametrize("message, reason", [
    ("Fix the parser for empty input\n", None),
    ("12345", "too_short"),                     # LENGTH(message) > 5 (sql_1) …
    ("\n  12345 \n", None),                     # … on the raw message: 10 characters
    ("\n 1 \n", "too_short"),
    ("123456", None),
    ("x" * 9999, None),
    ("x" * 10000, "too_long"),                  # and < 10,000
    ("Initial commit\n", None),                 # NOT LIKE 'initial commit' on the raw message
    ("Initial commit", "excluded_message"),
    ("UPDATE README.md", "excluded_message"),
    ("UPDATE README.md\n", None),
    ("can't you see i'm updating the time?", "excluded_message"),
    ("Update Xconfig.yaml", "excluded_message"),   # '_' is a LIKE wildcard
    ("Merge branch 'main' into dev", "excluded_prefix"),
    ("merged the thing properly", "excluded_prefix"),  # LIKE 'merge%'
    ("please", "excluded_message"),             # scrape_github.py's exact list
    ("please\n", "excluded_message"),
    ("lalala", "excluded_message"),
    ("Lalala", None),                           # … compared case-sensitively
    ("Update a.py", "update_file"),             # message == "Update " + old_file
    ("Update a.py\n", None),
    ("Update b.py", None),
    (None, "too_short"),
])
def test_message_original(message, reason):
    assert MessageFilter().drop_reason({"message": message, "difference": [diff()]}) == reason


@pytest.mark.parametrize("message, reason", [
    ("\n  12345 \n", "too_short"),
    ("Initial commit\n", "excluded_message"),
    ("please\n\n", "excluded_message"),
    ("Update a.py\n", "update_file"),
    ("Fix the parser for empty input\n", None),
])
def test_message_stripped(message, reason):
    assert MessageFilter(compare="stripped").drop_reason({"message": message, "difference": [diff()]}) == reason


def test_message_excluded_list_is_commitpacks():
    assert len(EXCLUDED_MESSAGES) == 24
    for message in EXCLUDED_MESSAGES:
        if len(message) > 5:
            assert MessageFilter().drop_reason({"message": message.title()}) == "excluded_message"


def test_message_like_patterns_refuse_backslashes():
    with pytest.raises(ConfigError, match="backslash"):
        MessageFilter(excluded=["a\\%"])
    assert MessageFilter(excluded=["fix%bug"]).drop_reason({"message": "Fix that\nbug"}) == "excluded_message"


# --- optout --------------------------------------------------------------------------------

def test_optout_owners_are_the_originals():
    owners = commitpack_rules()["optout_owners"]
    assert len(owners) == 44
    if (REFERENCE / "commitpack_rules.json").is_file():
        assert owners == json.loads((REFERENCE / "commitpack_rules.json").read_text())["optout_owners"]
    f = OptOutFilter()
    assert f.drop_reason({"repo_name": ["tomas/tool"]}) == "opted_out_owner"
    assert f.drop_reason({"repo_name": ["DrTimothyAldenDavis/x", "DrTimothyAldenDavis/x"]}) == "opted_out_owner"
    assert f.drop_reason({"repo_name": ["drtimothyaldendavis/x"]}) == "opted_out_owner"
    assert f.drop_reason({"repo_name": ["tomas/tool", "fork/tool"]}) is None   # single-repository only
    assert f.drop_reason({"repo_name": ["psf/requests"]}) is None
    assert OptOutFilter(owners=["psf"]).drop_reason({"repo_name": ["psf/requests"]}) == "opted_out_owner"


# --- control_chars (issue 15 item 8) -------------------------------------------------------

@pytest.mark.parametrize("path, subject, reason", [
    ("src/a.py", "Fix the parser", None),
    ("src/a.py", "Fix\tthe parser", None),
    ("src/a\x00.py", "Fix the parser", "path"),
    ("src/\x1b[31mred\x1b[0m.py", "Fix the parser", "path"),
    ("src/a\n.py", "Fix the parser", "path"),
    ("src/a.py", "Fix \x1b[2J the parser", "subject"),
    ("src/a.py", "Fix the parser\rSigned-off", "subject"),
    ("src/a.py", "Fix the\u2028parser", "subject"),
    ("src/a.py", "Fix the \x00 parser", "subject"),
])
def test_control_characters(path, subject, reason):
    record = {"difference": [diff(path, path)], "subject": subject}
    assert ControlCharsFilter().drop_reason(record) == reason


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


def test_lang_uses_commitpacks_table_by_default():
    record = lambda path: {"difference": [diff(path, path)]}  # noqa: E731
    f = LanguageFilter()
    # Paths our own table called unknown, which CommitPack's (scrape_github.py) keeps.
    for path, lang in [("Cargo.lock", "JSON"), ("pom.xml", "XML"), ("app.csproj", "XML"), ("x.tsx", "TypeScript"),
                       ("run.bats", "Shell"), ("CMakeLists.txt", "CMake"), ("Dockerfile", "Dockerfile")]:
        assert f.drop_reason(record(path)) is None, path
        assert f.language_of(record(path)) == lang, path
    assert f.drop_reason(record("FOO.PY")) == "unknown_language"    # endswith() is case-sensitive
    assert LanguageFilter(table="codecorpus").language_of(record("x.tsx")) == "TSX"
    assert LanguageFilter(table="codecorpus").drop_reason(record("Cargo.lock")) == "unknown_language"


def test_lang_table_from_a_json_file(tmp_path):
    path = tmp_path / "langs.json"
    path.write_text(json.dumps({"Pythonish": [".py"], "Config": [".cfg"]}))
    f = LanguageFilter(table=str(path))
    assert f.language_of({"difference": [diff("a/b.py", "a/b.py")]}) == "Pythonish"
    assert f.drop_reason({"difference": [diff("a/b.go", "a/b.go")]}) == "unknown_language"
    with pytest.raises(TypeError, match="language table"):
        LanguageFilter(table="klingon")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"X": ".py"}))
    with pytest.raises(TypeError, match="language -> list"):
        LanguageFilter(table=str(bad))


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


def test_licence_two_allowed_licences():
    # sql_2 keeps one row per (commit, licence), sql_5 one row per commit: two allowed licences drop it.
    two = {"_licenses": [("a/b", "mit"), ("c/d", "apache-2.0")]}
    assert LicenceFilter().drop_reason(two) == "multiple_licences"
    assert LicenceFilter(multiple="first").drop_reason(two) is None
    assert LicenceFilter().drop_reason({"_licenses": [("a/b", "mit"), ("c/d", "MIT")]}) is None


# --- binary and size -----------------------------------------------------------------------

def blobs(old, new):
    return {"_old_blob": old, "_new_blob": new}


def test_binary():
    text = {"content": "hello", "binary": False, "size": 5}
    assert BinaryFilter().drop_reason(blobs(text, text)) is None
    assert BinaryFilter().drop_reason(blobs(text, {"content": None, "binary": True, "size": 9})) == "binary_content"
    assert BinaryFilter().drop_reason(blobs({"content": "a\x00b", "binary": False}, text)) == "binary_content"


LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
               "size 12345\n")


def test_lfs_pointers_are_dropped():
    # Issue 14 item 6: an LFS pointer is a stub for contents kept elsewhere, not the file.
    text = {"content": "hello", "binary": False}
    pointer = {"content": LFS_POINTER, "binary": False}
    assert BinaryFilter().drop_reason(blobs(text, pointer)) == "lfs_pointer"
    assert BinaryFilter().drop_reason(blobs(pointer, text)) == "lfs_pointer"
    ext = LFS_POINTER.replace("oid", "ext-0-foo sha256:" + "0" * 64 + "\noid")
    assert BinaryFilter().drop_reason(blobs(text, {"content": ext})) == "lfs_pointer"
    # A document that quotes a pointer is not one.
    assert BinaryFilter().drop_reason(blobs(text, {"content": "# LFS\n" + LFS_POINTER})) is None
    assert BinaryFilter().drop_reason(blobs(text, {"content": LFS_POINTER + "x" * 2000})) is None


def test_size():
    small = {"content": "x" * 10, "size": 10}
    assert SizeFilter(max_bytes=10).drop_reason(blobs(small, small)) is None
    assert SizeFilter(max_bytes=9).drop_reason(blobs(small, small)) == "too_large"
    # size measured from the text when the dump has none; UTF-8 bytes, not characters
    assert SizeFilter(max_bytes=10).drop_reason(blobs(small, {"content": "é" * 6, "size": None})) == "too_large"
    assert SizeFilter().drop_reason(blobs(small, {"content": None, "size": 2_000, "binary": False})) == "content_unavailable"
    assert SizeFilter(max_bytes=10).drop_reason(blobs(small, {"content": None, "size": 11})) == "too_large"


@pytest.mark.parametrize("claimed", [10, -5, "0", None, 0.5, True])
def test_size_measures_the_text_not_the_dumps_size_field(claimed):
    # Issue 14 item 10: a large blob whose `size` field lies is still too large.
    big = {"content": "x" * 5_000, "size": claimed}
    assert SizeFilter(max_bytes=1_000).drop_reason(blobs({"content": "a"}, big)) == "too_large"


# --- CommitPackFT subject ------------------------------------------------------------------

def ft_row(subject, new_file="src/parser.py", lang="Python"):
    return {"subject": subject, "new_file": new_file, "lang": lang, "commit": "a" * 40}


@pytest.mark.parametrize("subject, reason", [
    ("Fix crash when the input is empty", None),
    ("Add retry with backoff to the client", None),
    ("Speed up the tokenizer for long inputs", None),              # multi-word entries count
    ("[core] Fix crash when the input is empty", None),            # leading [tag] dropped
    ("docs: Clarify the install steps for Windows", None),          # then a first token ending in ':'
    ("feat(form): Add a retry to the submit button", None),         # … any such token
    ("Fix crash when the input is empty [ci skip]", None),          # [ci skip] removed (filters2)
    ("Fix crash when the input is empty [skip ci]", None),          # [skip ci] removed (filters1)
    ("update readme", "word_count"),                                # lengths come first
    ("Updated README for the new install steps", "not_imperative"),  # startswith(verb + " ")
    ("Fixes crash when the input is empty", "not_imperative"),
    ("Plug the leak in the connection pool", "not_imperative"),     # the original's "plug " never matches
    ("Fix: crash when the input is empty", "not_capitalised"),      # "Fix:" is dropped as a prefix
    ("Fix crash, see https://example.org/x for details", "excluded_substring"),
    ("Merge pull request from the fork into main", "excluded_substring"),
    ("Fix crash reported in issue 42 by users", "excluded_substring"),
    ("Fix crash reported in bug42 by users", "excluded_substring"),  # no word boundary
    ("Fix crash reported in bug #42 by users", "has_hash"),
    ("Revert 0123456789abcdef0123456789abcdef01234567 because it broke", "excluded_substring"),
    ("Fix what I broke in the last change", "excluded_substring"),   # " i "
    ("Add docs, thanks to Bob for the review", "excluded_substring"),
    ("Update the docs for the wip release", "excluded_substring"),
    ("Add solution to two sum | LeetCode", "excluded_substring"),
    ("Fix the code review comments on the client", "excluded_substring"),
    ("Put the thingie in the thingie", "excluded_subject"),         # filters2's three one-offs
    ("Fix crash when the input is empty (#123)", "has_hash"),
    ("Fix crash in parser when input is empty", "contains_file_stem"),
    ("Fix crash", "char_length"),                                  # 9 chars: must be > 10
    ("Fix the crashing", "word_count"),                            # 3 words: must be > 4
    ("Fix the crash now", "word_count"),                           # 4 words: still not > 4
    ("[x] [y] Fix the crash", "word_count"),                       # … again after cleaning
    ("fix crash when the input is empty", "not_capitalised"),
    ("Crash fixed when the input is empty", "not_imperative"),
    ("The crash when the input is empty is gone", "not_imperative"),
])
def test_ft_subject(subject, reason):
    assert SubjectFilter().drop_reason(ft_row(subject)) == reason


@pytest.mark.parametrize("new_file, lang, reason", [
    ("src/parser.py", "Python", None),
    (".pylintrc", "unknown", "contains_file_stem"),   # "" is in every subject: dotfiles go
    ("scripts/run.sh", "Shell", None),
    ("scripts/run.bats", "Shell", "extension"),      # shell files end in sh, bash, zsh, csh, slurm
    ("Makefile", "Makefile", "extension"),           # the path must contain a '.'
    ("Dockerfile.d/Dockerfile", "Dockerfile", None),
])
def test_ft_subject_path_rules(new_file, lang, reason):
    assert SubjectFilter().drop_reason(ft_row("Fix crash when the input is empty", new_file, lang)) == reason


def test_ft_subject_our_verb_list_is_an_option():
    ours = SubjectFilter(imperative="codecorpus")
    assert ours.drop_reason(ft_row("Fixes crash when the input is empty")) == "not_imperative"
    assert ours.drop_reason(ft_row("Sanitize crash when the input is empty")) is None
    assert SubjectFilter().drop_reason(ft_row("Sanitize crash when the input is empty")) == "not_imperative"
    with pytest.raises(TypeError):
        SubjectFilter(imperative="nltk")


def test_verb_list_is_the_originals():
    assert len(COMMITPACKFT_VERBS) == 257
    assert {"speed up", "deal with", "brush up", "plug "} <= set(COMMITPACKFT_VERBS)
    if (REFERENCE / "commitpack_rules.json").is_file():
        assert list(COMMITPACKFT_VERBS) == json.loads((REFERENCE / "commitpack_rules.json").read_text())["imperative_verbs_en"]


@pytest.mark.parametrize("subject, cleaned", [
    ("Fix X [ci skip]", "Fix X"),
    ("[CI SKIP] Fix X", "[CI SKIP] Fix X"),             # both removals are case-sensitive
    ("[tag] Fix the thing [wip]", "Fix the thing"),
    ("scope: Fix the thing", "Fix the thing"),
    ("feat(form): Add a button", "Add a button"),
    ("docs/api.md: Fix a link", "Fix a link"),
    ("[core] docs: Fix it", "Fix it"),
    ("  Fix   the  thing  ", "Fix the thing"),
    ("Fix x [ci skip] now", "Fix x  now"),               # filters2 does not collapse spaces again
    ("", ""),
])
def test_clean_subject(subject, cleaned):
    assert clean_subject(subject) == cleaned


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
    # filters2: startswith(("Bump", "Set version", "Update version")), case-sensitive, after cleaning.
    assert sum(f.drop_reason({"subject": "bump lodash", "commit": r["commit"]}) is not None for r in rows[:200]) == 0
    assert sum(f.drop_reason({"subject": "deps: Bump lodash", "commit": r["commit"]}) is not None
               for r in rows[:200]) > 150
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
    tok.add_special_tokens(["<|endoftext|>"])
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    # commitpackft_filters1.py: 50 <= len(tokenizer(old + "<|endoftext|>" + new)) <= 768
    f = LengthFilter(tokenizer=str(path), min_tokens=6, max_tokens=10)
    assert f.drop_reason({"old_contents": "a a", "new_contents": "b b"}) == "too_short"       # 5 tokens
    assert LengthFilter(tokenizer=str(path), min_tokens=5).drop_reason(
        {"old_contents": "a a", "new_contents": "b b"}) is None                               # the separator counts
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
    assert [f.name for f in build_chain(COMMIT_FILTERS, commit_filters).filters] == ["single_file", "lang", "optout", "control_chars"]
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
