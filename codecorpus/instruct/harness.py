"""The test harness that runs *inside* the sandbox, in a fresh interpreter with the standard library.

This file is copied into the sandbox as it is and run as ``python3 -I harness.py TASK_DIR FD``; it
imports nothing from codecorpus (none of it is visible in there). It reads ``solution.py``,
``tests.txt`` and ``format`` (``assert`` or ``doctest``) from ``TASK_DIR`` and reports what
happened as JSON lines on the file descriptor given as the second argument (the parent opened it; stdout and stderr belong to
the solution):

    {"event": "compiled"}                       the solution compiles
    {"event": "compile_error", "error": "..."}  it does not (SyntaxError, ...)
    {"event": "loaded"}                         executing the module raised nothing
    {"event": "load_error", "error": "..."}     it raised (ImportError, NameError, ...)
    {"event": "test", "ok": true|false, "error": "..."}   one per test, as they finish
    {"event": "done", "passed": k, "total": n}

The parent classifies the run from these lines and from how the process ended, so a run killed
half-way (time limit, memory, a signal) still says how far it got. A solution that wants to
could write fake lines there: this guards against accidents, not against forgery.

Test formats:
- ``assert``: Python source. With top-level ``def test_*()`` functions, each is one test (the
  other top-level statements are setup, run first); otherwise each top-level ``assert`` is one
  test and the other statements run in order as setup. Tests see the solution's names (and
  ``import solution`` / ``from solution import f`` work).
- ``doctest``: doctest text; each example is one test, run with the standard ``doctest``
  module's default options against the solution's namespace.
"""

import ast
import json
import os
import sys
import traceback
import types


_HARNESS_PID = os.getpid()


def _report(channel, **event):
    # A solution that forks leaves copies of this harness running: only the original reports.
    if os.getpid() != _HARNESS_PID:
        return
    channel.write(json.dumps(event) + "\n")
    channel.flush()


def _error_text(exc, limit=2000):
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:limit]


def _assert_tests(source, namespace, channel):
    tree = ast.parse(source, "tests.py")
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    passed = total = 0
    if functions:
        setup = [n for n in tree.body if n not in functions]
        exec(compile(ast.Module(body=setup, type_ignores=[]), "tests.py", "exec"), namespace)
        exec(compile(ast.Module(body=functions, type_ignores=[]), "tests.py", "exec"), namespace)
        cases = [(lambda name=n.name: namespace[name]()) for n in functions]
    else:
        cases = []
        for node in tree.body:
            code = compile(ast.Module(body=[node], type_ignores=[]), "tests.py", "exec")
            if isinstance(node, ast.Assert):
                cases.append(lambda code=code: exec(code, namespace))
            else:
                cases.append((None, code))
    for case in cases:
        if isinstance(case, tuple):  # setup statement between asserts
            exec(case[1], namespace)
            continue
        total += 1
        try:
            case()
        except BaseException as exc:  # noqa: BLE001 - a failing test is data (SystemExit too)
            _report(channel, event="test", ok=False, error=_error_text(exc))
        else:
            passed += 1
            _report(channel, event="test", ok=True)
    return passed, total


def _doctest_tests(source, namespace, channel):
    import doctest

    class Runner(doctest.DocTestRunner):
        def report_success(self, out, test, example, got):
            _report(channel, event="test", ok=True)

        def report_failure(self, out, test, example, got):
            _report(channel, event="test", ok=False, error=("expected %r, got %r" % (example.want, got))[:2000])

        def report_unexpected_exception(self, out, test, example, exc_info):
            _report(channel, event="test", ok=False, error=_error_text(exc_info[1]))

    test = doctest.DocTestParser().get_doctest(source, namespace, "tests", "tests.txt", 0)
    runner = Runner(verbose=False)
    result = runner.run(test, out=lambda text: None, clear_globs=False)
    return result.attempted - result.failed, result.attempted


def main(task_dir, report_fd):
    channel = os.fdopen(report_fd, "w", encoding="utf-8")
    with open(os.path.join(task_dir, "solution.py"), encoding="utf-8") as f:
        solution = f.read()
    with open(os.path.join(task_dir, "tests.txt"), encoding="utf-8") as f:
        tests = f.read()
    with open(os.path.join(task_dir, "format"), encoding="utf-8") as f:
        fmt = f.read().strip()
    try:
        code = compile(solution, "solution.py", "exec")
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError) as exc:
        _report(channel, event="compile_error", error=_error_text(exc))
        return
    _report(channel, event="compiled")
    module = types.ModuleType("solution")
    module.__file__ = os.path.join(task_dir, "solution.py")
    sys.modules["solution"] = module
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - SystemExit too: the solution must not end the run
        _report(channel, event="load_error", error=_error_text(exc))
        return
    _report(channel, event="loaded")
    namespace = dict(module.__dict__)
    namespace["__name__"] = "__tests__"
    try:
        if fmt == "doctest":
            passed, total = _doctest_tests(tests, namespace, channel)
        else:
            passed, total = _assert_tests(tests, namespace, channel)
    except BaseException as exc:  # noqa: BLE001 - broken setup in the tests, or SystemExit
        _report(channel, event="tests_error", error=_error_text(exc))
        return
    _report(channel, event="done", passed=passed, total=total)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
