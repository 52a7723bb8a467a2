"""``codecorpus instruct``: code instructions validated by running tests.

The recipe (Code Llama's self-instruct, WizardCoder's Evol-Instruct, PanGu-Coder2's RRTF):

    seeds: --from instructions | snippets | generate | doctests      filter/seed|snippet|generate|doctest/<reason>
    -> Evol-Instruct rounds (evolve.rounds)      one WizardCoder method per question and round  filter/evolve/<reason>
    -> dedup questions: decontaminate, exact, near (the dedup job's transforms)  filter/{decontaminate,exact_dedup,near_dedup}/…
    -> tests from the LLM                                                        filter/tests/<reason>
    -> N solutions per model (teacher / student)  instruct/solutions/unusable/<reason>
    -> every (solution, tests) pair in the sandbox                                  => executions/
    -> the first passing solution                 filter/instruct/no_passing_solution => code_instructions/
    -> RRTF pairs from the same runs                                                => code_preferences/
    every failure (an LLM request that fails after retries …)                       => dead_letter/

Accounting (manifest.json): the seed records, the snippets / topics, every evolution attempt and
every question end in exactly one place.
"""

from __future__ import annotations

import apache_beam as beam

from codecorpus import schemas
from codecorpus.core.routing import dead_letter_order
from codecorpus.io import manifest as manifest_io
from codecorpus.jobs import runner as common
from codecorpus.jobs.runner import Table

SUMMARY = "instructions, code snippets, generated questions or doctests -> code instructions validated by running tests"
DESCRIPTION = """\
Build code-instruction data checked by execution: questions, unit tests and solutions, every
(solution, tests) pair run in a sandbox (bubblewrap: no network, read-only system, private tmpfs,
CPU/memory/process/file-size limits, a wall-clock deadline, the whole process group killed).

--from (instruct.from) chooses the seeds:
  instructions  --input JSONL/Parquet with an `instruction` (or question/prompt/problem) column,
                e.g. Code Alpaca, or our own instructions/ table
  snippets      --input our files/ table: Python functions (tree-sitter) that the LLM turns into
                self-contained problems (OSS-Instruct)
  generate      interview-style questions for seeded topics (Code Llama); --input optional: a
                text file of topics, one a line, or JSONL with `topic`
  doctests      no LLM: --input a dump, git:PATH or a folder; Python functions whose docstrings
                carry doctests, made self-contained (imports and helpers), kept when they pass

Every mode but doctests needs --llm-endpoint (an OpenAI-compatible server, e.g. vLLM); answers
are cached (instruct.llm.cache_dir) so a rerun asks nothing and writes byte-identical tables.

Stages (instruct: section of --config; codecorpus/defaults.yaml): Evol-Instruct rounds
(evolve.rounds, default 0: --evolve-rounds), question dedup (instruct.dedup and the dedup:
section, benchmarks for decontamination), tests, solutions.n per model (solutions.models with
roles teacher/student), sandbox limits, RRTF preferences.

Outcomes per run: compile_error < runtime_error = timeout < partial (k of n tests) < pass.

Outputs under --output:
  code_instructions/  question, solution (the first passing one), tests, language, pass_rate over
                      all N solutions, provenance (seed_source, seed_ref, round, model, role)
  code_preferences/   RRTF pairs: prompt, chosen, rejected, scores, outcomes, roles, models
  executions/         every sandboxed run: outcome, tests passed, detail, captured output
  dead_letter/        what failed, with the error
  manifest.json       counters (instruct/…, filter/…), accounting, the sandbox used

Untrusted code never runs without isolation unless instruct.sandbox.allow_unisolated is true.

Examples:
  codecorpus instruct --from doctests --input git:. --output out/doctests
  codecorpus instruct --from instructions --input code_alpaca.jsonl --output out/instruct \\
      --llm-endpoint http://localhost:8000/v1 --evolve-rounds 2
"""

TABLES = {
    "code_instructions": Table(
        schemas.CODE_INSTRUCTIONS, lambda r: (r["id"],),
        "one row per question with a passing solution: `question`, `solution` (the first passing one, "
        "self-contained), `tests` (`tests_format`: assert or doctest), `pass_rate` over all `solutions` generated, "
        "provenance (`seed_source`, `seed_ref`, `round`, `model`, `role`)"),
    "code_preferences": Table(
        schemas.CODE_PREFERENCES, lambda r: (r["id"], r["chosen"], r["rejected"]),
        "RRTF preference pairs: `prompt`, `chosen`, `rejected`, their scores (compile_error 0 < runtime_error = "
        "timeout 1 < partial 2 + k/n < pass 3), outcomes, roles and models"),
    "executions": Table(
        schemas.EXECUTIONS, lambda r: (r["id"], r["solution_index"]),
        "every sandboxed (solution, tests) run: outcome, tests passed of total, detail, captured output"),
    "dead_letter": Table(schemas.DEAD_LETTER, dead_letter_order,
                         "records that failed (an LLM request that failed after its retries …): stage, error, raw input"),
}


