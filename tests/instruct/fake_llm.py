"""Fixtures for the instruct tests: a fake OpenAI-compatible server on 127.0.0.1 with scripted answers for every instruct stage.

Questions are recognised by the function they ask for (``add``, ``fizz``, ``sorry`` …). Solutions
cover every outcome class and every unusable-response reason; the teacher and the student
(``model``) get different scripts so RRTF's role rules are exercised. Every request is recorded.
"""

from __future__ import annotations

import re

from fake_chat import ChatServer

ADD_PASS = "```python\ndef add(a, b):\n    return a + b\n```"
ADD_PASS_2 = "Here you go:\n```python\ndef add(a, b):\n    total = a\n    total += b\n    return total\n```"
ADD_PARTIAL = "```python\ndef add(a, b):\n    return abs(a) + abs(b)\n```"
ADD_COMPILE = "```python\ndef add(a, b) return a + b\n```"
ADD_RUNTIME = "```python\nimport not_a_real_module\ndef add(a, b):\n    return a + b\n```"
ADD_TIMEOUT = "```python\ndef add(a, b):\n    while True:\n        pass\n```"
ADD_FORK = "```python\nimport os\ndef add(a, b):\n    while True:\n        os.fork()\n```"
WRONG_LANGUAGE = "```javascript\nfunction add(a, b) { return a + b; }\n```"
NOT_CODE = "You could add the two numbers together and return the sum."
TRUNCATED = "```python\ndef add(a, b):\n    return a +"

TEACHER = {
    "add": [ADD_COMPILE, ADD_PASS, ADD_PARTIAL, ADD_RUNTIME, ADD_TIMEOUT, WRONG_LANGUAGE, NOT_CODE, "", ADD_PASS_2,
            ADD_FORK, TRUNCATED],
    "fizz": ["```python\ndef fizz(n):\n    return 'Fizz' if n % 3 == 0 else str(n)\n```"] * 2,
    "hard": ["```python\ndef hard(x):\n    return x\n```", "```python\ndef hard(x):\n    return -x\n```"],
    "double": ["```python\ndef double(x):\n    return x + x\n```", "```python\ndef double(x):\n    return 2 * x\n```"],
}
STUDENT = {
    "add": [ADD_PASS, ADD_PARTIAL],
    "fizz": ["```python\ndef fizz(n):\n    return str(n)\n```"],
    # the student beats the teacher here: pairs that would reject the teacher are dropped
    "hard": ["```python\ndef hard(x):\n    return x * x\n```"],
    "double": ["```python\ndef double(x):\n    return x * 2\n```"],
}
TESTS = {
    "add": "```python\nassert add(1, 2) == 3\nassert add(-1, -1) == -2\nassert add(0, 5) == 5\n```",
    "fizz": "```python\nassert fizz(3) == 'Fizz'\nassert fizz(4) == '4'\n```",
    "hard": "```python\nassert hard(3) == 9\nassert hard(2) == 4\n```",
    "double": "```python\ndef test_double():\n    assert double(4) == 8\n```",
    "sorry": "I'm sorry, I cannot write tests for that.",
}


def _name_in(text: str) -> str:
    m = re.search(r"`(\w+)\(", text) or re.search(r"\bfunction (\w+)\b", text)
    return m.group(1) if m else ""


class FakeCodeLLM(ChatServer):
    def __init__(self, fail_names: tuple = ("broken",)):
        super().__init__()
        self.fail_names = fail_names

    def answer(self, body: dict, path: str) -> tuple:
        text = body["messages"][-1]["content"]
        n = body.get("n", 1)
        name = _name_in(text.split("Problem:")[-1] if "Problem:" in text else text.split("Question:")[-1])
        if name in self.fail_names:
            return 400, []
        if text.startswith("Please increase the difficulty"):
            question = text.split("Question:\n", 1)[1]
            if name == "fizz":
                return 200, [("I'm sorry, but I can't make this harder.", "stop")]
            if name == "double":
                return 200, [("New question: " + question, "stop")]  # a copy
            return 200, [(f"New question: {question} The function must also accept negative numbers and "
                          "run in constant time.", "stop")]
        if text.startswith("Write unit tests"):
            return 200, [(TESTS.get(name, TESTS["sorry"]), "stop")]
        if text.startswith("Solve the following problem"):
            script = (STUDENT if body["model"] == "student-model" else TEACHER).get(name, [NOT_CODE])
            answers = [script[i % len(script)] for i in range(n)]
            return 200, [(a, "length" if a == TRUNCATED else "stop") for a in answers]
        if "interview questions about" in text:
            return 200, [("1. Write a function `add(a, b)` that returns the sum of two integers.\n"
                          "2. Write a function `fizz(n)` that returns 'Fizz' for multiples of three and the number "
                          "as a string otherwise.\n3. Sure", "stop")]
        if "code snippet from an open-source repository" in text:
            fn = re.search(r"def (\w+)\(", text)
            return 200, [(f"Write a function `add(a, b)` inspired by `{fn.group(1) if fn else 'x'}` that returns "
                          "the sum of two integers.", "stop")]
        return 200, [("", "stop")]


# A module for the doctest mode: kept (words, hyp: with a helper and imports), failing (wrong),
# hostile (spin loops, peek reads the host), and dropped before running (numpy, a method).
DOCTEST_MODULE = '''"""Helpers with doctests."""
import math
import re

_WORD = re.compile(r"[a-z]+")


def _clean(text):
    return text.lower()


def words(text):
    """The words of a text, lower-cased.

    >>> words("Hello, World")
    ['hello', 'world']
    """
    return _WORD.findall(_clean(text))


def hyp(a, b):
    """Hypotenuse.

    >>> hyp(3, 4)
    5.0
    """
    return math.hypot(a, b)


def wrong(x):
    """
    >>> wrong(2)
    5
    """
    return x + 1


def spin():
    """
    >>> spin()
    1
    """
    while True:
        pass


def peek():
    """Reads the host.

    >>> peek()
    True
    """
    import os
    return os.path.exists("/etc/passwd") or os.path.exists(os.path.expanduser("~/.bashrc"))


def uses_numpy():
    """
    >>> uses_numpy()
    0
    """
    import numpy
    return 0


class K:
    def m(self):
        """
        >>> K().m()
        1
        """
        return 1
'''
