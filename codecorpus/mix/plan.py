"""The mix job's plan (what is read, checked before anything runs) and its report (the mixture
as it came out: manifest entries, accounting identities, dataset card)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Optional

import apache_beam as beam
import fsspec

from codecorpus.config import ConfigError
from codecorpus.io import manifest as manifest_io
from codecorpus.io import rows as rows_io
from codecorpus.io import tables
from codecorpus.io.parquet import join_path
from codecorpus.mix import mixing

# --- the plan -------------------------------------------------------------------------------------


@dataclass
class Plan:
    sources: list
    files: dict                       # source -> its data files
    join_files: dict                  # source -> the files of its `join` table
    cluster_files: list               # one list of files per distinct clusters table
    splits: list                      # the splits written (train first)
    fractions: dict
    seed: int
    chat_template: dict
    leakage_config: dict
    tokenizer: Optional[str] = None
    packing: Optional[dict] = None    # {seq_len, eos_id, pad_id, remainder} when packing
    group_by_repo: bool = False
    tokens_before_sampling: bool = False   # token targets / token weights: count every row's tokens first
    cluster_paths: list = field(default_factory=list)
    estimate: dict = field(default_factory=dict)   # the output's size as planned (estimate_output)

    def tokenize(self):
        """Token counts for rows (slim or not: the text is rebuilt to count it), and the ids of
        ``text`` sources when packing."""
        from codecorpus.mix.tokens import TokenizeRows

        packed = frozenset(s.name for s in self.sources if s.render == "text") if self.packing else frozenset()
        return beam.ParDo(TokenizeRows(self.tokenizer, text_field="text", count_field="num_tokens",
                                       ids_field="_ids" if packed else None, ids_sources=packed,
                                       prepare=functools.partial(mixing.complete, template=self.chat_template)))

    def packer(self, split: str):
        p = self.packing
        whole = frozenset(s.name for s in self.sources if s.kind == "repo_documents")
        return mixing.PackShard(split, self.seed, p["seq_len"], p["eos_id"], p["pad_id"], p["remainder"], whole)

    def describe(self) -> dict:
        return {"sources": {s.name: {"path": s.path, "kind": s.kind, "render": s.render, "files": self.files[s.name],
                                     "clusters": s.clusters, "join": s.join, "where": {k: list(v) for k, v in
                                                                                       s.where.items()},
                                     "amount": {s.amount[0]: s.amount[1]},
                                     **({"sql_prompt": s.sql_prompt} if s.sql_prompt else {})} for s in self.sources},
                "clusters": self.cluster_paths, "tokenizer": self.tokenizer, "estimate": self.estimate}


def plan_inputs(mix: dict, paths: dict) -> Plan:
    """Check the mixture against its inputs (files exist, templates name real columns, the
    tokenizer loads and has its special tokens) before the output folder is touched."""
    sources = mixing.parse_sources(mix, paths)
    fractions = mixing.split_fractions(mix)
    mixing.check_chat_template(mix["chat_template"])
    files, join_files = {}, {}
    for source in sources:
        files[source.name] = tables.record_files([source.path])
        mixing.check_columns(source, set(tables.infer_schema(files[source.name]).names))
        if source.join:
            join_files[source.name] = tables.record_files([source.join["path"]])
            columns = set(tables.infer_schema(join_files[source.name]).names)
            missing = sorted({source.join["on"], *source.join_reads()} - columns)
            if missing:
                hint = (" (codecorpus sql writes it; set near_identical: all to mix every database's triples)"
                        if "representative" in missing else "")
                raise ConfigError(f"source '{source.name}': join table {source.join['path']} has no column(s) "
                                  f"{', '.join(missing)}{hint}")
    cluster_paths = sorted({s.clusters for s in sources if s.clusters})
    cluster_files = []
    for path in cluster_paths:
        found = tables.record_files([path])
        columns = set(tables.infer_schema(found).names)
        if not {"id", "cluster_id"} <= columns:
            raise ConfigError(f"clusters table {path} has no id / cluster_id columns (a codecorpus clusters/ table)")
        cluster_files.append(found)
    tokenizer, packing = mix.get("tokenizer"), None
    needs_tokens = [s.name for s in sources if s.amount[0] == "target_tokens"]
    if mix.get("weight_unit", "rows") not in ("rows", "tokens"):
        raise ConfigError("mix.weight_unit must be rows or tokens")
    if mix.get("weight_unit") == "tokens" and any(s.amount[0] == "weight" for s in sources):
        needs_tokens.append("weight_unit: tokens")
    if needs_tokens and not tokenizer:
        raise ConfigError(f"{', '.join(needs_tokens)} count tokens: give --tokenizer PATH (a local tokenizer.json)")
    if mix["packing"]["enabled"]:
        packing = _packing(mix["packing"], tokenizer)
    elif tokenizer:
        from codecorpus.mix.tokens import load_tokenizer

        load_tokenizer(tokenizer)
    if mix.get("total") is not None and not mixing.is_amount(mix["total"]):
        raise ConfigError(f"mix.total must be a finite number >= 0 or null, got {mix['total']!r}")
    plan = Plan(sources=sources, files=files, join_files=join_files, cluster_files=cluster_files,
                splits=mixing.active_splits(fractions), fractions=fractions, seed=int(mix["seed"]),
                chat_template=dict(mix["chat_template"]), leakage_config=dict(mix["leakage_check"]),
                tokenizer=tokenizer, packing=packing, cluster_paths=cluster_paths,
                group_by_repo=bool(mix["group_by_repo"]) or any(s.kind == "repo_documents" for s in sources),
                tokens_before_sampling=bool(needs_tokens))
    plan.estimate = estimate_output(plan, mix)
    check_output_bound(plan.estimate, mix.get("max_output_rows"))
    return plan


# --- the output's size, before anything runs ------------------------------------------------------

TOKEN_SAMPLE_ROWS = 256  # rows rendered and tokenized per source to estimate its tokens per row


def _mean_tokens(source, files: list, template: dict, tokenizer) -> float:
    """Tokens per row of a source, from its first rows rendered as the job renders them
    (columns a join would add are empty here: an estimate)."""
    from codecorpus.mix.tokens import encode_texts

    texts = []
    for path in files:
        for row in rows_io.iter_rows(path):
            if isinstance(row.value, dict):
                padded = {**dict.fromkeys(source.columns_needed()), **row.value}
                try:
                    texts.append(mixing.complete(mixing.render(padded, source, template), template)["text"])
                except Exception:  # noqa: BLE001 - a row the job would dead-letter counts for nothing
                    continue
            if len(texts) >= TOKEN_SAMPLE_ROWS:
                break
        if len(texts) >= TOKEN_SAMPLE_ROWS:
            break
    ids = encode_texts(tokenizer, texts)
    return sum(map(len, ids)) / len(ids) if ids else 0.0


def estimate_output(plan: Plan, mix: dict) -> dict:
    """The rows ``examples/`` gets at most: each source's rows (counted from the files, before
    ``where``) times its sampling rate, which ``mixing.sampling_rates`` computes from them as the
    job will. Token amounts use tokens per row measured on a sample of each source's rows."""
    rows_in = {s.name: sum(rows_io.count_rows(f) for f in plan.files[s.name]) for s in plan.sources}
    tokens_in = dict.fromkeys(rows_in, 0)
    if plan.tokens_before_sampling:
        from codecorpus.mix.tokens import load_tokenizer

        tokenizer = load_tokenizer(plan.tokenizer)
        for s in plan.sources:
            if rows_in[s.name]:
                mean = _mean_tokens(s, plan.files[s.name], plan.chat_template, tokenizer)
                tokens_in[s.name] = round(rows_in[s.name] * mean)
    rates = mixing.sampling_rates(plan.sources, {n: (rows_in[n], tokens_in[n]) for n in rows_in}, mix)
    sources = {n: {"rows": rows_in[n], "rate": rates[n], "rows_out": rows_in[n] * rates[n]} for n in rows_in}
    if plan.tokens_before_sampling:
        for n in sources:
            sources[n]["tokens"] = tokens_in[n]
    return {"rows": sum(e["rows_out"] for e in sources.values()), "sources": sources}


