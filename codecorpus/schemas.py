"""Fixed pyarrow schemas of every table codecorpus reads or writes.

Input tables follow the public BigQuery ``bigquery-public-data.github_repos`` dataset
(``REFERENCE.md`` §1). Output tables are the contract with trainers and other tooling: column
names and types here change only deliberately.
"""

import pyarrow as pa

# --- input: the github_repos shape ------------------------------------------------------------

_SIGNATURE = pa.struct(
    [
        ("name", pa.string()),
        ("email", pa.string()),
        ("time_sec", pa.int64()),
        ("tz_offset", pa.int64()),
        ("date", pa.string()),
    ]
)

_DIFFERENCE = pa.struct(
    [
        ("old_mode", pa.int64()),
        ("new_mode", pa.int64()),
        ("old_path", pa.string()),
        ("new_path", pa.string()),
        ("old_sha1", pa.string()),
        ("new_sha1", pa.string()),
        ("old_repo", pa.string()),
        ("new_repo", pa.string()),
    ]
)

_TRAILER = pa.struct([("key", pa.string()), ("value", pa.string()), ("email", pa.string())])

COMMITS = pa.schema(
    [
        ("commit", pa.string()),
        ("tree", pa.string()),
        ("parent", pa.list_(pa.string())),
        ("author", _SIGNATURE),
        ("committer", _SIGNATURE),
        ("subject", pa.string()),
        ("message", pa.string()),
        ("trailer", pa.list_(_TRAILER)),
        ("difference", pa.list_(_DIFFERENCE)),
        ("difference_truncated", pa.bool_()),
        ("repo_name", pa.list_(pa.string())),
        ("encoding", pa.string()),
    ]
)

CONTENTS = pa.schema(
    [
        ("id", pa.string()),
        ("size", pa.int64()),
        ("content", pa.string()),
        ("binary", pa.bool_()),
        ("copies", pa.int64()),
    ]
)

LICENSES = pa.schema([("repo_name", pa.string()), ("license", pa.string())])

FILES = pa.schema(
    [
        ("repo_name", pa.string()),
        ("ref", pa.string()),
        ("path", pa.string()),
        ("mode", pa.int64()),
        ("id", pa.string()),
        ("symlink_target", pa.string()),
    ]
)

LANGUAGES = pa.schema(
    [
        ("repo_name", pa.string()),
        ("language", pa.list_(pa.struct([("name", pa.string()), ("bytes", pa.int64())]))),
    ]
)

INPUT_TABLES = {
    "commits": COMMITS,
    "contents": CONTENTS,
    "licenses": LICENSES,
    "files": FILES,
    "languages": LANGUAGES,
}

# --- outputs -----------------------------------------------------------------------------------

# One row per single-file commit, as in CommitPack (OctoPack paper). CommitPackFT has the same
# columns: it is a stricter subset.
COMMITPACK = pa.schema(
    [
        ("commit", pa.string()),
        ("old_file", pa.string()),
        ("new_file", pa.string()),
        ("old_contents", pa.string()),
        ("new_contents", pa.string()),
        ("subject", pa.string()),
        ("message", pa.string()),
        ("lang", pa.string()),
        ("license", pa.string()),
        ("repos", pa.string()),
    ]
)

COMMITPACKFT = COMMITPACK

# One row per (commit, rendering). ``prompt`` + ``completion`` == ``text``, so trainers can mask
# the prompt from the loss or train on ``text`` whole.
INSTRUCTIONS = pa.schema(
    [
        ("commit", pa.string()),
        ("format", pa.string()),  # "octocoder" | "commit_tokens"
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("text", pa.string()),
        ("lang", pa.string()),
        ("license", pa.string()),
        ("repos", pa.string()),
        ("new_file", pa.string()),  # the file the commit changes (mix groups a file's commits)
    ]
)

# Every record that could not be processed, with where and why. ``raw`` is the input as read
# (a JSON line, or the record re-serialised), cut at a configurable length.
DEAD_LETTER = pa.schema(
    [
        ("stage", pa.string()),
        ("table", pa.string()),
        ("key", pa.string()),
        ("error", pa.string()),
        ("raw", pa.string()),
        ("raw_truncated", pa.bool_()),
        ("source", pa.string()),
    ]
)

