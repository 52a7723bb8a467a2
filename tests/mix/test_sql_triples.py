"""The ``sql_triples`` kind of the mix job: its prompt options (``prompt_format: sql_palm``,
``sample_rows``, ``max_value_chars`` over ``mix.sql_triples``), the database prompt built on the
join side, and the split key: the schema fingerprint."""

from __future__ import annotations

import pytest

from codecorpus.config import ConfigError, load_config
from codecorpus.core.routing import Drop
from codecorpus.mix import mixing
from codecorpus.sql import database, prompts

JOIN = {"path": "out/sql/sql_databases", "on": "db_id", "columns": ["ddl"]}
SQL = """CREATE TABLE artist (artistid INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE album (albumid INTEGER PRIMARY KEY, title TEXT, artistid INTEGER REFERENCES artist (artistid));
INSERT INTO artist VALUES (1, 'AC/DC'), (2, 'Accept'), (3, 'Aerosmith'), (4, 'Alanis');
INSERT INTO album VALUES (1, 'For Those About To Rock', 1), (2, 'Balls to the Wall', 2), (3, 'Restless', 2);
"""


def sources(*entries, **mix) -> list:
    config = load_config()["mix"]
    config.update(mix)
    config["sources"] = [{"name": f"s{i}", "path": "p", **e} for i, e in enumerate(entries)]
    return mixing.parse_sources(config)


def database_row(sql: str = SQL, repo: str = "acme/music", path: str = "music.sql") -> dict:
    cfg = load_config()["sql"]
    record = {"repo_name": repo, "path": path, "content": sql, "license": "mit"}
    job = next(e for e in database.parse_file(record, cfg) if isinstance(e, dict))
    return database.build_database({**job, "borrowed": []}, cfg).row


def triple(db: dict, question: str = "How many artists are there?") -> dict:
    return {"db_id": db["db_id"], "question": question, "sql": "SELECT COUNT(*) FROM artist",
            "schema_fingerprint": db["schema_fingerprint"], "repo_name": db["repo_name"], "path": db["path"],
            "license": db["license"]}


def render(source: mixing.Source, record: dict, db: dict) -> list:
    joined = {c: db.get(c) for c in source.join_reads()}
    if source.sql_palm:
        joined = mixing.database_prompt(joined, source.sql_prompt, source.join["columns"])
        built = "_prompt_error" if "_prompt_error" in joined else "database_prompt"
        assert set(joined) == {*source.join["columns"], built}     # `inserts`, read for the prompt, goes no further
    return mixing._RenderEvents(source, mixing.CHATML)((record, joined))


def test_options_default_from_the_mix_section_and_a_source_overrides_them():
    (plain,) = sources({"kind": "sql_triples", "join": JOIN})
    assert plain.sql_prompt == load_config()["mix"]["sql_triples"] and plain.sql_prompt["prompt_format"] == "ddl"
    assert not plain.sql_palm and plain.templates["user"] == "{ddl}\n\n-- {question}"
    assert plain.representatives_only and plain.join_reads() == ["ddl", "representative"]
    (palm,) = sources({"kind": "sql_triples", "join": JOIN, "prompt_format": "sql_palm", "sample_rows": 2})
    assert palm.sql_prompt == {"prompt_format": "sql_palm", "sample_rows": 2, "near_identical": "representative",
                               "max_value_chars": load_config()["mix"]["sql_triples"]["max_value_chars"]}
    assert palm.join_reads() == ["ddl", "inserts", "representative"] and "database_prompt" in palm.columns_needed()
    (every_copy,) = sources({"kind": "sql_triples", "join": JOIN, "near_identical": "all"})
    assert not every_copy.representatives_only and every_copy.join_reads() == ["ddl"]
    assert palm.templates["user"] == mixing.SQL_PALM_USER
    (section_wide,) = sources({"kind": "sql_triples", "join": JOIN},
                              sql_triples={"prompt_format": "sql_palm", "sample_rows": 5, "max_value_chars": 9})
    assert section_wide.sql_palm and section_wide.sql_prompt["sample_rows"] == 5
    (own_user,) = sources({"kind": "sql_triples", "join": JOIN, "prompt_format": "sql_palm",
                           "user": "-- {question}\n{database_prompt}"})
    assert own_user.templates["user"] == "-- {question}\n{database_prompt}"
    assert sources({"kind": "fim"})[0].sql_prompt is None


