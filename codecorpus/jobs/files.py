"""``codecorpus files``: files of repositories -> a file corpus and fill-in-the-middle examples.

The recipe (The Stack's filters, StarCoder's FIM; REFERENCE §4, §5):

    read files at a ref with contents, licence     dump `files` table, git:PATH HEAD, or a folder
    -> file filters                                licence, binary, size, lang, generated,
                                                   long_lines, alnum_fraction
    -> deduplicate contents                        decontaminate, exact, near (the `dedup` section;
                                                   --no-dedup)                     => clusters/
    -> redact PII in content                       (the `pii` section; --no-pii)  => files/
    -> FIM examples, one per file or chunk         PSM / SPM / none; random or structure spans
                                                                                   => fim/
    -> repository documents                        files by imports, StarCoder2 format, max_tokens
                                                   (--no-repo-documents)           => repo_documents/
    every failure, its raw record redacted                                         => dead_letter/

Accounting: every file read is kept in ``files``, dropped by a named filter (``filter/...``,
dedup's included), or dead-lettered; every ``files`` row is cut into chunks and every chunk is
a ``fim`` row or a dead letter; every ``files`` row is in its repository's documents, or its
repository is dead-lettered.
"""

from __future__ import annotations

import apache_beam as beam

from codecorpus import schemas
from codecorpus.core.filters import build_chain
from codecorpus.files import pushdown
from codecorpus.files.filters import FILE_FILTERS
from codecorpus.files.records import ID_FIELD, FilterFiles, files_row
from codecorpus.io.repo_files import file_key
from codecorpus.io.repo_files import ReadRepositoryFiles
from codecorpus.io.sources import InputSpec, parse_inputs
from codecorpus.jobs import runner as common
from codecorpus.fim import render as fim
from codecorpus.pii import redact as pii
from codecorpus.dedup.deduplicate import CLUSTERS, Deduplicate, check_config
from codecorpus.fim.structure import StructureSpans
from codecorpus.core.routing import dead_letter_order
from codecorpus.jobs.runner import Table
from codecorpus.repodocs.documents import RepoDocSettings
from codecorpus.repodocs.transform import RepoDocuments, load_tokenizer

SUMMARY = "repository files -> filtered, PII-redacted, deduplicated file corpus + FIM examples"
DESCRIPTION = """\
Build a file corpus and fill-in-the-middle (FIM) training examples from the files of
repositories.

--input is one of:
  PATH or URL            a dump with a `files` table (files at a ref) joined to `contents` and
                         `licenses` (BigQuery github_repos exports, or `codecorpus export-git`);
                         a folder without a `files` table is read as plain source files
  git:PATH[,PATH...]     the HEAD of local git repositories (repeat --input for more)
  bq:PROJECT.DATASET     live BigQuery `files` joined to `contents` (HEAD blobs), with links and the
                         licence, binary and size filters pushed into the SQL (bq:public)
  repos:FILE             remote repositories listed in FILE (owner/name or git URLs), cloned
                         on the workers and read like git: inputs

Filters (configure them in the `files.filters` section of --config YAML, disable with
--disable-filter NAME; The Stack's thresholds by default):
  licence binary size lang generated long_lines alnum_fraction
Then contents are deduplicated (the `dedup` section; --no-dedup)         -> clusters/
and PII is redacted in `content` (the `pii` section; --no-pii)            -> files/
FIM, one example per file (or per chunk of `files.fim.chunk_chars`)       -> fim/
  modes psm / spm / none (--fim-rate, --spm-rate), middles at random character positions or
  whole syntax nodes (--span random|structure|mix; tree-sitter, Python, JavaScript, Java, Go),
  rendered with a token set (--token-set starcoder|codellama|a custom set from the config)
Repository documents (the `repo_documents` section; --no-repo-documents)  -> repo_documents/
  each repository's files in StarCoder2's format (<repo_name>, <file_sep>path, end of text),
  every file after the files it imports (Python, JavaScript/TypeScript, Java, Go), split into
  documents of at most repo_documents.max_tokens (16384; characters / 3.5 without a tokenizer)

Example:
  codecorpus files --input ../shared/data/github_repos_sample --output out/files --span mix
"""

