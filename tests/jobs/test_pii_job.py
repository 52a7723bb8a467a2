"""PII redaction in the pipelines: the ``pii`` job on JSONL and Parquet records, and the commits
job on dumps with PII in contents, messages and author fields — every output table scanned."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecorpus.pii.redact import WITHHELD, apply_spans, Span
from conftest import SHARED_SAMPLE, DumpBuilder, manifest_of, read_table, run_cli

GITHUB_TOKEN = "ghp_" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXc7V"
AWS_ID = "AKIA" + "Q7Z2MX4PLR8TW3KD"
PASSWORD = "Tr0ub4dor&3x"
SECRETS = ("jane.roe@corp-mail.com", "ada@corp-mail.com", "alan.t@corp-mail.com", GITHUB_TOKEN, AWS_ID, PASSWORD,
           "93.184.216.34")


def all_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


def table_text(output: Path, table: str) -> str:
    return "\n".join(s for row in read_table(output, table) for s in all_strings(row))


# --- the pii job ----------------------------------------------------------------------------------

RECORDS = [
    {"id": 1, "content": f"# Contact: jane.roe@corp-mail.com\nTOKEN = '{GITHUB_TOKEN}'\nclient = boto3.client('s3')\n",
     "message": "Fix login for ada@corp-mail.com", "stars": 5},
    {"id": 2, "content": f"DB_PASSWORD={PASSWORD}\nHOST = '93.184.216.34'\n", "message": "Add config", "stars": 1},
    {"id": 3, "content": "print('nothing to see')\n", "message": None, "stars": 0},
    {"id": 4, "content": None, "message": f"aws_access_key_id = {AWS_ID}", "stars": 2},
]


def write_jsonl(path: Path, rows: list, extra: list[bytes] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r).encode() for r in rows] + list(extra)
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", mtime=0))
    return path


@pytest.fixture(scope="module")
def jsonl_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii-jsonl")
    bad_type = {"id": 5, "content": ["not", "text", "alan.t@corp-mail.com"], "message": "x", "stars": 3}
    write_jsonl(root / "in" / "part-0.jsonl.gz", RECORDS + [bad_type],
                extra=[b'{"id": 6, "content": "broken line for alan.t@corp-mail.com'])
    out = root / "out"
    code = run_cli("pii", "--input", root / "in", "--output", out, "--text-field", "content",
                   "--text-field", "message", "--quiet")
    return out, code


def test_pii_job_redacts_jsonl_and_accounts_for_every_record(jsonl_run):
    out, code = jsonl_run
    assert code == 0
    manifest = manifest_of(out)
    records = {r["id"]: r for r in read_table(out, "records")}
    dead = read_table(out, "dead_letter")
    assert sorted(records) == [1, 2, 3, 4]
    assert manifest["accounting"]["records"] == {"read": 6, "kept": 4, "dead_lettered": 2, "holds": True}
    assert {(d["stage"], d["table"]) for d in dead} == {("parse", "records"), ("pii", "records")}
    assert manifest["pii"]["enabled"] is True
    assert manifest["pii"]["nlp_engine"] == "no_op" or \
        manifest["pii"]["nlp_engine"].startswith("spacy:")
    assert manifest["counters"]["pii/KEY"] == 2 and manifest["counters"]["pii/EMAIL"] == 2
    for table in ("records", "dead_letter"):
        text = table_text(out, table)
        assert not [s for s in SECRETS if s in text], table
    assert records[3]["content"] == "print('nothing to see')\n" and records[3]["pii_spans"] == []
    assert records[4]["content"] is None and records[4]["message"] == "aws_access_key_id = <KEY>"
    assert records[1]["stars"] == 5 and "boto3.client('s3')" in records[1]["content"]


def test_pii_job_dead_letters_name_their_record(jsonl_run):
    """Issue 15 item 7: the pii job's dead letters had no key or source."""
    out, _ = jsonl_run
    dead = {d["stage"]: d for d in read_table(out, "dead_letter")}
    assert dead["parse"]["source"].endswith("part-0.jsonl.gz:6")
    assert dead["pii"]["source"].endswith("part-0.jsonl.gz:5") and dead["pii"]["key"] == dead["pii"]["source"]


