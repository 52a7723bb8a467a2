"""``codecorpus commits`` reading its dump from ``gs://`` and writing its output to ``gs://``,
against an in-process GCS emulator (``gcp-storage-emulator``): no network, no Google account.

Against an emulator, a user sets these environment variables and nothing else (the package needs
no GCS-specific code: it reaches ``gs://`` through fsspec and gcsfs):

- ``STORAGE_EMULATOR_HOST`` (emulator only): gcsfs sends every request there instead of Google;
- ``FSSPEC_GCS_TOKEN=anon`` (emulator only; real users leave it unset, or point it at their
  credentials): fsspec turns ``FSSPEC_<PROTOCOL>_<KWARG>`` environment variables into default
  arguments of ``fsspec.filesystem("gs")``. Unlike ``fsspec.config.conf``, which lives in one
  process, an environment variable reaches Beam's ``multi_processing`` worker subprocesses too
  (they inherit the environment and read it when they import fsspec). Without it gcsfs guesses
  credentials in every process (gcloud, its cache, the GCE metadata server) before it falls
  back to anonymous access;
- ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false``, read when gcsfs is imported: otherwise gcsfs 2026.x
  asks the Storage Control API for the bucket type first, which the emulator does not serve, and
  every bucket call waits 60 s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from http import HTTPStatus

import pytest

from conftest import DumpBuilder, read_table, run_cli

BUCKET = "codecorpus-test"
TABLES = ("commitpack", "commitpackft", "instructions", "clusters", "dead_letter")
GOOD_OLD = "def fetch(url):\n    return get(url)\n" * 6
GOOD_NEW = "def fetch(url, retries=3):\n    return get(url, retries=retries)\n" * 6
BAD_LINE = b'{"commit": "deadbeef", "message": "Fix trunc'
N_GOOD = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _add_move_route(mp: pytest.MonkeyPatch, emulator_server) -> None:
    """The emulator lacks ``objects.moveTo``, which gcsfs tries first for ``fs.mv``; on its 501
    gcsfs retries with back-off for ~30 s per file before falling back to copy + delete. Serve
    it as real GCS does (same-bucket copy, then delete the source, return the new object)."""
    from gcp_storage_emulator import settings
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    def move(request, response, storage, *args, **kwargs):
        p = request.params
        try:
            moved = objects._copy(request.base_url, storage, p["bucket_name"], p["object_id"],
                                  p["bucket_name"], p["dest_object_id"])
            storage.delete_file(p["bucket_name"], p["object_id"])
        except NotFound:
            response.status = HTTPStatus.NOT_FOUND
            return
        response.json(moved)

    route = (rf"^{settings.API_ENDPOINT}/b/(?P<bucket_name>[-.\w]+)/o/(?P<object_id>.*[^/]+)"
             rf"/moveTo/o/(?P<dest_object_id>.*[^/]+)$", {"POST": move})
    mp.setattr(emulator_server, "HANDLERS", (route, *emulator_server.HANDLERS))  # before generic /o/<id>


@pytest.fixture(scope="module")
def gcs():
    """A GCS emulator on 127.0.0.1 with one in-memory bucket; yields a gcsfs filesystem on it."""
    pytest.importorskip("gcp_storage_emulator")
    import fsspec
    import fsspec.config
    import fsspec.registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before gcsfs is imported
        gcsfs = pytest.importorskip("gcsfs")
        plain = gcsfs.core.GCSFileSystem
        if gcsfs.GCSFileSystem is not plain:  # something imported gcsfs before the variable was set
            mp.setattr(gcsfs, "GCSFileSystem", plain)
            for proto in ("gs", "gcs"):
                mp.delitem(fsspec.registry._registry, proto, raising=False)

        from gcp_storage_emulator import server as emulator_server

        _add_move_route(mp, emulator_server)
        port = _free_port()
        server = emulator_server.create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
        server.start()
        try:
            mp.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
            mp.setenv("FSSPEC_GCS_TOKEN", "anon")  # for worker subprocesses, read at fsspec import
            mp.setitem(fsspec.config.conf, "gcs", {**fsspec.config.conf.get("gcs", {}), "token": "anon"})
            plain.clear_instance_cache()  # no instance made for another endpoint or credentials
            fs = fsspec.filesystem("gs")
            assert isinstance(fs, plain) and fs.credentials.method == "anon"
            yield fs
        finally:
            plain.clear_instance_cache()
            server.stop()


def _build_dump(root):
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    good = [b.commit(f"Add feature number {i} to the fetch helper\n", path=f"src/m{i}.py",
                     old=GOOD_OLD + f"# {i}\n", new=GOOD_OLD + f"# {i}\nfeature_{i} = fetch('/api/v{i}/items')\n")
            for i in range(N_GOOD)]  # each commit changes different lines: no duplicates to remove
    b.write(root, extra_lines={"commits": [BAD_LINE]})
    return good


@pytest.fixture(scope="module")
def dumps(gcs, tmp_path_factory):
    """The same dump in a local folder and at gs://BUCKET/dump, and the job's local output."""
    root = tmp_path_factory.mktemp("gcs")
    good = _build_dump(root / "dump")
    for path in sorted((root / "dump").iterdir()):
        gcs.put_file(str(path), f"{BUCKET}/dump/{path.name}")
    gcs.invalidate_cache()
    assert sorted(gcs.ls(f"{BUCKET}/dump")) == [f"{BUCKET}/dump/{t}.jsonl.gz" for t in ("commits", "contents", "licenses")]
    assert run_cli("commits", "--input", root / "dump", "--output", root / "local", "--quiet") == 0
    return good, root / "local"


