"""Language of a file from its name: language tables and the lookups that use them.

Two tables ship with codecorpus:

- ``commitpack`` (the ``commits`` job's default): CommitPack's own table, 358 languages and 853
  extensions (``data/commitpack_languages.json``, as bigcode-project/octopack's
  ``programming_languages.json``; data derived from GitHub linguist, MIT). It is looked up as
  CommitPack does (REFERENCE.md §2, ``misc_scripts.add_lang``): the last ``.``-part of the
  basename, with a ``.`` in front when the path contains a ``.``, matched case-sensitively; and a
  file is only eligible when its path ends with one of the table's extensions
  (``scrape_github.py``). Added to it, documented: the file names ``Dockerfile``, ``Makefile`` and
  ``CMakeLists.txt`` name their language wherever they are (CommitPack finds the first two only in
  paths without a ``.`` and calls ``CMakeLists.txt`` Text).
- ``codecorpus`` (the ``files`` job's): our own 121-language table, matched on the lower-cased
  extension, with more file-name rules (``Gemfile``, ``.bashrc`` …). The files job keeps it: its
  names are the ones the FIM structure spans map to grammars, and The Stack, which the files job
  follows, needs no CommitPack-specific lookup.

A table can be replaced in the config (``commits.filters.lang.table``): a name above or the path
of a JSON file mapping language -> list of extensions, in CommitPack's format.
"""

from __future__ import annotations

import importlib.resources
import json
import posixpath
from typing import Mapping, Optional, Sequence

UNKNOWN = "unknown"

