"""Two small git repositories with a fixed history, for the README demo from a fresh clone.

    python docs/demo_repos.py demo-repos      # -> demo-repos/calc, demo-repos/webui

This repository's own history is no demo: its commits change many files at once and their
subjects rarely pass CommitPackFT's rules, so ``commitpackft/`` and ``instructions/`` came out
empty. These two repositories are made so that every table of ``commits`` and ``files`` has rows,
and each kind of record has an example:

- ``acme/calc`` (MIT, Python) and ``acme/webui`` (Apache-2.0, JavaScript, TypeScript, Python):
  single-file fixes with imperative subjects (-> ``commitpack``, ``commitpackft``,
  ``instructions``), and commits the filters drop: the initial imports (``no_modified_file``),
  a vendored file added alone (``added_file``), a release changing two files
  (``multiple_files``), a one-word message (``message/too_short``);
- ``webui`` vendors ``calc``'s statistics module and then applies the same fix: the second
  change is an exact duplicate (-> ``clusters/`` of ``commits``), and the two identical files
  at HEAD are one too (-> ``clusters/`` of ``files``);
- ``calc`` keeps a legacy Latin-1 file: it is not UTF-8, so it counts as binary and its edit is
  dropped (``filter/binary/binary_content``), as the file is in ``files``.

Nothing in them fails, so ``dead_letter/`` stays empty (and the cards give it no config).
Authors, committers and dates are fixed, so the commit ids (and so every table the demo writes)
are the same on every machine. The git invocation is the tests' (``tests/io/test_git.py``): no
global or system config, no signing, a fixed default branch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

T0 = 1_704_067_200  # 2024-01-01 00:00:00 UTC
DAY = 86_400

MIT = """MIT License

Copyright (c) 2024 Acme Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""

APACHE = """                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   Licensed under the Apache License, Version 2.0 (the "License");
   you may not use this file except in compliance with the License.
   You may obtain a copy of the License at

       http://www.apache.org/licenses/LICENSE-2.0
"""

STATS_V1 = '''"""Small statistics helpers."""


def mean(values):
    """The arithmetic mean of a list of numbers."""
    return sum(values) / len(values)


def median(values):
    """The middle value of a list of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def spread(values):
    """The distance between the smallest and the largest value."""
    return max(values) - min(values)
'''

STATS_V2 = STATS_V1.replace('''    """The arithmetic mean of a list of numbers."""
    return sum(values) / len(values)''', '''    """The arithmetic mean of a list of numbers, or 0.0 for an empty list."""
    if not values:
        return 0.0
    return sum(values) / len(values)''')

PARSE_V1 = '''"""Parse arithmetic expressions into tokens."""

import re

TOKEN = re.compile(r"\\s*(?:(\\d+\\.?\\d*)|(.))")


def tokens(text):
    """Numbers and operators of an expression, in order."""
    found = []
    for number, operator in TOKEN.findall(text):
        if number:
            found.append(float(number))
        elif operator.strip():
            found.append(operator)
    return found
'''

PARSE_V2 = PARSE_V1.replace('''        if number:
            found.append(float(number))''', '''        if number:
            if found and found[-1] == "-" and (len(found) == 1 or isinstance(found[-2], str)):
                found[-1] = -float(number)  # a unary minus belongs to its number
            else:
                found.append(float(number))''')

CLI_V1 = '''"""Command line entry point: calc 1 + 2."""

import sys

from calc.parse import tokens


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    items = tokens(" ".join(argv))
    total, sign = 0.0, 1
    for item in items:
        if item == "+":
            sign = 1
        elif item == "-":
            sign = -1
        else:
            total += sign * item
    print(total)
    return 0
'''

CLI_V2 = CLI_V1.replace('''    print(total)
    return 0''', '''    if not items:
        print("usage: calc EXPRESSION", file=sys.stderr)
        return 2
    print(total)
    return 0''')

# A legacy module kept in Latin-1 (its degree sign is byte 0xB0): not valid UTF-8.
UNITS_V1 = "# -*- coding: latin-1 -*-\nUNITS = {'deg': '\u00b0', 'micro': '\u00b5'}\n"
UNITS_V2 = "# -*- coding: latin-1 -*-\nUNITS = {'deg': '\u00b0', 'micro': '\u00b5', 'ohm': 'ohm'}\n"

FORMAT_V1 = '''// Formatting helpers for the dashboard.

export function formatAmount(amount, currency) {
  return currency + " " + amount.toFixed(2);
}

export function formatPercent(share) {
  return Math.round(share * 100) + "%";
}

export function formatDate(date) {
  return date.toISOString().slice(0, 10);
}
'''

