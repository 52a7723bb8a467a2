"""Seed questions, from one of four sources (``--from``):

- ``instructions``: records of a JSONL/Parquet table, the question in the first of
  ``seeds.instruction_fields`` that is present (Code Alpaca's ``instruction``, our
  ``instructions/`` table's ``prompt`` …); Code Alpaca's ``input`` is appended when non-empty.
  Drops: ``filter/seed/<reason>`` (``no_instruction`` and the question checks of ``parse``).
- ``snippets``: our ``files/`` table (or any table with ``content`` and ``lang``/``path``):
  Python functions found with tree-sitter, each turned by the LLM into a self-contained problem
  (OSS-Instruct / SelfCodeAlign). Drops: ``filter/seed/not_python``, ``filter/snippet/<reason>``.
- ``generate``: interview-style questions for seeded topics (Code Llama's self-instruct):
  ``generate.topics`` (or the lines / ``topic`` fields of ``--input``), ``questions_per_topic``
  each. Drops: ``filter/generate/<reason>``.
- ``doctests``: no LLM: repository Python files, functions with doctests (``doctests.py``).

Every seed question is a dict: ``id, question, language, seed_source, seed_ref, round (0),
parent_id, evolve_method``, and for doctests the ``given_solution`` / ``given_tests`` to run.
"""

from __future__ import annotations

from codecorpus.core.routing import Count, Drop
from codecorpus.instruct import parse, prompts
from codecorpus.instruct.evolve import question_id

SOURCES = ("instructions", "snippets", "generate", "doctests")


def question_record(text: str, source: str, ref: str, language: str, **extra) -> dict:
    record = {"id": question_id(source, ref, text), "question": text, "dedup_text": text, "language": language,
              "seed_source": source,
              "seed_ref": ref, "round": 0, "parent_id": None, "evolve_method": None, "given_solution": None,
              "given_tests": None, "tests_format": "assert", "license": None}
    record.update(extra)
    return record


def _seeded(record: dict) -> list:
    return [Count("instruct/questions/seeded"), Count("instruct/questions/round/0"), record]


# --- instructions ----------------------------------------------------------------------------


def from_instruction_record(raw: dict, cfg: dict, ref: str = "") -> list:
    scfg, qcfg = cfg["seeds"], cfg["questions"]
    field = next((f for f in scfg["instruction_fields"] if isinstance(raw.get(f), str) and raw[f].strip()), None)
    if field is None:
        return [Drop("filter/seed/no_instruction")]
    text = raw[field].strip()
    extra_input = raw.get("input")
    if isinstance(extra_input, str) and extra_input.strip():
        text = f"{text}\n\n{extra_input.strip()}"
    reason = parse.question_problem(text, qcfg["min_chars"], qcfg["max_chars"])
    if reason:
        return [Drop(f"filter/seed/{reason}")]
    ref = str(raw.get(scfg["id_field"])) if scfg.get("id_field") and raw.get(scfg["id_field"]) is not None else ref
    return _seeded(question_record(text, "instructions", ref or "-", cfg["language"]))


# --- snippets --------------------------------------------------------------------------------


def _python_parser():
    import tree_sitter_python
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_python.language()))


class SnippetFinder:
    """Python functions of a file, found with tree-sitter (built once per worker)."""

    def __init__(self, min_lines: int = 4, max_lines: int = 60):
        self.min_lines, self.max_lines = min_lines, max_lines
        self._parser = None

    def setup(self) -> "SnippetFinder":
        """Build the parser (on the worker, from the stage's ``setup()``)."""
        if self._parser is None:
            self._parser = _python_parser()
        return self

    def functions(self, content: str) -> list:
        self.setup()
        data = content.encode("utf-8", "surrogatepass")
        tree = self._parser.parse(data)
        found, stack = [], [tree.root_node]
        while stack:
            node = stack.pop()
            if node.type == "function_definition" and not node.has_error:
                lines = node.end_point[0] - node.start_point[0] + 1
                if self.min_lines <= lines <= self.max_lines:
                    name = node.child_by_field_name("name")
                    found.append((node.start_point[0] + 1, name.text.decode("utf-8", "replace") if name else "?",
                                  data[node.start_byte:node.end_byte].decode("utf-8", "replace")))
                    continue  # nested functions come with their parent
            stack.extend(reversed(node.children))
        return sorted(found)


