"""Ready for Dataflow: the package as a worker sees it, and the files in ``infra/``.

The end-to-end check (``test_installed_wheel_runs_a_job_on_gcs_with_worker_processes``) does what
a Dataflow worker does, offline: it builds the wheel from exactly the files the Dockerfile copies,
installs it into a fresh virtualenv that cannot see this source tree, and runs ``codecorpus
commits`` from there with ``--direct_running_mode=multi_processing`` over ``gs://`` paths served
by the local GCS emulator, so the job graph is pickled, shipped to worker processes that import
the installed package, and reads and writes remote paths. The virtualenv gets the dependencies
through a ``.pth`` file naming this interpreter's site-packages folders: a path entry, so the
``.pth`` files inside them (this checkout's editable install among them) are never run. An audit
hook records, in every process of the virtualenv, where ``codecorpus`` would be imported from.

Set ``CODECORPUS_SKIP_PACKAGING=1`` to skip the wheel / virtualenv tests in a quick local run;
``.ci/run`` runs them. Everything else here is fast: the push-down SQL and the Flex Template
metadata are up to date, the Dockerfile is linted and agrees with Beam, Python and pyproject,
the Flex Template entry point turns template parameters into a working job, and the measured
numbers docs/scale.md builds on are still the ones in the benchmark files it cites.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from conftest import DumpBuilder, manifest_of, read_table, run_cli
from test_gcs import BUCKET, _build_dump, gcs  # noqa: F401 - gcs is a fixture used here

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
DOCKERFILE = INFRA / "container" / "Dockerfile"
SKIP_PACKAGING = os.environ.get("CODECORPUS_SKIP_PACKAGING", "").lower() not in ("", "0", "false", "no")
packaging = pytest.mark.skipif(SKIP_PACKAGING, reason="CODECORPUS_SKIP_PACKAGING is set")


def _load(path: Path, name: str):
    """A module from a file under infra/ (not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _beam_pin() -> str:
    [pin] = [d for d in _pyproject()["project"]["dependencies"] if d.replace(" ", "").startswith("apache-beam==")]
    return pin.split("==", 1)[1].strip()


def _source_files() -> set[str]:
    """Every file of the package in this checkout (code and data), as wheel paths."""
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "codecorpus").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}


# --- generated files are up to date --------------------------------------------------------------


def test_pushdown_sql_files_are_up_to_date():
    from codecorpus.commits.pushdown import pushdown_sql_files

    expected = pushdown_sql_files()
    on_disk = {p.relative_to(INFRA / "bigquery").as_posix(): p.read_text("utf-8")
               for p in (INFRA / "bigquery").glob("*/*.sql")}
    assert set(on_disk) == set(expected), "run: python infra/bigquery/render_sql.py"
    for name, text in expected.items():
        assert on_disk[name] == text, f"infra/bigquery/{name} is stale; run: python infra/bigquery/render_sql.py"
    assert "bigquery-public-data.github_repos.contents" in on_disk["commits/contents.sql"]