# One row per record in a duplicate cluster (exact or near) of the dedup stage. A cluster is
# named by its kept member's id; ``cluster_size`` counts records, exact copies included;
# ``match`` is "kept", "exact" or "near"; ``jaccard`` is the MinHash estimate of the record's
# similarity to the kept member (below the threshold when only a chain A~B~C joins them).
CLUSTERS = pa.schema(
    [
        ("id", pa.string()),
        ("cluster_id", pa.string()),
        ("cluster_size", pa.int64()),
        ("kept", pa.bool_()),
        ("match", pa.string()),
        ("jaccard", pa.float64()),
    ]
)

# --- the file corpus (``codecorpus files``) -----------------------------------------------------

# One row per kept file (licence-filtered, PII-redacted, deduplicated). ``sha`` is the git blob id
# of the file as read (before redaction); ``size`` and the line statistics describe ``content``
# as written.
FILE_CORPUS = pa.schema(
    [
        ("repo", pa.string()),
        ("ref", pa.string()),
        ("path", pa.string()),
        ("sha", pa.string()),
        ("lang", pa.string()),
        ("license", pa.string()),
        ("content", pa.string()),
        ("size", pa.int64()),
        ("lines", pa.int64()),
        ("max_line_length", pa.int64()),
        ("avg_line_length", pa.float64()),
        ("alphanum_fraction", pa.float64()),
    ]
)

# One row per kept file, or per chunk of a file over ``files.fim.chunk_chars``: ``prefix + middle +
# suffix`` is the chunk, ``content[offset:offset + len(chunk)]`` of the file's ``files`` row.
# ``mode``: "psm" | "spm" | "none"; ``span_kind``: "random", "none" or the syntax node type of
# the middle; ``text``: the rendering with the configured token set.
FIM_EXAMPLES = pa.schema(
    [
        ("repo", pa.string()),
        ("ref", pa.string()),
        ("path", pa.string()),
        ("sha", pa.string()),
        ("lang", pa.string()),
        ("license", pa.string()),
        ("chunk", pa.int64()),
        ("num_chunks", pa.int64()),
        ("offset", pa.int64()),
        ("mode", pa.string()),
        ("span_kind", pa.string()),
        ("prefix", pa.string()),
        ("middle", pa.string()),
        ("suffix", pa.string()),
        ("text", pa.string()),
    ]
)

# One row per repository document (``codecorpus files``, on by default; --no-repo-documents):
# a repository's files at one ref in StarCoder2's format, ``<repo_name>{repo}`` then
# ``<file_sep>{path}\n{content}`` per file piece, then the end-of-text token, in dependency order
# (``order``: "dependency" when imports placed any file, else "path"), cut at file boundaries (a
# file longer than a document at line ends) into ``num_chunks`` documents of at most
# ``repo_documents.max_tokens``. ``files`` lists the pieces in document order: the file's
# ``path``, ``lang``, ``sha``, the piece's character ``offset`` and ``length`` in the file, and
# where its content is in ``text`` (``starts``/``ends``, in file order: one range, or prefix,
# middle, suffix of a FIM piece), so ``"".join(text[s:e] ...)`` over a file's pieces by offset is
# its ``files`` row's content. ``fim_mode``: "psm" | "spm" | "none" (repository-level FIM applied
# to ``fim_path``). ``num_tokens``: with a tokenizer, else null (``num_chars`` / 3.5 is the bound).
REPO_DOCUMENT_PIECE = pa.struct(
    [
        ("path", pa.string()),
        ("lang", pa.string()),
        ("sha", pa.string()),
        ("offset", pa.int64()),
        ("length", pa.int64()),
        ("starts", pa.list_(pa.int64())),
        ("ends", pa.list_(pa.int64())),
    ]
)

REPO_DOCUMENTS = pa.schema(
    [
        ("repo", pa.string()),
        ("ref", pa.string()),
        ("license", pa.string()),
        ("chunk", pa.int64()),
        ("num_chunks", pa.int64()),
        ("order", pa.string()),
        ("fim_mode", pa.string()),
        ("fim_path", pa.string()),
        ("files", pa.list_(REPO_DOCUMENT_PIECE)),
        ("num_files", pa.int64()),
        ("num_chars", pa.int64()),
        ("num_tokens", pa.int64()),
        ("text", pa.string()),
    ]
)