def check_output_bound(estimate: dict, bound) -> None:
    """Refuse, before anything runs, a mixture whose estimate exceeds ``mix.max_output_rows``
    (``None``, from Python only: no bound): ``repeat: 1.0e+7`` on 40 rows was OOM-killed after
    three minutes."""
    if bound is None:
        return
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
        raise ConfigError(f"mix.max_output_rows must be a positive integer or null, got {bound!r}")
    if estimate["rows"] > bound:
        detail = "; ".join(f"{name}: {e['rows']:,} rows x rate {e['rate']:.6g} = {e['rows_out']:,.0f}"
                           for name, e in estimate["sources"].items())
        raise ConfigError(f"mix: the plan would write about {estimate['rows']:,.0f} rows ({detail}), more than "
                          f"mix.max_output_rows ({bound:,}); lower the amounts (repeat, target_rows, target_tokens, "
                          "total) or raise mix.max_output_rows")


def _packing(cfg: dict, tokenizer: Optional[str]) -> dict:
    from codecorpus.mix.tokens import load_tokenizer, token_id

    if not tokenizer:
        raise ConfigError("packing needs a tokenizer: give --tokenizer PATH (a local tokenizer.json)")
    if not isinstance(cfg["seq_len"], int) or cfg["seq_len"] < 2:
        raise ConfigError(f"mix.packing.seq_len must be an integer >= 2, got {cfg['seq_len']!r}")
    if cfg["remainder"] not in ("pad", "drop"):
        raise ConfigError("mix.packing.remainder must be pad or drop")
    loaded = load_tokenizer(tokenizer)
    eos_id = token_id(loaded, cfg["eos_token"]) if cfg["eos_token"] else None
    pad_token = cfg["pad_token"] or cfg["eos_token"]
    if pad_token is None:
        raise ConfigError("mix.packing: set pad_token (or eos_token) to pad the last sequence")
    return {"seq_len": cfg["seq_len"], "eos_id": eos_id, "pad_id": token_id(loaded, pad_token),
            "remainder": cfg["remainder"]}