# Extension (lower-case, with dot) -> language. Where linguist maps an extension to several
# languages we take the common one in code repositories (.h -> C, .m -> Objective-C).
_EXTENSIONS: dict[str, str] = {}
_BY_LANGUAGE = {
    "ABAP": ".abap",
    "ActionScript": ".as",
    "Ada": ".adb .ads",
    "Agda": ".agda",
    "Apex": ".cls .trigger",
    "AppleScript": ".applescript",
    "Arduino": ".ino",
    "AsciiDoc": ".adoc .asciidoc",
    "Assembly": ".asm .s .nasm",
    "AutoHotkey": ".ahk",
    "Awk": ".awk",
    "Batchfile": ".bat .cmd",
    "BitBake": ".bb .bbappend",
    "C": ".c .h",
    "C#": ".cs .csx",
    "C++": ".cpp .cc .cxx .c++ .hpp .hh .hxx .h++ .ipp .tpp",
    "CMake": ".cmake",
    "COBOL": ".cob .cbl .cobol",
    "CSS": ".css",
    "CSV": ".csv",
    "Clojure": ".clj .cljs .cljc .edn",
    "CoffeeScript": ".coffee",
    "Common Lisp": ".lisp .lsp .cl",
    "Crystal": ".cr",
    "Cuda": ".cu .cuh",
    "Cython": ".pyx .pxd",
    "D": ".d",
    "Dart": ".dart",
    "Diff": ".diff .patch",
    "Dockerfile": ".dockerfile",
    "Elixir": ".ex .exs",
    "Elm": ".elm",
    "Emacs Lisp": ".el",
    "Erlang": ".erl .hrl",
    "F#": ".fs .fsi .fsx",
    "Fortran": ".f .f90 .f95 .f03 .for",
    "GLSL": ".glsl .vert .frag",
    "Go": ".go",
    "Gradle": ".gradle",
    "GraphQL": ".graphql .gql",
    "Groovy": ".groovy",
    "HCL": ".hcl .tf .tfvars",
    "HTML": ".html .htm .xhtml",
    "Handlebars": ".hbs .handlebars",
    "Haskell": ".hs .lhs",
    "Haxe": ".hx",
    "INI": ".ini .cfg .editorconfig",
    "Idris": ".idr",
    "JSON": ".json .jsonl .geojson",
    "JSON5": ".json5",
    "JSX": ".jsx",
    "Java": ".java",
    "JavaScript": ".js .mjs .cjs",
    "Jinja": ".jinja .jinja2 .j2",
    "Julia": ".jl",
    "Jupyter Notebook": ".ipynb",
    "Kotlin": ".kt .kts",
    "LLVM": ".ll",
    "Less": ".less",
    "Lua": ".lua",
    "M4": ".m4",
    "Makefile": ".mk .mak",
    "Markdown": ".md .markdown .mdown",
    "Mako": ".mako",
    "Matlab": ".matlab",
    "Nim": ".nim",
    "Nix": ".nix",
    "OCaml": ".ml .mli",
    "Objective-C": ".m",
    "Objective-C++": ".mm",
    "PHP": ".php .phtml",
    "Pascal": ".pas .pp",
    "Perl": ".pl .pm .t",
    "PowerShell": ".ps1 .psm1 .psd1",
    "Prolog": ".pro .prolog",
    "Protocol Buffer": ".proto",
    "Pug": ".pug .jade",
    "Puppet": ".pp",
    "PureScript": ".purs",
    "Python": ".py .pyi .pyw",
    "QML": ".qml",
    "R": ".r",
    "Racket": ".rkt",
    "Raku": ".raku .p6",
    "Rust": ".rs",
    "Ruby": ".rb .rake .gemspec",
    "Roff": ".1 .2 .3 .4 .5 .6 .7 .8 .9 .man .roff",
    "reStructuredText": ".rst",
    "SAS": ".sas",
    "SCSS": ".scss",
    "SQL": ".sql",
    "Sass": ".sass",
    "Scala": ".scala .sc",
    "Scheme": ".scm .ss",
    "Shell": ".sh .bash .zsh .ksh",
    "Smalltalk": ".st",
    "Solidity": ".sol",
    "Starlark": ".bzl .star",
    "Stylus": ".styl",
    "Svelte": ".svelte",
    "Swift": ".swift",
    "SystemVerilog": ".sv .svh",
    "TOML": ".toml",
    "TSX": ".tsx",
    "Tcl": ".tcl",
    "TeX": ".tex .sty .cls",
    "Text": ".txt",
    "Thrift": ".thrift",
    "TypeScript": ".ts .mts .cts",
    "VHDL": ".vhd .vhdl",
    "Vala": ".vala",
    "Verilog": ".v .vh",
    "Vim Script": ".vim",
    "Visual Basic .NET": ".vb",
    "Vue": ".vue",
    "WebAssembly": ".wat .wast",
    "XML": ".xml .xsd .xsl .xslt .svg .plist .csproj .vbproj .props .targets .resx",
    "YAML": ".yml .yaml",
    "Zig": ".zig",
}
for _language, _exts in _BY_LANGUAGE.items():
    for _ext in _exts.split():
        # First mapping wins, so an ambiguous extension keeps the earlier language unless
        # listed in _PREFERRED below.
        _EXTENSIONS.setdefault(_ext, _language)
_PREFERRED = {".pp": "Puppet", ".cls": "TeX", ".m": "Objective-C", ".h": "C", ".t": "Perl"}
_EXTENSIONS.update(_PREFERRED)

# Whole file names that carry no (useful) extension.
_FILENAMES = {
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "cmakelists.txt": "CMake",
    "rakefile": "Ruby",
    "gemfile": "Ruby",
    "vagrantfile": "Ruby",
    "jenkinsfile": "Groovy",
    "build": "Starlark",
    "workspace": "Starlark",
    "build.bazel": "Starlark",
    ".bashrc": "Shell",
    ".zshrc": "Shell",
    ".profile": "Shell",
    ".gitignore": "Ignore List",
    ".dockerignore": "Ignore List",
    ".gitattributes": "Git Attributes",
    "license": "Text",
    "copying": "Text",
}




def _codecorpus_language_of(path: Optional[str]) -> str:
    if not path:
        return UNKNOWN
    base = posixpath.basename(path).lower()
    if base in _FILENAMES:
        return _FILENAMES[base]
    if base.startswith("dockerfile."):
        return "Dockerfile"
    _, ext = posixpath.splitext(base)
    return _EXTENSIONS.get(ext, UNKNOWN)


