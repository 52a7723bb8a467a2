"""The dataset card (codecorpus/io/manifest.py): what is in the data, read back from the written
tables, and a YAML header whose every config ``datasets`` can load (issue 15, items 10 and 11)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest
import yaml

from codecorpus import schemas
from codecorpus.io.manifest import write_dataset_card
from codecorpus.io.parquet import write_parquet

ALLOW_LIST = ["apache-2.0", "isc", "mit", "unlicense"]


def commit_row(sha: str, lang: str, licence: str | None) -> dict:
    return {"commit": sha, "old_file": "a.py", "new_file": "a.py", "old_contents": "x = 1\n",
            "new_contents": "x = 2\n", "subject": "Change x", "message": "Change x\n", "lang": lang,
            "license": licence, "repos": "acme/tool"}


def write_table(output, name: str, schema, rows: list[dict]) -> dict:
    path = output / name / "part-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    write_parquet(rows, schema, str(path), 1, "zstd")
    return {"rows": len(rows), "files": [{"path": f"{name}/{path.name}", "rows": len(rows),
                                          "bytes": path.stat().st_size}]}


@pytest.fixture
def output(tmp_path):
    rows = [commit_row("a" * 40, "Python", "mit"), commit_row("b" * 40, "Python", "mit"),
            commit_row("c" * 40, "Go", "apache-2.0"), commit_row("d" * 40, "Go", None)]
    tables = {"commitpack": write_table(tmp_path, "commitpack", schemas.COMMITPACK, rows),
              "commitpackft": write_table(tmp_path, "commitpackft", schemas.COMMITPACKFT, rows[:1]),
              "instructions": write_table(tmp_path, "instructions", schemas.INSTRUCTIONS, []),
              "dead_letter": write_table(tmp_path, "dead_letter", schemas.DEAD_LETTER, [])}
    counters = {f"filter/message/reason_{i:02d}": i for i in range(1, 13)}
    counters.update({"filter/single_file/multiple_files": 500, "filter/lang/unknown_language": 0,
                     "dead_letter/commits/join_contents": 3, "read/commits": 999})
    manifest = {"input": {"paths": ["dump"]}, "accounting": {}, "counters": counters, "warnings": [],
                "tables": tables}
    return tmp_path, manifest


def card_of(output, manifest) -> tuple[dict, str]:
    write_dataset_card(str(output), "t", "d", manifest["tables"], {}, manifest, ALLOW_LIST)
    text = (output / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_configs_only_for_tables_with_rows(output):
    """The card gave `instructions` (0 rows) a config, and `load_dataset(out, "instructions")`
    raised `ValueError: Instruction "train" corresponds to no data!`."""
    header, body = card_of(*output)
    assert [c["config_name"] for c in header["configs"]] == ["commitpack", "commitpackft"]
    assert header["configs"][0]["default"] is True
    assert "Empty, so not a config above: `instructions/`, `dead_letter/`." in body


def test_every_config_loads_with_datasets(output, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    root, manifest = output
    header, _ = card_of(root, manifest)
    for config in header["configs"]:
        loaded = datasets.load_dataset(str(root), config["config_name"], cache_dir=str(root / "_hf"))
        assert loaded["train"].num_rows == manifest["tables"][config["config_name"]]["rows"]


def test_no_config_at_all_when_every_table_is_empty(tmp_path):
    manifest = {"input": {}, "accounting": {}, "counters": {}, "warnings": [],
                "tables": {"commitpack": write_table(tmp_path, "commitpack", schemas.COMMITPACK, [])}}
    header, body = card_of(tmp_path, manifest)
    assert "configs" not in header
    assert "Every table is empty: there is nothing to load." in body


def test_licences_and_languages_are_those_present_with_their_counts(output):
    """The card listed the licence filter's allow-list (`isc`, `unlicense` …) as the data's licences."""
    _, body = card_of(*output)
    present = body.split("### Licences present (rows)", 1)[1].split("###", 1)[0]
    assert "| `mit` | 2 | 1 |" in present and "| `apache-2.0` | 1 | 0 |" in present
    assert "| (none) | 1 | 0 |" in present
    assert "isc" not in present and "unlicense" not in present
    assert "The licence filter allows `apache-2.0`, `isc`, `mit`, `unlicense`" in body
    languages = body.split("### Languages present (rows)", 1)[1].split("##", 1)[0]
    assert languages.index("| `Go` | 2 | 0 |") < languages.index("| `Python` | 2 | 1 |")  # ties by name


def test_main_drop_reasons_and_dead_letters(output):
    _, body = card_of(*output)
    dropped = body.split("## What was dropped", 1)[1].split("## Columns", 1)[0]
    total = 500 + sum(range(1, 13))
    assert f"{total:,} records dropped by a filter" in dropped and "3 dead-lettered" in dropped
    reasons = [line.split("`")[1] for line in dropped.splitlines() if line.startswith("| `filter/")]
    assert reasons == ["filter/single_file/multiple_files"] + [f"filter/message/reason_{i:02d}" for i in
                                                                range(12, 3, -1)]
    assert f"| `filter/single_file/multiple_files` | 500 | {500 / total:.1%} |" in dropped
    assert "… and 3 more reasons (6 records)" in dropped
    assert "unknown_language" not in dropped  # a zero counter is no reason
    assert "| `dead_letter/commits/join_contents` | 3 |" in dropped


def test_columns_have_types_and_meanings(output):
    _, body = card_of(*output)
    columns = body.split("## Columns", 1)[1].split("## How it was made", 1)[0]
    meanings = schemas.column_meanings(schemas.COMMITPACK)
    for field in schemas.COMMITPACK:
        assert f"| `{field.name}` | {field.type} | {meanings[field.name]} |" in columns
    assert "### `commitpackft/`\n\nThe columns of `commitpack/`." in columns
    assert "| `raw_truncated` | bool | whether `raw` was cut |" in columns


def test_a_users_columns_are_said_to_be_the_inputs(tmp_path):
    schema = pa.schema([("id", pa.string()), ("content", pa.string()), ("license", pa.string())])
    manifest = {"input": {}, "accounting": {}, "counters": {}, "warnings": [],
                "tables": {"records": write_table(tmp_path, "records", schema,
                                                  [{"id": "1", "content": "x", "license": "mit"}])}}
    _, body = card_of(tmp_path, manifest)
    assert "| `content` | string | a column of the input |" in body
    assert "| `mit` | 1 |" in body


def test_writing_the_card_changes_no_table_byte(output):
    root, manifest = output
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.parquet")}
    card_of(root, manifest)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.parquet")} == before


OUTPUT_SCHEMAS = {name: value for name, value in vars(schemas).items()
                  if isinstance(value, pa.Schema) and not any(value is s for s in schemas.INPUT_TABLES.values())}


@pytest.mark.parametrize("name", sorted(OUTPUT_SCHEMAS))
def test_every_output_column_has_a_one_line_meaning(name):
    schema = OUTPUT_SCHEMAS[name]
    meanings = schemas.column_meanings(schema)
    assert list(meanings) == schema.names, f"{name}: meanings must follow the schema's columns"
    assert all(m and "\n" not in m for m in meanings.values())


def test_no_two_output_schemas_are_equal_with_different_meanings():
    """Meanings are looked up by an equal schema (as read back from a file): two equal schemas
    registered apart would make the lookup ambiguous."""
    described = schemas.DESCRIBED
    assert len(described) == len(OUTPUT_SCHEMAS) - 1  # COMMITPACKFT is COMMITPACK
    for i, (a, _) in enumerate(described):
        assert not any(a.equals(b) for b, _ in described[i + 1:])
