"""Fixed pyarrow schemas of every table codecorpus reads or writes.

Input tables follow the public BigQuery ``bigquery-public-data.github_repos`` dataset
(``REFERENCE.md`` §1). Output tables are the contract with trainers and other tooling: column
names and types here change only deliberately.
"""

from types import MappingProxyType
from typing import Mapping, NamedTuple

import pyarrow as pa

# One line per column of every output table, beside its schema: the dataset card's "Columns"
# section reads them (``column_meanings``). Kept out of the schemas themselves, since field
# metadata would be written into every Parquet file and change its bytes.
class Described(NamedTuple):
    schema: pa.Schema
    meanings: Mapping[str, str]


def describe(schema: pa.Schema, **meanings: str) -> Described:
    """A one-line meaning for every column of ``schema`` (all of them: a test checks)."""
    return Described(schema, MappingProxyType(meanings))


def column_meanings(schema: pa.Schema) -> Mapping[str, str]:
    """The meanings of a table's columns (looked up by an equal schema, as read back from a
    written file); empty for a schema of the user's (``dedup``, ``pii`` records)."""
    for known in DESCRIBED:
        if known.schema.equals(schema, check_metadata=False):
            return known.meanings
    return {}


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

COMMITPACK_COLUMNS = describe(
    COMMITPACK,
    commit="the commit's sha1",
    old_file="path of the file before the commit",
    new_file="path of the file after the commit (the same path: an in-place modification)",
    old_contents="the file's text before the commit",
    new_contents="the file's text after the commit",
    subject="the commit message's first line (CommitPackFT: cleaned of `[ci skip]` and tags)",
    message="the whole commit message",
    lang="language of the file, from its extension",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    repos="the repositories the commit is in, comma-separated")

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

INSTRUCTIONS_COLUMNS = describe(
    INSTRUCTIONS,
    commit="the commit's sha1 (a `commitpackft` row)",
    format="the rendering: `octocoder` (Question/Answer) or `commit_tokens` (`<commit_before>`…)",
    prompt="what the model is given: the subject and the old file",
    completion="what the model must write: the new file",
    text="`prompt + completion`, the whole example",
    lang="language of the file, from its extension",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    repos="the repositories the commit is in, comma-separated",
    new_file="path of the file the commit changes")

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

DEAD_LETTER_COLUMNS = describe(
    DEAD_LETTER,
    stage="the pipeline stage that failed",
    table="the input table the record came from",
    key="the record's key (commit sha, blob id, path …) when it could be read",
    error="what went wrong",
    raw="the record as read (redacted when the job redacts), cut at `dead_letter.max_raw_chars`",
    raw_truncated="whether `raw` was cut",
    source="the input file or place the record came from")

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

CLUSTERS_COLUMNS = describe(
    CLUSTERS,
    id="the record's id (commit sha, file key …)",
    cluster_id="id of the cluster's kept member",
    cluster_size="records in the cluster, exact copies included",
    kept="whether this record is the one kept",
    match="`kept`, `exact` or `near`: how the record joined the cluster",
    jaccard="MinHash estimate of the record's similarity to the kept member")

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

FILE_CORPUS_COLUMNS = describe(
    FILE_CORPUS,
    repo="the repository (owner/name)",
    ref="the git ref or commit the file was read at",
    path="path of the file in the repository",
    sha="git blob id of the file as read (before redaction)",
    lang="language of the file, from its extension",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    content="the file's text (PII-redacted unless --no-pii)",
    size="bytes of `content` (UTF-8)",
    lines="lines of `content`",
    max_line_length="characters of the longest line",
    avg_line_length="mean characters per line",
    alphanum_fraction="share of letters and digits in `content`")

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

FIM_EXAMPLES_COLUMNS = describe(
    FIM_EXAMPLES,
    repo="the repository (owner/name)",
    ref="the git ref or commit the file was read at",
    path="path of the file in the repository",
    sha="git blob id of the file (its `files` row)",
    lang="language of the file, from its extension",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    chunk="index of this chunk of the file (0 for a file in one chunk)",
    num_chunks="chunks the file was cut into",
    offset="character offset of the chunk in the file's content",
    mode="`psm`, `spm` or `none` (no FIM transform: plain text)",
    span_kind="how the middle was chosen: `random`, `none` or the syntax node type",
    prefix="text before the middle",
    middle="the span the model fills in",
    suffix="text after the middle",
    text="the example rendered with the configured FIM token set")

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

REPO_DOCUMENTS_COLUMNS = describe(
    REPO_DOCUMENTS,
    repo="the repository (owner/name)",
    ref="the git ref or commit the files were read at",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    chunk="index of this document among the repository's",
    num_chunks="documents the repository was cut into",
    order="`dependency` (imported files first) or `path`",
    fim_mode="repository-level FIM: `psm`, `spm` or `none`",
    fim_path="the file the FIM transform was applied to, if any",
    files="the file pieces in document order: path, lang, sha, offset, length, where in `text`",
    num_files="file pieces in the document",
    num_chars="characters of `text`",
    num_tokens="tokens of `text` with the configured tokenizer (null without one)",
    text="`<repo_name>` header, then `<file_sep>{path}` and each file, then end-of-text")

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

SQL_DATABASES_COLUMNS = describe(
    SQL_DATABASES,
    db_id="the database's id",
    repo_name="the repository the schema file came from",
    ref="the git ref or commit it was read at",
    path="path of the schema file",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    dialect="SQL dialect the file was parsed as",
    schema_hash="hash of the normalised schema",
    schema_fingerprint="what near-identical databases share (names case-folded, types coarsened)",
    representative="the db_id kept for this fingerprint",
    tables="tables in the database",
    rows="rows inserted",
    data_source="where the rows come from: `repository`, `synthetic` or `mixed`",
    ddl="SQLite CREATE statements, in order",
    ddl_duckdb="the same for DuckDB",
    inserts="INSERT statements rebuilding the data",
    schema_json="the database in Spider's tables.json shape",
    notes_json="what the DDL clean-up dropped or mapped, counted")

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