# File names that name their language wherever they are: our documented additions to
# CommitPack's table (see the module docstring).
COMMITPACK_FILENAMES = {"Dockerfile": "Dockerfile", "Makefile": "Makefile", "CMakeLists.txt": "CMake"}


class LanguageTable:
    """Language -> extensions, looked up as CommitPack looks up its table."""

    def __init__(self, languages: Mapping[str, Sequence[str]], filenames: Optional[Mapping[str, str]] = None,
                 name: str = "custom"):
        self.name = name
        self.extensions: dict[str, str] = {}
        for language, extensions in languages.items():
            for ext in extensions:
                # CommitPack builds ext -> language by iterating the table: a later language wins.
                self.extensions[ext] = language
        self.filenames = dict(filenames or {})
        # Longest first is not needed for endswith() on a tuple; sorted for a stable repr/pickle.
        self.suffixes = tuple(sorted(set(self.extensions) | set(self.filenames)))

    def language_of(self, path: Optional[str]) -> str:
        """``add_lang`` of misc_scripts.py, after the file-name additions."""
        if not path:
            return UNKNOWN
        base = path.split("/")[-1]
        if base in self.filenames:
            return self.filenames[base]
        ext = base.split(".")[-1]
        if "." in path:
            ext = "." + ext
        return self.extensions.get(ext, UNKNOWN)

    def is_eligible(self, path: Optional[str]) -> bool:
        """``scrape_github.py``'s extension filter: the path ends (case-sensitively) with one of
        the table's extensions, or its basename is one of the file-name additions."""
        if not path:
            return False
        return path.endswith(self.suffixes) or path.split("/")[-1] in self.filenames

    def languages(self) -> set[str]:
        return set(self.extensions.values()) | set(self.filenames.values())

    def __repr__(self) -> str:
        return f"LanguageTable({self.name!r}, {len(self.languages())} languages)"


def _load_json_table(text: str, where: str) -> dict[str, list[str]]:
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(e, str) for e in v) for k, v in data.items()):
        raise ValueError(f"{where}: a language table is a JSON object of language -> list of extensions")
    return data


def commitpack_table() -> LanguageTable:
    """CommitPack's table (358 languages, 853 extensions) with the file-name additions."""
    text = importlib.resources.files("codecorpus.core").joinpath("data/commitpack_languages.json").read_text("utf-8")
    return LanguageTable(_load_json_table(text, "commitpack_languages.json"), COMMITPACK_FILENAMES, "commitpack")


class _CodecorpusTable(LanguageTable):
    """Our own table, with its lower-cased lookup and file-name rules."""

    def __init__(self):
        super().__init__({}, None, "codecorpus")
        self.extensions = dict(_EXTENSIONS)
        self.filenames = dict(_FILENAMES)

    def language_of(self, path: Optional[str]) -> str:
        return _codecorpus_language_of(path)

    def is_eligible(self, path: Optional[str]) -> bool:
        return self.language_of(path) != UNKNOWN


TABLE_NAMES = ("commitpack", "codecorpus")


def language_table(spec) -> LanguageTable:
    """A table from the config: ``commitpack``, ``codecorpus``, a path to a JSON file, or a
    mapping language -> extensions given inline."""
    if isinstance(spec, LanguageTable):
        return spec
    if isinstance(spec, Mapping):
        return LanguageTable(_load_json_table(json.dumps(spec), "inline table"), COMMITPACK_FILENAMES, "inline")
    if spec == "commitpack":
        return commitpack_table()
    if spec == "codecorpus":
        return _CodecorpusTable()
    if isinstance(spec, str) and spec.endswith(".json"):
        import fsspec

        with fsspec.open(spec, "r", encoding="utf-8") as f:
            return LanguageTable(_load_json_table(f.read(), spec), COMMITPACK_FILENAMES, spec)
    raise ValueError(f"language table must be one of {', '.join(TABLE_NAMES)} or a .json path, not {spec!r}")


def language_of(path: Optional[str], table: Optional[LanguageTable] = None) -> str:
    """The language of ``path`` in ``table`` (default: our own table, the files job's), or
    ``"unknown"``."""
    if table is None:
        return _codecorpus_language_of(path)
    return table.language_of(path)

