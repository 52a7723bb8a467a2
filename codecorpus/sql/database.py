"""One SQL file -> one database -> validated triples: the record functions the ``sql`` job wraps.

- ``parse_file``: a repository file -> its dialect, DDL statements, INSERT rows (capped) and
  queries; files without ``CREATE TABLE`` are counted drops (their rows and queries may still
  serve a schema file of the same repository);
- ``plan_repository``: the files of one repository -> one build job per schema file, with the
  rows and queries of the repository's data-only files attached;
- ``process_database``: a build job -> the ``sql_databases`` row, built and checked in SQLite
  and DuckDB in a temporary folder, then the template and repository candidates, validated, and
  (with an LLM client) questions, votes and preference pairs. Events follow
  ``transforms.routing``; table rows are ``TableRow`` events.

Every event yields counters named ``sql/…`` and ``filter/sql_check/<reason>``.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from codecorpus.core.routing import Count, Drop, dead_letter
from codecorpus.io.repo_files import file_key
from codecorpus.sql import ddl, llm, queries, sandbox, suites, templates, validation
from codecorpus.sql.inserts import collect_batches, refine_types, render_inserts
from codecorpus.sql.rows import assemble
from codecorpus.sql.schema import (ENGINES, NotRunnable, Schema, finalise_schema, render_ddl, schema_fingerprint,
                                   spider_schema)
from codecorpus.sql.statements import detect_dialect, hostile_kinds, split_statements

DDL_KINDS = ("create_table", "alter_table", "create_index", "create_type", "create_domain")


@dataclass(frozen=True)
class TableRow:
    """A row for an output table other than the main one."""

    table: str
    row: dict


SQL_SUFFIXES = (".sql",)  # also pushed into a bq: input's SQL (files.pushdown)


def sql_keep_path(path: str) -> Optional[str]:
    """``ReadRepositoryFiles``' path filter: only ``.sql`` files."""
    return None if path.lower().endswith(SQL_SUFFIXES) else "not_sql"


def db_id_of(repo: str, path: str) -> str:
    """Stable and readable: ``<repo>__<file stem>__<8 hex of sha1(repo, path)>``."""
    slug = lambda s: re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")[:48]  # noqa: E731
    stem = os.path.splitext(os.path.basename(path))[0]
    digest = hashlib.sha1(f"{repo}\x00{path}".encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug(repo)}__{slug(stem)}__{digest}"


# --- per file -----------------------------------------------------------------------------------------


def parse_file(record: dict, cfg: dict):
    """Events for one repository file (see the module docstring)."""
    yield Count("sql/sql_files")  # zero in a run means the input held no .sql file (see no_sql_files)
    content = record.get("content")
    limit = cfg["max_file_bytes"]
    if (record.get("size") or 0) > limit or (content is not None and len(content) > limit):
        yield Drop("filter/sql_file/too_large")
        return
    if content is None or record.get("binary"):
        yield Drop("filter/sql_file/no_text")
        return
    dialect = cfg["dialect"] if cfg["dialect"] != "auto" else detect_dialect(record["path"], content)
    statements = split_statements(content, dialect)
    statements, over = cap_tables(statements, cfg["max_tables"])
    if over:
        yield Count("sql/limits/max_tables")
        yield Count("sql/limits/max_tables/tables_left_out", over)
    yield Count("sql/statements", len(statements))
    flagged = {i: kinds for i, st in enumerate(statements) if (kinds := hostile_kinds(st))}
    hostile = Counter(kind for kinds in flagged.values() for kind in kinds)
    for kind, n in sorted(hostile.items()):
        yield Count(f"sql/hostile/{kind}", n)
    counts: Counter = Counter()
    batches = collect_batches(statements, dialect, cfg["data"]["max_rows_per_table"], counts)
    for name, n in sorted(counts.items()):
        yield Count(f"sql/data/{name}", n)
    queries = []
    if cfg["queries"]["repository_queries"]:
        queries = [st for i, st in enumerate(statements) if st.kind in ("query", "create_view") or i in flagged]
        queries = queries[:cfg["queries"]["max_repository_queries"]]
    has_tables = any(st.kind == "create_table" for st in statements)
    out = {"kind": "schema" if has_tables else "data", "repo_name": record["repo_name"], "ref": record.get("ref"),
           "path": record["path"], "license": record.get("license"), "dialect": dialect,
           "ddl": [st for st in statements if st.kind in DDL_KINDS] if has_tables else [],
           "batches": batches, "queries": queries}
    if has_tables:
        yield Count(f"sql/files/{dialect}")
        yield out
        return
    yield Drop("filter/sql_file/no_create_table")
    if batches or queries:
        yield out


