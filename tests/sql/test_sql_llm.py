"""The optional LLM backend, against a local server that speaks the OpenAI-compatible
chat/completions API: the protocol, self-consistency voting, RRTF ranking and preference pairs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codecorpus.sql import llm

from conftest import manifest_of, read_table, run_cli
from fake_chat import ChatServer


class FakeChatServer(ChatServer):
    """``POST /v1/chat/completions``. A question request gets ``Which rows does this return: <sql>?``;
    a SQL request for such a question gets, per choice in turn: the SQL itself (three times, written
    a little differently), a SQL that does not parse, one that fails at run time, and one with another result.
    At most two choices per response (clients must ask again for the rest); the first request of all
    fails with HTTP 500 (clients must retry)."""

    def __init__(self):
        super().__init__()
        self.failed_once = False
        self._asked: dict = {}

    def record(self, body: dict, path: str, headers) -> dict:
        return {"path": path, "body": body, "auth": headers.get("Authorization")}

    def answer(self, body: dict, path: str) -> tuple:
        if not self.failed_once:
            self.failed_once = True
            return 500, []
        if path != "/v1/chat/completions":
            return 404, []
        return 200, [(content, "stop") for content in self.contents(body)]

    def contents(self, body: dict) -> list:
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        if system == llm.SYSTEM_QUESTION:
            sql = user.split("SQL:\n", 1)[1].rsplit("\n\nQuestion:", 1)[0]
            return [f"Question: Which rows does this return: {sql}?"]
        gold = re.search(r"Question: Which rows does this return: (.*)\?\n\nSQL:", user, re.S).group(1)
        script = [f"```sql\n{gold}\n```", f"Sure:\n```sql\n{gold};\n```", f"```sql\n{gold} -- written again\n```",
                  "```sql\nSELEC broken FROM\n```", "```sql\nSELECT missing_column FROM nowhere\n```",
                  "```sql\nSELECT 12345\n```"]
        start = self._asked.get(gold, 0)
        n = min(body.get("n", 1), 2)
        self._asked[gold] = start + n
        return [script[(start + i) % len(script)] for i in range(n)]


@pytest.fixture
def chat_server():
    with FakeChatServer() as server:
        yield server


def test_chat_url_variants():
    assert llm.chat_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert llm.chat_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert llm.chat_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


def test_client_speaks_the_protocol_retries_and_collects_n_choices(chat_server):
    client = llm.ChatClient(chat_server.url, model="tiny-sql", api_key="secret-token", timeout_seconds=5)
    question = client.complete(llm.question_messages("CREATE TABLE t (a INT);", "SELECT a FROM t"), 1, 0.2)
    assert llm.extract_question(question[0]) == "Which rows does this return: SELECT a FROM t?"
    answers = client.complete(llm.sql_messages("CREATE TABLE t (a INT);", "Which rows does this return: "
                                                "SELECT a FROM t?"), 5, 0.8)
    assert [llm.extract_sql(a) for a in answers] == ["SELECT a FROM t", "SELECT a FROM t", "SELECT a FROM t -- written again",
                                                     "SELEC broken FROM", "SELECT missing_column FROM nowhere"]
    first, *rest = chat_server.requests
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer secret-token"
    body = rest[0]["body"]
    assert body["model"] == "tiny-sql" and body["n"] == 1 and body["temperature"] == 0.2
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert [r["body"]["n"] for r in rest[1:]] == [5, 3, 1]      # asked again for the missing choices
    assert client.requests == 5 and client.failures == 0       # the HTTP 500 was retried


def test_client_gives_up_with_an_error():
    client = llm.ChatClient("http://127.0.0.1:9", timeout_seconds=1, max_retries=1)
    with pytest.raises(llm.LLMError):
        client.complete([{"role": "user", "content": "hi"}])
    assert client.failures == 1


def test_self_consistency_votes_on_results_and_ranks_rrtf():
    results = {"A1": ("ok", "k1", False), "A2": ("ok", "k1", False), "B": ("ok", "k2", False),
               "E": ("ok", "k3", True), "P": ("parse_error", None, False), "R": ("runtime_error", None, False)}
    vote = llm.self_consistency(["B", "A1", "P", "A2", "R", "E"], lambda sql: results[sql])
    assert (vote.winner_key, vote.votes, vote.chosen) == ("k1", 2, "A1")
    assert {e.sql: e.label for e in vote.executed} == {"A1": "consensus", "A2": "consensus", "B": "disagreeing",
                                                       "E": "disagreeing", "P": "parse_error", "R": "runtime_error"}
    assert [e.rank for e in vote.executed] == [2, 3, 0, 3, 1, 2]
    pairs = llm.preference_pairs(vote, max_pairs=3)
    assert pairs == [("A1", "P", "consensus", "parse_error"), ("A1", "R", "consensus", "runtime_error"),
                     ("A1", "B", "consensus", "disagreeing")]
    tie = llm.self_consistency(["X", "Y"], lambda sql: ("ok", sql, False))
    assert tie.chosen == "X"  # the group seen first wins a tie
    none = llm.self_consistency(["P"], lambda sql: ("parse_error", None, False))
    assert none.winner_key is None and llm.preference_pairs(none, 3) == []


SCHEMA = """
CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, city VARCHAR(30) NOT NULL);
CREATE TABLE players (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL REFERENCES teams(id),
                      name VARCHAR(40) NOT NULL, goals INTEGER NOT NULL, position VARCHAR(10) NOT NULL);
