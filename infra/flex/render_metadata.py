"""Write one Flex Template metadata file per Beam job: ``infra/flex/metadata/<job>.json``.

    python infra/flex/render_metadata.py

The parameters are the job's own command-line options, read from the CLI's parsers (so a new
option or a new job in ``codecorpus.cli.JOBS`` shows up here when this is run again;
``tests/test_packaging.py`` fails while the files are out of date). Beam's own options
(``--project``, ``--region``, ``--temp_location``, ``--sdk_container_image`` …) are not listed:
Dataflow accepts them for every template. Inputs, outputs and other places are offered only in
the forms a Dataflow job can use (``gs://…``, ``bq:`` for ``commits``): never ``git:PATH`` or a
local folder, which the CLI takes on a laptop.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ANY = r"^[^\n\r]+$"
GCS = r"^gs://[^\n\r]+$"
BOOLEAN = r"^(true|false)$"

# A template runs on Dataflow: the launcher and the workers see only remote places, so the
# template offers only those. The CLI's own help also names local folders and `git:PATH`
# (read on this machine), which cannot work there: places get their own help and regexes.
_GCS_PATH = r"gs://[^,\n\r]+"
_BQ = r"bq:[^,\n\r]+"
_REPOS = r"repos:" + _GCS_PATH   # a repository list on GCS, cloned on the workers
_REPOS_HELP = "; or repos:gs://bucket/list.txt (owner/name or git URLs, one a line, cloned on the workers)"
REMOTE_INPUTS = {  # job -> (what --input is on Dataflow, the forms accepted)
    "commits": ("a BigQuery export on GCS (gs://bucket/dump: commits, contents, licenses as NDJSON, gzip "
                "NDJSON or Parquet) or live BigQuery: bq:PROJECT.DATASET, bq:public" + _REPOS_HELP,
                (_GCS_PATH, _BQ, _REPOS)),
    "files": ("a dump on GCS with a `files` table (gs://bucket/dump), or live BigQuery at HEAD: "
              "bq:PROJECT.DATASET, bq:public" + _REPOS_HELP, (_GCS_PATH, _BQ, _REPOS)),
    "sql": ("a dump on GCS with a `files` table holding .sql files (gs://bucket/dump), or live BigQuery at "
            "HEAD: bq:PROJECT.DATASET, bq:public" + _REPOS_HELP, (_GCS_PATH, _BQ, _REPOS)),
    "dedup": ("JSONL/Parquet records on GCS: a file, folder or glob (gs://…)", (_GCS_PATH,)),
    "pii": ("JSONL/Parquet records on GCS: a file, folder or glob (gs://…)", (_GCS_PATH,)),
    "instruct": ("seeds on GCS (gs://…): JSONL/Parquet records (instructions, snippets), a topics file "
                 "(generate), or a dump (doctests)", (_GCS_PATH,)),
    "mix": ("NAME=gs://PATH: the path of the mixture's source NAME", (r"[^=,\n\r]+=" + _GCS_PATH,)),
}
REMOTE_PLACES = {  # option -> its help on Dataflow (always a gs:// path)
    "output": "output folder, a gs:// path (the workers write the shards there)",
    "config": "configuration YAML merged over the defaults (codecorpus/defaults.yaml), a gs:// path",
    "tokenizer": "a tokenizer.json (Hugging Face `tokenizers`) on GCS, a gs:// path: token counts, "
                 "token targets and weights, packing",
    "llm_cache": "LLM response cache folder, a gs:// path",
}
LLM_ENDPOINT = ("an OpenAI-compatible server the workers can reach (https://HOST/v1; not localhost: that is "
                "each worker itself)", r"^https?://[^\n\r]+$")


def _one_or_more(forms: tuple[str, ...]) -> str:
    """A comma-separated list of values, each of one of ``forms``."""
    one = "(" + "|".join(forms) + ")"
    return rf"^{one}(,{one})*$"


def _parameter(parser: argparse.ArgumentParser, action: argparse.Action, job: str) -> dict:
    help_text = parser._get_formatter()._expand_help(action) if action.help else action.dest
    if job == "mix" and action.dest == "config":  # the mixture itself, not an override
        help_text = help_text.split(" (merged")[0] + ", a gs:// path"
    entry = {"name": action.dest, "label": action.dest.replace("_", " ").capitalize(), "helpText": help_text,
             "isOptional": not action.required}
    if isinstance(action, argparse._StoreTrueAction):
        entry.update(paramType="BOOLEAN", regexes=[BOOLEAN])
        entry["helpText"] += " (true or false)"
    elif action.dest == "input":
        text, forms = REMOTE_INPUTS[job]
        entry.update(helpText=text, regexes=[_one_or_more(forms) if isinstance(action, argparse._AppendAction)
                                              else "^(" + "|".join(forms) + ")$"])
    elif action.dest in REMOTE_PLACES:  # workers and the launcher cannot see a local path
        if not (job == "mix" and action.dest == "config"):
            entry["helpText"] = REMOTE_PLACES[action.dest]
        entry["regexes"] = [GCS]
    elif action.dest == "llm_endpoint":
        entry["helpText"], regex = LLM_ENDPOINT
        entry["regexes"] = [regex]
    else:
        entry["regexes"] = [ANY]
    if isinstance(action, argparse._AppendAction):
        entry["helpText"] += "; several values: comma-separated"
    return entry


def metadata(job: str) -> dict:
    from codecorpus import cli
    from main import job_options, job_parser  # infra/flex/main.py: the template's entry point

    module = cli.build_parser()[1][job]
    parser = job_parser(job)
    parameters = [{
        "name": "job", "label": "Job", "isOptional": False, "regexes": [rf"^{job}$"],
        "helpText": f"The codecorpus job this template runs: always '{job}' (one image serves every job)."}]
    parameters += [_parameter(parser, action, job) for action in job_options(job).values()]
    return {
        "name": f"codecorpus {job}",
        "description": f"{module.SUMMARY}. Submits the job; when it has succeeded, finalise its output "
                       "(manifest.json, part files): see infra/README.md.",
        "streaming": False,
        "parameters": parameters,
    }


def render() -> dict[str, str]:
    """``{file name: JSON text}`` for every Beam job of the CLI."""
    from codecorpus import cli

    _, modules = cli.build_parser()
    return {f"{job}.json": json.dumps(metadata(job), indent=2, ensure_ascii=False) + "\n"
            for job, module in modules.items() if getattr(module, "USES_BEAM", True)}


def main() -> int:
    out = HERE / "metadata"
    out.mkdir(exist_ok=True)
    files = render()
    for stale in set(p.name for p in out.glob("*.json")) - set(files):
        (out / stale).unlink()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