def cap_tables(statements: list, max_tables: int) -> tuple:
    """The statements with ``CREATE TABLE``s past the first ``max_tables`` left out, and how many
    were: a file of 10,000 small tables took 20 GB and minutes to build and profile."""
    over = 0
    kept = []
    tables = 0
    for st in statements:
        if st.kind == "create_table":
            tables += 1
            if tables > max_tables:
                over += 1
                continue
        kept.append(st)
    return kept, over


def no_sql_files(counters: dict) -> Optional[str]:
    """The warning for a run that read no ``.sql`` file at all (almost certainly the wrong
    ``--input``), or None. The runner's warnings (and ``--strict``) check it."""
    if counters.get("sql/sql_files", 0) == 0:
        return "no .sql file was read: is --input the right folder or dump?"
    return None


def mark_near_identical(element):
    """``(schema fingerprint, sql_databases rows)`` -> the rows with ``representative`` set to the
    group's kept member: repository data before synthetic, then the most rows, then the smallest
    db_id. The others are counted (``sql/near_identical/…``) and listed by that column, so a
    mixture can weight the group once and keep it on one side of a split (by
    ``schema_fingerprint``, which the triples carry too)."""
    _, rows = element
    rows = sorted(rows, key=lambda r: (r["data_source"] != "repository", -r["rows"], r["db_id"]))
    if len(rows) > 1:
        yield Count("sql/near_identical/groups")
        yield Count("sql/near_identical/databases", len(rows) - 1)
    for row in rows:
        yield {**row, "representative": rows[0]["db_id"]}


def plan_repository(element, borrow: bool):
    """``(repo, parsed files)`` -> one build job per schema file, with the data-only files'
    rows (for tables the schema file has no rows for) and queries attached."""
    _, records = element
    records = sorted(records, key=lambda r: (r["path"], r.get("ref") or ""))
    data_files = [r for r in records if r["kind"] == "data"]
    for record in records:
        if record["kind"] != "schema":
            continue
        job = dict(record)
        job["borrowed"] = [b for d in data_files for b in d["batches"]] if borrow else []
        job["borrowed_queries"] = [q for d in data_files for q in d["queries"]]
        yield job


# --- per database ----------------------------------------------------------------------------------


@dataclass
class Built:
    row: dict                 # the sql_databases row
    schema: Schema
    tables: list              # rows.TableRows
    counts: Counter


def build_database(job: dict, cfg: dict) -> Built:
    """The database of one schema file, as rows of ``sql_databases``. Raises ``NotRunnable``."""
    dialect = job["dialect"]
    schema = ddl.parse_schema(job["ddl"], dialect)
    own = {b.table.lower() for b in job["batches"] if schema.table(b.table) is not None}
    borrowed = [b for b in job.get("borrowed", []) if b.table.lower() not in own and schema.table(b.table) is not None]
    batches = list(job["batches"]) + borrowed
    refine_types(schema, batches)
    schema = finalise_schema(schema)
    declared = render_ddl(schema, "sqlite")
    schema_hash = hashlib.sha256("\n;\n".join(declared).encode("utf-8")).hexdigest()
    counts: Counter = Counter()
    if borrowed:
        counts["data/borrowed_batches"] += len(borrowed)
    data_cfg = cfg["data"]
    tables = assemble(schema, batches, cfg["seed"], schema_hash,
                      data_cfg["synthetic_rows_per_table"], data_cfg["max_rows_per_table"], counts)
    if not any(t.rows for t in tables):
        raise NotRunnable("no table could be given rows")
    sources = {t.source for t in tables if t.rows}
    data_source = sources.pop() if len(sources) == 1 else "mixed"
    db_id = db_id_of(job["repo_name"], job["path"])
    row = {
        "db_id": db_id, "repo_name": job["repo_name"], "ref": job.get("ref"), "path": job["path"],
        "license": job.get("license"), "dialect": dialect, "schema_hash": schema_hash,
        "schema_fingerprint": schema_fingerprint(schema), "representative": db_id,
        "tables": len(schema.tables), "rows": sum(len(t.rows) for t in tables), "data_source": data_source,
        "ddl": render_ddl(schema, "sqlite"), "ddl_duckdb": render_ddl(schema, "duckdb"),
        "inserts": render_inserts(tables, data_cfg["rows_per_insert"]),
        "schema_json": _json(spider_schema(db_id, schema)),
        "notes_json": _json(dict(sorted(schema.notes.items()))),
    }
    return Built(row, schema, tables, counts)


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def engines_of(cfg: dict) -> tuple:
    engines = tuple(cfg["engines"])
    unknown = set(engines) - set(ENGINES)
    if unknown or "sqlite" not in engines:
        raise ValueError(f"sql.engines must include sqlite and only name {list(ENGINES)}; got {list(engines)}")
    return engines