# --- codecorpus sql: text-to-SQL triples validated by execution (REFERENCE §6) ------------------

# One row per runnable database (one per schema file). ``ddl`` then ``inserts``, executed in order
# in SQLite, rebuild the database exactly (``ddl_duckdb`` + ``inserts`` in DuckDB); ``schema_json``
# is the database in Spider's tables.json shape; ``notes_json`` counts what the DDL clean-up
# dropped or mapped; ``data_source``: "repository", "synthetic" or "mixed"; ``schema_fingerprint``:
# what near-identical databases share (names case-folded, types coarsened, keys); ``representative``:
# the db_id kept for its fingerprint group (itself when it is the one, or alone).
SQL_DATABASES = pa.schema(
    [
        ("db_id", pa.string()),
        ("repo_name", pa.string()),
        ("ref", pa.string()),
        ("path", pa.string()),
        ("license", pa.string()),
        ("dialect", pa.string()),
        ("schema_hash", pa.string()),
        ("schema_fingerprint", pa.string()),
        ("representative", pa.string()),
        ("tables", pa.int64()),
        ("rows", pa.int64()),
        ("data_source", pa.string()),
        ("ddl", pa.list_(pa.string())),
        ("ddl_duckdb", pa.list_(pa.string())),
        ("inserts", pa.list_(pa.string())),
        ("schema_json", pa.string()),
        ("notes_json", pa.string()),
    ]
)

# One row per kept (question, SQL) pair over a ``sql_databases`` database. ``difficulty``:
# "simple" | "moderate" | "complex" | "highly complex" (Spider hardness); ``template``: the SQL with
# literals masked (the dedup key); ``result_hash``: sha256 of the canonical SQLite result (rows
# sorted unless ``ordered``); ``engine_agreement``: SQLite and DuckDB returned the same result
# (null when DuckDB is not configured); ``source``: "template" | "repo"; ``question_source``:
# "template" | "describe" | "llm"; ``suite_result_hashes``: the result hash on each database of the
# test suite (``sql_test_suites``, by index).
SQL_TRIPLES = pa.schema(
    [
        ("db_id", pa.string()),
        ("question", pa.string()),
        ("sql", pa.string()),
        ("difficulty", pa.string()),
        ("template", pa.string()),
        ("template_id", pa.string()),
        ("result_columns", pa.list_(pa.string())),
        ("result_rows", pa.int64()),
        ("result_hash", pa.string()),
        ("suite_result_hashes", pa.list_(pa.string())),
        ("result_preview", pa.string()),
        ("ordered", pa.bool_()),
        ("engine_agreement", pa.bool_()),
        ("source", pa.string()),
        ("question_source", pa.string()),
        ("schema_fingerprint", pa.string()),
        ("repo_name", pa.string()),
        ("path", pa.string()),
        ("license", pa.string()),
    ]
)

# A database's test suite (Spider's test-suite evaluation): neighbour ``index`` of ``db_id`` is rebuilt
# by ``sql_databases.ddl`` (or ``ddl_duckdb``) then these ``inserts``; ``sql_triples.suite_result_hashes
# [index]`` is each triple's result hash there.
SQL_TEST_SUITES = pa.schema(
    [
        ("db_id", pa.string()),
        ("index", pa.int64()),
        ("inserts", pa.list_(pa.string())),
    ]
)

# RRTF preference pairs from the LLM backend: ``chosen`` is a candidate of the execution
# consensus (which reproduced ``gold_sql``'s result), ``rejected`` a lower-ranked candidate;
# ranks: "parse_error" < "runtime_error" < "disagreeing" < "consensus".
SQL_PREFERENCES = pa.schema(
    [
        ("db_id", pa.string()),
        ("question", pa.string()),
        ("prompt", pa.string()),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("chosen_rank", pa.string()),
        ("rejected_rank", pa.string()),
        ("votes", pa.int64()),
        ("candidates", pa.int64()),
        ("gold_sql", pa.string()),
        ("result_hash", pa.string()),
    ]
)

# --- codecorpus mix: the training set ------------------------------------------------------------

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