def _gcs_table(fs, output: str, table: str) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(f"{output}/{table}", filesystem=fs).to_pylist()


def _check_gcs_output(fs, out: str, dumps) -> None:
    good, local = dumps
    fs.invalidate_cache()  # the job wrote through other instances (threads, processes)
    manifest = json.loads(fs.cat_file(f"{out}/manifest.json"))
    counters = manifest["counters"]
    assert manifest["input"] == {"kind": "dump", "paths": [f"gs://{BUCKET}/dump"], "dataset": None}
    assert all(terms["holds"] for terms in manifest["accounting"].values())

    rows = {table: _gcs_table(fs, out, table) for table in TABLES}
    commitpack, dead = rows["commitpack"], rows["dead_letter"]
    # The identity from the tables read back from GCS and the counters.
    dropped = sum(v for k, v in counters.items() if k.startswith("filter/") and not k.startswith("filter/ft_"))
    dead_commits = [d for d in dead if d["table"] == "commits"]
    assert counters["read/commits"] == N_GOOD + 1
    assert counters["read/commits"] == len(commitpack) + dropped + len(dead_commits)
    assert len(commitpack) == N_GOOD and dropped == 0
    assert sorted(r["commit"] for r in commitpack) == sorted(c["commit"] for c in good)
    assert {r["license"] for r in commitpack} == {"mit"}
    assert manifest["tables"]["commitpack"]["rows"] == N_GOOD

    [bad] = dead
    assert (bad["table"], bad["stage"]) == ("commits", "parse")
    assert bad["error"].startswith("malformed JSON") and bad["raw"] == BAD_LINE.decode()
    assert bad["source"] == f"gs://{BUCKET}/dump/commits.jsonl.gz:{N_GOOD + 1}"
    assert counters["dead_letter/commits/parse"] == 1

    # Layout: one part per (small) table, as the manifest lists; temporary files gone.
    for table in TABLES:
        assert fs.ls(f"{out}/{table}") == [f"{out}/{table}/part-00000-of-00001.parquet"]
        [entry] = manifest["tables"][table]["files"]
        assert entry["path"] == f"{table}/part-00000-of-00001.parquet"
        assert entry["rows"] == len(rows[table])
        assert entry["bytes"] == fs.size(f"{out}/{table}/part-00000-of-00001.parquet")
    assert not fs.exists(f"{out}/_tmp")
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(out)) == sorted([*TABLES, ".codecorpus", "README.md", "_SUCCESS", "manifest.json"])
    assert fs.cat_file(f"{out}/README.md").startswith(b"---\nconfigs:\n")

    # The same rows as the same dump read from a local folder (only the source path differs).
    local_source = str(local.parent / "dump" / "commits.jsonl.gz")
    for table in TABLES:
        expected = read_table(local, table)
        if table == "dead_letter":
            expected = [{**r, "source": r["source"].replace(local_source, f"gs://{BUCKET}/dump/commits.jsonl.gz")}
                        for r in expected]
        assert rows[table] == expected, table


def test_commits_job_reads_and_writes_gcs(gcs, dumps):
    code = run_cli("commits", "--input", f"gs://{BUCKET}/dump", "--output", f"gs://{BUCKET}/out", "--quiet")
    assert code == 0
    _check_gcs_output(gcs, f"{BUCKET}/out", dumps)


def test_commits_job_on_gcs_with_worker_processes(gcs, dumps):
    # The workers are subprocesses: they see gs:// only through the inherited environment, as a
    # fresh interpreter shows (fsspec.config.conf set in this process does not reach them).
    probe = subprocess.run(
        [sys.executable, "-c", "import fsspec; fs = fsspec.filesystem('gs'); "
         "print(type(fs).__name__, fs.credentials.method, fs._location)"],
        capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.split() == ["GCSFileSystem", "anon", os.environ["STORAGE_EMULATOR_HOST"]]
    code = run_cli("commits", "--input", f"gs://{BUCKET}/dump", "--output", f"gs://{BUCKET}/out-mp", "--quiet",
                   "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert code == 0
    _check_gcs_output(gcs, f"{BUCKET}/out-mp", dumps)