def process_database(job: dict, cfg: dict, client: Optional[llm.ChatClient] = None, workdir: Optional[str] = None):
    """Events for one build job: the database row (or a dead letter), candidates and their
    checks, triples, and preference pairs when ``client`` is given."""
    dialect = job["dialect"]
    key = file_key(job)
    engines = engines_of(cfg)
    try:
        built = build_database(job, cfg)
    except NotRunnable as e:
        yield Count(f"sql/not_runnable/{dialect}")
        yield dead_letter("build_database", "files", key, f"schema not runnable: {e}", _summary(job), job["path"])
        return
    for name, n in sorted(built.counts.items()):
        yield Count(f"sql/{name}", n)
    row = built.row
    with tempfile.TemporaryDirectory(prefix="codecorpus-sql-", dir=workdir) as tmp:
        sqlite_path = os.path.join(tmp, "db.sqlite")
        duckdb_path = os.path.join(tmp, "db.duckdb")
        try:
            sandbox.build_sqlite(sqlite_path, row["ddl"], row["inserts"])
            if "duckdb" in engines:
                sandbox.build_duckdb(duckdb_path, row["ddl_duckdb"], row["inserts"],
                                     cfg["sandbox"]["duckdb_memory_limit"])
            counts = sandbox.table_counts_sqlite(sqlite_path, [t.table.name for t in built.tables])
            expected = {t.table.name: len(t.rows) for t in built.tables}
            if counts != expected:
                raise NotRunnable(f"row counts after loading {counts} differ from {expected}")
        except NotRunnable as e:
            if isinstance(e, sandbox.OverMemoryLimit):
                yield Count("sql/limits/duckdb_memory_limit")
            yield Count(f"sql/not_runnable/{dialect}")
            yield dead_letter("build_database", "files", key, f"schema not runnable: {e}", _summary(job), job["path"])
            return
        yield Count(f"sql/databases/{dialect}")
        yield Count(f"sql/databases_data/{row['data_source']}")
        yield TableRow("sql_databases", row)
        limits = sandbox.Limits.from_config({**cfg["sandbox"], "max_result_rows": cfg["queries"]["max_result_rows"]})
        boxes = []
        budget = sandbox.Budget(cfg["sandbox"]["file_budget_seconds"])  # the queries' time, from here on
        try:
            boxes.append(_sandboxes(sqlite_path, duckdb_path if "duckdb" in engines else None, limits, budget))
            for event in _test_suite(built, cfg, engines, tmp):
                if isinstance(event, tuple):
                    boxes.append(_sandboxes(*event, limits, budget))
                else:
                    yield event
            (sqlite_box, duckdb_box), suite = boxes[0], boxes[1:]
            yield from _triples(job, built, cfg, sqlite_path, sqlite_box, duckdb_box, client, budget, suite)
            if budget.hit:
                yield Count("sql/limits/time_budget")  # databases whose queries ran out of time
        finally:
            for pair in boxes:
                for box in pair:
                    if box is not None:
                        box.close()


def _sandboxes(sqlite_path: str, duckdb_path: Optional[str], limits, budget) -> tuple:
    return (sandbox.SQLiteSandbox(sqlite_path, limits, budget),
            sandbox.DuckDBSandbox(duckdb_path, limits, budget) if duckdb_path else None)