"""


def test_the_job_with_an_llm_endpoint_writes_preferences(tmp_path: Path, chat_server):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "league.sql").write_text(SCHEMA)
    (tmp_path / "cfg.yaml").write_text("sql:\n  queries:\n    per_level: 2\n  llm:\n    max_triples_per_database: 4\n"
                                       "    api_key_env: CODECORPUS_TEST_LLM_KEY\n")
    out = tmp_path / "out"
    code = run_cli("sql", "--input", tmp_path / "in", "--output", out, "--config", tmp_path / "cfg.yaml",
                   "--llm-endpoint", chat_server.url, "--llm-model", "tiny-sql", "--llm-candidates", "6", "--quiet")
    assert code == 0
    counters = manifest_of(out)["counters"]
    triples = read_table(out, "sql_triples")
    prefs = read_table(out, "sql_preferences")
    llm_triples = [t for t in triples if t["question_source"] == "llm"]
    assert counters["sql/llm/question_accepted"] == len(llm_triples) == 4
    assert all(t["question"] == f"Which rows does this return: {t['sql']}?" for t in llm_triples)
    assert counters["sql/llm/candidates"] == 4 * 6
    assert counters["sql/llm/rank/consensus"] == 4 * 3
    assert len(prefs) == counters["sql/llm/pairs"] == 4 * 3
    for pref in prefs:
        assert pref["chosen_rank"] == "consensus" and pref["votes"] == 3 and pref["candidates"] == 6
        assert pref["rejected_rank"] in ("parse_error", "runtime_error", "disagreeing")
        assert pref["question"] in pref["prompt"] and "CREATE TABLE" in pref["prompt"]
        assert pref["gold_sql"] in pref["question"]
    assert {p["rejected"] for p in prefs} == {"SELEC broken FROM", "SELECT missing_column FROM nowhere",
                                              "SELECT 12345"}
    assert "secret" not in (out / "manifest.json").read_text()


def test_suite_vote_ranks_a_match_on_the_original_only_below_consensus():
    # result keys are vectors (database, then its test suite); "b" matches the winner only on the database
    keys = {"a1": ("x", "p", "q"), "a2": ("x", "p", "q"), "b": ("x", "p", "r"), "c": ("y", "p", "q")}
    vote = llm.mark_original_only(llm.self_consistency(list(keys), lambda sql: ("ok", keys[sql], False)))
    assert vote.winner_key == ("x", "p", "q")
    assert {e.sql: e.label for e in vote.executed} == {"a1": "consensus", "a2": "consensus", "b": "original_only",
                                                      "c": "disagreeing"}
    pairs = llm.preference_pairs(vote, 5)
    assert [p[3] for p in pairs] == ["disagreeing", "original_only"]
    one_db = llm.self_consistency(list(keys), lambda sql: ("ok", keys[sql][0], False))
    assert llm.consensus_members(one_db) == {0, 1, 2} != llm.consensus_members(vote)