def add_arguments(parser) -> None:
    common.add_job_arguments(parser, "seeds: JSONL/Parquet records (instructions, snippets), a topics file "
                                     "(generate), or a dump / git:PATH / folder (doctests); repeatable")
    for action in parser._actions:  # --from generate needs no input
        if action.dest == "input":
            action.required = False
    parser.add_argument("--from", dest="source", choices=("instructions", "snippets", "generate", "doctests"),
                        help="where the seeds come from (default instruct.from: instructions)")
    parser.add_argument("--llm-endpoint", metavar="URL", help="an OpenAI-compatible server, e.g. "
                        "http://localhost:8000/v1 (instruct.llm.endpoint)")
    parser.add_argument("--llm-model", metavar="NAME", help="model name to request (instruct.llm.model)")
    parser.add_argument("--llm-cache", metavar="DIR", help="response cache folder (instruct.llm.cache_dir)")
    parser.add_argument("--solutions", type=int, metavar="N", help="solutions per question and model "
                        "(instruct.solutions.n, 10)")
    parser.add_argument("--evolve-rounds", type=int, metavar="N", help="Evol-Instruct rounds (instruct.evolve.rounds, 0)")
    parser.add_argument("--allow-unisolated", action="store_true", help="run untrusted code in a plain "
                        "resource-limited subprocess when bubblewrap does not work (instruct.sandbox.allow_unisolated)")


def configure(args, config: dict) -> dict:
    from codecorpus.config import ConfigError
    from codecorpus.instruct.prompts import EVOLVE_METHODS
    from codecorpus.instruct.seeds import SOURCES

    cfg = config["instruct"]
    for option, section, key in (("source", None, "from"), ("llm_endpoint", "llm", "endpoint"),
                                 ("llm_model", "llm", "model"), ("llm_cache", "llm", "cache_dir"),
                                 ("solutions", "solutions", "n"), ("evolve_rounds", "evolve", "rounds")):
        value = getattr(args, option, None)
        if value is not None:
            (cfg[section] if section else cfg)[key] = value
    if getattr(args, "allow_unisolated", False):
        cfg["sandbox"]["allow_unisolated"] = True
    if cfg["from"] not in SOURCES:
        raise ConfigError(f"instruct.from must be one of {', '.join(SOURCES)}; got {cfg['from']!r}")
    if cfg["from"] != "doctests" and not cfg["llm"]["endpoint"]:
        raise ConfigError(f"--from {cfg['from']} needs an LLM: pass --llm-endpoint URL (or instruct.llm.endpoint); "
                          "--from doctests needs none")
    if cfg["from"] != "generate" and not args.input:
        raise ConfigError(f"--from {cfg['from']} needs --input")
    unknown = set(cfg["evolve"]["methods"]) - set(EVOLVE_METHODS)
    if unknown or not cfg["evolve"]["methods"]:
        raise ConfigError(f"instruct.evolve.methods: unknown {sorted(unknown)}; known: {', '.join(EVOLVE_METHODS)}")
    if cfg["from"] == "doctests" and cfg["evolve"]["rounds"]:
        raise ConfigError("--from doctests keeps the repository's own questions: evolve.rounds must be 0")
    for spec in cfg["solutions"]["models"]:
        if (spec.get("role") or "teacher") not in ("teacher", "student"):
            raise ConfigError(f"instruct.solutions.models: role must be teacher or student; got {spec.get('role')!r}")
    return config


def run(args, beam_args: list[str]) -> int:
    from codecorpus.config import load_config
    from codecorpus.instruct.pipeline import make_sandbox
    from codecorpus.instruct.sandbox import SandboxUnavailable

    config = configure(args, load_config(args.config, args.disable_filter))
    cfg = config["instruct"]
    inputs = _inputs(args, cfg)  # fail on a bad --input before touching the output folder
    try:
        sandbox = make_sandbox(cfg)  # refuses here, before any work, when it cannot isolate
    except SandboxUnavailable as e:
        raise ValueError(str(e)) from None
    job = common.BeamJob(
        name="instruct", tables=TABLES, accounting=lambda config: accounting_for(config["instruct"], inputs),
        build=lambda stages, config: build(stages, inputs, config),
        card_title="codecorpus code instructions",
        card_description="Code instructions whose solutions pass their tests in a sandbox (Code Llama "
                         "self-instruct, WizardCoder Evol-Instruct, PanGu-Coder2 RRTF), made by `codecorpus instruct`.",
        describe_input=lambda args: {"from": cfg["from"], **{k: v for k, v in inputs.items() if k != "spec"}},
        configure=configure,
        manifest_extra=lambda args, config: {"sandbox": sandbox.describe()})
    return common.run_beam_job(job, args, beam_args)


