"""The commits job end to end on fixtures we make: bad input of every kind, the accounting
identity checked against the written tables, determinism, and loading the output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import DumpBuilder, blob_sha, manifest_of, read_table, run_cli

GOOD_OLD = "def fetch(url):\n    return get(url)\n" * 6
GOOD_NEW = "def fetch(url, retries=3):\n    return get(url, retries=retries)\n" * 6


# 14.7: one bad value in an integer field, or a 10,000-deep line, used to end the reading of
# the whole file (the rest of the commits vanished and the identity still held).
HOSTILE_COMMIT_LINES = [
    json.dumps({"commit": f"{n:040x}", "message": "Fix the hostile value\n", "author": {"time_sec": value}}).encode()
    for n, value in enumerate(["--5", "\u00b2", "9" * 5000], start=1)
] + [b"[" * 10_000 + b"]" * 10_000]


def build_dirty_dump(root: Path) -> dict:
    """A dump with one example of each kind of bad input. Returns what each should become."""
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    b.license("acme/gpl-thing", "gpl-2.0")
    keep_ft = b.commit("Add retries to the fetch helper\n\nLong body.\n", path="src/net.py", old=GOOD_OLD, new=GOOD_NEW)
    keep_plain = b.commit("Fix #12: handle empty responses\n", path="lib/util.js",
                          old="const a = 1;\n" * 30, new="const a = 2;\n" * 30)
    b.commits.append(dict(keep_plain))  # the same commit listed twice -> one row, one counted drop
    b.commit("Merge branch 'dev'\n")                                   # message: excluded_prefix
    b.commit("wip\n")                                                  # message: too_short
    b.commit("Update the vendored data blob\n", path="data.unknownext")  # lang: unknown
    b.commit("Add a second file to the project\n", difference=None, old=None)  # single_file: added
    null_diff = b.commit("Refactor the core loop for speed\n")
    null_diff["difference"] = None                                     # single_file: no_files
    b.commit("Fix the parser for GPL users\n", repo="acme/gpl-thing")   # licence: not allowed
    b.commit("Fix the parser for unlicensed users\n", repo="acme/nolicence")  # licence: unknown
    missing = b.commit("Fix lost blob in the history\n", old="lost = 1\n", new="lost = 2\n",
                       store_blobs=False)                              # dead letter: missing blob
    binary_sha = b.blob(None, binary=True, size=1234)
    binary = b.commit("Update the logo image file\n", path="logo.py", difference=[{
        "old_mode": 33188, "new_mode": 33188, "old_path": "logo.py", "new_path": "logo.py",
        "old_sha1": b.blob("print(1)\n"), "new_sha1": binary_sha, "old_repo": "acme/tool", "new_repo": "acme/tool"}])
    nul = b.commit("Update generated tables file\n", path="gen.py", old="x = 1\n", new="x = 2\x00\x01\n")
    huge_content = "# " + "x" * (50 * 1024 * 1024) + "\n"
    huge = b.commit("Regenerate the giant fixture file\n", path="giant.py", old="x = 1\n", new=huge_content)
    latin1_sha = blob_sha(b"caf\xe9 = 1\n")
    undecodable = b.commit("Fix encoding of the cafe module\n", path="cafe.py", difference=[{
        "old_mode": 33188, "new_mode": 33188, "old_path": "cafe.py", "new_path": "cafe.py",
        "old_sha1": b.blob("cafe = 0\n"), "new_sha1": latin1_sha, "old_repo": "acme/tool", "new_repo": "acme/tool"}])
    extra = {
        "commits": [b'{"commit": "deadbeef", "message": "Fix trunc', b'{"commit": 42, "message": "Fix types"}']
        + HOSTILE_COMMIT_LINES,
        "contents": [b'{"id": "' + latin1_sha.encode() + b'", "size": 9, "content": "caf\xe9 = 1\\n", "binary": false}',
                     b'{"id": "broken blob line'],
        "licenses": [b'{"repo_name": null, "license": "mit"}'],
    }
    b.write(root, extra_lines=extra)
    return {"keep_ft": keep_ft, "keep_plain": keep_plain, "missing": missing, "binary": binary, "nul": nul,
            "huge": huge, "undecodable": undecodable, "commit_lines": len(b.commits) + 2 + len(HOSTILE_COMMIT_LINES),
            "content_lines": len(b.contents) + 2}


@pytest.fixture(scope="module")
def dirty_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dirty")
    expected = build_dirty_dump(root / "dump")
    output = root / "out"
    code = run_cli("commits", "--input", root / "dump", "--output", output, "--quiet")
    return expected, output, code, root


def test_dirty_dump_finishes_and_places_every_record(dirty_run):
    expected, output, code, _ = dirty_run
    assert code == 0
    manifest = manifest_of(output)
    counters = manifest["counters"]
    commitpack = read_table(output, "commitpack")
    dead = read_table(output, "dead_letter")

    # The identity, from the written tables and the counters, not from the manifest's own sums.
    read = counters["read/commits"]
    assert read == expected["commit_lines"]
    dropped = sum(v for k, v in counters.items() if k.startswith("filter/") and not k.startswith("filter/ft_"))
    dead_commits = [d for d in dead if d["table"] == "commits"]
    assert read == len(commitpack) + dropped + len(dead_commits)
    assert all(terms["holds"] for terms in manifest["accounting"].values())
    assert manifest["accounting"]["commits"]["kept"] == len(commitpack)

    assert {r["commit"] for r in commitpack} == {expected["keep_ft"]["commit"], expected["keep_plain"]["commit"]}
    assert counters["filter/duplicate_commit/same_sha"] == 1
    assert counters["filter/message/excluded_prefix"] == 1
    assert counters["filter/message/too_short"] == 1
    assert counters["filter/lang/unknown_language"] == 1
    assert counters["filter/single_file/added_file"] == 1
    assert counters["filter/single_file/no_files"] == 1
    assert counters["filter/licence/licence_not_allowed"] == 1
    assert counters["filter/licence/unknown_licence"] == 1
    assert counters["filter/binary/binary_content"] == 2      # flagged binary, and text with NUL
    assert counters["filter/size/too_large"] == 1              # the 50 MB blob

    errors = {(d["table"], d["stage"], d["key"]): d["error"] for d in dead}
    assert "missing blob" in errors[("commits", "join_contents", expected["missing"]["commit"])]
    assert "undecodable content" in errors[("commits", "join_contents", expected["undecodable"]["commit"])]
    parse_errors = [d for d in dead if d["stage"] == "parse"]
    assert {d["table"] for d in parse_errors} == {"commits", "contents", "licenses"}
    assert any(d["error"].startswith("malformed JSON") and d["raw"].startswith('{"commit": "deadbeef"')
               for d in parse_errors)
    assert counters["read/contents"] == expected["content_lines"]
    assert counters["dead_letter/contents/parse"] == 1 and counters["dead_letter/licenses/parse"] == 1


def test_hostile_values_dead_letter_their_line_only_and_lines_are_counted(dirty_run):
    expected, output, code, _ = dirty_run
    manifest = manifest_of(output)
    counters = manifest["counters"]
    dead = [d for d in read_table(output, "dead_letter") if d["table"] == "commits" and d["stage"] == "parse"]
    hostile = {d["key"]: d["error"] for d in dead if d["key"] and d["key"].startswith("0" * 39)}
    assert len(hostile) == 3 and all("author.time_sec" in e for e in hostile.values())
    assert any(d["error"].startswith("malformed JSON: nested too deeply") for d in dead)
    # every line of every file is a record or a dead letter, and the manifest checks it
    assert counters["lines/commits"] == expected["commit_lines"] == counters["read/commits"]
    assert counters["lines/contents"] == expected["content_lines"]
    lines = manifest["accounting"]["lines"]
    assert lines["holds"] and lines["lines"] == lines["records"] + lines["dead_lettered"]
    assert lines["lines"] == sum(v for k, v in counters.items() if k.startswith("lines/"))


def test_commitpack_rows_carry_the_joined_contents(dirty_run):
    expected, output, _, _ = dirty_run
    rows = {r["commit"]: r for r in read_table(output, "commitpack")}
    row = rows[expected["keep_ft"]["commit"]]
    assert row["old_contents"] == GOOD_OLD and row["new_contents"] == GOOD_NEW
    assert row["old_file"] == row["new_file"] == "src/net.py"
    assert row["lang"] == "Python" and row["license"] == "mit" and row["repos"] == "acme/tool"
    assert row["subject"] == "Add retries to the fetch helper"
    assert row["message"].startswith("Add retries") and "Long body." in row["message"]
    assert rows[expected["keep_plain"]["commit"]]["lang"] == "JavaScript"


def test_commitpackft_and_instructions(dirty_run):
    expected, output, _, _ = dirty_run
    ft = read_table(output, "commitpackft")
    assert [r["commit"] for r in ft] == [expected["keep_ft"]["commit"]]   # "Fix #12" has a '#'
    counters = manifest_of(output)["counters"]
    assert counters["filter/ft_subject/has_hash"] == 1
    instructions = read_table(output, "instructions")
    assert sorted(r["format"] for r in instructions) == ["commit_tokens", "octocoder"]
    for r in instructions:
        assert r["prompt"] + r["completion"] == r["text"]
        assert r["commit"] == expected["keep_ft"]["commit"] and r["license"] == "mit"
    octo = next(r for r in instructions if r["format"] == "octocoder")
    assert octo["text"] == f"Question: Add retries to the fetch helper\n{GOOD_OLD}\n\nAnswer: {GOOD_NEW}"
    tokens = next(r for r in instructions if r["format"] == "commit_tokens")
    assert tokens["text"].endswith(f"<commit_before>{GOOD_OLD}<commit_msg>Add retries to the fetch helper"
                                   f"<commit_after>{GOOD_NEW}<|endoftext|>")
    assert tokens["text"].startswith(("<commit_before>", "<filename>net.py<commit_before>"))


def test_output_layout_manifest_and_card(dirty_run):
    _, output, _, _ = dirty_run
    for table in ("commitpack", "commitpackft", "instructions", "clusters", "dead_letter"):
        files = sorted(p.name for p in (output / table).iterdir())
        assert files == [f"part-{i:05d}-of-{len(files):05d}.parquet" for i in range(len(files))]
    assert not (output / "_tmp").exists()
    manifest = manifest_of(output)
    assert manifest["input"]["kind"] == "dump"
    assert manifest["config"]["commits"]["filters"]["licence"]["enabled"] is True
    assert manifest["code_version"]["codecorpus"]
    card = (output / "README.md").read_text()
    assert card.startswith("---\nconfigs:\n- config_name: commitpack\n")
    assert "path: instructions/*.parquet" in card


def test_every_table_loads_with_datasets_and_pyarrow(dirty_run, monkeypatch):
    _, output, _, _ = dirty_run
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    import pyarrow.dataset as ds

    manifest = manifest_of(output)
    for table, info in manifest["tables"].items():
        assert ds.dataset(str(output / table), format="parquet").count_rows() == info["rows"]
        if info["rows"] == 0:
            continue  # datasets cannot build a split from zero rows; pyarrow reads it (above)
        loaded = datasets.load_dataset("parquet", data_files=str(output / table / "*.parquet"), split="train",
                                       cache_dir=str(output.parent / "hf-cache"))
        assert loaded.num_rows == info["rows"]
        assert ds.dataset(str(output / table), format="parquet").count_rows() == info["rows"]


def test_rerun_is_byte_identical(dirty_run):
    _, output, _, root = dirty_run
    again = root / "again"
    assert run_cli("commits", "--input", root / "dump", "--output", again, "--quiet") == 0
    for table in ("commitpack", "commitpackft", "instructions", "clusters", "dead_letter"):
        first = sorted((output / table).iterdir())
        second = sorted((again / table).iterdir())
        assert [p.name for p in first] == [p.name for p in second]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    assert (output / "manifest.json").read_text().replace(str(output), "") == \
        (again / "manifest.json").read_text().replace(str(again), "")


def test_multi_processing_gives_the_same_tables(tmp_path):
    b = DumpBuilder()
    b.license("acme/tool", "apache-2.0")
    for i in range(30):
        b.commit(f"Add feature number {i} to the fetch helper\n", path=f"src/m{i}.py",
                 old=GOOD_OLD + f"# {i}\n", new=GOOD_OLD + f"# {i}\nfeature_{i} = fetch('/api/{i}')\n")
    b.write(tmp_path / "dump")
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "a", "--quiet") == 0
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "b", "--quiet",
                   "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    for table in ("commitpack", "commitpackft", "instructions"):
        a = sorted((tmp_path / "a" / table).iterdir())
        bb = sorted((tmp_path / "b" / table).iterdir())
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in bb]
    assert manifest_of(tmp_path / "b")["tables"]["commitpack"]["rows"] == 30


def test_empty_dump(tmp_path):
    DumpBuilder().write(tmp_path / "dump")
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "out", "--quiet") == 0
    manifest = manifest_of(tmp_path / "out")
    assert manifest["accounting"]["commits"] == {"read": 0, "kept": 0, "dropped": 0, "dead_lettered": 0, "holds": True}
    for table in ("commitpack", "commitpackft", "instructions", "clusters", "dead_letter"):
        assert [p.name for p in (tmp_path / "out" / table).iterdir()] == ["part-00000-of-00001.parquet"]
        assert read_table(tmp_path / "out", table) == []


def test_disable_filter_and_config_from_the_command_line(tmp_path):
    b = DumpBuilder()
    b.license("acme/gpl-thing", "gpl-2.0")
    b.commit("Fix the parser for GPL users\n", repo="acme/gpl-thing")
    b.write(tmp_path / "dump")
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "default", "--quiet") == 0
    assert manifest_of(tmp_path / "default")["tables"]["commitpack"]["rows"] == 0
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "off", "--quiet",
                   "--disable-filter", "licence") == 0
    rows = read_table(tmp_path / "off", "commitpack")
    assert len(rows) == 1 and rows[0]["license"] == "gpl-2.0"
    config = tmp_path / "gpl.yaml"
    config.write_text("commits:\n  filters:\n    licence:\n      allow: [gpl-2.0]\n")
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "cfg", "--quiet",
                   "--config", config) == 0
    assert len(read_table(tmp_path / "cfg", "commitpack")) == 1


def test_clear_errors_for_user_mistakes(tmp_path, capsys):
    assert run_cli("commits", "--input", tmp_path / "nowhere", "--output", tmp_path / "o1") == 2
    assert "nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli("commits", "--input", tmp_path / "empty", "--output", tmp_path / "o2") == 2
    assert "no 'commits' table" in capsys.readouterr().err
    DumpBuilder().write(tmp_path / "dump")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "full") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "o3",
                   "--disable-filter", "nope") == 2
    assert "unknown filter 'nope'" in capsys.readouterr().err


def test_help_explains_the_jobs(capsys):
    assert run_cli("--help") == 0
    out = capsys.readouterr().out
    assert "commits" in out and "export-git" in out and "manifest.json" in out
    assert run_cli("commits", "--help") == 0
    out = capsys.readouterr().out
    assert "git:PATH" in out and "bq:PROJECT.DATASET" in out and "ft_subject" in out


def test_uncompressed_and_parquet_dumps_give_the_same_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from codecorpus import schemas

    b = DumpBuilder()
    b.license("acme/tool", "mit")
    b.commit("Add retries to the fetch helper\n", old=GOOD_OLD, new=GOOD_NEW)
    b.write(tmp_path / "json", compress=False)
    (tmp_path / "pq").mkdir()
    for table, rows in (("commits", b.commits), ("contents", b.contents), ("licenses", b.licenses)):
        schema = {"commits": schemas.COMMITS, "contents": schemas.CONTENTS, "licenses": schemas.LICENSES}[table]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "pq" / f"{table}.parquet")
    for name in ("json", "pq"):
        assert run_cli("commits", "--input", tmp_path / name, "--output", tmp_path / f"out-{name}", "--quiet") == 0
    assert read_table(tmp_path / "out-json", "commitpack") == read_table(tmp_path / "out-pq", "commitpack")
    assert len(read_table(tmp_path / "out-pq", "commitpack")) == 1


def test_commits_are_deduplicated_on_their_change(tmp_path):
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    b.license("acme/fork", "mit")
    header = "import os\n" * 5
    # The same change to two different files: a cherry-pick. Kept once.
    first = b.commit("Add retries to the fetch helper\n", path="src/a.py", old=header + GOOD_OLD, new=header + GOOD_NEW)
    b.commit("Add retries to the fetch helper (copy)\n", path="lib/b.py", repo="acme/fork",
             old="# other file\n" + GOOD_OLD, new="# other file\n" + GOOD_NEW)
    # The next commit to the first file shares most of its contents but not its change: kept.
    b.commit("Add a timeout to the fetch helper\n", path="src/a.py", old=header + GOOD_NEW,
             new=header + GOOD_NEW.replace("retries=retries", "retries=retries, timeout=5"))
    b.write(tmp_path / "dump")
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "out", "--quiet", "--no-pii") == 0
    counters = manifest_of(tmp_path / "out")["counters"]
    assert counters["filter/exact_dedup/duplicate"] == 1
    rows = read_table(tmp_path / "out", "commitpack")
    assert len(rows) == 2 and first["commit"] in {r["commit"] for r in rows}
    clusters = read_table(tmp_path / "out", "clusters")
    assert len(clusters) == 2 and {c["cluster_size"] for c in clusters} == {2}
    assert sum(c["kept"] for c in clusters) == 1
    assert manifest_of(tmp_path / "out")["accounting"]["commits"]["holds"]
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", tmp_path / "off", "--quiet", "--no-pii",
                   "--no-dedup") == 0
    assert len(read_table(tmp_path / "off", "commitpack")) == 3


def test_change_text_is_what_the_commit_changed():
    from codecorpus.commits.commitpack import change_text

    assert change_text("a\nb\nc\n", "a\nB\nc\nd\n") == "-b\n+B\n+d"
    assert change_text("x\n", "x\n") == ""
    assert change_text("", "new\n") == "+new"