@pytest.mark.slow
def test_lone_surrogate_escape_does_not_stop_the_pii_job(tmp_path):
    """Issue 14 item 8: a "\\ud800" escape (an emoji cut in half) made the dead-letter redaction
    emit a lone surrogate, which Beam's coder cannot encode: the whole run crashed."""
    write_jsonl(tmp_path / "in" / "a.jsonl.gz", [{"id": 1, "content": "fine", "message": "m"}],
                extra=[b'{"id": 2, "content": "emoji cut \\ud800 here, mail jane.roe@corp-mail.com", "message": "x"}'])
    out = tmp_path / "out"
    assert run_cli("pii", "--input", tmp_path / "in", "--output", out, "--text-field", "content",
                   "--text-field", "message", "--quiet") == 0
    [kept] = read_table(out, "records")
    [dead] = read_table(out, "dead_letter")
    assert kept["id"] == 1 and "\\ud800" in dead["raw"] and "jane.roe@" not in dead["raw"]
    assert manifest_of(out)["accounting"]["records"]["holds"] is True


def test_pii_spans_are_offsets_into_the_original(jsonl_run):
    out, _ = jsonl_run
    schema = pq.read_schema(next((out / "records").glob("*.parquet")))
    assert schema.names == ["id", "content", "message", "stars", "pii_spans"]
    originals = {r["id"]: r for r in RECORDS}
    for row in read_table(out, "records"):
        for field in ("content", "message"):
            spans = [Span(s["start"], s["end"], s["entity"], s["replacement"]) for s in row["pii_spans"]
                     if s["field"] == field]
            original = originals[row["id"]][field]
            if original is not None:
                assert apply_spans(original, spans) == row[field]
    spans = {(s["entity"], originals[1]["content"][s["start"]:s["end"]])
             for s in read_table(out, "records")[0]["pii_spans"] if s["field"] == "content"}
    assert spans == {("EMAIL", "jane.roe@corp-mail.com"), ("KEY", GITHUB_TOKEN)}


def test_pii_job_on_parquet_with_author_metadata(tmp_path):
    schema = pa.schema([("sha", pa.string()), ("message", pa.string()),
                        ("author", pa.struct([("name", pa.string()), ("email", pa.string())])),
                        ("trailer", pa.list_(pa.struct([("key", pa.string()), ("value", pa.string()),
                                                         ("email", pa.string())])))])
    rows = [{"sha": "a" * 40, "message": f"Rotate key {AWS_ID}\n\nSigned-off-by: Ada L <ada@corp-mail.com>\n",
             "author": {"name": "Ada Lovelace", "email": "ada@corp-mail.com"},
             "trailer": [{"key": "Signed-off-by", "value": "Alan Turing <alan.t@corp-mail.com>",
                          "email": "alan.t@corp-mail.com"}]}]
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "in" / "commits.parquet")
    assert run_cli("pii", "--input", tmp_path / "in" / "*.parquet", "--output", tmp_path / "out",
                   "--text-field", "message", "--quiet") == 0
    [row] = read_table(tmp_path / "out", "records")
    assert row["author"] == {"name": "<NAME>", "email": None}
    assert row["trailer"] == [{"key": "Signed-off-by", "value": "<NAME>", "email": None}]
    assert row["message"] == "Rotate key <KEY>\n\nSigned-off-by: <NAME> <<EMAIL>>\n"
    assert not [s for s in SECRETS if s in table_text(tmp_path / "out", "records")]