def is_python_file(raw: dict) -> bool:
    lang = raw.get("lang") or raw.get("language")
    path = raw.get("path") or raw.get("new_file") or ""
    return lang == "Python" or (lang is None and str(path).endswith(".py"))


def snippets_of_file(raw: dict, finder: SnippetFinder, cfg: dict) -> list:
    content = raw.get("content")
    if not isinstance(content, str) or not content.strip():
        return [Drop("filter/seed/no_content")]
    if not is_python_file(raw):
        return [Drop("filter/seed/not_python")]
    ref = f"{raw.get('repo') or raw.get('repo_name') or ''}/{raw.get('path') or ''}"
    events: list = [Count("instruct/snippets/files")]
    limit = cfg["snippets"]["max_per_file"]
    for lineno, name, code in finder.functions(content)[:limit]:
        events.append(Count("instruct/snippets/functions"))
        events.append({"ref": f"{ref}:{lineno}:{name}", "code": code})
    return events


def problem_from_snippet(snippet: dict, cfg: dict, client) -> list:
    qcfg = cfg["questions"]
    choice = client.choices(prompts.snippet_messages(snippet["code"], cfg["language"]), 1,
                            cfg["snippets"]["temperature"])[0]
    if choice.finish_reason == "length":
        return [Drop("filter/snippet/truncated")]
    text = parse.clean_question(choice.content or "")
    reason = parse.question_problem(text, qcfg["min_chars"], qcfg["max_chars"])
    if reason:
        return [Drop(f"filter/snippet/{reason}")]
    return _seeded(question_record(text, "snippets", snippet["ref"], cfg["language"]))


# --- generate --------------------------------------------------------------------------------


def topics_from(raw, default: list) -> list:
    if isinstance(raw, dict):
        return [raw["topic"]] if isinstance(raw.get("topic"), str) and raw["topic"].strip() else []
    return default


def questions_for_topic(topic: str, cfg: dict, client) -> list:
    gcfg, qcfg = cfg["generate"], cfg["questions"]
    choice = client.choices(prompts.generate_messages(topic, gcfg["questions_per_topic"], cfg["language"]), 1,
                            gcfg["temperature"])[0]
    items = parse.split_numbered(choice.content or "")
    if choice.finish_reason == "length" and items:
        items = items[:-1]  # the last item was cut off
    events: list = [Count("instruct/generate/topics")]
    if not items:
        return events + [Count("instruct/generate/items"), Drop("filter/generate/empty")]
    for i, item in enumerate(items[:gcfg["questions_per_topic"]]):
        events.append(Count("instruct/generate/items"))
        text = parse.clean_question(item)
        reason = parse.question_problem(text, qcfg["min_chars"], qcfg["max_chars"])
        if reason:
            events.append(Drop(f"filter/generate/{reason}"))
            continue
        events += _seeded(question_record(text, "generate", f"{topic}#{i}", cfg["language"]))
    return events


# --- doctests --------------------------------------------------------------------------------


def doctest_questions(raw: dict, cfg: dict) -> list:
    from codecorpus.instruct import doctests

    content = raw.get("content")
    path = raw.get("path") or ""
    if not isinstance(content, str) or not path.endswith(".py"):
        return [Drop("filter/seed/not_python")]
    events: list = [Count("instruct/doctests/files")]
    try:
        mined = list(doctests.mine(content, cfg["doctests"]["max_solution_chars"]))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return events + [Count("instruct/doctests/unparsable_files")]
    events.append(Count("instruct/doctests/functions", _count_functions(content)))
    ref = f"{raw.get('repo_name') or raw.get('repo') or ''}/{path}"
    for m in mined:
        events.append(Count("instruct/doctests/with_doctests"))
        if isinstance(m, doctests.Rejected):
            events.append(Drop(f"filter/doctest/{m.reason}"))
            continue
        events += _seeded(question_record(m.question, "doctests", f"{ref}:{m.lineno}:{m.name}", "Python",
                                          given_solution=m.solution, given_tests=m.tests, tests_format="doctest",
                                          dedup_text=m.signature,
                                          license=raw.get("license")))
    return events


def _count_functions(content: str) -> int:
    import ast

    return sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(ast.parse(content)))