@pytest.mark.parametrize("entry,message", [
    ({"kind": "sql_triples", "prompt_format": "sql_palm"}, "join"),
    ({"kind": "sql_triples", "join": JOIN, "prompt_format": "palm"}, "prompt_format must be one of ddl, sql_palm"),
    ({"kind": "sql_triples", "join": JOIN, "sample_rows": "3"}, "must be an integer"),
    ({"kind": "sql_triples", "join": JOIN, "sample_rows": -1}, "sample_rows must be >= 0"),
    ({"kind": "sql_triples", "join": JOIN, "max_value_chars": 0}, "max_value_chars >= 1"),
    ({"kind": "fim", "sample_rows": 3}, "only apply to kind sql_triples"),
    ({"kind": "sql_triples", "join": JOIN, "near_identical": "first"}, "near_identical must be one of representative, all"),
    ({"kind": "sql_triples", "user": "{question}"}, "near_identical: representative reads each database's group"),
    ({"kind": "fim", "near_identical": "all"}, "only apply to kind sql_triples"),
])
def test_bad_options_are_refused(entry, message):
    with pytest.raises(ConfigError, match=message):
        sources(entry)


def test_sql_palm_renders_the_database_with_keys_and_rows_then_the_question():
    db = database_row()
    (source,) = sources({"kind": "sql_triples", "join": JOIN, "prompt_format": "sql_palm", "sample_rows": 2})
    mixing.check_columns(source, set(triple(db)))
    (row,) = render(source, triple(db), db)
    user = row["messages"][0]["content"]
    assert user == prompts.sql_palm_schema(db["ddl"], db["inserts"], 2, 60) + "\n[Q]: How many artists are there?"
    assert "[Primary Keys]: artist : artistid | album : albumid" in user
    assert "[Foreign Keys]: album : artistid equals artist : artistid" in user
    assert "artist : (1, 'AC/DC') ; (2, 'Accept')\n" in user and "'Aerosmith'" not in user
    assert row["messages"][1]["content"] == "SELECT COUNT(*) FROM artist"
    assert render(source, triple(db), db) == [row]                 # the same row, the same text


def test_the_default_format_is_the_ddl_as_before():
    db = database_row()
    (source,) = sources({"kind": "sql_triples", "join": JOIN})
    (row,) = render(source, triple(db), db)
    assert row["messages"][0]["content"] == "\n".join(db["ddl"]) + "\n\n-- How many artists are there?"


def test_a_database_without_a_readable_schema_fails_its_rows_with_the_reason():
    db = {**database_row(), "ddl": ["this is not DDL"]}
    (source,) = sources({"kind": "sql_triples", "join": JOIN, "prompt_format": "sql_palm"})
    with pytest.raises(ValueError, match="prompt_format sql_palm: ValueError: the database's ddl holds no CREATE"):
        render(source, triple(db), db)


def test_the_split_key_is_the_schema_fingerprint_of_near_identical_databases():
    mysql = """CREATE TABLE `Artist` (`ArtistId` INT NOT NULL, `Name` VARCHAR(120) NOT NULL, PRIMARY KEY (`ArtistId`));
CREATE TABLE `Album` (`Title` VARCHAR(160), `AlbumId` INT NOT NULL, `ArtistId` INT, PRIMARY KEY (`AlbumId`),
  FOREIGN KEY (`ArtistId`) REFERENCES `Artist` (`ArtistId`)) ENGINE=InnoDB;
INSERT INTO `Artist` VALUES (1, 'AC/DC');
"""
    one, other = database_row(), database_row(mysql, repo="someone/vendored", path="db/Chinookish_MySql.sql")
    assert one["db_id"] != other["db_id"] and one["schema_fingerprint"] == other["schema_fingerprint"]
    (source,) = sources({"kind": "sql_triples", "join": JOIN})
    (a,), (b,) = render(source, triple(one), one), render(source, triple(other), other)
    assert a["_file"] == b["_file"] == one["schema_fingerprint"]
    assert a["_member"] != b["_member"] and a["repo"] != b["repo"]
    # one node links them: the split draws their group once
    assert mixing.group_edges(a, False)[1][1] == mixing.group_edges(b, False)[1][1] == f"f:{one['schema_fingerprint']}"


def test_of_near_identical_databases_only_the_representatives_triples_are_mixed():
    """One sample database vendored twice: the group's kept database (``representative``, set by
    the sql job's ``mark_near_identical``) keeps its triples, the copy's are a counted drop."""
    vendored = database_row(repo="someone/vendored", path="vendor/music.sql")
    original = database_row()
    marked = [r for r in database.mark_near_identical((original["schema_fingerprint"], [vendored, original]))
              if isinstance(r, dict)]
    kept = marked[0]["representative"]
    by_id = {db["db_id"]: db for db in marked}
    copy = next(db_id for db_id in by_id if db_id != kept)
    (source,) = sources({"kind": "sql_triples", "join": JOIN})
    (row,) = render(source, triple(by_id[kept]), by_id[kept])
    assert row["messages"][1]["content"] == "SELECT COUNT(*) FROM artist"
    (drop,) = render(source, triple(by_id[copy]), by_id[copy])
    assert isinstance(drop, Drop) and drop.counter == mixing.near_identical_counter(source.name)
    (every_copy,) = sources({"kind": "sql_triples", "join": JOIN, "near_identical": "all"})
    assert all(isinstance(r, dict) for db in marked for r in render(every_copy, triple(db), db))