def test_render_sql_for_another_dataset_and_config(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("commits:\n  filters:\n    licence:\n      allow: [mit]\n")
    render = _load(INFRA / "bigquery" / "render_sql.py", "render_sql")
    assert render.main(["--dataset", "my-proj.gh", "--config", str(config), "--disable-filter", "message",
                        "--out", str(tmp_path / "sql")]) == 0
    commits = (tmp_path / "sql" / "commits" / "commits.sql").read_text()
    assert "`my-proj.gh.commits`" in commits and "IN ('mit')" in commits
    assert "message:" not in commits and "single_file:" in commits


def test_flex_metadata_is_up_to_date():
    render = _load(INFRA / "flex" / "render_metadata.py", "render_metadata")
    expected = render.render()
    on_disk = {p.name: p.read_text("utf-8") for p in (INFRA / "flex" / "metadata").glob("*.json")}
    assert set(on_disk) == set(expected), "run: python infra/flex/render_metadata.py"
    for name, text in expected.items():
        assert on_disk[name] == text, f"infra/flex/metadata/{name} is stale; run: python infra/flex/render_metadata.py"
    commits = json.loads(on_disk["commits.json"])
    names = [p["name"] for p in commits["parameters"]]
    assert names[:3] == ["job", "input", "output"] and "disable_filter" in names
    for p in commits["parameters"]:
        assert set(p) >= {"name", "label", "helpText", "isOptional"} and re.fullmatch(r"[a-z][a-z0-9_]*", p["name"])
        for regex in p.get("regexes", []):
            re.compile(regex)
    assert "export-git.json" not in on_disk  # not a Beam job


LOCAL_PLACES = ["git:.", "git:/src/repo", "out/demo", "/tmp/dump", "./dump", "file:///tmp/dump", "C:/data"]


@pytest.mark.parametrize("job", ["commits", "files", "sql", "dedup", "pii", "instruct", "mix"])
def test_flex_metadata_offers_only_places_dataflow_can_reach(job):
    """The templates advertised `git:PATH` and local folders (the CLI's help) and accepted any
    value: neither the launcher nor the workers can read this machine's disk."""
    metadata = json.loads((INFRA / "flex" / "metadata" / f"{job}.json").read_text("utf-8"))
    places = {p["name"]: p for p in metadata["parameters"]
              if p["name"] in ("input", "output", "config", "tokenizer", "llm_cache")}
    assert {"input", "output"} <= set(places)
    for name, p in places.items():
        assert "git:" not in p["helpText"] and "local" not in p["helpText"], (name, p["helpText"])
        remote = "src=gs://b/x" if (job, name) == ("mix", "input") else "gs://b/x"
        for regex in p["regexes"]:
            assert re.fullmatch(regex, remote), (name, regex)
            for local in LOCAL_PLACES + [f"src={x}" for x in LOCAL_PLACES]:
                assert not re.fullmatch(regex, local), (name, regex, local)
    several = "a=gs://b/x,b=gs://b/y" if job == "mix" else "gs://b/x,gs://b/y"
    assert re.fullmatch(places["input"]["regexes"][0], several)
    reads_repositories = job in ("commits", "files", "sql")   # bq: and repos: lists work there
    assert bool(re.fullmatch(places["input"]["regexes"][0], "bq:public")) == reads_repositories
    assert bool(re.fullmatch(places["input"]["regexes"][0], "repos:gs://b/list.txt")) == reads_repositories
    for local in LOCAL_PLACES:
        assert not re.fullmatch(places["input"]["regexes"][0], f"repos:{local}")
    for p in metadata["parameters"]:
        if p["name"] == "llm_endpoint":
            assert "localhost" not in p["helpText"].split(";")[0] and re.fullmatch(p["regexes"][0], "https://h/v1")


# --- Dockerfile: lint, and agreement with Beam, Python and the project ---------------------------


def _instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for line in path.read_text("utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages, name = {}, None
    for word, rest in _instructions():
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            stages[name] = []
        elif name is not None:
            stages[name].append((word, rest))
    return stages


def _args() -> dict[str, str]:
    return dict(rest.split("=", 1) for word, rest in _instructions() if word == "ARG" and "=" in rest)


def _froms() -> list[str]:
    return [rest.split()[0] for word, rest in _instructions() if word == "FROM"]


def test_dockerfile_base_image_matches_beam_python_and_pyproject():
    import apache_beam

    args = _args()
    assert args["BEAM_VERSION"] == apache_beam.__version__ == _beam_pin()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    requires = _pyproject()["project"]["requires-python"]
    assert requires.startswith(">=") and tuple(map(int, requires[2:].split("."))) <= sys.version_info[:2]
    sdk = f"apache/beam_python{python}_sdk:{_beam_pin()}"  # workers run the Python the graph is pickled with
    launcher = f"gcr.io/dataflow-templates-base/python{python.replace('.', '')}-template-launcher-base"
    froms = _froms()
    assert froms[0] == froms[2] == sdk
    assert froms[1].split(":")[0] == launcher


def test_dockerfile_base_images_are_literal_pinned_tags(tmp_path):
    """The tags hid behind ARGs (`FROM ${LAUNCHER_IMAGE}`, whose default was `:latest`): hadolint
    does not expand them, so DL3007 (`latest`) never fired. Every FROM is now a literal tag, and
    hadolint does catch a `latest` put there."""
    for image in _froms():
        assert "$" not in image, f"FROM {image}: a variable hides the tag from hadolint"
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), f"FROM {image}: pin a dated tag"
    hadolint = shutil.which("hadolint")
    if hadolint:
        launcher = _froms()[1]
        latest = tmp_path / "Dockerfile"
        latest.write_text(DOCKERFILE.read_text("utf-8").replace(launcher, launcher.rsplit(":", 1)[0] + ":latest"))
        result = subprocess.run([hadolint, "--no-color", str(latest)], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "DL3007" in result.stdout, result.stdout + result.stderr


def test_dockerfile_installs_the_extras_workers_need():
    """The image installed the bare wheel: `mix --tokenizer/--pack` failed on the workers (no
    `tokenizers`), `bq:` needed Beam's gcp packages. Every extra but dev and bench is installed,
    and the smoke test checks each of their requirements is there."""
    extras = _args()["EXTRAS"].split(",")
    assert set(extras) == set(_pyproject()["project"]["optional-dependencies"]) - {"dev", "bench"}
    final = list(_stages().values())[-1]
    runs = [rest for word, rest in final if word == "RUN"]
    assert any('pip install' in r and '"${wheel}[${EXTRAS}]"' in r for r in runs)
    assert any(r.startswith("python smoke_test.py") and '--extras "${EXTRAS}"' in r for r in runs)


def test_dockerfile_installs_the_system_tools_the_workers_run():
    """git for the commit job's fetch stage, bubblewrap for the instruct job's sandbox."""
    import re

    final = list(_stages().values())[-1]
    apt = " ".join(rest for word, rest in final if word == "RUN" and "apt-get install" in rest)
    packages = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", apt.split("apt-get install", 1)[1].split("&&", 1)[0]))
    assert {"git", "bubblewrap", "ca-certificates"} <= packages


def test_smoke_test_reports_an_extra_that_is_not_installed(monkeypatch):
    import importlib.metadata as metadata

    smoke = _load(INFRA / "container" / "smoke_test.py", "smoke_test")
    assert smoke.missing_extras("codecorpus", ["tokenizers"]) == []  # dev installs tokenizers
    assert smoke.missing_extras("codecorpus", ["nope"]) == [
        "codecorpus has no extra 'nope' (it provides: bench, dev, gcp, tokenizers)"]
    real = metadata.distribution

    def without_tokenizers(name):
        if name == "tokenizers":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", without_tokenizers)
    assert smoke.missing_extras("codecorpus", ["tokenizers"]) == [
        "codecorpus[tokenizers] needs tokenizers, which is not installed"]


def test_dockerfile_lint():
    """hadolint when installed (it is in the dev extras), and our own rules always."""
    hadolint = shutil.which("hadolint")
    if hadolint:
        result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    instructions = _instructions()
    known = {"FROM", "ARG", "WORKDIR", "COPY", "RUN", "ENV", "ENTRYPOINT"}
    assert {w for w, _ in instructions} <= known
    final = list(_stages().values())[-1]
    assert final[-1] == ("ENTRYPOINT", '["/opt/apache/beam/boot"]'), "workers start through Beam's boot"
    env = " ".join(rest for word, rest in final if word == "ENV")
    assert "FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py" in env and "CODECORPUS_FLEX_MODE=submit" in env
    workdirs = [rest for word, rest in final if word == "WORKDIR"]
    assert workdirs == ["/template"]
    for word, rest in instructions:
        if word == "RUN" and "pip install" in rest:
            assert "--no-cache-dir" in rest and "pip check" in rest and "--constraint" in rest
        if word == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY source {source} is not in the repository"
    copied = [Path(s).name for word, rest in final if word == "COPY" and not rest.startswith("--from")
              for s in rest.split()[:-1]]
    assert copied == ["main.py", "smoke_test.py"]


def test_dockerfile_wheel_stage_copies_what_the_wheel_needs():
    """Every file the wheel build reads is copied into the builder stage, and nothing else."""
    wheel_stage = _stages()["wheel"]
    sources = [s for word, rest in wheel_stage if word == "COPY" for s in rest.split()[:-1]]
    assert sources == ["pyproject.toml", "README.md", "LICENSE", "codecorpus"]
    project = _pyproject()["project"]
    assert project["readme"] in sources and project["license"] == {"text": "Apache-2.0"}
    assert [rest for word, rest in wheel_stage if word == "RUN"] == [
        "python -m pip wheel --no-cache-dir --no-deps -w dist ."]


# --- Flex Template entry point ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def flex():
    return _load(INFRA / "flex" / "main.py", "flex_main")


def test_flex_parameters_become_cli_options(flex):
    argv = ["--input=gs://b/dump", "--output=gs://b/out", "--disable_filter=lang,size", "--overwrite=true",
            "--quiet=false", "--no_pii", "--project=p", "--region", "europe-west4",
            "--temp_location=gs://b/tmp", "--sdk_container_image=img:1"]
    assert flex.to_cli_argv("commits", argv) == [
        "--input", "gs://b/dump", "--output", "gs://b/out", "--disable-filter", "lang", "--disable-filter", "size",
        "--overwrite", "--no-pii", "--project=p", "--region", "europe-west4", "--temp_location=gs://b/tmp",
        "--sdk_container_image=img:1", "--runner=DataflowRunner"]
    assert flex.to_cli_argv("commits", ["--input=x", "--output=y", "--runner", "DirectRunner"], None) == [
        "--input", "x", "--output", "y"]
    assert flex.to_cli_argv("commits", ["--input", "x", "--runner=PrismRunner"])[-1] == "--runner=PrismRunner"
    with pytest.raises(flex.FlexError, match="true or false"):
        flex.to_cli_argv("commits", ["--overwrite=maybe"])
    with pytest.raises(flex.FlexError, match="unknown job"):
        flex.to_cli_argv("nope", [])
    with pytest.raises(flex.FlexError, match="does not run on Beam"):
        flex.to_cli_argv("export-git", [])
    assert flex.main(["--job=nope"]) == 2


def _small_dump(root: Path) -> int:
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    for i in range(3):
        b.commit(f"Add retries to fetch helper number {i}\n", path=f"src/m{i}.py",
                 old="def f():\n    return 1\n" * 8 + f"# {i}\n",
                 new="def f():\n    return 1\n" * 8 + f"# {i}\nretries_{i} = fetch('/api/v{i}/retries')\n")  # distinct changes
    b.commit("Merge branch 'dev'\n")
    b.write(root, extra_lines={"commits": [b'{"commit": "broken']})
    return len(b.commits) + 1


@pytest.mark.slow
def test_flex_submit_then_finalise_equals_a_cli_run(flex, tmp_path, monkeypatch):
    """What a Flex Template launch does (``submit``: the launcher stops once the job exists), then
    ``finalise`` after the job: the same tables, counters and accounting as one CLI run."""
    monkeypatch.delenv("CODECORPUS_FLEX_MODE", raising=False)
    dump, via_cli, via_flex = tmp_path / "dump", tmp_path / "cli", tmp_path / "flex"
    n = _small_dump(dump)
    assert run_cli("commits", "--input", dump, "--output", via_cli, "--quiet") == 0
    params = [f"--input={dump}", f"--output={via_flex}", "--quiet=true", "--runner=DirectRunner"]
    assert flex.main(["--job=commits", "--mode=submit", *params]) == 0
    assert not (via_flex / "manifest.json").exists() and (via_flex / "_tmp" / "stats.json").exists()
    assert flex.main(["--job=commits", "--mode=finalise", *params]) == 0
    expected, got = manifest_of(via_cli), manifest_of(via_flex)
    assert got["counters"] == expected["counters"] and got["counters"]["read/commits"] == n
    assert got["accounting"] == expected["accounting"] and all(t["holds"] for t in got["accounting"].values())
    for table in expected["tables"]:
        assert read_table(via_flex, table) == read_table(via_cli, table), table
    assert not (via_flex / "_tmp").exists()
    assert flex.main(["--job=commits", "--mode=finalise", *params]) == 2  # nothing left to finalise


# --- BigQuery dry run ------------------------------------------------------------------------------


def test_dry_run_reports_bytes_without_running_anything():
    pytest.importorskip("google.cloud.bigquery")
    dry = _load(INFRA / "bigquery" / "dry_run.py", "dry_run")
    seen = []

    class FakeClient:
        def query(self, sql, job_config):
            seen.append((sql, job_config.dry_run, job_config.use_query_cache))
            return type("Job", (), {"total_bytes_processed": 3 << 40 if "contents" in sql else 1 << 30})()

    queries = dry.checked_in_queries()
    assert set(queries) == {"commits/commits.sql", "commits/contents.sql", "commits/licenses.sql"}
    rows = dry.dry_run(queries, FakeClient(), price_per_tib=6.25)
    assert all(flag is True and cache is False for _, flag, cache in seen) and len(seen) == 3
    by_name = {r["name"]: r for r in rows}
    assert by_name["commits/contents.sql"]["usd"] == pytest.approx(18.75)
    text = dry.format_rows(rows, 6.25)
    assert "total" in text and "$6.25/TiB" in text


# --- the wheel, a fresh virtualenv, a job on gs:// with worker processes ---------------------------


def _run_dockerfile_step(command: str, cwd: Path) -> None:
    argv = shlex.split(command)
    assert argv[0] == "python"
    subprocess.run([sys.executable, *argv[1:]], cwd=cwd, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built as the Dockerfile's builder stage builds it: from a folder holding only the
    files that stage copies, with the stage's own command."""
    if SKIP_PACKAGING:
        pytest.skip("CODECORPUS_SKIP_PACKAGING is set")
    stage = tmp_path_factory.mktemp("wheel-stage")
    for word, rest in _stages()["wheel"]:
        if word == "COPY":
            for source in rest.split()[:-1]:
                src = ROOT / source
                if src.is_dir():
                    shutil.copytree(src, stage / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(src, stage / source)
        elif word == "RUN":
            _run_dockerfile_step(rest, stage)
    [built] = sorted((stage / "dist").glob("codecorpus-*.whl"))
    return built


@packaging
def test_wheel_holds_every_file_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _source_files() - names
    assert not missing, f"not in the wheel (add them to [tool.setuptools.package-data]): {sorted(missing)}"
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "infra/"))]
    metadata = zipfile.ZipFile(wheel).read(f"codecorpus-{_pyproject()['project']['version']}.dist-info/METADATA")
    assert f"Requires-Dist: apache-beam=={_beam_pin()}".encode() in metadata
    entry_points = zipfile.ZipFile(wheel).read(f"codecorpus-{_pyproject()['project']['version']}.dist-info/"
                                               "entry_points.txt").decode()
    assert "codecorpus = codecorpus.cli:main" in entry_points


@packaging
def test_setup_file_path_builds_an_sdist_beam_can_stage(tmp_path, wheel):
    """``--setup_file ./pyproject.toml``: Beam's stager builds an sdist (``python -m build
    --no-isolation --sdist``) that workers install; it must hold the same package as the wheel."""
    pytest.importorskip("build", reason="the --setup_file path needs `build` (in the dev extras)")
    from apache_beam.runners.portability.stager import Stager

    stage = tmp_path / "src"
    stage.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, stage / name)
    shutil.copytree(ROOT / "codecorpus", stage / "codecorpus", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (tmp_path / "out").mkdir()
    sdist = Stager._build_setup_package(str(stage / "pyproject.toml"), str(tmp_path / "out"))
    with tarfile.open(sdist) as tar:
        in_sdist = {"/".join(n.split("/")[1:]) for n in tar.getnames()}
    assert _source_files() <= in_sdist
    wheel_files = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("codecorpus/")}
    assert wheel_files <= in_sdist


