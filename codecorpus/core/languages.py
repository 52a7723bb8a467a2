"""Language of a file from its name, with GitHub linguist's language names (as CommitPack)."""

from __future__ import annotations

import posixpath
from typing import Optional

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


def language_of(path: Optional[str]) -> str:
    """The language of ``path`` from its file name or extension, or ``"unknown"``."""
    if not path:
        return UNKNOWN
    base = posixpath.basename(path).lower()
    if base in _FILENAMES:
        return _FILENAMES[base]
    if base.startswith("dockerfile."):
        return "Dockerfile"
    _, ext = posixpath.splitext(base)
    return _EXTENSIONS.get(ext, UNKNOWN)

