"""Blob text crosses every shuffle compressed (issue 19, item 2): the ``commits`` and ``files``
jobs are built, every GroupByKey's input is tapped, and the pipeline is run in-process; no
shuffle may carry a file's text as a string, and the text must be there as packed bytes."""

from __future__ import annotations

import gzip
import json

import apache_beam as beam
import pytest
from apache_beam.pipeline import PipelineVisitor

from codecorpus.core import blobs
from conftest import blob_sha, built_pipeline

pytestmark = pytest.mark.slow

SEEN: dict = {}   # shuffle label -> {"text": long strings seen, "packed": texts seen as packed bytes}


def _strings(value, out_text: set, out_packed: set) -> None:
    if isinstance(value, str):
        if len(value) >= blobs.MIN_CHARS:
            out_text.add(value)
    elif isinstance(value, bytes):
        try:
            out_packed.add(blobs.unpack_text(value))
        except Exception:  # noqa: BLE001 - bytes that are not a packed text (none expected)
            pass
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out_text, out_packed)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _strings(v, out_text, out_packed)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _strings(getattr(value, name), out_text, out_packed)


def _record(element, label):
    seen = SEEN.setdefault(label, {"text": set(), "packed": set()})
    _strings(element, seen["text"], seen["packed"])
    return None


class _Shuffles(PipelineVisitor):
    def __init__(self):
        self.inputs = []

    def _look(self, node):
        if isinstance(node.transform, beam.GroupByKey):
            self.inputs.extend((node.full_label, pcoll) for pcoll in node.inputs)

    visit_transform = enter_composite_transform = _look


def run_tapped(job: str, argv: list, monkeypatch) -> dict:
    SEEN.clear()
    pipeline = built_pipeline(job, argv, monkeypatch)
    visitor = _Shuffles()
    pipeline.visit(visitor)
    assert visitor.inputs
    for i, (label, pcoll) in enumerate(visitor.inputs):
        _ = pcoll | f"TapShuffle{i}" >> beam.Map(_record, label)
    monkeypatch.undo()
    pipeline.run().wait_until_finish()
    return {label: dict(v) for label, v in SEEN.items()}


def code(i: int, n: int = 60) -> str:
    return "".join(f"def handler_{i}_{k}(event):\n    return event.get('k{k}', {i})\n" for k in range(n))


def assert_packed_everywhere(seen: dict, texts: set, where: tuple) -> None:
    carried = {label: v["text"] & texts for label, v in seen.items()}
    assert not any(carried.values()), {k: len(v) for k, v in carried.items() if v}
    for part in where:  # the text did cross these shuffles, compressed
        packed = set().union(*(v["packed"] for label, v in seen.items() if part in label))
        assert packed & texts, (part, sorted(seen))


def test_commits_job_shuffles_carry_no_blob_text(tmp_path, dump_builder, monkeypatch):
    texts = set()
    for i in range(6):
        old, new = code(i), code(i) + f"\n# change {i}\n" + "x = 1\n" * 20
        dump_builder.commit(f"Fix handler {i}", path=f"src/h{i}.py", old=old, new=new, repo="acme/tool")
        texts |= {old, new}
    # the same change again (an exact duplicate for dedup) and a commit whose new blob is missing
    dump_builder.commit("Fix handler 0 again", path="src/h0.py", old=code(0),
                        new=code(0) + "\n# change 0\n" + "x = 1\n" * 20, repo="acme/tool")
    dump_builder.commit("Lost blob", path="src/lost.py", old=code(9), new=code(9) + "y\n", store_blobs=False)
    dump_builder.license("acme/tool", "mit")
    dump = dump_builder.write(tmp_path / "dump")
    seen = run_tapped("commits", ["--input", dump, "--output", tmp_path / "out", "--quiet", "--no-pii"],
                      monkeypatch)
    assert_packed_everywhere(seen, texts, ("LookUpBlobs", "JoinOnCommitSha", "JoinDecisionsById",
                                           "Write_commitpack/GroupShard"))


def test_files_job_shuffles_carry_no_file_text(tmp_path, monkeypatch):
    root = tmp_path / "dump"
    root.mkdir()
    files, contents, texts = [], [], set()
    for i in range(5):
        text = code(i, 30)
        sha = blob_sha(text)
        files.append({"repo_name": "acme/tool", "ref": "refs/heads/main", "path": f"src/m{i}.py",
                      "mode": 33188, "id": sha, "symlink_target": None})
        contents.append({"id": sha, "size": len(text), "content": text, "binary": False, "copies": 1})
        texts.add(text)
    files.append({**files[0], "path": "src/copy.py"})  # an exact duplicate for dedup
    for table, rows in (("files", files), ("contents", contents),
                        ("licenses", [{"repo_name": "acme/tool", "license": "mit"}])):
        data = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
        (root / f"{table}.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    seen = run_tapped("files", ["--input", root, "--output", tmp_path / "out", "--quiet", "--no-pii"],
                      monkeypatch)
    assert_packed_everywhere(seen, texts, ("JoinContentsOnBlobSha", "JoinDecisionsById", "GroupByRepository",
                                           "Write_files/GroupShard"))