def _inputs(args, cfg: dict) -> dict:
    from codecorpus.io import tables
    from codecorpus.io.sources import parse_inputs

    source = cfg["from"]
    if source == "doctests":
        spec = parse_inputs(args.input)
        if spec.kind == "bigquery":
            raise ValueError("--from doctests reads a dump, git:PATH or a folder")
        return {"spec": spec, "paths": list(spec.paths)}
    if source == "generate":
        if not args.input:
            return {"topics": list(cfg["generate"]["topics"])}
        return {"topics": _read_topics(args.input)}
    return {"files": tables.record_files(args.input)}


def _read_topics(specs: list) -> list:
    import json

    import fsspec

    topics = []
    for spec in specs:
        with fsspec.open(spec, "r", encoding="utf-8", compression="infer") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if line.startswith("{"):
                    value = json.loads(line).get("topic")
                    if isinstance(value, str) and value.strip():
                        topics.append(value.strip())
                else:
                    topics.append(line)
    if not topics:
        raise ValueError(f"no topics in {', '.join(specs)}")
    return topics


def build(stages: common.Stages, inputs: dict, config: dict) -> None:
    from codecorpus.dedup.deduplicate import Deduplicate
    from codecorpus.instruct import evolve, seeds, solve
    from codecorpus.instruct.pipeline import (ReadSeedRecords, as_outputs, make_client, make_sandbox, make_solvers,
                                              stage)

    cfg = config["instruct"]
    source = cfg["from"]

    def llm():
        return {"client": make_client(cfg["llm"])}

    # 1. seeds
    if source == "instructions":
        records = stages.read("ReadSeeds", ReadSeedRecords(inputs["files"]))
        questions = stages.step(records, "SeedQuestions", lambda r: seeds.from_instruction_record(
            r, cfg, r.get("__ref", "")), "seed", "seeds")
    elif source == "snippets":
        def finder():
            return {"finder": seeds.SnippetFinder(cfg["snippets"]["min_lines"], cfg["snippets"]["max_lines"]).setup()}

        records = stages.read("ReadFiles", ReadSeedRecords(inputs["files"]))
        snippets = stages.take(records | "FindFunctions" >> stage(
            lambda r, finder: seeds.snippets_of_file(r, finder, cfg), finder, "snippets", "seeds"))
        questions = stages.take(snippets | "SpreadSnippets" >> beam.Reshuffle() | "ProblemsFromSnippets" >> stage(
            lambda s, client: seeds.problem_from_snippet(s, cfg, client), llm, "llm_snippet", "snippets"))
    elif source == "generate":
        questions = stages.take(stages.pipeline | "Topics" >> beam.Create(inputs["topics"])
                                | "SpreadTopics" >> beam.Reshuffle() | "GenerateQuestions" >> stage(
            lambda t, client: seeds.questions_for_topic(t, cfg, client), llm, "llm_generate", "topics"))
    else:
        from codecorpus.io.repo_files import ReadRepositoryFiles

        files = stages.pipeline | "ReadRepositoryFiles" >> ReadRepositoryFiles(
            inputs["spec"], config, stages.ledger, keep_path=lambda p: None if p.endswith(".py") else "not_python",
            max_bytes=cfg["doctests"]["max_file_bytes"])
        questions = stages.step(files, "MineDoctests", lambda r: seeds.doctest_questions(r, cfg), "doctests", "files")

    # 2. Evol-Instruct: every round from the one before, all rounds kept (the `round` column)
    rounds = [questions]
    for r in range(1, cfg["evolve"]["rounds"] + 1):
        rounds.append(stages.take(rounds[-1] | f"EvolveRound{r}" >> stage(
            lambda q, client, r=r: evolve.evolve_one(q, r, cfg, client), llm, f"evolve_round_{r}", "evolutions")))
    every = tuple(rounds) | "AllRounds" >> beam.Flatten() if len(rounds) > 1 else questions

    # 3. decontaminate, exact and near dedup of the questions (on the text without boilerplate)
    if cfg["dedup"]:
        every = stages.take(every | "DedupQuestions" >> Deduplicate("dedup_text", "id", config, table="questions"))

    # 4-6. tests, solutions, sandboxed runs, kept triples and RRTF pairs
    def solving():
        resources = {"sandbox": make_sandbox(cfg), "tester": None, "solvers": []}
        if source != "doctests":
            resources.update(tester=make_client(cfg["llm"]), solvers=make_solvers(cfg))
        return resources

    solved = (every
              | "SpreadQuestions" >> beam.Reshuffle()
              | "TestsSolutionsRuns" >> stage(
                  lambda q, sandbox, tester, solvers: as_outputs(solve.solve(q, cfg, tester, solvers, sandbox),
                                                                 "code_instructions"),
                  solving, "solve", "questions", "code_preferences", "executions"))
    stages.write("code_instructions", stages.take(solved))
    stages.write("code_preferences", solved["code_preferences"])
    stages.write("executions", solved["executions"])
    stages.finish()