TABLES = {
    "files": Table(schemas.FILE_CORPUS, lambda r: (r["repo"], r["path"], r["ref"] or ""),
                   "files kept by the licence, binary, size, language, generated/vendored, line-length and "
                   "alphanumeric filters, PII in `content` replaced by <EMAIL>, <KEY> … (unless run with --no-pii), "
                   "deduplicated (exact and near) unless run with --no-dedup"),
    "fim": Table(schemas.FIM_EXAMPLES, lambda r: (r["repo"], r["path"], r["ref"] or "", r["chunk"]),
                 "one FIM example per file (or chunk): `mode` psm / spm / none, `span_kind` random, none or the "
                 "syntax node type of the middle; `prefix + middle + suffix` is the chunk; `text` is the rendering"),
    "clusters": Table(schemas.CLUSTERS, lambda r: (r["cluster_id"], r["id"]),
                      "every file in a duplicate cluster: `id` (repo:ref:path), `cluster_id` (the kept file's id), "
                      "`cluster_size`, `kept`, `match`, `jaccard`"),
    "repo_documents": Table(schemas.REPO_DOCUMENTS, lambda r: (r["repo"], r["ref"] or "", r["chunk"]),
                            "one row per repository document: the repository's `files` rows in StarCoder2's format "
                            "(`<repo_name>{repo}` then `<file_sep>{path}\\n{content}` per file, then "
                            "`<|endoftext|>`), every file after the files it imports (`order`: dependency, else "
                            "path), split at file boundaries (a long file at line ends) into `num_chunks` documents "
                            "of at most `repo_documents.max_tokens`; `files` says where each file piece is in `text`"),
    "dead_letter": Table(schemas.DEAD_LETTER, dead_letter_order,
                         "records that could not be processed: stage, error and raw input (PII-redacted)"),
}


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "a dump folder/URL with a `files` table, git:PATH, or a plain folder "
                                     "(repeatable)")
    parser.add_argument("--no-pii", action="store_true",
                        help="do not redact PII (on by default; recorded in manifest.json -> pii)")
    parser.add_argument("--no-dedup", action="store_true", help="do not deduplicate contents (files.dedup)")
    parser.add_argument("--span", choices=fim.SPAN_MODES,
                        help="FIM middles: random character positions, whole syntax nodes, or a mix "
                             "(files.fim.structure_rate of them structure); default files.fim.span (random)")
    parser.add_argument("--fim-rate", type=float, metavar="P", help="share of examples turned into FIM "
                        "(default files.fim.fim_rate, 0.5)")
    parser.add_argument("--spm-rate", type=float, metavar="P", help="share of FIM examples in SPM order "
                        "(default files.fim.spm_rate, 0.5)")
    parser.add_argument("--token-set", metavar="NAME", help="starcoder, codellama or a set from "
                        "files.fim.token_sets (default files.fim.token_set)")
    parser.add_argument("--no-repo-documents", action="store_true", help="do not write repo_documents/ "
                        "(repository-level documents; on by default, the repo_documents section)")


def run(args, beam_args: list[str]) -> int:
    spec = parse_inputs(args.input)  # fail on a bad --input before touching the output folder
    job = common.BeamJob(
        name="files", tables=tables_of, accounting=accounting_of, filters="files",
        build=lambda stages, config: build(stages, spec, config),
        card_title="codecorpus file corpus",
        card_description="Files of repositories, licence-filtered, PII-redacted and deduplicated, "
                         "fill-in-the-middle training examples made from them, and whole repositories as "
                         "long-context documents (`repo_documents`, StarCoder2's format, files in import order) "
                         "by `codecorpus files`.",
        card_licenses=lambda config: sorted(set(config["files"]["filters"]["licence"]["allow"])),
        describe_input=lambda args: spec.describe(),
        configure=configure,
        redactor=lambda config: pii.Redactor(config) if config["pii"]["enabled"] else None,
        manifest_extra=lambda args, config: {"pii": pii.Redactor(config).describe(),
                                             "fim": describe_fim(config),
                                             "repo_documents": RepoDocSettings.from_config(config).describe()})
    return common.run_beam_job(job, args, beam_args)


def configure(args, config: dict) -> dict:
    """Command-line switches -> config, then a check that everything the job builds can be built."""
    files_cfg, fim_cfg = config["files"], config["files"]["fim"]
    if getattr(args, "no_pii", False):
        config["pii"]["enabled"] = False
    if getattr(args, "no_dedup", False):
        files_cfg["dedup"] = False
    for option, key in (("span", "span"), ("fim_rate", "fim_rate"), ("spm_rate", "spm_rate"),
                        ("token_set", "token_set")):
        if getattr(args, option, None) is not None:
            fim_cfg[key] = getattr(args, option)
    build_chain(FILE_FILTERS, files_cfg["filters"])
    fim.FimSettings.from_config(fim_cfg)
    StructureSpans(**fim_cfg["structure"])
    if files_cfg["dedup"]:
        check_config(config["dedup"])
    if getattr(args, "no_repo_documents", False):
        config["repo_documents"]["enabled"] = False
    repo_settings = RepoDocSettings.from_config(config)
    if repo_settings.enabled and repo_settings.tokenizer:
        load_tokenizer(repo_settings.tokenizer)
    return config