FORMAT_V2 = FORMAT_V1.replace('''export function formatAmount(amount, currency) {
  return currency + " " + amount.toFixed(2);
}''', '''export function formatAmount(amount, currency, locale = "en-US") {
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(amount);
}''')

API_V1 = '''// A small client for the dashboard's HTTP API.

export interface Reply<T> {
  status: number;
  body: T;
}

export async function getJson<T>(url: string): Promise<Reply<T>> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}
'''

API_V2 = API_V1.replace('''export async function getJson<T>(url: string): Promise<Reply<T>> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}''', '''export async function getJson<T>(url: string, attempts = 3): Promise<Reply<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      return { status: response.status, body: (await response.json()) as T };
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}''')

WIDGET = '''// The summary widget: totals of the dashboard's rows.

import { formatAmount, formatPercent } from "./format.js";

export function summary(rows, currency) {
  const total = rows.reduce((sum, row) => sum + row.amount, 0);
  const paid = rows.filter((row) => row.paid).length;
  return formatAmount(total, currency) + " (" + formatPercent(paid / rows.length) + " paid)";
}
'''


class Repo:
    """A git repository driven with a fixed identity, clock and configuration."""

    def __init__(self, path: Path, name: str):
        self.path, self.clock = path, T0
        path.mkdir(parents=True)
        self.git("init", "-q")
        self.git("remote", "add", "origin", f"https://github.com/{name}.git")

    def git(self, *args: str) -> str:
        # Run from a git hook, GIT_DIR / GIT_INDEX_FILE would point at another repository.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Ada Author", "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Carl Committer", "GIT_COMMITTER_EMAIL": "carl@example.com",
            "GIT_AUTHOR_DATE": f"@{self.clock} +0000", "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
        })
        done = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                              cwd=self.path, env=env, capture_output=True, check=True)
        return done.stdout.decode().strip()

    def change(self, message: str, files: dict[str, str | bytes]) -> str:
        """Write ``files`` (path -> text or bytes), commit them a day after the last commit."""
        for path, data in files.items():
            full = self.path / path
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        self.clock += DAY
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def make_calc(root: Path) -> Path:
    repo = Repo(root / "calc", "acme/calc")
    repo.change("Add the calculator package", {
        "LICENSE": MIT, "README.md": "# calc\n\nA tiny calculator. Questions: maintainers@acme.example\n",
        "calc/__init__.py": '__version__ = "0.1.0"\n', "calc/stats.py": STATS_V1, "calc/parse.py": PARSE_V1,
        "calc/cli.py": CLI_V1, "calc/legacy/units.py": UNITS_V1.encode("latin-1")})
    repo.change("Return zero as the mean of an empty list", {"calc/stats.py": STATS_V2})
    repo.change("Handle negative numbers in expressions", {"calc/parse.py": PARSE_V2})
    repo.change("Print usage when no expression is given", {"calc/cli.py": CLI_V2})
    repo.change("Add the ohm to the legacy unit table", {"calc/legacy/units.py": UNITS_V2.encode("latin-1")})
    repo.change("Release 0.2.0 with the new parser", {
        "calc/__init__.py": '__version__ = "0.2.0"\n',
        "README.md": "# calc\n\nA tiny calculator; negative numbers work since 0.2.0.\n"
                     "Questions: maintainers@acme.example\n"})
    repo.change("typo", {"README.md": "# calc\n\nA tiny calculator; negative numbers work since 0.2.0.\n"
                                      "Questions: maintainers@acme.example (we answer in a week)\n"})
    return repo.path


def make_webui(root: Path) -> Path:
    repo = Repo(root / "webui", "acme/webui")
    repo.change("Add the dashboard", {"LICENSE": APACHE, "README.md": "# webui\n\nThe Acme dashboard.\n",
                                      "src/format.js": FORMAT_V1, "src/api.ts": API_V1, "src/widget.js": WIDGET})
    repo.change("Use Intl.NumberFormat for currency amounts", {"src/format.js": FORMAT_V2})
    repo.change("Add retries to requests that time out", {"src/api.ts": API_V2})
    repo.change("Vendor the statistics helpers of calc", {"tools/stats.py": STATS_V1})
    # The same fix as calc's, made again here: an exact duplicate change.
    repo.change("Return zero for the mean of no values", {"tools/stats.py": STATS_V2})
    return repo.path


def make_demo_repos(root: Path) -> list[Path]:
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not empty: remove it, or choose another folder")
    root.mkdir(parents=True, exist_ok=True)
    return [make_calc(root), make_webui(root)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("folder", nargs="?", default="demo-repos", help="where to create them (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        repos = make_demo_repos(Path(args.folder))
    except (FileExistsError, OSError, subprocess.CalledProcessError) as e:
        print(f"demo_repos: {e}", file=sys.stderr)
        return 2
    for path in repos:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
