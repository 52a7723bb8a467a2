"""``codecorpus mix``: our tables -> one training set, split without leaks, in balanced shards.

The recipe:

    for each source in the mixture        commit instructions, FIM examples, SQL triples, files ...
      read its table                      read/<source>; malformed rows          => dead_letter/
      -> render to the common schema      text | messages | prompt + completion;
                                          filter/where|near_identical|empty/<source>
    -> assign splits                      connected groups (dedup clusters, files, near-duplicate texts, repos)
                                          fall on one side
    -> sample                             each source's rate from its weight / repeat / target; filter/sample/<source>
    -> count tokens (--tokenizer)         the kept rows once each (every row first, for token targets)
    -> check leakage                      groups and near-duplicates across splits   leakage/...
    -> shuffle into balanced shards       per split, equal rows (±1)    => examples/<split>-NNNNN-of-NNNNN.parquet
    -> pack (--pack N)                    text rows -> N-token sequences => packed/<split>-NNNNN-of-NNNNN.parquet

Accounting: every input row is selected, dropped by a counted filter, or dead-lettered; the
rows written are the selected rows' copies; and no dedup cluster or file is in two splits.
"""

from __future__ import annotations

import functools

import apache_beam as beam

from codecorpus import schemas
from codecorpus.config import ConfigError
from codecorpus.io import tables
from codecorpus.io.parquet import text_columns
from codecorpus.io.shards import BalancedShards, WriteSplitShard, finalise_split_table
from codecorpus.jobs import runner as common
from codecorpus.jobs.runner import Table
from codecorpus.mix import plan as mixture
from codecorpus.mix import mixing

SUMMARY = "our tables -> one training set: mixture weights, leak-free splits, balanced shuffled shards, packing"
DESCRIPTION = """\
Mix several of codecorpus' output tables into one training set. The mixture is a YAML file:

  mix:
    seed: 0
    splits: {validation: 0.05, test: 0.0}        # shares of groups; train gets the rest
    sources:
      - name: commits                            # a word: names the rows' `source` and counters
        path: out/commits/commitpackft           # a table folder, file or glob (any fsspec URL)
        kind: commitpack                         # presets for our tables (below)
        clusters: out/commits/clusters           # the dedup clusters table: a cluster stays on one side
        weight: 0.3                              # a share of the mixture (all sources, or none) ...
      - name: fim
        path: out/files/fim
        kind: fim
        clusters: out/files/clusters
        weight: 0.7                              # ... or `repeat: 2.5`, `target_rows: N`, `target_tokens: N`

Kinds preset templates ("{column}" format strings over the table's columns) that a source can
override: id; member (the id its dedup clusters table uses) and file (joins a file's commits or
chunks); text, or system/user/assistant, or prompt/completion; and
provenance: {repo, commit, path, license, lang}. `where: {column: value or [values]}` selects rows.
  instructions  commits/instructions   prompt + completion as written (`where: {format: octocoder}`)
  commitpack    commits/commitpack(ft) chat: user "{subject}\\n{old_contents}", assistant "{new_contents}"
  fim           files/fim              text "{text}"
  files         files/files            text "{content}"
  repo_documents files/repo_documents  text "{text}": whole repositories; mixing this kind groups every
                                       source by repository, so a repository's documents and its files'
                                       rows share a split (packing starts a new sequence rather than
                                       break a document that fits in one)
  sql_triples   sql/sql_triples        chat: schema + question -> SQL; needs
                                       `join: {path: out/sql/sql_databases, on: db_id, columns: [ddl]}`;
                                       `prompt_format: sql_palm` shows SQL-PaLM's schema (types, primary and
                                       foreign keys) with `sample_rows: 3` rows per table instead of the DDL;
                                       triples of near-identical databases (one schema fingerprint) share a split,
                                       and only the group's representative's are mixed (`near_identical:
                                       representative`; `all` mixes every copy's)
  code_instructions  instruct/code_instructions  chat: question -> the passing solution
  code_preferences   instruct/code_preferences   prompt -> chosen (SFT on the RRTF winner)
  custom        anything               say `render` (text | messages | prompt_completion) and templates

Splits are drawn per group, not per row: rows linked by a dedup cluster, by a file (every commit
and chunk of a file), by near-duplicate text (MinHash, `group_near_duplicates`) or, with
`group_by_repo: true`, by a repository are one group, so a near-duplicate of a validation row is
never trained on. Up-sampled rows repeat in train only.
The same inputs and seed give byte-identical output.

Outputs under --output:
  examples/     <split>-NNNNN-of-NNNNN.parquet: id, source, copy, text, messages, prompt, completion,
                num_tokens, repo, commit, path, license, lang; shards of equal row count (±1),
                globally shuffled (reading them in order is the shuffled order)
  packed/       with packing: input_ids (list<int32>, seq_len long), doc_ids, doc_starts, num_tokens
  dead_letter/  rows that could not be used, with the error
  manifest.json counters, the mixture as requested and as it came out, the leakage check
  README.md     dataset card: rows and tokens per source and split; `load_dataset(OUTPUT)` works

Example:
  codecorpus mix --config mixture.yaml --output out/mix --tokenizer tokenizer.json --pack 2048
"""

