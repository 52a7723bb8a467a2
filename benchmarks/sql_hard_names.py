"""A folder of .sql files whose identifiers make template questions read like templates (issue 20
item 3): a junction table named ``CustomerCustomerDemo``, yes/no flag columns (``wide_body``), a
schema-wide table prefix (``sb_``) with abbreviations (``tx``, ``qty``, ``amt``, ``cust``), ``tbl_``
tables, camelCase and snake_case, MySQL column COMMENTs. Modelled on the questions the issue
quotes; generated (deterministically) because this machine cannot clone public repositories.

    python benchmarks/sql_hard_names.py OUT_FOLDER
"""

from __future__ import annotations

import random
import sys
from pathlib import Path


def _rows(table: str, columns: str, rows: list) -> str:
    def lit(v):
        return "NULL" if v is None else str(v) if isinstance(v, (int, float)) else "'" + str(v).replace("'", "''") + "'"
    values = ",\n  ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} ({columns}) VALUES\n  {values};\n"


def write(folder: Path) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    makers = ["Boeing", "Airbus", "Embraer", "Bombardier"]
    aircraft = [(i, f"A{i:03d}", rng.choice(makers), rng.choice(["Yes", "No"]), rng.randint(70, 400),
                 rng.choice(["passenger", "cargo", "mixed"])) for i in range(1, 41)]
    flights = [(i, rng.randint(1, 40), rng.choice(["LIS", "OSL", "YYZ", "GRU", "SYD"]), rng.randint(300, 9000),
                rng.choice(["Y", "N"])) for i in range(1, 121)]
    (folder / "airline.sql").write_text(
        "CREATE TABLE aircraft (aircraft_id INTEGER PRIMARY KEY, aircraft_code VARCHAR(8) NOT NULL,\n"
        "  manufacturer VARCHAR(40), wide_body VARCHAR(3) NOT NULL, seat_cnt INTEGER, usage_type VARCHAR(20));\n"
        "CREATE TABLE flight (flight_id INTEGER PRIMARY KEY, aircraft_id INTEGER REFERENCES aircraft (aircraft_id),\n"
        "  dest_code VARCHAR(3) NOT NULL, dist_km INTEGER, is_intl CHAR(1));\n"
        + _rows("aircraft", "aircraft_id, aircraft_code, manufacturer, wide_body, seat_cnt, usage_type", aircraft)
        + _rows("flight", "flight_id, aircraft_id, dest_code, dist_km, is_intl", flights))
    types = [(1, "deposit"), (2, "withdrawal"), (3, "transfer"), (4, "fee")]
    custs = [(i, f"cust{i}", rng.choice(["retail", "business", "private"]), rng.choice(["PT", "NO", "CA", "BR"]))
             for i in range(1, 31)]
    txs = [(i, rng.randint(1, 30), rng.randint(1, 4), round(rng.uniform(5, 5000), 2), f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            rng.choice(["posted", "pending", "reversed"])) for i in range(1, 201)]
    (folder / "sb_bank.sql").write_text(
        "CREATE TABLE sb_tx_type (sb_tx_type_id INTEGER PRIMARY KEY, sb_tx_type_name VARCHAR(20) NOT NULL);\n"
        "CREATE TABLE sb_customer (sb_cust_id INTEGER PRIMARY KEY, sb_cust_name VARCHAR(40) NOT NULL,\n"
        "  sb_cust_segment VARCHAR(20), sb_cust_ctry CHAR(2));\n"
        "CREATE TABLE sb_transaction (sb_tx_id INTEGER PRIMARY KEY, sb_cust_id INTEGER NOT NULL REFERENCES\n"
        "  sb_customer (sb_cust_id), sb_tx_type_id INTEGER NOT NULL REFERENCES sb_tx_type (sb_tx_type_id),\n"
        "  sb_tx_amt DECIMAL(10,2) NOT NULL, sb_tx_dt DATE NOT NULL, sb_tx_status VARCHAR(10));\n"
        + _rows("sb_tx_type", "sb_tx_type_id, sb_tx_type_name", types)
        + _rows("sb_customer", "sb_cust_id, sb_cust_name, sb_cust_segment, sb_cust_ctry", custs)
        + _rows("sb_transaction", "sb_tx_id, sb_cust_id, sb_tx_type_id, sb_tx_amt, sb_tx_dt, sb_tx_status", txs))
    demos = [(f"D{i}", rng.choice(["gold", "silver", "bronze"])) for i in range(1, 6)]
    customers = [(f"C{i:03d}", f"Company {i}", rng.choice(["Sales Manager", "Owner", "Buyer"]),
                  rng.choice(["Lisbon", "Oslo", "Toronto"])) for i in range(1, 31)]
    links = sorted({(f"C{rng.randint(1, 30):03d}", f"D{rng.randint(1, 5)}") for _ in range(50)})
    (folder / "northwind_mysql.sql").write_text(
        "CREATE TABLE `CustomerDemographics` (`CustomerTypeID` varchar(10) NOT NULL, `CustomerDesc` varchar(20),\n"
        "  PRIMARY KEY (`CustomerTypeID`)) ENGINE=InnoDB;\n"
        "CREATE TABLE `Customers` (`CustomerID` varchar(5) NOT NULL, `CompanyName` varchar(40) NOT NULL,\n"
        "  `ContactTitle` varchar(30) COMMENT 'job title', `City` varchar(15), PRIMARY KEY (`CustomerID`)) ENGINE=InnoDB;\n"
        "CREATE TABLE `CustomerCustomerDemo` (`CustomerID` varchar(5) NOT NULL, `CustomerTypeID` varchar(10) NOT NULL,\n"
        "  PRIMARY KEY (`CustomerID`, `CustomerTypeID`),\n"
        "  FOREIGN KEY (`CustomerID`) REFERENCES `Customers` (`CustomerID`),\n"
        "  FOREIGN KEY (`CustomerTypeID`) REFERENCES `CustomerDemographics` (`CustomerTypeID`)) ENGINE=InnoDB;\n"
        + _rows("`CustomerDemographics`", "`CustomerTypeID`, `CustomerDesc`", demos)
        + _rows("`Customers`", "`CustomerID`, `CompanyName`, `ContactTitle`, `City`", customers)
        + _rows("`CustomerCustomerDemo`", "`CustomerID`, `CustomerTypeID`", links))
    items = [(i, f"item {i}", rng.choice(["tools", "paint", "garden"]), rng.randint(0, 90), round(rng.uniform(1, 90), 2),
              rng.choice(["Y", "N"])) for i in range(1, 61)]
    (folder / "inventory.sql").write_text(
        "CREATE TABLE tbl_item (item_id INTEGER PRIMARY KEY, item_name VARCHAR(40) NOT NULL, item_cat VARCHAR(20),\n"
        "  qty_on_hand INTEGER NOT NULL, unit_amt DECIMAL(8,2) NOT NULL, is_active CHAR(1) NOT NULL);\n"
        + _rows("tbl_item", "item_id, item_name, item_cat, qty_on_hand, unit_amt, is_active", items))
    return folder


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