AUDIT_MODULE = '''\
import json, os, sys
def _record():
    path = os.environ.get("CODECORPUS_IMPORT_AUDIT")
    if not path:
        return
    import importlib.util
    spec = importlib.util.find_spec("codecorpus")
    entry = {"pid": os.getpid(), "argv": list(getattr(sys, "orig_argv", sys.argv)),
             "codecorpus": spec.origin if spec else None,
             "editable_finder": any("editable" in repr(f).lower() for f in sys.meta_path),
             "sys_path": list(sys.path)}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\\n")
_record()
'''


def _holds_codecorpus(folder: Path) -> bool:
    return folder.resolve() == ROOT or (folder / "codecorpus" / "__init__.py").exists()


def _purelib(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed (no dependencies resolved: Beam and the rest
    come from this interpreter's site-packages as plain path entries, never this checkout)."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    site = _purelib(python)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    # This interpreter's site-packages may live inside the checkout (.ci/run's .venv-ci), but it
    # holds no codecorpus package: the editable install is a .pth file and a finder, never run here.
    assert not any(_holds_codecorpus(Path(d)) for d in deps), deps
    (site / "_codecorpus_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    (site / "_codecorpus_audit.py").write_text(AUDIT_MODULE)
    (site / "zz_codecorpus_audit.pth").write_text("import _codecorpus_audit\n")
    return root


def _venv_env(audit: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(CODECORPUS_IMPORT_AUDIT=str(audit), PYTHONDONTWRITEBYTECODE="1")
    return env


@packaging
def test_installed_package_is_complete_and_alone(venv, tmp_path):
    """Outside the source tree, the installed distribution is the one imported, every job module
    and the packaged defaults load, its requirements are met next to Beam, and the image's smoke
    test (infra/container/smoke_test.py) passes."""
    import apache_beam

    smoke = tmp_path / "smoke_test.py"
    shutil.copy2(INFRA / "container" / "smoke_test.py", smoke)
    result = subprocess.run([str(venv / "bin" / "python"), str(smoke), "--beam-version", apache_beam.__version__,
                             "--extras", "tokenizers"],
                            cwd=tmp_path, env=_venv_env(tmp_path / "audit.jsonl"), capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(venv) in result.stdout
    check = ("import importlib.metadata as m, sys\n"
             "from packaging.requirements import Requirement\n"
             "bad = []\n"
             "for r in map(Requirement, m.requires('codecorpus')):\n"
             "    if r.marker and not r.marker.evaluate({'extra': ''}): continue\n"
             "    v = m.version(r.name)\n"
             "    if not r.specifier.contains(v, prereleases=True): bad.append(f'{r} (have {v})')\n"
             "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", check], cwd=tmp_path,
                            env=_venv_env(tmp_path / "audit.jsonl"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"requirements not met: {result.stdout}{result.stderr}"


@packaging
def test_installed_wheel_runs_a_job_on_gcs_with_worker_processes(venv, gcs, tmp_path):  # noqa: F811
    dump = tmp_path / "dump"
    good = _build_dump(dump)
    for path in sorted(dump.iterdir()):
        gcs.put_file(str(path), f"{BUCKET}/pkg-dump/{path.name}")
    audit, work = tmp_path / "audit.jsonl", tmp_path / "cwd"
    work.mkdir()
    out = f"gs://{BUCKET}/pkg-out"
    result = subprocess.run(
        [str(venv / "bin" / "codecorpus"), "commits", "--input", f"gs://{BUCKET}/pkg-dump", "--output", out,
         "--quiet", "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
        cwd=work, env=_venv_env(audit), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]

    gcs.invalidate_cache()
    manifest = json.loads(gcs.cat_file(f"{BUCKET}/pkg-out/manifest.json"))
    identity = manifest["accounting"]["commits"]
    assert identity["holds"] and all(t["holds"] for t in manifest["accounting"].values())
    assert identity["read"] == identity["kept"] + identity["dropped"] + identity["dead_lettered"]
    assert (identity["read"], identity["kept"], identity["dead_lettered"]) == (len(good) + 1, len(good), 1)
    assert manifest["tables"]["commitpack"]["rows"] == len(good)
    assert "git_commit" not in manifest["code_version"]  # the installed package is not a checkout
    assert not gcs.exists(f"{BUCKET}/pkg-out/_tmp")

    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    site = _purelib(venv / "bin" / "python")
    launcher = [e for e in entries if any(a.endswith("/codecorpus") for a in e["argv"][:2])]
    workers = [e for e in entries if "apache_beam.runners.worker.sdk_worker_main" in e["argv"]]
    assert len(launcher) == 1 and len(workers) >= 2, [e["argv"] for e in entries]
    for entry in launcher + workers:
        assert entry["codecorpus"] == str(site / "codecorpus" / "__init__.py"), entry
        assert not entry["editable_finder"], entry
        others = [p for p in entry["sys_path"] if p and Path(p).resolve() != site.resolve()]
        assert not any(_holds_codecorpus(Path(p)) for p in others), entry  # the checkout is not reachable


# --- docs/scale.md: the measured numbers it uses are the benchmarks' ------------------------------

# Counts the plan uses, exactly as the cited file has them: (file, text, how docs/scale.md writes it).
SCALE_COUNTS = [
    ("benchmarks/README.md", "2,839 commits of 7 repositories, 7,567 blobs = 183 MB", "7,567 blobs (183 MB"),
    ("benchmarks/README.md", "5.3 MB of commits", "2,839 commits (5.3 MB"),
    ("README.md", "992 of 2,839", "992 of 2,839"),
    ("benchmarks/results/filter_counts.md", "commitpack rows: 907; commitpackft rows: 12", "907 commitpack rows"),
]
# Measured rates: (file, the row's first cells, column header, the value docs/scale.md uses). A
# re-run may move them by run-to-run noise; past RATE_TOLERANCE the plan must be redone.
SCALE_RATES = [
    ("benchmarks/results/commits.md", "| multi_processing | 2,839 |", "CPU s (user+sys, median)", 16.2),
    ("benchmarks/results/commits.md", "| multi_processing | empty |", "CPU s", 6.7),
    ("benchmarks/results/commits.md", "| in_memory | 2,839 |", "CPU s (user+sys, median)", 6.3),
    ("benchmarks/results/commits.md", "| in_memory | empty |", "CPU s", 2.8),
    ("benchmarks/results/dedup_speed.md", "| codecorpus MinHasher.signature", "docs/s", 5690),
    ("benchmarks/results/dedup_speed.md", "| 1x | multi_processing x2 |", "CPU ms per record", 4.49),
    ("benchmarks/results/dedup_speed.md", "| 8x | in_memory |", "CPU ms per record", 2.57),
    ("benchmarks/results/profile_commits.md", "| contents | 7,567 |", "MiB/s (encode+decode)", 636),
    ("benchmarks/results/profile_commits.md", "| inside `Pipeline.run` |",
     "Beam runner overhead (incl. Cython coders/operations)", 55),
]
RATE_TOLERANCE = 0.25


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _column_values(text: str, row: str, column: str) -> list[float]:
    """The numbers in ``column`` of every table row starting with ``row``."""
    values, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        if header is None:
            header = _cells(line)
        elif line.startswith(row) and column in header:
            cell = _cells(line)[header.index(column)]
            number = re.match(r"[\d,.]+", cell)
            if number:
                values.append(float(number.group().replace(",", "")))
    return values


@pytest.mark.parametrize("source,holds,written", SCALE_COUNTS)
def test_scale_plan_counts_are_the_benchmarks(source, holds, written):
    assert holds in (ROOT / source).read_text("utf-8"), f"{source} no longer says {holds!r}: redo docs/scale.md"
    assert written in (ROOT / "docs" / "scale.md").read_text("utf-8")


@pytest.mark.parametrize("source,row,column,used", SCALE_RATES)
def test_scale_plan_rates_are_the_benchmarks(source, row, column, used):
    """docs/scale.md's measured rates, against the files, rows and columns it cites: when a
    benchmark is re-run and moves beyond noise, the plan must be redone with the new number."""
    values = _column_values((ROOT / source).read_text("utf-8"), row, column)
    assert values, f"{source} has no row {row!r} with a column {column!r} any more: redo docs/scale.md"
    # A cited median of several rows (the empty-dump CPU) is the median of what the rows hold now.
    current = sorted(values)[len(values) // 2]
    assert abs(current - used) <= RATE_TOLERANCE * used, (
        f"{source} {row} {column}: now {current}, docs/scale.md uses {used}: redo the plan's numbers")
    shown = f"{used:,}" if float(used).is_integer() and used >= 1000 else f"{used:g}"
    assert shown in (ROOT / "docs" / "scale.md").read_text("utf-8"), f"docs/scale.md does not show {shown}"
