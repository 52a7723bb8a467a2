"""Prompts for every LLM stage, as chat messages (our own wording of the published recipes).

- ``generate``: interview-style questions for a topic (Code Llama's self-instruct asks Llama 2
  for programming interview questions; seeded topics give diversity);
- ``snippet``: a code snippet from a repository becomes a self-contained problem
  (OSS-Instruct / SelfCodeAlign: the snippet inspires, the problem must not need it);
- ``evolve``: one of WizardCoder's five code-evolution methods rewrites an instruction into a
  harder one (``EVOLVE_METHODS``);
- ``tests``: unit tests for a question (Code Llama: tests first, then solutions);
- ``solution``: a self-contained solution in a fenced block.

Every prompt names the language and asks for exactly one fenced code block where code is
wanted, so ``parse.extract_code`` can find it.
"""

from __future__ import annotations

# WizardCoder's code Evol-Instruct methods (Luo et al. 2023, table 1), in our words.
EVOLVE_METHODS = {
    "add_constraints": "Add new constraints and requirements to the original problem, adding approximately "
                       "10 additional words.",
    "rarer_requirement": "Replace a commonly used requirement in the programming task with a less common and "
                         "more specific one.",
    "more_reasoning": "If the original problem can be solved with only a few logical steps, add more reasoning "
                      "steps.",
    "erroneous_code": "Provide a piece of erroneous code as a reference to increase misdirection.",
    "complexity": "Propose higher time or space complexity requirements, but please refrain from doing so "
                  "frequently.",
}

SYSTEM = "You are a careful expert {language} programmer."


def generate_messages(topic: str, count: int, language: str) -> list:
    return [{"role": "system", "content": SYSTEM.format(language=language)},
            {"role": "user", "content": (
                f"Write {count} different programming interview questions about {topic}. Each question asks for "
                f"one {language} function, states its name, arguments and return value, and can be checked with "
                "unit tests. Number them 1., 2., ... and write nothing else.")}]


def snippet_messages(snippet: str, language: str) -> list:
    return [{"role": "system", "content": SYSTEM.format(language=language)},
            {"role": "user", "content": (
                f"Here is a {language} code snippet from an open-source repository:\n\n```{language.lower()}\n"
                f"{snippet}\n```\n\nInspired by it, write one self-contained programming problem that asks for a "
                f"single {language} function (give its name, arguments and return value). The problem must be "
                "solvable without the snippet or any library outside the standard library. Answer with the "
                "problem statement only.")}]


def evolve_messages(question: str, method: str, language: str) -> list:
    return [{"role": "system", "content": SYSTEM.format(language=language)},
            {"role": "user", "content": (
                "Please increase the difficulty of the given programming test question a bit.\n\n"
                f"You can increase the difficulty using, but not limited to, the following method:\n"
                f"{EVOLVE_METHODS[method]}\n\n"
                "Answer with the new question only; do not answer it.\n\n"
                f"Question:\n{question}")}]


def tests_messages(question: str, language: str) -> list:
    return [{"role": "system", "content": SYSTEM.format(language=language)},
            {"role": "user", "content": (
                f"Write unit tests for the following problem as {language} `assert` statements, one per line, "
                "calling the function the problem asks for. Cover normal cases and edge cases. Answer with one "
                f"```{language.lower()} block holding only the asserts (and any imports they need).\n\n"
                f"Problem:\n{question}")}]


def solution_messages(question: str, language: str) -> list:
    return [{"role": "system", "content": SYSTEM.format(language=language)},
            {"role": "user", "content": (
                f"Solve the following problem in {language}. Answer with one ```{language.lower()} block holding "
                "a complete, self-contained solution: every import and helper it needs, no example usage, no "
                f"tests.\n\nProblem:\n{question}")}]


def prompt_text(question: str, language: str) -> str:
    """The solution prompt as one string (what a preference pair's ``prompt`` holds)."""
    return "\n\n".join(m["content"] for m in solution_messages(question, language))
