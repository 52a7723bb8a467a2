"""SQL-PaLM's prompt of a ``sql_databases`` row (``sql.prompts``): the schema read back from the
row's DDL with its keys, the first rows of every table from its inserts, always the same text."""

from __future__ import annotations

import json

import pytest

from codecorpus.config import load_config
from codecorpus.sql import database, prompts

SHOP = """
CREATE TABLE `Customers` (`id` int NOT NULL AUTO_INCREMENT, `name` varchar(50) NOT NULL, `bio` text,
  PRIMARY KEY (`id`));
CREATE TABLE `orders` (`id` int NOT NULL, `customer_id` int NOT NULL, `total` decimal(8,2), `placed` date,
  PRIMARY KEY (`id`), CONSTRAINT `fk_c` FOREIGN KEY (`customer_id`) REFERENCES `Customers` (`id`));
CREATE TABLE `order_lines` (`order_id` int NOT NULL, `line` int NOT NULL, `what` varchar(40),
  PRIMARY KEY (`order_id`, `line`), FOREIGN KEY (`order_id`) REFERENCES `orders` (`id`));
CREATE TABLE `notes` (`id` int NOT NULL, `body` text, PRIMARY KEY (`id`));
INSERT INTO `Customers` VALUES (1,'Ada O\\'Neil','A very long biography that goes on and on about everything'),
  (2,'Bob',NULL),(3,'Cy','short'),(4,'Di','x'),(5,'Ed','y');
INSERT INTO `orders` VALUES (10,1,9.50,'2024-01-05');
INSERT INTO `orders` VALUES (11,2,10.00,'2024-01-06'),(12,2,3.25,'2024-02-01'),(13,3,1.00,'2024-02-02');
INSERT INTO `order_lines` VALUES (10,1,'kettle'),(10,2,'mug'),(11,1,'spoon'),(12,1,'teapot');
"""


def built(sql: str = SHOP, **data) -> dict:
    cfg = load_config()["sql"]
    cfg["data"].update({"synthetic_rows_per_table": 0, **data})
    record = {"repo_name": "acme/shop", "path": "shop.sql", "content": sql, "license": "mit"}
    job = next(e for e in database.parse_file(record, cfg) if isinstance(e, dict))
    return database.build_database({**job, "borrowed": []}, cfg).row


def section(text: str, name: str) -> list[str]:
    """The lines of ``[name]:`` (its own line's rest, and for the sample rows the lines after it)."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"[{name}]:"))
    rest = lines[start][len(name) + 3:].strip().removeprefix("| ")
    if name != "Sample rows":
        return [part.strip() for part in rest.split(" | ") if part.strip()]
    return lines[start + 1:]


def test_primary_and_foreign_keys_are_those_of_the_written_schema():
    row = built()
    text = prompts.sql_palm_schema(row["ddl"], row["inserts"], 3, 60)
    assert section(text, "Primary Keys") == ["Customers : id", "orders : id", "order_lines : order_id , line",
                                             "notes : id"]
    assert section(text, "Foreign Keys") == ["orders : customer_id equals Customers : id",
                                             "order_lines : order_id equals orders : id"]
    # the same keys as the row's own Spider schema (schema_json, written by the sql job)
    spider = json.loads(row["schema_json"])
    names = [(spider["table_names_original"][t], c) for t, c in spider["column_names_original"]]
    assert len(section(text, "Foreign Keys")) == len(spider["foreign_keys"])
    for a, b in spider["foreign_keys"]:
        assert f"{names[a][0]} : {names[a][1]} equals {names[b][0]} : {names[b][1]}" in text
    assert "orders : total (number)" in text and "orders : placed (time)" in text and \
        "Customers : name (text)" in text
    assert section(text, "Schema") == ["Customers : id , name , bio", "orders : id , customer_id , total , placed",
                                       "order_lines : order_id , line , what", "notes : id , body"]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_the_first_n_rows_of_every_table_with_rows(n):
    row = built()
    lines = section(prompts.sql_palm_schema(row["ddl"], row["inserts"], n, 60), "Sample rows")
    shown = {line.split(" : ", 1)[0]: line.split(" : ", 1)[1].split(" ; ") for line in lines}
    have = {"Customers": 5, "orders": 4, "order_lines": 4}
    assert set(shown) == set(have)                       # `notes` has no rows (synthetic rows are off here)
    assert {t: len(r) for t, r in shown.items()} == {t: min(n, k) for t, k in have.items()}
    # first in the order of the inserts, across statements (orders' rows come from two INSERTs)
    assert shown["orders"] == ["(10, 1, 9.50, '2024-01-05')", "(11, 2, 10.00, '2024-01-06')",
                               "(12, 2, 3.25, '2024-02-01')", "(13, 3, 1.00, '2024-02-02')"][:n]
    assert shown["Customers"][0] == "(1, 'Ada O''Neil', 'A very long biography that goes on and on about everything')"


def test_no_sample_rows_and_long_values_cut():
    row = built()
    text = prompts.sql_palm_schema(row["ddl"], row["inserts"], 0, 60)
    assert "[Sample rows]" not in text and "[Foreign Keys]" in text
    cut = prompts.sql_palm_schema(row["ddl"], row["inserts"], 1, 10)
    assert "(1, 'Ada O''Neil', 'A very lon...')" in cut


def test_deterministic_and_independent_of_synthetic_row_order():
    row = built(synthetic_rows_per_table=7)
    first = prompts.sql_palm_schema(row["ddl"], row["inserts"], 3, 60)
    assert first == prompts.sql_palm_schema(list(row["ddl"]), list(row["inserts"]), 3, 60)
    assert first == prompts.sql_palm_schema(built(synthetic_rows_per_table=7)["ddl"],
                                            built(synthetic_rows_per_table=7)["inserts"], 3, 60)
    notes = [line for line in section(first, "Sample rows") if line.startswith("notes : ")]
    assert len(notes) == 1 and len(notes[0].split(" ; ")) == 3   # synthetic rows are shown like any others


def test_a_table_already_full_is_not_read_again():
    row = built()
    broken = row["inserts"] + ['INSERT INTO "orders" ("id") VALUES (not a literal)']
    assert prompts.sql_palm_schema(row["ddl"], broken, 2, 60) == prompts.sql_palm_schema(row["ddl"], row["inserts"],
                                                                                       2, 60)
    assert prompts.sample_rows(row["inserts"], ["orders"], 2) == {"orders": [(10, 1, pytest.approx(9.5),
                                                                              "2024-01-05"),
                                                                             (11, 2, pytest.approx(10), "2024-01-06")]}


def test_a_ddl_without_tables_is_refused():
    with pytest.raises(ValueError, match="no CREATE TABLE"):
        prompts.sql_palm_schema([], [], 3, 60)


def test_a_value_with_line_breaks_keeps_its_table_on_one_line():
    row = built("CREATE TABLE post (id INTEGER PRIMARY KEY, body TEXT);\n"
                "INSERT INTO post VALUES (1, 'test\nbody'), (2, 'tab\there');\n")
    lines = section(prompts.sql_palm_schema(row["ddl"], row["inserts"], 3, 60), "Sample rows")
    assert lines == ["post : (1, 'test\\nbody') ; (2, 'tab\\there')"]
