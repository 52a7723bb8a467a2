"""Shared test helpers: a small builder of github_repos-shaped dumps, and the shared sample."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

# ../shared beside the checkout; CODECORPUS_SHARED names it for a checkout elsewhere (a git worktree).
SHARED = Path(os.environ.get("CODECORPUS_SHARED") or Path(__file__).resolve().parents[2] / "shared")
SHARED_SAMPLE = SHARED / "data" / "github_repos_sample"
JOBS_DIR = Path(__file__).resolve().parent / "jobs"


def pytest_collection_modifyitems(config, items):
    """End-to-end runs of the CLI (tests/jobs/) are the slow lane: `pytest -m "not slow"` skips them."""
    for item in items:
        if JOBS_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def shared_sample() -> Path:
    if not SHARED_SAMPLE.is_dir():
        pytest.skip("../shared/data/github_repos_sample is not available")
    return SHARED_SAMPLE


def blob_sha(content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class DumpBuilder:
    """Builds commits / contents / licenses rows and writes them as (gzip) NDJSON."""

    def __init__(self):
        self.commits: list = []
        self.contents: list = []
        self.licenses: list = []
        self._n = 0

    def blob(self, content: str | None, binary: bool = False, size: int | None = None, sha: str | None = None) -> str:
        sha = sha or blob_sha(content if content is not None else f"binary-{len(self.contents)}")
        if size is None:
            size = len(content.encode("utf-8", "surrogatepass")) if content is not None else 0
        self.contents.append({"id": sha, "size": size, "content": content, "binary": binary, "copies": 1})
        return sha

    def license(self, repo: str, licence: str | None) -> None:
        self.licenses.append({"repo_name": repo, "license": licence})

    def commit(self, message: str, path: str = "src/app.py", old: str | None = "print('a')\n" * 40,
               new: str | None = "print('b')\n" * 40, repo: str = "acme/tool", sha: str | None = None,
               difference: list | None = None, store_blobs: bool = True, **extra) -> dict:
        self._n += 1
        sha = sha or hashlib.sha1(f"commit {self._n} {message}".encode()).hexdigest()
        if difference is None:
            old_sha = (self.blob(old) if store_blobs else blob_sha(old)) if old is not None else None
            new_sha = (self.blob(new) if store_blobs else blob_sha(new)) if new is not None else None
            difference = [{
                "old_mode": 33188 if old is not None else None, "new_mode": 33188 if new is not None else None,
                "old_path": path if old is not None else None, "new_path": path if new is not None else None,
                "old_sha1": old_sha, "new_sha1": new_sha, "old_repo": repo, "new_repo": repo,
            }]
        record = {
            "commit": sha, "tree": "0" * 40, "parent": ["1" * 40],
            "author": {"name": "Ada Lovelace", "email": "ada@example.org", "time_sec": 1700000000 + self._n,
                       "tz_offset": 60, "date": "2023-11-14 22:13:20 UTC"},
            "committer": {"name": "Ada Lovelace", "email": "ada@example.org", "time_sec": 1700000000 + self._n,
                          "tz_offset": 60, "date": "2023-11-14 22:13:20 UTC"},
            "subject": message.split("\n", 1)[0], "message": message, "trailer": [],
            "difference": difference, "difference_truncated": None, "repo_name": [repo], "encoding": None,
        }
        record.update(extra)
        self.commits.append(record)
        return record

    def write(self, root: Path, compress: bool = True, extra_lines: dict | None = None) -> Path:
        """Write every table; ``extra_lines`` maps table -> raw byte lines appended verbatim."""
        root.mkdir(parents=True, exist_ok=True)
        for table, rows in (("commits", self.commits), ("contents", self.contents), ("licenses", self.licenses)):
            lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in rows]
            lines += (extra_lines or {}).get(table, [])
            data = b"".join(line + b"\n" for line in lines)
            if compress:
                (root / f"{table}.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (root / f"{table}.jsonl").write_bytes(data)
        return root


@pytest.fixture
def dump_builder() -> DumpBuilder:
    return DumpBuilder()


def run_cli(*argv: str) -> int:
    from codecorpus.cli import main

    return main([str(a) for a in argv])


class PipelineBuilt(Exception):
    """Raised instead of ``Pipeline.run``: the graph a job built, for tests that must not run it."""

    def __init__(self, pipeline):
        super().__init__("built")
        self.pipeline = pipeline


def built_pipeline(job: str, argv: list, monkeypatch):
    """The pipeline ``codecorpus JOB ARGV`` builds, stopped at ``Pipeline.run`` (nothing runs)."""
    import apache_beam as beam

    from codecorpus import cli

    def capture(self, *args, **kwargs):
        raise PipelineBuilt(self)

    monkeypatch.setattr(beam.Pipeline, "run", capture)
    parser, modules = cli.build_parser(job)
    sub = parser._subparsers._group_actions[0].choices[job]
    args, beam_args = sub.parse_known_args([str(a) for a in argv])
    with pytest.raises(PipelineBuilt) as built:
        modules[job].run(args, beam_args)
    return built.value.pipeline


def read_table(output: Path, table: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(output / table).to_pylist()


def manifest_of(output: Path) -> dict:
    return json.loads((output / "manifest.json").read_text())


TOKENIZER_TEXT = """\
def add(a, b):
    return a + b


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()


Question: Add retries to the fetch helper
Answer: for attempt in range(3): fetch(url)
The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces.
<fim_prefix>def compute(x):<fim_suffix>    return total<fim_middle>    total = x * 2
"""


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> str:
    """A byte-level BPE tokenizer (about 300 tokens) trained here on fixture text with the
    ``tokenizers`` library itself: tests never need a hub download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([TOKENIZER_TEXT] * 20, trainer)
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)
