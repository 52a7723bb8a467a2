"""Text-to-SQL triples from SQL files, validated by execution (REFERENCE §6).

Pure functions, no Beam; ``codecorpus/jobs/sql.py`` wraps them:

- ``ddl``: dialect detection, statement splitting (``;``, T-SQL ``GO``, Oracle ``/``, MySQL
  ``DELIMITER``, psql meta-commands, ``COPY … FROM stdin`` blocks), ``CREATE TABLE`` / ``ALTER
  TABLE`` / ``CREATE INDEX`` parsed with sqlglot into a small schema model, and that model
  rendered as runnable SQLite and DuckDB DDL;
- ``data``: rows from the repository's ``INSERT`` / ``COPY`` statements (a fast literal scanner,
  not sqlglot) and deterministic synthetic rows, both respecting keys, ``NOT NULL`` and foreign
  keys, rendered as canonical ``INSERT`` statements that rebuild the database exactly;
- ``sandbox``: read-only, deadline-bounded execution in SQLite and DuckDB, result canonical
  forms, multiset comparison and the result hash;
- ``synth``: query templates by difficulty, question templates, Spider-style hardness,
  template-normalised dedup, and the validation chain that keeps a triple or names its rejection;
- ``llm``: an OpenAI-compatible chat client (urllib only), execution-based self-consistency and
  RRTF ranking into preference pairs.

The package lives under ``transforms/`` like every other pure record function of the project.
"""
