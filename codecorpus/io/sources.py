"""``--input`` specs and the one transform that reads a ``github_repos`` table from any of them.

- a dump folder or fsspec URL (``out/dump``, ``gs://bucket/dump``): BigQuery exports;
- ``git:PATH`` (repeatable, or comma-separated): local git repositories, read directly;
- ``repos:FILE`` (repeatable): a list of remote repositories, cloned on the workers and then read
  like ``git:`` inputs (``io.repos``);
- ``bq:PROJECT.DATASET`` / ``bq:public``: live BigQuery, filters pushed down into SQL.

Every source yields the same normalised records, dead letters and ``read/<table>`` counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import apache_beam as beam

from codecorpus.io import dump
from codecorpus.io.records import invalid_record, normalise
from codecorpus.core.routing import DEAD_LETTER, STATS, Count, dead_letter, route_events, route_stream


@dataclass(frozen=True)
class InputSpec:
    kind: str  # "dump" | "git" | "repos" | "bigquery"
    paths: tuple = field(default_factory=tuple)  # dump roots, repository paths or repository lists
    dataset: str | None = None
    # A repos: input clones each repository once for all the tables a job reads: the clone stage
    # built by the first ReadTable of a pipeline, found here by the others (pipeline -> outputs).
    _clones: dict = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> dict:
        return {"kind": self.kind, "paths": list(self.paths), "dataset": self.dataset}


def resolve_local(path: str) -> str:
    """A local path made absolute here, on the launcher: a worker resolving ``.`` or ``out/dump``
    against its own working directory would read something else, or nothing. URLs are kept."""
    return path if "://" in path else os.path.abspath(path)


def parse_inputs(values: list[str]) -> InputSpec:
    """Parse one or more ``--input`` values; all must be of one kind. Local paths come back
    absolute (``resolve_local``; repositories by ``check_repository``)."""
    if not values:
        raise ValueError("--input is required")
    kinds, paths, datasets = set(), [], []
    for value in values:
        if value.startswith("git:"):
            kinds.add("git")
            paths.extend(p for p in value[4:].split(",") if p)
        elif value.startswith("repos:"):
            kinds.add("repos")
            if not value[6:]:
                raise ValueError("repos: needs a file listing repositories, e.g. repos:repositories.txt")
            paths.append(resolve_local(value[6:]))
        elif value.startswith("bq:"):
            from codecorpus.io.bigquery import parse_dataset

            kinds.add("bigquery")
            datasets.append(parse_dataset(value))
        else:
            kinds.add("dump")
            paths.append(resolve_local(value))
    if len(kinds) > 1:
        raise ValueError(f"--input values mix kinds ({', '.join(sorted(kinds))}); use one kind per run")
    kind = kinds.pop()
    if kind == "bigquery":
        if len(datasets) > 1:
            raise ValueError("only one bq: dataset per run")
        return InputSpec("bigquery", dataset=datasets[0])
    if kind == "git" and not paths:
        raise ValueError("git: needs a repository path, e.g. git:. or git:/path/to/repo")
    if kind == "git":
        from codecorpus.io.git import check_repository

        # Checked and made absolute here, on the launcher: a worker resolves "." elsewhere.
        paths = [check_repository(p) for p in paths]
    for path in paths:
        if kind in ("dump", "repos") and "://" not in path and not os.path.exists(path):
            raise FileNotFoundError(f"--input {'repos:' if kind == 'repos' else ''}{path} does not exist")
    return InputSpec(kind, paths=tuple(paths))


class _ReadDumpFile(beam.DoFn):
    def __init__(self, table: str):
        self.table = table

    def process(self, path):
        yield from route_stream(dump.iter_file_events(path, self.table),
                                f"read {self.table}: {path}")


def git_table_events(repo_path: str, table: str, name: str | None = None, source: str | None = None,
                     present_only: bool = False):
    """Normalised records of one table of a local git repository (see ``io.git``); ``name`` is
    its ``repo_name`` (default: from its origin remote), ``source`` what dead letters name."""
    from codecorpus.io import git

    source = source or f"git:{repo_path}"
    read = 0
    for raw in git.iter_table(repo_path, table, name=name, present_only=present_only):
        read += 1
        try:
            record = normalise(table, raw)
        except Exception as e:  # noqa: BLE001 - one bad record is a dead letter, never its repository's end
            yield dead_letter("parse", table, None, invalid_record(e), raw, source)
            continue
        if table == "commits":
            record["_source"] = source
        yield record
    yield Count(f"read/{table}", read)


class _ReadGitTable(beam.DoFn):
    def __init__(self, table: str):
        self.table = table

    def process(self, repo_path):
        yield from route_stream(git_table_events(repo_path, self.table),
                                f"read {self.table}: git:{repo_path}")


class _NormaliseRow(beam.DoFn):
    def __init__(self, table: str):
        self.table = table

    def process(self, raw):
        try:
            record = normalise(self.table, raw)
            if self.table == "commits":
                record["_source"] = "bigquery"
            events = [Count(f"read/{self.table}"), record]
        except Exception as e:  # noqa: BLE001 - one bad row is a dead letter
            events = [Count(f"read/{self.table}"),
                      dead_letter("parse", self.table, None, invalid_record(e), raw, "bigquery")]
        yield from route_events(events, f"read/{self.table}")


class ReadTable(beam.PTransform):
    """Reads one ``github_repos`` table from an ``InputSpec`` into normalised records.

    Returns a tuple-like with ``kept``, ``dead_letter`` and ``stats`` outputs.
    """

    def __init__(self, spec: InputSpec, table: str, config: dict, required: bool = True, queries: dict | None = None,
                 keep_path=None):
        super().__init__()
        # bq: inputs need the job's SQL for the table: ``queries`` maps table -> fn(dataset, config).
        self.queries = queries or {}
        # repos: inputs: a job that keeps only some paths (fn(path) -> drop reason or None) gets only
        # their blobs cloned; the others' entries are dropped by that job before any join anyway.
        self.keep_path = keep_path
        self.spec = spec
        self.table = table
        self.config = config
        self.required = required

    def expand(self, pbegin):
        outputs = (DEAD_LETTER, STATS)
        if self.spec.kind == "dump":
            files = [f for root in self.spec.paths for f in dump.table_files(root, self.table)]
            if not files and self.required:
                raise FileNotFoundError(
                    f"no '{self.table}' table in {', '.join(self.spec.paths)}: expected files like "
                    f"{self.table}.jsonl.gz, {self.table}-*.json.gz, {self.table}.parquet or {self.table}/*")
            return (pbegin
                    | "ListFiles" >> beam.Create(files)
                    | "SpreadFiles" >> beam.Reshuffle()
                    | "ParseLines" >> beam.ParDo(_ReadDumpFile(self.table))
                    .with_outputs(*outputs, main="kept"))
        if self.spec.kind == "git":
            return (pbegin
                    | "ListRepositories" >> beam.Create(list(self.spec.paths))
                    | "SpreadRepositories" >> beam.Reshuffle()
                    | "ReadGitObjects" >> beam.ParDo(_ReadGitTable(self.table))
                    .with_outputs(*outputs, main="kept"))
        if self.spec.kind == "repos":
            return self._read_cloned(pbegin)
        from codecorpus.io.bigquery import ReadBigQueryTable

        if self.table not in self.queries:
            raise ValueError(f"this job cannot read table {self.table!r} from BigQuery; it queries "
                             f"{', '.join(self.queries) or 'no tables'}")
        # Built now, so a bad config fails when the pipeline is built, not on a worker.
        sql = self.queries[self.table](self.spec.dataset, self.config)
        method = self.config["bigquery"]["method"]
        return (pbegin
                | "QueryBigQuery" >> ReadBigQueryTable(sql, method=method)
                | "Normalise" >> beam.ParDo(_NormaliseRow(self.table))
                .with_outputs(*outputs, main="kept"))

    def _read_cloned(self, pbegin):
        """This table's share of the pipeline's one clone stage (built here if it is the first)."""
        from codecorpus.io.repos import TABLE_FAMILIES, ReadRepositories

        shared = self.spec._clones.get(pbegin.pipeline)
        if shared is None:
            if self.table not in TABLE_FAMILIES:
                raise ValueError(f"a repos: input is read starting with one of {', '.join(TABLE_FAMILIES)} "
                                 f"(it decides how much history is cloned), not {self.table!r}")
            shared = pbegin | "CloneRepositories" >> ReadRepositories(
                list(self.spec.paths), TABLE_FAMILIES[self.table], self.config, self.keep_path)
            self.spec._clones[pbegin.pipeline] = shared
        if self.table not in shared:
            raise ValueError(f"this job's repos: input clones {', '.join(shared)}, not {self.table!r}")
        # Passed through a step of this transform, so each table's outputs are produced here.
        return {tag: (pcoll,) | f"Take_{tag}" >> beam.Flatten() for tag, pcoll in shared[self.table].items()}