def _test_suite(built: Built, cfg: dict, engines: tuple, tmp: str):
    """The database's test suite (``suites``): ``sql_test_suites`` rows, and ``(sqlite path,
    duckdb path or None)`` for every neighbour built in ``tmp``."""
    settings = suites.SuiteSettings.from_config(cfg["test_suite"])
    if settings.size <= 0:
        return
    row = built.row
    neighbours = suites.build_suite(built.schema, built.tables, cfg["seed"], row["schema_hash"], settings)
    for index, inserts in enumerate(suites.render_suite(neighbours, cfg["data"]["rows_per_insert"])):
        sqlite_path = os.path.join(tmp, f"suite-{index}.sqlite")
        duckdb_path = os.path.join(tmp, f"suite-{index}.duckdb") if "duckdb" in engines else None
        try:
            sandbox.build_sqlite(sqlite_path, row["ddl"], inserts)
            if duckdb_path:
                sandbox.build_duckdb(duckdb_path, row["ddl_duckdb"], inserts, cfg["sandbox"]["duckdb_memory_limit"])
        except NotRunnable:
            yield Count("sql/test_suite/not_runnable")  # left out of the suite (and of sql_test_suites)
            continue
        yield Count("sql/test_suite/databases")
        yield TableRow("sql_test_suites", {"db_id": row["db_id"], "index": index, "inserts": inserts})
        yield sqlite_path, duckdb_path


def _summary(job: dict) -> dict:
    """What a dead letter keeps of a build job: where it came from and its DDL."""
    return {"repo_name": job["repo_name"], "path": job["path"], "dialect": job["dialect"],
            "ddl": [st.text for st in job["ddl"]][:200]}


def _triples(job, built: Built, cfg, sqlite_path, sqlite_box, duckdb_box, client, budget, suite=()):
    row = built.row
    qcfg = cfg["queries"]
    validator = validation.Validator(sqlite_box, duckdb_box, {t.table.name: len(t.rows) for t in built.tables},
                                     suite, cfg["test_suite"]["min_informative"])
    profile = templates.profile_database(sqlite_path, built.schema)
    rng = random.Random(f"{cfg['seed']}:{row['db_id']}")
    pools = templates.template_candidates(profile, rng)
    kept = []

    def checked(cand):
        result = validator.check(cand)
        events = [Count("sql/candidates"), Count(f"sql/candidates/{cand.source}")]
        if result.reason:
            events.append(Count(f"filter/sql_check/{result.reason}"))
        else:
            kept.append(result)
        return events

    quota = qcfg["per_level"]
    by_level: Counter = Counter()
    iters = {level: iter(pools[level]) for level in queries.LEVELS}
    active = list(queries.LEVELS)
    tried = skipped = 0
    while active and tried < qcfg["max_candidates"] and any(by_level[lv] < quota for lv in queries.LEVELS):
        if budget.exhausted():
            break  # the remaining candidates are never tried (not candidates)
        for level in list(active):
            cand = next(iters[level], None)
            if cand is None:
                active.remove(level)
                continue
            level_of = validator.difficulty_of(cand.sql) or level
            if by_level[level_of] >= quota:
                skipped += 1
                continue
            tried += 1
            before = len(kept)
            yield from checked(cand)
            if len(kept) > before:
                by_level[kept[-1].difficulty] += 1
            if tried >= qcfg["max_candidates"]:
                break
    if skipped:
        yield Count("sql/templates_over_quota", skipped)
    limit = qcfg["max_repository_queries"]
    own = queries.repo_candidates(job.get("queries", []), job["dialect"], built.schema, limit)
    borrowed = queries.repo_candidates(job.get("borrowed_queries", []), job["dialect"], built.schema,
                                     limit - len(own), borrowed=True)
    for cand in own + borrowed:
        if budget.exhausted():
            break
        yield from checked(cand)
    triples = [_triple_row(row, result) for result in kept]
    if client is not None and triples and not budget.exhausted():
        yield from _llm_stage(row, triples, kept, validator, client, cfg["llm"])
    for triple in triples:
        yield Count(f"sql/triples/{triple['difficulty']}")
        yield TableRow("sql_triples", triple)