# --- accounting -------------------------------------------------------------------------------------


def _per_source(counters: dict, prefix: str, names) -> int:
    return sum(counters.get(f"{prefix}/{name}", 0) for name in names)


def accounting(plan: Plan) -> dict:
    names = [s.name for s in plan.sources]
    input_tables = set(names) | {"mix"}

    def rows_identity(counters, rows):
        read = _per_source(counters, "read", names)
        selected = _per_source(counters, "mix/selected", names)
        dropped = sum(_per_source(counters, f"filter/{f}", names) for f in mixing.DROPS)
        dead = sum(v for k, v in counters.items()
                   if k.startswith("dead_letter/") and k.split("/")[1] in input_tables)
        return {"read": read, "selected": selected, "dropped": dropped, "dead_lettered": dead,
                "holds": read == selected + dropped + dead}

    def copies_identity(counters, rows):
        copies = _per_source(counters, "mix/copies", names)
        return {"copies": copies, "examples_rows": rows["examples"], "holds": copies == rows["examples"]}

    def dead_letters_identity(counters, rows):
        counted = manifest_io.sum_prefix(counters, "dead_letter/")
        return {"dead_letter_rows": rows["dead_letter"], "counted": counted, "holds": rows["dead_letter"] == counted}

    def leakage_identity(counters, rows):
        kinds = ["clusters", "files"] + (["repos"] if plan.group_by_repo else [])
        terms = {f"cross_split_{k}": counters.get(mixing.leak_counter(k), 0) for k in kinds}
        return {**terms, "holds": not any(terms.values())}

    identities = {"rows": rows_identity, "copies": copies_identity, "dead_letters": dead_letters_identity,
                  "leakage": leakage_identity}
    if plan.packing:
        seq_len, eos = plan.packing["seq_len"], plan.packing["eos_id"] is not None

        def packing_identity(counters, rows):
            total = {k: sum(counters.get(f"packing/{s}/{k}", 0) for s in plan.splits)
                     for k in ("sequences", "documents", "document_tokens", "dropped_tokens", "pad_tokens")}
            packed_in = total["document_tokens"] + (total["documents"] if eos else 0)
            packed_out = total["sequences"] * seq_len - total["pad_tokens"] + total["dropped_tokens"]
            return {"document_tokens": packed_in, "packed_plus_dropped": packed_out,
                    "sequences": total["sequences"], "packed_rows": rows["packed"],
                    "holds": packed_in == packed_out and total["sequences"] == rows["packed"]}

        identities["packing"] = packing_identity
    return identities