def test_over_time_records_are_dead_lettered_or_flagged(tmp_path):
    storm = "password=key=token=secret=" * 40_000
    write_jsonl(tmp_path / "in.jsonl.gz", [{"id": 1, "content": storm + " jane.roe@corp-mail.com"},
                                           {"id": 2, "content": "mail jane.roe@corp-mail.com"}])
    (tmp_path / "dl.yaml").write_text("pii:\n  max_work_per_record: 100000\n")
    (tmp_path / "flag.yaml").write_text("pii:\n  max_work_per_record: 100000\n  over_time: flag\n")
    assert run_cli("pii", "--input", tmp_path / "in.jsonl.gz", "--output", tmp_path / "dl", "--text-field",
                   "content", "--config", tmp_path / "dl.yaml", "--quiet") == 0
    [kept] = read_table(tmp_path / "dl", "records")
    [dead] = read_table(tmp_path / "dl", "dead_letter")
    assert kept["id"] == 2 and kept["content"] == "mail <EMAIL>"
    assert dead["stage"] == "pii" and "over budget in field 'content' (work: more than 100,000 units" in dead["error"]
    assert json.loads(dead["raw"])["content"] == WITHHELD and "jane.roe@" not in dead["raw"]
    assert manifest_of(tmp_path / "dl")["counters"]["pii/over_work"] == 1
    assert "pii/over_time" not in manifest_of(tmp_path / "dl")["counters"]
    assert run_cli("pii", "--input", tmp_path / "in.jsonl.gz", "--output", tmp_path / "flag", "--text-field",
                   "content", "--config", tmp_path / "flag.yaml", "--quiet") == 0
    flagged = {r["id"]: r for r in read_table(tmp_path / "flag", "records")}
    assert len(flagged) == 2 and read_table(tmp_path / "flag", "dead_letter") == []
    assert {"field": "content", "start": 0, "end": 0, "entity": "OVER_WORK", "replacement": ""} in \
        flagged[1]["pii_spans"]


def test_pii_job_rejects_unknown_fields(tmp_path, capsys):
    write_jsonl(tmp_path / "in.jsonl.gz", RECORDS)
    assert run_cli("pii", "--input", tmp_path / "in.jsonl.gz", "--output", tmp_path / "o", "--text-field",
                   "body") == 2
    assert "--text-field body not in the input's columns" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- the commits job ------------------------------------------------------------------------------

OLD = "import os\n# Author: Grace Hopper <grace.hopper@navy-mail.org>\nDB = 'postgres://svc:Zq8xLm2w@db.acme.io/app'\n" * 2
NEW = OLD + f"TOKEN = '{GITHUB_TOKEN}'\nPASSWORD = '{PASSWORD}'\n"
PLANTED = SECRETS + ("grace.hopper@navy-mail.org", "Zq8xLm2w", "Grace Hopper")


def pii_dump(root: Path) -> dict:
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    trailer = [{"key": "Signed-off-by", "value": "Alan Turing <alan.t@corp-mail.com>", "email": "alan.t@corp-mail.com"}]
    keep = b.commit(f"Add the deploy token for jane.roe@corp-mail.com\n\nUses {AWS_ID}.\n\n"
                    "Signed-off-by: Alan Turing <alan.t@corp-mail.com>\n", path="src/deploy.py", old=OLD, new=NEW,
                    trailer=trailer)
    for c in (keep,):
        c["author"]["email"] = c["committer"]["email"] = "ada@corp-mail.com"
    lost = b.commit("Fix lost blob for jane.roe@corp-mail.com\n", old="x = 1\n", new="x = 2\n", store_blobs=False,
                    trailer=trailer)
    lost["author"]["email"] = "ada@corp-mail.com"
    b.write(root, extra_lines={"commits": [b'{"commit": "deadbeef", "message": "Fix for jane.roe@corp-mail.com',
                                           b'{"commit": 42, "author": {"email": "ada@corp-mail.com"}}']})
    return {"keep": keep["commit"], "lost": lost["commit"]}


@pytest.fixture(scope="module")
def commits_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii-commits")
    shas = pii_dump(root / "dump")
    assert run_cli("commits", "--input", root / "dump", "--output", root / "default", "--quiet") == 0
    assert run_cli("commits", "--input", root / "dump", "--output", root / "off", "--no-pii", "--quiet") == 0
    return root, shas