EXAMPLES, PACKED = "examples", "packed"


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, metavar="YAML", help="the mixture: a `mix:` section with "
                        "sources (merged over codecorpus/defaults.yaml)")
    parser.add_argument("--output", required=True, metavar="PATH", help="output folder (local or fsspec URL)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=PATH",
                        help="set the path of the mixture's source NAME (repeatable)")
    parser.add_argument("--tokenizer", metavar="PATH", help="a local tokenizer.json (Hugging Face `tokenizers`): "
                        "token counts per row and source, token targets and weights, packing")
    parser.add_argument("--pack", type=int, metavar="SEQ_LEN", help="pack text sources into SEQ_LEN-token "
                        "sequences (packed/); needs --tokenizer")
    parser.add_argument("--seed", type=int, help="overrides mix.seed")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty --output")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    parser.set_defaults(disable_filter=[])


def configure(args, config: dict) -> dict:
    mix = mixing.fix_yaml_on_keys(config["mix"])
    if args.seed is not None:
        mix["seed"] = args.seed
    if args.tokenizer:
        mix["tokenizer"] = args.tokenizer
    if args.pack:
        mix["packing"].update(enabled=True, seq_len=args.pack)
    return config


def input_paths(specs: list[str]) -> dict[str, str]:
    paths = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--input takes NAME=PATH (a source of the mixture), got {spec!r}")
        paths[name] = path
    return paths


def run(args, beam_args: list[str]) -> int:
    plan = {}

    def configure_and_plan(args, config: dict) -> dict:  # every check before the output is touched
        config = configure(args, config)
        plan["plan"] = mixture.plan_inputs(config["mix"], input_paths(args.input))
        return config

    def tables(config: dict) -> dict:
        names = (EXAMPLES, PACKED) if plan["plan"].packing else (EXAMPLES,)
        specs = {EXAMPLES: Table(schemas.MIXTURE_EXAMPLES), PACKED: Table(schemas.PACKED_SEQUENCES)}
        return {**{name: specs[name] for name in names}, "dead_letter": common.DEAD_LETTER_TABLE}

    finalise = lambda output, table, schema, compression: finalise_split_table(  # noqa: E731
        output, table, schema, plan["plan"].splits, compression)
    job = common.BeamJob(
        name="mix", tables=tables, configure=configure_and_plan,
        accounting=lambda config: mixture.accounting(plan["plan"]),
        build=lambda stages, config: build(stages, plan["plan"], config),
        card_title="", card_description="",
        describe_input=lambda args: plan["plan"].describe(),
        finalisers={name: finalise for name in (EXAMPLES, PACKED)},
        summarise=lambda manifest: mixture.summarise(manifest, plan["plan"]),
        write_card=lambda output, manifest: mixture.write_card(output, manifest, plan["plan"]))
    return common.run_beam_job(job, args, beam_args)