# --- the mixture as it came out ---------------------------------------------------------------------


def summarise(manifest: dict, plan: Plan) -> dict:
    counters, config = manifest["counters"], manifest["config"]["mix"]
    names = [s.name for s in plan.sources]
    weights = {s.name: s.amount[1] for s in plan.sources if s.amount[0] == "weight"}
    mixture = {}
    for source in plan.sources:
        name = source.name
        available = counters.get(f"mix/selected/{name}", 0) + counters.get(f"filter/sample/{name}", 0)
        entry = {"kind": source.kind, "requested": {source.amount[0]: source.amount[1]},
                 "rows_available": available,
                 "tokens_available": counters.get(f"mix/available_tokens/{name}") if plan.tokens_before_sampling
                 else None,
                 "rate": counters.get(f"mix/rate_ppm/{name}", 0) / 1_000_000,
                 "splits": {}}
        if weights:
            entry["requested_share"] = weights[name] / sum(weights.values())
        for split in plan.splits:
            entry["splits"][split] = {
                "rows": counters.get(f"mix/rows/{split}/{name}", 0),
                "unique_rows": counters.get(f"mix/unique_rows/{split}/{name}", 0),
                "tokens": counters.get(f"mix/tokens/{split}/{name}", 0) if plan.tokenizer else None}
        mixture[name] = entry
    for split in plan.splits:
        for unit in ("rows", "tokens"):
            total = sum(mixture[n]["splits"][split][unit] or 0 for n in names)
            for n in names:
                value = mixture[n]["splits"][split][unit]
                mixture[n]["splits"][split][f"share_of_{unit}"] = (value / total) if total and value is not None \
                    else None
    shards = {}
    for table in [t for t in ("examples", "packed") if t in manifest["tables"]]:
        for split in plan.splits:
            sizes = [f["rows"] for f in manifest["tables"][table]["files"] if f["split"] == split]
            shards.setdefault(table, {})[split] = {"shards": len(sizes), "rows": sum(sizes),
                                                   "min_rows": min(sizes), "max_rows": max(sizes)}
    leakage = {k: v for k, v in counters.items() if k.startswith("leakage/")}
    groups = {split: counters.get(f"mix/groups/{split}", 0) for split in plan.splits}
    return {"mixture": mixture, "shards": shards, "leakage": leakage, "split_groups": groups,
            "weight_unit": config.get("weight_unit", "rows")}