def test_commits_job_redacts_every_table(commits_runs):
    root, shas = commits_runs
    out = root / "default"
    manifest = manifest_of(out)
    assert manifest["pii"]["enabled"] is True and manifest["config"]["pii"]["enabled"] is True
    assert all(t["holds"] for t in manifest["accounting"].values())
    for table in ("commitpack", "commitpackft", "instructions", "dead_letter"):
        text = table_text(out, table)
        assert not [s for s in PLANTED if s in text], table
    [row] = read_table(out, "commitpack")
    assert row["commit"] == shas["keep"]
    assert row["subject"] == "Add the deploy token for <EMAIL>"
    assert "TOKEN = '<KEY>'" in row["new_contents"] and f"PASSWORD = '<PASSWORD>'" in row["new_contents"]
    dead = read_table(out, "dead_letter")
    lost = next(d for d in dead if d["key"] == shas["lost"])
    raw = json.loads(lost["raw"])
    assert raw["author"]["email"] is None and raw["trailer"][0]["email"] is None
    assert raw["message"] == "Fix lost blob for <EMAIL>\n"
    assert any(d["stage"] == "parse" and "<EMAIL>" in d["raw"] for d in dead)
    counters = manifest["counters"]
    assert counters["pii/KEY"] >= 2 and counters["pii/dead_letters_redacted"] == len(dead)


def test_no_pii_turns_it_off_and_says_so(commits_runs):
    root, _ = commits_runs
    out = root / "off"
    manifest = manifest_of(out)
    assert manifest["pii"]["enabled"] is False and manifest["config"]["pii"]["enabled"] is False
    assert not any(k.startswith("pii/") for k in manifest["counters"])
    [row] = read_table(out, "commitpack")
    assert GITHUB_TOKEN in row["new_contents"] and "jane.roe@corp-mail.com" in row["subject"]


EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:\[bot\])?@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def sample_pii_run(tmp_path_factory):
    if not SHARED_SAMPLE.is_dir():
        pytest.skip("../shared/data/github_repos_sample is not available")
    output = tmp_path_factory.mktemp("sample-pii") / "out"
    assert run_cli("commits", "--input", SHARED_SAMPLE, "--output", output, "--quiet") == 0
    return output


