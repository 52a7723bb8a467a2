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

OUTPUT_TABLES = {
    "commitpack": COMMITPACK,
    "commitpackft": COMMITPACKFT,
    "instructions": INSTRUCTIONS,
    "dead_letter": DEAD_LETTER,
}