def build(stages: common.Stages, plan, config: dict) -> None:
    mix = config["mix"]
    complete = functools.partial(mixing.complete, template=plan.chat_template)  # rows are shuffled slim

    rendered = []
    for source in plan.sources:
        rows = stages.read(f"Read[{source.name}]", mixing.ReadSource(
            source, plan.files[source.name], plan.join_files.get(source.name, []), plan.chat_template))
        if plan.tokens_before_sampling:  # token targets or token weights need every row's count
            rows = rows | f"Tokenize[{source.name}]" >> plan.tokenize()
        rendered.append(rows | f"Slim[{source.name}]" >> beam.Map(mixing.slim))
    rows = tuple(rendered) | "AllSources" >> beam.Flatten()
    links = [stages.read(f"ReadClusters{i}", tables.ReadRecords(files, table=f"clusters:{i}"))
             for i, files in enumerate(plan.cluster_files)]

    split = stages.take(rows | "AssignSplits" >> mixing.AssignSplits(
        links, plan.seed, plan.fractions, plan.group_by_repo, mix["group_max_rounds"],
        near=plan.leakage_config if mix["group_near_duplicates"] else None, template=plan.chat_template))
    sampled = stages.take(split | "Sample" >> mixing.SampleRows(plan.sources, mix, counts_tokens=plan.tokens_before_sampling))
    if plan.tokenizer and not plan.tokens_before_sampling:  # only the rows that are kept, once each
        sampled = sampled | "Tokenize" >> plan.tokenize()
    stages.count(sampled | "CheckGroupLeakage" >> mixing.CheckGroupLeakage(links))
    if mix["leakage_check"]["enabled"]:
        from codecorpus.mix.leakage import CrossSplitNearDuplicates

        stages.count(sampled
                     | "SplitIdText" >> beam.Map(lambda r: (r["split"], r["id"], complete(r)["text"] or ""))
                     | "CheckNearLeakage" >> CrossSplitNearDuplicates(plan.leakage_config))
    copies = sampled | "Copies" >> beam.FlatMap(mixing.expand_copies, plan.seed)

    splits = list(plan.splits)  # (lambdas capture this list, not the plan)
    by_split = copies | "BySplit" >> beam.Partition(lambda r, n: splits.index(r["split"]), len(splits))
    out, row_group_bytes, compression = stages.output, config["output"]["row_group_bytes"], config["output"]["compression"]
    for i, name in enumerate(splits):
        shards = by_split[i] | f"Shuffle[{name}]" >> BalancedShards(
            mix["shards"].get(name), mix["shard_target_bytes"], mix["shard_multiple"],
            order=lambda r: (r["_key"], r["id"], r["copy"]), size_of=lambda r: mixing.approx_bytes(complete(r)),
            packed=text_columns(schemas.MIXTURE_EXAMPLES))
        _ = shards | f"Write[{name}]" >> beam.ParDo(WriteSplitShard(
            out, EXAMPLES, name, schemas.MIXTURE_EXAMPLES, row_group_bytes, compression, prepare=complete))
        stages.count(shards | f"Written[{name}]" >> beam.FlatMap(mixing.shard_stats, name))
        if plan.packing:
            packed = shards | f"Pack[{name}]" >> beam.ParDo(plan.packer(name)).with_outputs("stats", main="rows")
            stages.count(packed.stats)
            _ = (packed.rows
                 | f"ShufflePacked[{name}]" >> BalancedShards(
                     mix["packing"]["shards"].get(name), mix["shard_target_bytes"], mix["shard_multiple"])
                 | f"WritePacked[{name}]" >> beam.ParDo(WriteSplitShard(
                     out, PACKED, name, schemas.PACKED_SEQUENCES, row_group_bytes, compression,
                     prepare=mixing.unpack_ids)))
    for name in (EXAMPLES, PACKED):
        stages.written_elsewhere(name)
    stages.finish()