# One row per training example, in files ``examples/<split>-NNNNN-of-NNNNN.parquet``. ``text`` is
# always the whole example as a model sees it; chat rows also have ``messages`` and every
# instruction row ``prompt`` + ``completion`` (== ``text``) so a trainer can mask the prompt.
# ``id`` is ``<source>/<row id>``; ``copy`` numbers the repeats of an up-sampled row (0 first).
# ``num_tokens`` is null without a tokenizer. Provenance: repo, commit, path, license, lang.
MIXTURE_EXAMPLES = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("copy", pa.int32()),
        ("text", pa.string()),
        ("messages", pa.list_(MESSAGE)),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("num_tokens", pa.int64()),
        ("repo", pa.string()),
        ("commit", pa.string()),
        ("path", pa.string()),
        ("license", pa.string()),
        ("lang", pa.string()),
    ]
)

# One row per packed sequence, in files ``packed/<split>-NNNNN-of-NNNNN.parquet``: exactly
# ``seq_len`` token ids (documents of `text` sources in shuffled order, each followed by EOS, the
# last sequence of a shard padded). ``doc_ids[i]`` (an ``examples`` id, ``#k`` for a repeat) has a
# piece starting at ``input_ids[doc_starts[i]]``, running to the next start or ``num_tokens``
# (the tokens that are not padding); ``continues``: the first piece began in the sequence before.
PACKED_SEQUENCES = pa.schema(
    [
        ("id", pa.string()),
        ("input_ids", pa.list_(pa.int32())),
        ("doc_ids", pa.list_(pa.string())),
        ("doc_starts", pa.list_(pa.int32())),
        ("num_tokens", pa.int32()),
        ("continues", pa.bool_()),
    ]
)

# --- codecorpus instruct: code instructions validated by running tests ------------------------

# One row per question with a passing solution (Code Llama's rule: the first passing one, in
# generation order). ``pass_rate`` = passing / all solutions generated for it: a difficulty signal.
CODE_INSTRUCTIONS = pa.schema(
    [
        ("id", pa.string()),
        ("question", pa.string()),
        ("solution", pa.string()),
        ("tests", pa.string()),
        ("tests_format", pa.string()),     # assert | doctest
        ("language", pa.string()),
        ("pass_rate", pa.float64()),
        ("solutions", pa.int64()),         # N: solutions generated (or 1: the repository's own)
        ("passing", pa.int64()),
        ("tests_count", pa.int64()),
        ("seed_source", pa.string()),      # instructions | snippets | generate | doctests
        ("seed_ref", pa.string()),
        ("round", pa.int64()),             # Evol-Instruct round (0: the seed)
        ("parent_id", pa.string()),
        ("evolve_method", pa.string()),
        ("model", pa.string()),            # of the kept solution
        ("role", pa.string()),             # teacher | student | repository
        ("license", pa.string()),
    ]
)

# RRTF pairs (PanGu-Coder2): chosen scores higher than rejected on the same tests.
CODE_PREFERENCES = pa.schema(
    [
        ("id", pa.string()),
        ("prompt", pa.string()),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("chosen_score", pa.float64()),
        ("rejected_score", pa.float64()),
        ("chosen_outcome", pa.string()),
        ("rejected_outcome", pa.string()),
        ("chosen_role", pa.string()),
        ("rejected_role", pa.string()),
        ("chosen_model", pa.string()),
        ("rejected_model", pa.string()),
        ("language", pa.string()),
        ("round", pa.int64()),
    ]
)

# Every sandboxed run of a (solution, tests) pair, for audit.
EXECUTIONS = pa.schema(
    [
        ("id", pa.string()),               # the question's
        ("solution_index", pa.int64()),    # generation order across models
        ("model", pa.string()),
        ("role", pa.string()),
        ("solution", pa.string()),
        ("outcome", pa.string()),          # compile_error | runtime_error | timeout | partial | pass
        ("tests_passed", pa.int64()),
        ("tests_total", pa.int64()),
        ("score", pa.float64()),
        ("detail", pa.string()),           # the first error, the limit hit …
        ("output", pa.string()),           # captured stdout/stderr, truncated
        ("isolation", pa.string()),        # bwrap | none
    ]
)