def write_card(output: str, manifest: dict, plan: Plan) -> None:
    """README.md: a YAML header ``datasets`` reads (one config per table, one split per file
    prefix), the mixture as it came out, the leakage check and how a trainer reads it per rank."""
    tables_out = [t for t in ("examples", "packed") if t in manifest["tables"]]
    lines = ["---", "configs:"]
    for i, table in enumerate(tables_out):
        lines += [f"- config_name: {table}"] + (["  default: true"] if i == 0 else []) + ["  data_files:"]
        for split in plan.splits:
            lines += [f"  - split: {split}", f"    path: {table}/{split}-*.parquet"]
    licenses = {k.split("/", 2)[2]: v for k, v in manifest["counters"].items() if k.startswith("mix/licenses/")}
    lines += ["license: other", "tags:", "- code", "- codecorpus", "---", "",
              "# codecorpus training mixture", "",
              f"Made by `codecorpus mix` from {len(plan.sources)} source(s), seed {plan.seed}. Splits are drawn per "
              "group (dedup clusters, files" + (", repositories" if plan.group_by_repo
                                                else "") + "), so no group is in two splits.", "",
              "## The mixture as it came out", ""]
    has_tokens = plan.tokenizer is not None
    header = "| source | kind | requested | rate |" + "".join(
        f" {s} rows |" + (f" {s} tokens |" if has_tokens else "") for s in plan.splits) + " share of train rows |"
    lines += [header, "|---|---|---|---:|" + "---:|" * (len(plan.splits) * (2 if has_tokens else 1) + 1)]
    for name, entry in manifest["mixture"].items():
        requested = ", ".join(f"{k} {v}" for k, v in entry["requested"].items())
        if "requested_share" in entry:
            requested += f" ({entry['requested_share']:.1%} of {manifest['weight_unit']})"
        cells = [f"`{name}`", entry["kind"], requested, f"{entry['rate']:.3f}"]
        for split in plan.splits:
            cells.append(f"{entry['splits'][split]['rows']:,}")
            if has_tokens:
                cells.append(f"{entry['splits'][split]['tokens']:,}")
        share = entry["splits"]["train"]["share_of_rows"]
        cells.append("-" if share is None else f"{share:.1%}")
        lines.append("| " + " | ".join(cells) + " |")
    if manifest.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in manifest["warnings"]]
    lines += ["", "Groups per split (rows linked by a cluster, file or repository are one group; the split fractions "
              "apply to groups): " + ", ".join(f"{s} {n:,}" for s, n in manifest["split_groups"].items()) + "."]
    lines += ["", "## Files", "", "| table | split | shards | rows | rows per shard |", "|---|---|---:|---:|---|"]
    for table, per_split in manifest["shards"].items():
        for split, s in per_split.items():
            lines.append(f"| `{table}/` | {split} | {s['shards']} | {s['rows']:,} | {s['min_rows']:,} - {s['max_rows']:,} |")
    lines += ["", "## Leakage check", "", "| check | count |", "|---|---:|"]
    lines += [f"| `{k}` | {v:,} |" for k, v in sorted(manifest["leakage"].items())]
    lines += ["", "`cross_split_*`: groups (dedup clusters, files, repositories) with rows in more than one split; "
              "`near/*`: validation/test rows with a MinHash near-duplicate (Jaccard >= "
              f"{plan.leakage_config.get('threshold')}) in train, found on the written text.", "",
              "## Licences", "", "Rows carry their repository's licence (`license`): "
              + (", ".join(f"`{x}` ({n:,} rows)" for x, n in sorted(licenses.items())) or "(none recorded)") + "."]
    lines += manifest_io.drop_lines(manifest["counters"])
    lines += manifest_io.column_lines(output, {t: manifest["tables"][t] for t in tables_out})
    lines += ["", "## Reading it", "", "```python", "from datasets import load_dataset",
              f"ds = load_dataset('{output}', '{tables_out[0]}')      # or 'parquet' with data_files={{...}}",
              "", "# one rank of a distributed run: whole shards per rank, streamed",
              "from datasets.distributed import split_dataset_by_node",
              f"stream = load_dataset('parquet', data_files={{'train': '{output}/{tables_out[0]}/train-*.parquet'}},",
              "                      split='train', streaming=True)",
              "stream = split_dataset_by_node(stream, rank=rank, world_size=world_size)", "",
              "# or with pyarrow: every world_size-th file is this rank's", "import pyarrow.dataset as pds",
              f"files = sorted(pds.dataset('{output}/{tables_out[0]}').files)",
              "mine = pds.dataset([f for f in files if '/train-' in f][rank::world_size])", "```", "",
              "## How it was made", "", "```json", json.dumps({"accounting": manifest["accounting"]}, indent=2), "```",
              "", "Every counter, the full configuration and the code version are in `manifest.json`.", ""]
    with fsspec.open(join_path(output, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