def tables_of(config: dict) -> dict:
    """With repo_documents.enabled false the job writes no such table and checks no identity of it."""
    return TABLES if config["repo_documents"]["enabled"] else {k: v for k, v in TABLES.items() if k != "repo_documents"}


def accounting_of(config: dict) -> dict:
    return ACCOUNTING if config["repo_documents"]["enabled"] else {
        k: v for k, v in ACCOUNTING.items() if k != "repo_documents"}


def describe_fim(config: dict) -> dict:
    settings = fim.FimSettings.from_config(config["files"]["fim"])
    return {"token_set": {k: v for k, v in vars(settings.tokens).items()}, "span": settings.span,
            "structure_share": settings.structure_share, "fim_rate": settings.fim_rate,
            "spm_rate": settings.spm_rate, "eot_after": list(settings.eot_after)}


# --- the steps -----------------------------------------------------------------------------------


def build(stages: common.Stages, spec: InputSpec, config: dict) -> None:
    files_cfg = config["files"]
    size = files_cfg["filters"]["size"]
    read_limit = size["max_bytes"] if size.get("enabled", True) else 10_000_000
    redactor = pii.Redactor(config) if config["pii"]["enabled"] else None

    files = stages.pipeline | "ReadRepositoryFiles" >> ReadRepositoryFiles(spec, config, stages.ledger,
                                                                            max_bytes=read_limit,
                                                                            queries=pushdown.queries())
    kept = stages.step(files, "FileFilters", FilterFiles(build_chain(FILE_FILTERS, files_cfg["filters"])),
                       "file_filters", "files", key_of=file_key)
    if files_cfg["dedup"]:  # before PII, as in the commits job (docs/architecture.md: why)
        deduplicated = kept | "Deduplicate" >> Deduplicate("content", ID_FIELD, config, table="files",
                                                           packed=("content",))
        stages.write("clusters", deduplicated[CLUSTERS])
        kept = stages.take(deduplicated)
    if redactor:
        kept = stages.take(kept | "RedactPII" >> pii.RedactFields(
            ("content",), redactor, stage="pii", table="files", key_of=file_key))
    rows = kept | "FileRows" >> beam.Map(files_row)
    examples = stages.take(rows | "RenderFIM" >> fim.RenderFim(
        fim.FimSettings.from_config(files_cfg["fim"]), StructureSpans(**files_cfg["fim"]["structure"])))
    stages.write("files", rows)
    stages.write("fim", examples)
    repo_settings = RepoDocSettings.from_config(config)
    if repo_settings.enabled:
        stages.write("repo_documents", stages.take(rows | "RepoDocuments" >> RepoDocuments(repo_settings)))
    stages.finish()


# --- accounting identities, checked from the written tables and the counters ------------------


def fim_identity(counters: dict, rows: dict) -> dict:
    """Every ``files`` row was cut into chunks, and every chunk is a ``fim`` row or a dead letter."""
    files_failed = counters.get("dead_letter/fim/fim", 0)
    chunks = counters.get("fim/chunks", 0)
    chunks_failed = counters.get("dead_letter/fim/fim_chunk", 0)
    files_chunked = counters.get("fim/files", 0)
    return {"files": rows["files"], "files_chunked": files_chunked, "files_dead_lettered": files_failed,
            "chunks": chunks, "fim_rows": rows["fim"], "chunks_dead_lettered": chunks_failed,
            "holds": rows["files"] == files_chunked + files_failed and chunks == rows["fim"] + chunks_failed}


def repo_documents_identity(counters: dict, rows: dict) -> dict:
    """Every ``files`` row is in its repository's documents, or its repository failed."""
    placed = counters.get("repo_documents/files", 0)
    failed = counters.get("repo_documents/files_failed", 0)
    documents = counters.get("repo_documents/documents", 0)
    return {"files": rows["files"], "files_in_documents": placed, "files_of_failed_repositories": failed,
            "documents": documents, "repo_documents_rows": rows["repo_documents"],
            "holds": rows["files"] == placed + failed and documents == rows["repo_documents"]}


ACCOUNTING = {"files": common.records_identity("files", "files"), "fim": fim_identity,
              "repo_documents": repo_documents_identity, "dead_letters": common.dead_letters_identity}
