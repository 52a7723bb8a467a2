"""Questions without an LLM that read naturally (issue 20 item 3): identifiers humanised, nouns
inflected, flags phrased as predicates; and the checker that measures it."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

from codecorpus.sql import sandbox
from codecorpus.sql.ddl import parse_schema
from codecorpus.sql.inserts import collect_batches, render_inserts
from codecorpus.sql.naming import common_prefix, humanise, identifier_words, plural, question_issues, singular
from codecorpus.sql.rows import assemble
from codecorpus.sql.schema import finalise_schema, render_ddl
from codecorpus.sql.statements import split_statements
from codecorpus.sql.templates import profile_database, template_candidates


def test_identifiers_are_humanised():
    assert humanise("CustomerCustomerDemo") == "customer demo"               # the junction's repeat said once
    assert humanise("tbl_cust_addr") == "customer address"                   # marker dropped, abbreviations expanded
    assert humanise("sb_tx_price", drop=("sb",)) == "transaction price"      # the schema-wide prefix
    assert common_prefix(["sb_transaction", "sb_tx_type", "sb_customer"]) == "sb"
    assert common_prefix(["customer", "invoice_line"]) is None
    assert identifier_words("tbl_cust_addr") == "tbl cust addr"              # synthetic data keeps the raw split


def test_nouns_are_inflected_by_the_library():
    assert plural("aircraft") == "aircraft" and plural("category") == "categories" and plural("person") == "people"
    assert plural("film price history") == "film price histories" and plural("media type ID") == "media type IDs"
    assert singular("invoice lines") == "invoice line" and singular("status") == "status"


def test_the_checker_flags_the_issues_examples():
    assert "repeated_word" in question_issues("Count the customer customer demos.")
    issues = question_issues("Which aircrafts have No or Yes as wide body? give their aircraft codes.")
    assert "number_agreement" in issues and "yes_no_value" in issues
    assert "abbreviation" in question_issues("For each sb tx type, which sb transaction has the highest sb tx price?")
    assert question_issues("List the unit_price of each tracks.", ["unit_price"]) == [
        "unsplit_identifier", "number_agreement", "literal_name"]
    assert question_issues("How many customers have country \"New Zealand\"?") == []


AIRLINE = """
CREATE TABLE aircraft (aircraft_id INTEGER PRIMARY KEY, aircraft_code VARCHAR(8) NOT NULL,
  manufacturer VARCHAR(40) COMMENT 'maker', wide_body VARCHAR(3) NOT NULL, seat_cnt INTEGER);
""" + "".join(f"INSERT INTO aircraft VALUES ({i}, 'A{i:03d}', '{['Boeing', 'Airbus', 'Embraer'][i % 3]}', "
              f"'{['Yes', 'No'][i % 2]}', {70 + 7 * i});\n" for i in range(1, 31))


def test_template_questions_on_hard_names_pass_the_checker(tmp_path):
    statements = split_statements(AIRLINE, "mysql")
    schema = finalise_schema(parse_schema(statements, "mysql"))
    tables = assemble(schema, collect_batches(statements, "mysql", 100, Counter()), 0, "h", 40, 1000, Counter())
    path = str(tmp_path / "db.sqlite")
    sandbox.build_sqlite(path, render_ddl(schema, "sqlite"), render_inserts(tables))
    pools = template_candidates(profile_database(path, schema), random.Random(0))
    questions = [c.question for pool in pools.values() for c in pool]
    assert questions
    identifiers = ["aircraft_id", "aircraft_code", "wide_body", "seat_cnt"]
    assert [q for q in questions if question_issues(q, identifiers)] == []
    assert any("are wide body" in q or "are not wide body" in q for q in questions)
    assert any("seat count" in q for q in questions) and any("maker" in q for q in questions)  # comment as name
    assert not any("aircrafts" in q for q in questions)
    sqlite3.connect(path).close()
