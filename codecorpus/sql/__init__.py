"""Text-to-SQL triples from SQL files, validated by execution (REFERENCE §6).

Pure functions, no Beam; ``codecorpus/jobs/sql.py`` wraps them. In the order a file flows:

- ``statements``: dialect detection, statement splitting (``;``, T-SQL ``GO``, Oracle ``/``,
  MySQL ``DELIMITER``, psql meta-commands, ``COPY … FROM stdin`` blocks), hostile statements;
- ``ddl``: ``CREATE TABLE`` / ``ALTER TABLE`` / ``CREATE INDEX`` parsed with sqlglot, types mapped;
- ``schema``: the schema model, made runnable and rendered as SQLite and DuckDB DDL, Spider's
  ``tables.json`` shape;
- ``inserts``: the repository's ``INSERT`` / ``COPY`` rows (a fast literal scanner, not sqlglot),
  values fitted to column types, and canonical ``INSERT`` statements that rebuild a database;
- ``rows``: every table's rows, keys, ``NOT NULL`` and foreign keys respected;
- ``synthetic``: deterministic synthetic rows for tables without repository rows;
- ``sandbox``: read-only, deadline-bounded execution in SQLite and DuckDB, result canonical
  forms, multiset comparison and the result hash;
- ``queries``: query ASTs, Spider-style hardness, templates for dedup, the repository's own queries;
- ``naming``: how identifiers and values are said in questions;
- ``templates``: query templates by difficulty over a profiled database, with their questions;
- ``validation``: the chain that keeps a candidate as a triple or names its rejection;
- ``llm``: an OpenAI-compatible chat client (urllib only), execution-based self-consistency and
  RRTF ranking into preference pairs;
- ``database``: the record functions the job wraps (a file, a repository's plan, a database).
"""
