"""The job runner's contract: what it refuses before touching the output, what --overwrite may
delete, how a run proves it finished, and how user mistakes are reported (one line, exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import manifest_of, run_cli
from codecorpus.io.parquet import TMP_DIR, write_parquet
from codecorpus.jobs import runner

pytestmark = pytest.mark.slow


@pytest.fixture
def small_dump(tmp_path, dump_builder):
    dump_builder.license("acme/tool", "mit")
    for i in range(3):
        dump_builder.commit(f"Fix bug number {i}", old=f"x = {i}\n" * 20, new=f"x = {i + 1}\n" * 20)
    return dump_builder.write(tmp_path / "dump")


def _one_line_error(capsys, code: int, expected_code: int = 2) -> str:
    err = capsys.readouterr().err.strip()
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# --- --overwrite deletes only our own outputs, and only after every check ----------------------


def test_overwrite_refuses_a_folder_that_is_not_ours(tmp_path, small_dump, capsys):
    precious = tmp_path / "project"
    (precious / ".git").mkdir(parents=True)
    (precious / "notes.txt").write_text("keep me")
    line = _one_line_error(capsys, run_cli("commits", "--input", small_dump, "--output", precious,
                                           "--overwrite", "--quiet"))
    assert "not a codecorpus output" in line
    assert (precious / "notes.txt").read_text() == "keep me" and (precious / ".git").is_dir()


def test_overwrite_replaces_our_output_but_not_before_the_input_is_checked(tmp_path, small_dump, capsys):
    out = tmp_path / "out"
    assert run_cli("commits", "--input", small_dump, "--output", out, "--quiet") == 0
    assert (out / runner.OWNER_MARKER).is_file() and (out / runner.SUCCESS_MARKER).is_file()
    first = manifest_of(out)
    capsys.readouterr()
    # A typo in --input: the previous run must survive.
    line = _one_line_error(capsys, run_cli("commits", "--input", tmp_path / "dumpp", "--output", out,
                                           "--overwrite", "--quiet"))
    assert "does not exist" in line
    assert manifest_of(out) == first
    # A bad config value: also refused before the output is touched.
    bad = tmp_path / "bad.yaml"
    bad.write_text("commits:\n  filters:\n    size:\n      max_bytes: lots\n")
    line = _one_line_error(capsys, run_cli("commits", "--input", small_dump, "--output", out, "--config", bad,
                                           "--overwrite", "--quiet"))
    assert "commits.filters.size.max_bytes" in line and "integer" in line
    assert manifest_of(out) == first
    (out / "stale.txt").write_text("from an older run")
    assert run_cli("commits", "--input", small_dump, "--output", out, "--overwrite", "--quiet") == 0
    assert not (out / "stale.txt").exists()
    assert manifest_of(out)["counters"] == first["counters"]


def test_success_marker_is_written_after_the_manifest_and_card(tmp_path, small_dump):
    out = tmp_path / "out"
    assert run_cli("commits", "--input", small_dump, "--output", out, "--quiet") == 0
    marker = (out / runner.SUCCESS_MARKER).stat().st_mtime_ns
    assert marker >= (out / "manifest.json").stat().st_mtime_ns
    assert marker >= (out / "README.md").stat().st_mtime_ns


# --- a run proves it finished -----------------------------------------------------------------


def test_missing_counters_are_an_error_not_an_empty_success(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(runner.IncompleteRunError, match="counters"):
        runner.finish(str(tmp_path / "out"), {"dead_letter": runner.DEAD_LETTER_TABLE.schema},
                      {"output": {"compression": "zstd"}}, {}, {}, job="t")


def test_table_files_short_of_the_written_rows_are_an_error(tmp_path):
    out = tmp_path / "out"
    schema = pa.schema([("x", pa.int64())])
    (out / TMP_DIR / "t").mkdir(parents=True)
    write_parquet([{"x": 1}, {"x": 2}], schema, str(out / TMP_DIR / "t" / "shard-00000.parquet"), 1 << 20, "zstd")
    (out / TMP_DIR / "stats.json").write_text(json.dumps({"written/t": 3}))
    with pytest.raises(runner.IncompleteRunError, match="t: 2 rows in files, 3 written"):
        runner.finish(str(out), {"t": schema}, {"output": {"compression": "zstd"}}, {}, {}, job="t")


def test_local_output_with_a_remote_runner_is_refused_up_front(tmp_path, small_dump, capsys):
    out = tmp_path / "out"
    line = _one_line_error(capsys, run_cli("commits", "--input", small_dump, "--output", out,
                                           "--runner=DataflowRunner", "--quiet"))
    assert "local path" in line and "DataflowRunner" in line
    assert not out.exists()


# --- user mistakes: one line, exit 2 ----------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (["commits", "--quite"], "unknown option --quite (did you mean --quiet?)"),
    (["files", "--ouput", "OUT"], "unknown option --ouput (did you mean --output?)"),
    (["export-git", ".", "--ouput", "OUT"], "did you mean --output?"),
    (["dedup", "--text-field", "content", "--runer=DirectRunner"], "did you mean --runner?"),
])
def test_unknown_options_are_rejected_with_the_closest_known_one(tmp_path, small_dump, capsys, argv, expected):
    argv = [a.replace("OUT", str(tmp_path / "o")) for a in argv]
    if "--ouput" not in argv:
        argv += ["--output", str(tmp_path / "o")]
    if argv[0] != "export-git":
        argv += ["--input", str(small_dump / ("commits.jsonl.gz" if argv[0] == "dedup" else ""))]
    line = _one_line_error(capsys, run_cli(*argv))
    assert expected in line
    assert not (tmp_path / "o").exists()


def test_typical_mistakes_of_every_job_are_one_line(tmp_path, small_dump, capsys):
    (tmp_path / "not_a_repo").mkdir()
    mistakes = [
        ["files", "--input", tmp_path / "missing", "--output", tmp_path / "o1"],
        ["sql", "--input", tmp_path / "missing", "--output", tmp_path / "o2"],
        ["commits", "--input", f"git:{tmp_path / 'not_a_repo'}", "--output", tmp_path / "o3"],
        ["dedup", "--input", small_dump / "commits.jsonl.gz", "--text-field", "nope", "--output", tmp_path / "o4"],
        ["pii", "--input", tmp_path / "missing.jsonl", "--text-field", "x", "--output", tmp_path / "o5"],
        ["mix", "--config", tmp_path / "missing.yaml", "--output", tmp_path / "o6"],
        ["files", "--input", small_dump, "--output", small_dump / "commits.jsonl.gz"],
        ["files", "--input", small_dump, "--output", tmp_path / "o7", "--disable-filter", "message"],
    ]
    for argv in mistakes:
        line = _one_line_error(capsys, run_cli(*argv, "--quiet"))
        assert line.startswith(f"codecorpus {argv[0]}: error: "), line


def test_file_filters_are_disabled_by_their_own_names(tmp_path, small_dump):
    out = tmp_path / "out"
    assert run_cli("files", "--input", small_dump, "--output", out, "--disable-filter", "size", "--quiet") == 0
    config = manifest_of(out)["config"]
    assert config["files"]["filters"]["size"]["enabled"] is False
    assert config["commits"]["filters"]["size"]["enabled"] is True


# --- warnings and --strict --------------------------------------------------------------------


def test_an_empty_input_warns_and_strict_makes_it_fail(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("files", "--input", empty, "--output", tmp_path / "a", "--quiet") == 0
    assert "WARNING: no input records were read" in capsys.readouterr().err
    manifest = manifest_of(tmp_path / "a")
    assert manifest["warnings"] and "no input records" in manifest["warnings"][0]
    assert "## Warnings" in (tmp_path / "a" / "README.md").read_text()
    assert run_cli("files", "--input", empty, "--output", tmp_path / "b", "--quiet", "--strict") == 1


def test_an_empty_headline_table_warns(tmp_path, dump_builder):
    dump_builder.license("acme/tool", "mit")
    dump_builder.commit("Update", old="a\n", new="b\n", path="README.md")  # not a code language: dropped
    dump = dump_builder.write(tmp_path / "dump")
    assert run_cli("commits", "--input", dump, "--output", tmp_path / "o", "--quiet", "--strict") == 1
    assert any("commitpack/ is empty" in w for w in manifest_of(tmp_path / "o")["warnings"])


# --- progress and --help ----------------------------------------------------------------------


def test_progress_lines_are_plain_and_quiet_silences_them(tmp_path, small_dump, capsys):
    assert run_cli("commits", "--input", small_dump, "--output", tmp_path / "a") == 0
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if "records done" in line]
    assert progress and all(line.startswith("codecorpus: [") for line in progress)
    assert "INFO:" not in err
    assert run_cli("commits", "--input", small_dump, "--output", tmp_path / "b", "--quiet") == 0
    assert "records done" not in capsys.readouterr().err


def test_top_level_help_does_not_import_beam():
    code = ("import sys; from codecorpus import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('apache_beam' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert "commits" in done.stdout and "CommitPack" in done.stdout


def test_job_summaries_in_the_top_level_help_match_the_jobs():
    import importlib

    from codecorpus import cli

    for name, module in cli.JOBS.items():
        assert cli.SUMMARIES[name] == importlib.import_module(module).SUMMARY


# --- Beam's portable runner (the path Flink, Spark and Dataflow use) ---------------------------


def test_portable_runner_gives_the_same_bytes_as_in_memory(tmp_path, small_dump):
    """Job API, pipeline protos and a LOOPBACK SDK worker: the same files as the FnApiRunner."""
    assert run_cli("commits", "--input", small_dump, "--output", tmp_path / "mem", "--quiet") == 0
    assert run_cli("commits", "--input", small_dump, "--output", tmp_path / "portable", "--quiet",
                   "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK") == 0
    written = sorted(p.relative_to(tmp_path / "mem") for p in (tmp_path / "mem").rglob("*.parquet"))
    assert written and written == sorted(p.relative_to(tmp_path / "portable")
                                         for p in (tmp_path / "portable").rglob("*.parquet"))
    for path in written:
        assert (tmp_path / "mem" / path).read_bytes() == (tmp_path / "portable" / path).read_bytes(), path
    assert manifest_of(tmp_path / "mem")["counters"] == manifest_of(tmp_path / "portable")["counters"]


@pytest.fixture
def worker_pool(tmp_path):
    """An external SDK worker pool on 127.0.0.1, in a directory of its own (as a cluster's workers)."""
    workers = tmp_path / "workers"
    workers.mkdir()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    pool = subprocess.Popen([sys.executable, str(Path(__file__).with_name("worker_pool.py"))], cwd=workers, env=env,
                            stdout=subprocess.PIPE, stderr=(tmp_path / "pool.log").open("w"), text=True)
    try:
        port = pool.stdout.readline().strip()
        assert port.isdigit(), (tmp_path / "pool.log").read_text()
        yield f"127.0.0.1:{port}", tmp_path / "pool.log"
    finally:
        pool.kill()
        pool.wait()


def test_portable_runner_with_external_workers_that_cannot_see_the_output_fails(tmp_path, small_dump, worker_pool,
                                                                               capsys):
    """Issue 14.2 end to end: Beam's job service and a separate worker pool. The workers write to
    their own ``memory://`` (the launcher's stays empty), as workers with their own disks would; the
    launcher must exit 1 and publish nothing, never report an empty success."""
    import fsspec

    endpoint, log = worker_pool
    output = f"memory://{tmp_path.name}/out"
    code = run_cli("commits", "--input", small_dump, "--output", output, "--runner=PortableRunner",
                   "--job_endpoint=embed", "--environment_type=EXTERNAL", f"--environment_config={endpoint}")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "counters" in err and "nothing was published" in err
    fs = fsspec.filesystem("memory")
    assert not fs.exists(f"{tmp_path.name}/out/_SUCCESS") and not fs.exists(f"{tmp_path.name}/out/manifest.json")
    assert "[join_contents] 3 records done" in log.read_text()  # the work did happen, on the workers


def test_portable_runner_with_external_workers_refuses_a_local_output(tmp_path, small_dump, capsys):
    line = _one_line_error(capsys, run_cli("commits", "--input", small_dump, "--output", tmp_path / "o", "--quiet",
                                           "--runner=PortableRunner", "--job_endpoint=localhost:1",
                                           "--environment_type=EXTERNAL", "--environment_config=localhost:2"))
    assert "local path" in line and not (tmp_path / "o").exists()


def test_job_options_build_each_view_once_and_views_share_their_values():
    import copy

    from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions, StandardOptions, TypeOptions

    flags = ["--runner=DirectRunner", "--experiments=a", "--direct_num_workers=3"]
    options = runner.JobOptions(flags)
    assert options.view_as(TypeOptions) is options.view_as(TypeOptions)
    plain = PipelineOptions(flags)
    assert options.get_all_options() == plain.get_all_options()
    assert options.view_as(DebugOptions).experiments == plain.view_as(DebugOptions).experiments == ["a"]
    options.view_as(StandardOptions).runner = None         # as beam.Pipeline does around its deep copy
    assert options.get_all_options()["runner"] is None and options.view_as(StandardOptions).runner is None
    copied = copy.deepcopy(options)
    copied.view_as(StandardOptions).runner = "DirectRunner"
    assert copied.view_as(StandardOptions).runner == copied.get_all_options()["runner"] == "DirectRunner"
    assert options.view_as(StandardOptions).runner is None  # the copy's views are its own