# --- accounting identities, checked from the written tables and the counters ------------------

_sum = manifest_io.sum_prefix
QUESTION_DROPS = ("filter/decontaminate/", "filter/exact_dedup/", "filter/near_dedup/", "filter/tests/",
                  "filter/solutions/", "filter/instruct/")


def questions_identity(counters: dict, rows: dict) -> dict:
    questions = counters.get("instruct/questions/seeded", 0) + counters.get("instruct/questions/evolved", 0)
    dropped = sum(_sum(counters, p) for p in QUESTION_DROPS)
    dead = _sum(counters, "dead_letter/questions/")
    kept = rows["code_instructions"]
    return {"questions": questions, "code_instructions": kept, "dropped": dropped, "dead_lettered": dead,
            "holds": questions == kept + dropped + dead}


def evolution_identity(counters: dict, rows: dict) -> dict:
    attempts = counters.get("instruct/evolve/attempts", 0)
    evolved = counters.get("instruct/questions/evolved", 0)
    dropped = _sum(counters, "filter/evolve/")
    return {"attempts": attempts, "evolved": evolved, "dropped": dropped, "holds": attempts == evolved + dropped}


def executions_identity(counters: dict, rows: dict) -> dict:
    runs = counters.get("instruct/executions", 0)
    by_outcome = _sum(counters, "instruct/outcome/")
    return {"executions_rows": rows["executions"], "runs": runs, "by_outcome": by_outcome,
            "holds": rows["executions"] == runs == by_outcome}


def _seed_records_identity(counters: dict, rows: dict, used_counter: str) -> dict:
    read = counters.get("read/seeds", 0)
    used = counters.get(used_counter, 0)
    dropped = _sum(counters, "filter/seed/")
    dead = _sum(counters, "dead_letter/seeds/")
    return {"read": read, "used": used, "dropped": dropped, "dead_lettered": dead, "holds": read == used + dropped + dead}


def accounting_for(cfg: dict, inputs: dict) -> dict:
    source = cfg["from"]
    identities = {}
    if source == "instructions":
        identities["seeds"] = lambda c, r: _seed_records_identity(c, r, "instruct/questions/seeded")
    elif source == "snippets":
        identities["seeds"] = lambda c, r: _seed_records_identity(c, r, "instruct/snippets/files")

        def snippets_identity(c, r):
            found, seeded = c.get("instruct/snippets/functions", 0), c.get("instruct/questions/seeded", 0)
            dropped, dead = _sum(c, "filter/snippet/"), _sum(c, "dead_letter/snippets/")
            return {"snippets": found, "seeded": seeded, "dropped": dropped, "dead_lettered": dead,
                    "holds": found == seeded + dropped + dead}
        identities["snippets"] = snippets_identity
    elif source == "generate":
        n_topics = len(inputs["topics"])

        def topics_identity(c, r):
            asked, dead = c.get("instruct/generate/topics", 0), _sum(c, "dead_letter/topics/")
            items, seeded, dropped = c.get("instruct/generate/items", 0), c.get("instruct/questions/seeded", 0), \
                _sum(c, "filter/generate/")
            return {"topics": n_topics, "answered": asked, "dead_lettered": dead, "items": items, "seeded": seeded,
                    "dropped": dropped, "holds": n_topics == asked + dead and items == seeded + dropped}
        identities["topics"] = topics_identity
    else:
        def files_identity(c, r):
            read, mined = c.get("read/files", 0), c.get("instruct/doctests/files", 0)
            dropped = _sum(c, "filter/path/") + _sum(c, "filter/file_kind/") + _sum(c, "filter/seed/")
            dead = _sum(c, "dead_letter/files/")
            return {"read": read, "mined": mined, "dropped": dropped, "dead_lettered": dead,
                    "holds": read == mined + dropped + dead}

        def doctests_identity(c, r):
            found, seeded, dropped = c.get("instruct/doctests/with_doctests", 0), \
                c.get("instruct/questions/seeded", 0), _sum(c, "filter/doctest/")
            return {"with_doctests": found, "seeded": seeded, "dropped": dropped, "holds": found == seeded + dropped}
        identities.update(files=files_identity, doctests=doctests_identity)
    identities.update(evolution=evolution_identity, questions=questions_identity, executions=executions_identity,
                      dead_letters=common.dead_letters_identity)
    return identities
