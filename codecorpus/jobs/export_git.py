"""``codecorpus export-git``: turn local git repositories into a ``github_repos``-shaped dump
(``commits``, ``contents``, ``licenses``, ``files`` as ``.jsonl.gz``) that the other pipelines
read exactly like a BigQuery export.

    codecorpus export-git . ../other-repo --output demo-dump
"""

from __future__ import annotations

import argparse
import sys

from codecorpus.io import dump
from codecorpus.io.git import GitError, export_dump

SUMMARY = "local git repositories -> github_repos-shaped dump"
DESCRIPTION = ("Export local git repositories as a dump in the BigQuery github_repos shape (gzip NDJSON: "
               "commits, contents, licenses, files), readable by every codecorpus job.")
USES_BEAM = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repos", nargs="*", help="paths of local git repositories")
    parser.add_argument("--input", action="append", default=[], metavar="REPO",
                        help="another repository path (repeatable)")
    parser.add_argument("--output", required=True, help="output directory: a local path or an fsspec URL")
    parser.add_argument("--max-blob-bytes", type=int, default=1_000_000,
                        help="blobs larger than this are exported with null content (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the export-git dump in a non-empty --output (stale table files are removed)")


def run(args: argparse.Namespace, beam_args: list[str] = ()) -> int:
    repo_paths = list(args.repos) + list(args.input)
    if not repo_paths:
        print("export-git: no repository given (positional paths or --input)", file=sys.stderr)
        return 2
    try:
        dump.check_export_folder(args.output, args.overwrite)  # refuses before anything is written
        counts = export_dump(repo_paths, args.output, max_blob_bytes=args.max_blob_bytes)
    except (GitError, dump.DumpFolderError) as e:
        print(f"export-git: {e}", file=sys.stderr)
        return 2
    for stale in dump.finish_export_folder(args.output):
        print(f"export-git: removed stale {stale}", file=sys.stderr)
    for table, rows in counts.items():
        print(f"export-git: {table}: {rows} rows -> {args.output.rstrip('/')}/{table}.jsonl.gz", file=sys.stderr)
    return 0