def _triple_row(db: dict, result: validation.Checked) -> dict:
    cand = result.candidate
    return {
        "db_id": db["db_id"], "question": cand.question, "sql": cand.sql, "difficulty": result.difficulty,
        "template": result.template, "template_id": cand.template_id, "result_columns": list(result.columns),
        "result_rows": len(result.rows), "result_hash": result.result_hash,
        "suite_result_hashes": list(result.suite_hashes),
        "result_preview": validation.preview(result.rows),
        "ordered": result.ordered, "engine_agreement": result.engine_agreement, "source": cand.source,
        "question_source": cand.question_source, "schema_fingerprint": db["schema_fingerprint"],
        "repo_name": db["repo_name"], "path": db["path"],
        "license": db["license"],
    }


def _llm_stage(db: dict, triples: list, kept: list, validator: validation.Validator, client: llm.ChatClient,
               lcfg: dict):
    """LLM questions for kept SQL, N SQL candidates per question, self-consistency, RRTF pairs.
    The LLM question replaces the template one only when the candidates' consensus reproduces
    the triple's own result (an execution-checked back-translation)."""
    schema_text = ";\n".join(db["ddl"]) + ";"
    limit = lcfg.get("max_triples_per_database") or len(triples)
    for triple, result in list(zip(triples, kept))[:limit]:
        try:
            question = llm.extract_question(client.complete(
                llm.question_messages(schema_text, triple["sql"]), 1, lcfg["question_temperature"])[0])
        except llm.LLMError:
            yield Count("sql/llm/errors")
            continue
        if not question:
            yield Count("sql/llm/empty_question")
            continue
        try:
            answers = client.complete(llm.sql_messages(schema_text, question), lcfg["candidates"], lcfg["temperature"])
        except llm.LLMError:
            yield Count("sql/llm/errors")
            continue
        candidates = [llm.extract_sql(a) for a in answers]
        executed = {sql: validator.result_vector(sql) for sql in dict.fromkeys(candidates)}
        # the vote is on the vector of results over the database and its test suite; the
        # one-database vote is kept only to count how often the two disagree
        vote = llm.mark_original_only(llm.self_consistency(candidates, executed.__getitem__))
        one_db = llm.self_consistency(candidates, lambda sql: _first_key(executed[sql]))
        yield Count("sql/llm/votes")
        if llm.consensus_members(one_db) != llm.consensus_members(vote):
            yield Count("sql/llm/vote_disagreement")
        yield Count("sql/llm/candidates", len(candidates))
        for label, n in sorted(vote.statuses.items()):
            yield Count(f"sql/llm/rank/{label}", n)
        gold = (sandbox.result_key(result.rows, result.ordered),) + tuple(result.suite_keys)
        if vote.winner_key != gold:
            yield Count("sql/llm/question_rejected")
            continue
        yield Count("sql/llm/question_accepted")
        triple["question"], triple["question_source"] = question, "llm"
        prompt = llm.prompt_text(schema_text, question)
        pairs = llm.preference_pairs(vote, lcfg["max_pairs_per_question"])
        for chosen, rejected, chosen_label, rejected_label in pairs:
            yield Count("sql/llm/pairs")
            yield TableRow("sql_preferences", {
                "db_id": db["db_id"], "question": question, "prompt": prompt, "chosen": chosen, "rejected": rejected,
                "chosen_rank": chosen_label, "rejected_rank": rejected_label, "votes": vote.votes,
                "candidates": len(candidates), "gold_sql": triple["sql"], "result_hash": triple["result_hash"],
            })


def _first_key(executed: tuple) -> tuple:
    status, keys, empty = executed
    return status, (keys[0] if keys else None), empty


def client_from_config(lcfg: dict) -> Optional[llm.ChatClient]:
    if not lcfg.get("endpoint"):
        return None
    api_key = os.environ.get(lcfg["api_key_env"]) if lcfg.get("api_key_env") else None
    return llm.ChatClient(lcfg["endpoint"], lcfg["model"], api_key, lcfg["timeout_seconds"], lcfg["max_retries"],
                          lcfg["max_tokens"], lcfg.get("seed"))
