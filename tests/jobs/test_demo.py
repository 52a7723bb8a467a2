"""The README's demo from a fresh clone (issue 15, item 10): its commands, read from README.md
itself and run as written, give every table of every kind rows, and every config of every card
loads with ``datasets``. Before, the demo read this repository's own history: `commitpackft/`
and `instructions/` came out empty and `load_dataset` on them raised."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import manifest_of, run_cli

ROOT = Path(__file__).resolve().parents[2]


def demo_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Demo from a fresh clone", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def load_demo_script():
    spec = importlib.util.spec_from_file_location("demo_repos", ROOT / "docs" / "demo_repos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run the README's demo commands in an empty folder (the repository's docs/ beside it)."""
    work = tmp_path_factory.mktemp("fresh")
    (work / "docs").symlink_to(ROOT / "docs")
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    try:
        for argv in demo_commands():
            if argv[:2] == ["python", "docs/demo_repos.py"]:
                assert load_demo_script().main(argv[2:]) == 0
            else:
                assert argv[0] == "codecorpus", argv
                quiet = [] if argv[1] == "export-git" else ["--quiet"]  # export-git has no progress lines
                assert run_cli(*argv[1:], *quiet) == 0, argv
    finally:
        mp.undo()
    return work


def test_the_readme_demo_is_what_this_test_runs():
    commands = demo_commands()
    assert commands[0] == ["python", "docs/demo_repos.py", "demo-repos"]
    assert [c[1] for c in commands[1:]] == ["export-git", "commits", "commits", "files", "mix"]


def test_every_table_but_the_dead_letters_has_rows(demo):
    expected = {
        "out/demo": {"commitpack": 5, "commitpackft": 5, "instructions": 10, "clusters": 2, "dead_letter": 0},
        "out/demo-files": {"files": 11, "fim": 11, "clusters": 2, "repo_documents": 2, "dead_letter": 0},
        "out/demo-mix": {"examples": 31, "dead_letter": 0},
    }
    for output, tables in expected.items():
        manifest = manifest_of(demo / output)
        assert {name: t["rows"] for name, t in manifest["tables"].items()} == tables, output
        assert manifest["warnings"] == []
        assert all(identity["holds"] for identity in manifest["accounting"].values())
    drops = {k: v for k, v in manifest_of(demo / "out/demo")["counters"].items() if k.startswith("filter/")}
    assert drops == {"filter/single_file/no_modified_file": 2, "filter/single_file/added_file": 1,
                        "filter/single_file/multiple_files": 1, "filter/message/too_short": 1,
                        "filter/binary/binary_content": 1, "filter/exact_dedup/duplicate": 1}


def test_the_dump_and_the_repositories_give_the_same_bytes(demo):
    for table in ("commitpack", "commitpackft", "instructions", "clusters", "dead_letter"):
        for name in sorted(p.name for p in (demo / "out/demo" / table).iterdir()):
            assert (demo / "out/demo" / table / name).read_bytes() == \
                (demo / "out/demo-git" / table / name).read_bytes(), (table, name)


def test_every_card_config_loads_and_cards_say_what_is_in_the_data(demo, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for output in ("out/demo", "out/demo-files", "out/demo-mix"):
        card = (demo / output / "README.md").read_text()
        header = yaml.safe_load(card.split("---\n", 2)[1])
        names = [c["config_name"] for c in header["configs"]]
        assert "dead_letter" not in names
        tables = manifest_of(demo / output)["tables"]
        for name in names:
            loaded = datasets.load_dataset(str(demo / output), name, cache_dir=str(demo / "_hf"))
            assert sum(split.num_rows for split in loaded.values()) == tables[name]["rows"] > 0
    card = (demo / "out/demo/README.md").read_text()
    assert "| `apache-2.0` | 3 | 3 | 6 |" in card and "| `mit` | 2 | 2 | 4 |" in card
    assert "| `filter/single_file/no_modified_file` | 2 |" in card
    assert "| `old_contents` | string | the file's text before the commit |" in card


def test_the_demo_repositories_are_the_same_on_every_run(tmp_path):
    script = load_demo_script()
    runs = [script.make_demo_repos(tmp_path / name) for name in ("a", "b")]
    assert [[p.name for p in repos] for repos in runs] == [["calc", "webui"]] * 2
    heads = [[subprocess.run(["git", "-C", str(repo), "log", "--format=%H %s"], capture_output=True, text=True,
                             check=True).stdout for repo in repos] for repos in runs]
    assert heads[0] == heads[1] and len(heads[0][0].splitlines()) == 7
    assert script.main([str(tmp_path / "a")]) == 2  # an existing, non-empty folder is refused
