"""One question -> tests, N solutions, a sandboxed run of each, the kept triple and RRTF pairs.

Code Llama's self-instruct order: unit tests first (one LLM call), then ``solutions.n``
solutions from each configured model (``teacher`` / ``student`` roles), every (solution, tests)
pair executed in the sandbox; the first passing solution in generation order (teachers' first,
in the order the models are listed) is the kept ``solution``; ``pass_rate`` is passing / all
solutions generated. PanGu-Coder2's RRTF pairs come from the same executions
(``core/ranking.py``). A doctest question (``given_solution``) skips the LLM: its own solution is
run against its own examples.

Events: ``TableRow``s for ``code_instructions`` / ``code_preferences`` / ``executions``, counted
drops (``filter/tests/<reason>``, ``filter/solutions/no_usable_solution``,
``filter/instruct/no_passing_solution``) and counters (``instruct/outcome/<class>``,
``instruct/solutions/unusable/<reason>``, ``instruct/rrtf/…``). A failed LLM request raises: the
caller dead-letters the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from codecorpus.core import ranking
from codecorpus.core.routing import Count, Drop
from codecorpus.instruct import parse, prompts
from codecorpus.instruct.execute import Execution, execute


@dataclass(frozen=True)
class TableRow:
    table: str
    row: dict


@dataclass(frozen=True)
class Solver:
    """A model that writes solutions: its client, role and how many to ask for."""

    client: object
    model: str
    role: str
    n: int


def _execution_row(question: dict, index: int, solver_model: str, role: str, solution: str,
                   result: Execution) -> TableRow:
    return TableRow("executions", {
        "id": question["id"], "solution_index": index, "model": solver_model, "role": role, "solution": solution,
        "outcome": result.outcome, "tests_passed": result.passed, "tests_total": result.total,
        "score": result.score, "detail": result.detail, "output": result.output, "isolation": result.isolation})


def _instruction_row(question: dict, solution: str, tests: str, n: int, passing: int, tests_count: int,
                     model: str, role: str) -> TableRow:
    return TableRow("code_instructions", {
        "id": question["id"], "question": question["question"], "solution": solution, "tests": tests,
        "tests_format": question["tests_format"], "language": question["language"],
        "pass_rate": passing / n if n else 0.0, "solutions": n, "passing": passing, "tests_count": tests_count,
        "seed_source": question["seed_source"], "seed_ref": question["seed_ref"], "round": question["round"],
        "parent_id": question["parent_id"], "evolve_method": question["evolve_method"], "model": model,
        "role": role, "license": question.get("license")})


def _outcome_counts(result: Execution) -> list:
    return [Count("instruct/executions"), Count(f"instruct/outcome/{result.outcome}")]


def solve_given(question: dict, sandbox) -> list:
    """A doctest question: its repository solution against its own examples."""
    result = execute(sandbox, question["given_solution"], question["given_tests"], question["tests_format"])
    events = _outcome_counts(result)
    events.append(_execution_row(question, 0, "repository", "repository", question["given_solution"], result))
    if result.outcome != "pass":
        return events + [Drop("filter/instruct/no_passing_solution")]
    return events + [_instruction_row(question, question["given_solution"], question["given_tests"], 1, 1,
                                      result.total, "repository", "repository")]


def solve(question: dict, cfg: dict, tester, solvers: list, sandbox) -> list:
    if question.get("given_solution"):
        return solve_given(question, sandbox)
    language = question["language"]
    tcfg, scfg = cfg["tests"], cfg["solutions"]
    choice = tester.choices(prompts.tests_messages(question["question"], language), 1, tcfg["temperature"])[0]
    tests, reason = parse.extract_tests(choice.content, choice.finish_reason)
    if reason:
        return [Drop(f"filter/tests/{reason}")]
    events: list = []
    candidates: list = []
    generated = 0
    index = 0
    for solver in solvers:
        answers = solver.client.choices(prompts.solution_messages(question["question"], language), solver.n,
                                        scfg["temperature"])
        for answer in answers:
            generated += 1
            code, why = parse.extract_code(answer.content, answer.finish_reason)
            if why:
                events.append(Count(f"instruct/solutions/unusable/{why}"))
                continue
            result = execute(sandbox, code, tests, "assert")
            events += _outcome_counts(result)
            events.append(_execution_row(question, index, solver.model, solver.role, code, result))
            candidates.append((index, solver, code, result))
            index += 1
    events.append(Count("instruct/solutions", generated))
    if not candidates:
        return events + [Drop("filter/solutions/no_usable_solution")]
    events += _preferences(question, candidates, cfg["preferences"])
    passing = [c for c in candidates if c[3].outcome == "pass"]
    if not passing:
        return events + [Drop("filter/instruct/no_passing_solution")]
    _, solver, code, result = passing[0]
    return events + [_instruction_row(question, code, tests, generated, len(passing), result.total, solver.model,
                                      solver.role)]


def _preferences(question: dict, candidates: list, pcfg: dict) -> list:
    if not pcfg["enabled"]:
        return []
    scored = [ranking.Scored(code, result.score, result.outcome, solver.role, solver.model, index)
              for index, solver, code, result in candidates]
    found = ranking.preference_pairs(scored, pcfg["max_pairs"])
    events: list = []
    if found.teacher_lower:
        events.append(Count("instruct/rrtf/teacher_lower_dropped", found.teacher_lower))
    prompt = prompts.prompt_text(question["question"], question["language"])
    for chosen, rejected in found.pairs:
        if chosen.score - rejected.score < pcfg["min_margin"]:
            continue
        events.append(Count("instruct/rrtf/pairs"))
        events.append(TableRow("code_preferences", {
            "id": question["id"], "prompt": prompt, "chosen": chosen.text, "rejected": rejected.text,
            "chosen_score": chosen.score, "rejected_score": rejected.score, "chosen_outcome": chosen.label,
            "rejected_outcome": rejected.label, "chosen_role": chosen.role, "rejected_role": rejected.role,
            "chosen_model": chosen.model, "rejected_model": rejected.model, "language": question["language"],
            "round": question["round"]}))
    return events