SQL_TRIPLES_COLUMNS = describe(
    SQL_TRIPLES,
    db_id="the `sql_databases` database it runs on",
    question="the natural-language question",
    sql="the SQL query answering it",
    difficulty="Spider hardness: simple, moderate, complex, highly complex",
    template="the SQL with literals masked (the dedup key)",
    template_id="id of the template",
    result_columns="column names of the result",
    result_rows="rows the query returns",
    result_hash="sha256 of the canonical SQLite result",
    suite_result_hashes="the result hash on each test-suite database, by index",
    result_preview="the first rows of the result",
    ordered="whether the result's order matters (ORDER BY)",
    engine_agreement="SQLite and DuckDB returned the same result (null: DuckDB not configured)",
    source="`template` or `repo`: where the SQL came from",
    question_source="`template`, `describe` or `llm`: where the question came from",
    schema_fingerprint="the database's fingerprint",
    repo_name="the repository of the schema file",
    path="path of the schema file",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)")

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

SQL_TEST_SUITES_COLUMNS = describe(
    SQL_TEST_SUITES,
    db_id="the `sql_databases` database",
    index="the neighbour's index (into `sql_triples.suite_result_hashes`)",
    inserts="INSERT statements filling the neighbour, after the database's DDL")

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

SQL_PREFERENCES_COLUMNS = describe(
    SQL_PREFERENCES,
    db_id="the `sql_databases` database",
    question="the natural-language question",
    prompt="the prompt the model was given",
    chosen="a candidate SQL of the execution consensus",
    rejected="a lower-ranked candidate SQL",
    chosen_rank="rank of `chosen`: parse_error < runtime_error < disagreeing < consensus",
    rejected_rank="rank of `rejected`",
    votes="candidates in the consensus",
    candidates="candidates generated",
    gold_sql="the triple's SQL",
    result_hash="hash of the gold result")

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

MIXTURE_EXAMPLES_COLUMNS = describe(
    MIXTURE_EXAMPLES,
    id="`<source>/<row id>`",
    source="the mixture source the row came from",
    copy="which repeat of an up-sampled row (0 first)",
    text="the whole example as a model sees it",
    messages="chat turns (role, content) for chat-shaped sources",
    prompt="the part a trainer may mask from the loss",
    completion="the part to learn (`prompt + completion == text`)",
    num_tokens="tokens of `text` (null without a tokenizer)",
    repo="provenance: the repository",
    commit="provenance: the commit",
    path="provenance: the file",
    license="licence of the repository as the input names it (`mit`, `apache-2.0` …)",
    lang="language of the file")

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

PACKED_SEQUENCES_COLUMNS = describe(
    PACKED_SEQUENCES,
    id="the sequence's id",
    input_ids="exactly `seq_len` token ids (EOS between documents, padding at a shard's end)",
    doc_ids="the `examples` ids with a piece in the sequence (`#k` for a repeat)",
    doc_starts="where each piece starts in `input_ids`",
    num_tokens="tokens that are not padding",
    continues="the first piece began in the sequence before")

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

CODE_INSTRUCTIONS_COLUMNS = describe(
    CODE_INSTRUCTIONS,
    id="the question's id",
    question="the instruction",
    solution="the first passing solution",
    tests="the tests it passes",
    tests_format="`assert` or `doctest`",
    language="programming language of the solution",
    pass_rate="passing / all solutions generated: a difficulty signal",
    solutions="solutions generated (1: the repository's own)",
    passing="solutions that passed",
    tests_count="tests in `tests`",
    seed_source="`instructions`, `snippets`, `generate` or `doctests`",
    seed_ref="where the seed came from",
    round="Evol-Instruct round (0: the seed)",
    parent_id="the question this one was evolved from",
    evolve_method="the Evol-Instruct method of this round",
    model="model of the kept solution",
    role="`teacher`, `student` or `repository`",
    license="licence of the seed's source")

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

CODE_PREFERENCES_COLUMNS = describe(
    CODE_PREFERENCES,
    id="the question's id",
    prompt="the question",
    chosen="the higher-scoring solution",
    rejected="the lower-scoring solution",
    chosen_score="share of tests `chosen` passes",
    rejected_score="share of tests `rejected` passes",
    chosen_outcome="sandbox outcome of `chosen`",
    rejected_outcome="sandbox outcome of `rejected`",
    chosen_role="`teacher` or `student`",
    rejected_role="`teacher` or `student`",
    chosen_model="model of `chosen`",
    rejected_model="model of `rejected`",
    language="programming language",
    round="Evol-Instruct round of the question")

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

EXECUTIONS_COLUMNS = describe(
    EXECUTIONS,
    id="the question's id",
    solution_index="generation order across models",
    model="the model that wrote the solution",
    role="`teacher`, `student` or `repository`",
    solution="the code run",
    outcome="compile_error, runtime_error, timeout, partial or pass",
    tests_passed="tests passed",
    tests_total="tests run",
    score="`tests_passed / tests_total`",
    detail="the first error or the limit hit",
    output="captured stdout/stderr, truncated",
    isolation="`bwrap` or `none`")


# Every described schema of this module, in order (what ``column_meanings`` searches).
DESCRIBED = tuple(value for value in list(globals().values()) if isinstance(value, Described))