def test_sample_outputs_hold_no_author_emails(sample_pii_run):
    from codecorpus.config import default_config
    from codecorpus.pii.recognizers import domain_allowed

    allow = default_config()["pii"]["allow"]
    emails = set()
    with gzip.open(SHARED_SAMPLE / "commits.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            commit = json.loads(line)
            found = [commit[k]["email"] for k in ("author", "committer") if commit.get(k)]
            found += [t.get("email") for t in commit.get("trailer") or []]
            found += EMAIL.findall(commit.get("message") or "")
            emails.update(e for e in found if e)
    # Addresses the policy keeps on purpose (noreply@…, example domains) and strings that are not
    # addresses at all (none@none, "@adamp01") are not looked for.
    wanted = {e for e in emails if EMAIL.fullmatch(e) and e.split("@")[0].lower() not in allow["email_local_parts"]
              and not domain_allowed(e.split("@")[1], allow["email_domains"])}
    assert len(wanted) > 300
    for table in ("commitpack", "commitpackft", "instructions", "dead_letter"):
        text = table_text(sample_pii_run, table)
        leaked = [e for e in wanted if e in text]
        assert not leaked, (table, leaked[:5])
    counters = manifest_of(sample_pii_run)["counters"]
    assert counters["pii/EMAIL"] > 100 and counters["pii/NAME"] > 100


def test_sample_keys_and_passwords_do_not_survive(sample_pii_run):
    """Every key, password and address the redactor finds in a kept commit's input is gone from
    that commit's rows in every table (also where the same value is repeated elsewhere)."""
    from codecorpus.config import load_config
    from codecorpus.pii.redact import Redactor

    redactor = Redactor(load_config())
    rows = {r["commit"]: r for r in read_table(sample_pii_run, "commitpack")}
    instructions = {}
    for r in read_table(sample_pii_run, "instructions"):
        instructions.setdefault(r["commit"], []).append(r["text"])
    wanted_blobs = {}
    with gzip.open(SHARED_SAMPLE / "commits.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            if c["commit"] in rows:
                d = c["difference"][0]
                wanted_blobs[d["old_sha1"]] = wanted_blobs[d["new_sha1"]] = None
    with gzip.open(SHARED_SAMPLE / "contents.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            blob = json.loads(line)
            if blob["id"] in wanted_blobs:
                wanted_blobs[blob["id"]] = blob["content"]
    checked = 0
    with gzip.open(SHARED_SAMPLE / "commits.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            row = rows.get(c["commit"])
            if row is None:
                continue
            d = c["difference"][0]
            for text in (wanted_blobs[d["old_sha1"]], wanted_blobs[d["new_sha1"]], c["message"]):
                results, _ = redactor.analyze(text or "")
                secrets = {text[r.start:r.end] for r in results
                           if r.entity_type in ("KEY", "PASSWORD", "EMAIL") and r.end - r.start >= 8}
                out = "\n".join([row["old_contents"], row["new_contents"], row["message"], row["subject"]]
                                + instructions.get(c["commit"], []))
                leaked = [s for s in secrets if s in out]
                assert not leaked, (c["commit"], leaked[:3])
                checked += len(secrets)
    assert checked > 100


@pytest.mark.slow
def test_commits_job_survives_surrogates_and_keeps_no_private_addresses_in_raws(tmp_path):
    """Issue 14 items 8 and 9 in the commits job: a "\\ud800" escape in a message must not stop
    the run, and a malformed or cut-off line keeps no author metadata, even on a private domain."""
    b = DumpBuilder()
    b.license("acme/tool", "mit")
    good = b.commit("Fix the parser\n", path="src/parse.py")
    b.write(tmp_path / "dump", extra_lines={"commits": [
        b'{"commit": "' + b"c" * 40 + b'", "message": "emoji cut \\ud800 here", "author": {"name": "Jane Roe", '
        b'"email": "jane.roe@corp.internal"}}',
        b'{"commit": "' + b"d" * 40 + b'", "author": {"name": "Ada Byron", "email": "ada@build.lan"}, '
        b'"trailer": [{"key": "Signed-off-by", "value": "Grace Hopper <grace@mail.corp>"}], "message": "cut',
    ]})
    out = tmp_path / "out"
    assert run_cli("commits", "--input", tmp_path / "dump", "--output", out, "--quiet") == 0
    assert [r["commit"] for r in read_table(out, "commitpack")] == [good["commit"]]
    text = table_text(out, "dead_letter")
    for leaked in ("corp.internal", "ada@build.lan", "grace@mail.corp", "Jane Roe", "Ada Byron", "Grace Hopper"):
        assert leaked not in text, leaked
    assert all(t["holds"] for t in manifest_of(out)["accounting"].values())


def test_dead_letters_are_redacted_whole_then_cut_at_the_sink(tmp_path):
    """A dead letter carries its whole raw input to the one sink: redaction sees all of it,
    then ``dead_letter.max_raw_chars`` cuts it (``raw_truncated``)."""
    long_line = '{"id": "broken", "content": "write to jane.doe@corp-mail.com ' + "x" * 500   # no closing quote
    short_line = '{"id": "short", "content": '
    (tmp_path / "in.jsonl").write_text("\n".join([json.dumps({"id": "ok", "content": "print(1)\n"}),
                                                  long_line, short_line]) + "\n")
    (tmp_path / "cfg.yaml").write_text("dead_letter:\n  max_raw_chars: 80\n")
    out = tmp_path / "out"
    assert run_cli("pii", "--input", tmp_path / "in.jsonl", "--text-field", "content",
                   "--config", tmp_path / "cfg.yaml", "--output", out, "--quiet") == 0
    dead = sorted(read_table(out, "dead_letter"), key=lambda r: len(r["raw"]))
    assert [r["raw_truncated"] for r in dead] == [False, True]
    assert dead[0]["raw"] == short_line
    assert len(dead[1]["raw"]) == 80 and "jane.doe@corp-mail.com" not in dead[1]["raw"]
    assert dead[1]["raw"].startswith('{"id": "broken", "content": "write to ')
