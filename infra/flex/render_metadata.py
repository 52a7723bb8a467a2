"""Write one Flex Template metadata file per Beam job: ``infra/flex/metadata/<job>.json``.

    python infra/flex/render_metadata.py

The parameters are the job's own command-line options, read from the CLI's parsers (so a new
option or a new job in ``codecorpus.cli.JOBS`` shows up here when this is run again;
``tests/test_packaging.py`` fails while the files are out of date). Beam's own options
(``--project``, ``--region``, ``--temp_location``, ``--sdk_container_image`` …) are not listed:
Dataflow accepts them for every template.
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


def _parameter(parser: argparse.ArgumentParser, action: argparse.Action) -> dict:
    help_text = parser._get_formatter()._expand_help(action) if action.help else action.dest
    entry = {"name": action.dest, "label": action.dest.replace("_", " ").capitalize(), "helpText": help_text,
             "isOptional": not action.required}
    if isinstance(action, argparse._StoreTrueAction):
        entry.update(paramType="BOOLEAN", regexes=[BOOLEAN])
        entry["helpText"] += " (true or false)"
    elif action.dest in ("output", "config"):
        entry["regexes"] = [GCS]  # workers and the launcher cannot see a local path
        entry["helpText"] += " (a gs:// path)"
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
    parameters += [_parameter(parser, action) for action in job_options(job).values()]
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
