"""Deterministic synthetic rows for a table: realistic values by column name, keys kept.

Values are chosen where the column's name says what it holds (names, e-mails, cities, prices,
dates of birth …), else by type; primary keys and unique sets are unique, foreign keys point at
existing parent rows. Everything is drawn from a generator the caller seeds.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal, ROUND_HALF_EVEN
from typing import Optional

from codecorpus.sql.inserts import format_timestamp
from codecorpus.sql.schema import Column, Schema, Table


# --- synthetic rows ---------------------------------------------------------------------------------

FIRST_NAMES = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia",
               "Donald", "Katherine", "John", "Hedy", "Tim", "Annie", "Guido", "Shafi", "Niklaus", "Sophie", "Yukihiro",
               "Leslie", "Mary", "Carlos", "Amara", "Priya", "Mateo", "Chen", "Fatima", "Olga", "Kwame"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
              "Dijkstra", "Perlman", "Knuth", "Johnson", "McCarthy", "Lamarr", "Berners", "Easley", "Rossum",
              "Goldwasser", "Wirth", "Wilson", "Matsumoto", "Lamport", "Keller", "Silva", "Okafor", "Patel", "Garcia",
              "Wei", "Hassan", "Ivanova", "Mensah"]
CITIES = [("Lisbon", "Portugal"), ("Toronto", "Canada"), ("Oslo", "Norway"), ("Berlin", "Germany"),
          ("Sao Paulo", "Brazil"), ("Chicago", "USA"), ("Paris", "France"), ("Prague", "Czech Republic"),
          ("Sydney", "Australia"), ("Bangalore", "India"), ("Santiago", "Chile"), ("Dublin", "Ireland"),
          ("Madrid", "Spain"), ("Stockholm", "Sweden"), ("Boston", "USA"), ("Vienna", "Austria")]
STATES = ["CA", "NY", "TX", "WA", "ON", "BC", "SP", "NSW", "IL", "MA"]
STREETS = ["Main", "Oak", "Maple", "Cedar", "Elm", "Park", "Lake", "Hill", "River", "Station"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Industries", "Wayne Enterprises", "Hooli",
             "Vandelay Imports", "Soylent", "Tyrell Systems"]
JOB_TITLES = ["Sales Manager", "Sales Support Agent", "IT Manager", "IT Staff", "General Manager", "Engineer",
              "Analyst", "Accountant", "Designer", "Consultant"]
WORDS = ["river", "silver", "harbor", "quiet", "golden", "north", "echo", "stone", "velvet", "summer", "crimson",
         "forest", "signal", "paper", "lantern", "ocean", "thunder", "glass", "maple", "orbit", "winter", "copper"]
CATEGORIES = {
    "status": ["active", "inactive", "pending", "closed"],
    "state": STATES,
    "gender": ["female", "male", "nonbinary"],
    "genre": ["Rock", "Jazz", "Blues", "Pop", "Classical", "Metal"],
    "category": ["Books", "Electronics", "Garden", "Toys", "Sports", "Music"],
    "type": ["standard", "premium", "basic", "custom"],
    "kind": ["standard", "premium", "basic", "custom"],
    "level": ["beginner", "intermediate", "advanced"],
    "grade": ["A", "B", "C", "D"],
    "priority": ["low", "medium", "high", "urgent"],
    "department": ["Sales", "Engineering", "Finance", "Support", "Marketing"],
    "role": ["admin", "editor", "viewer", "owner"],
    "currency": ["USD", "EUR", "GBP", "JPY", "BRL"],
    "language": ["English", "Spanish", "French", "German", "Japanese"],
    "color": ["red", "green", "blue", "black", "white"],
    "colour": ["red", "green", "blue", "black", "white"],
    "method": ["card", "cash", "transfer"],
    "channel": ["web", "store", "phone"],
    "format": ["MPEG audio file", "AAC audio file", "Protected video file"],
    "rating": ["G", "PG", "PG-13", "R"],
}
COUNTRIES = ["Portugal", "Canada", "Norway", "Germany", "Brazil", "USA", "France", "Czech Republic", "Australia",
             "India", "Chile", "Ireland", "Spain", "Sweden", "Austria", "Japan", "Kenya", "Mexico", "Poland", "Italy"]
# What a thing's `name` column holds, by the table (or a column prefix): country.name -> a country.
NAMED_THINGS = {
    "country": COUNTRIES, "countries": COUNTRIES, "city": [c for c, _ in CITIES], "genre": CATEGORIES["genre"],
    "category": CATEGORIES["category"], "department": CATEGORIES["department"], "language": CATEGORIES["language"],
    "company": COMPANIES, "publisher": COMPANIES, "supplier": COMPANIES, "vendor": COMPANIES, "brand": COMPANIES,
    "color": CATEGORIES["color"], "currency": CATEGORIES["currency"], "role": CATEGORIES["role"],
    "status": CATEGORIES["status"],
}
PERSON_TABLES = ("customer", "employee", "user", "staff", "author", "person", "people", "student", "actor", "member",
                 "client", "patient", "teacher", "driver", "player", "contact", "account", "owner", "manager",
                 "instructor", "reviewer", "artist", "writer", "doctor")


def _tokens(name: str) -> list:
    from codecorpus.sql.naming import identifier_words

    return identifier_words(name).split()


def _value_for(col: Column, table: Table, rng: random.Random, i: int, ctx: Optional[dict] = None):
    """A plausible value for ``col`` (row ``i``): by column name where it is obvious, else by type.
    ``ctx`` carries the row's person so its name and e-mail agree."""
    toks = _tokens(col.name)
    last = toks[-1] if toks else ""
    joined = "_".join(toks)
    tname = " ".join(_tokens(table.name))
    person = any(p in tname for p in PERSON_TABLES)
    f = col.family
    if col.enum:
        return rng.choice(col.enum)
    if f == "boolean":
        return rng.random() < (0.8 if last in ("active", "enabled", "visible", "available") else 0.5)
    if f == "blob":
        return bytes(rng.randrange(256) for _ in range(8))
    if f in ("date", "timestamp"):
        if "birth" in joined or last in ("dob", "birthday"):
            start, span = dt.datetime(1950, 1, 1), 55 * 365
        else:
            start, span = dt.datetime(2015, 1, 1), 10 * 365
        value = start + dt.timedelta(days=rng.randrange(span), seconds=rng.randrange(86400) if f == "timestamp" else 0)
        return value.strftime("%Y-%m-%d") if f == "date" else format_timestamp(value)
    if f == "time":
        return f"{rng.randrange(24):02d}:{rng.randrange(0, 60, 5):02d}:00"
    if f == "integer":
        return _int_for(joined, last, rng)
    if f in ("real", "decimal"):
        value = _number_for(joined, last, rng)
        if f == "decimal":
            limit = 10 ** (col.precision - col.scale) - 1
            value = max(-limit, min(limit, value))
            return Decimal(repr(value)).quantize(Decimal(1).scaleb(-col.scale), rounding=ROUND_HALF_EVEN)
        return round(value, 2)
    return _fit_length(_text_for(joined, last, toks, tname, person, rng, i, {} if ctx is None else ctx), col.length)


def _int_for(joined: str, last: str, rng: random.Random) -> int:
    if last in ("age",):
        return rng.randint(18, 80)
    if last in ("year", "yr"):
        return rng.randint(1990, 2024)
    if last in ("quantity", "qty", "count", "stock", "units", "seats", "copies"):
        return rng.randint(1, 50)
    if last in ("rating", "stars", "score", "rank", "priority"):
        return rng.randint(1, 5) if last != "score" else rng.randint(0, 100)
    if last in ("milliseconds", "ms"):
        return rng.randint(60_000, 600_000)
    if last in ("seconds", "duration", "length", "minutes"):
        return rng.randint(30, 300) if last != "seconds" else rng.randint(60, 3600)
    if last in ("bytes", "size"):
        return rng.randint(1_000, 10_000_000)
    if last in ("id", "no", "number", "num", "code"):
        return rng.randint(1, 1000)
    return rng.randint(0, 1000)


def _number_for(joined: str, last: str, rng: random.Random) -> float:
    if last in ("salary", "income", "wage"):
        return float(rng.randrange(30_000, 150_000, 500))
    if last in ("price", "cost", "fee", "rate", "charge") or "price" in joined:
        return rng.choice([0.99, 1.99, 4.99, 9.99, 14.99, 19.99, 29.99, 49.99, 99.0])
    if last in ("amount", "total", "balance", "payment", "revenue", "budget", "subtotal", "tax"):
        return round(rng.uniform(1, 500), 2)
    if last in ("lat", "latitude"):
        return round(rng.uniform(-60, 70), 4)
    if last in ("lon", "lng", "longitude"):
        return round(rng.uniform(-170, 170), 4)
    if last in ("percent", "percentage", "discount", "ratio", "share"):
        return round(rng.uniform(0, 1), 2)
    if last in ("rating", "score", "stars"):
        return round(rng.uniform(1, 5), 1)
    return round(rng.uniform(0, 1000), 2)


def _text_for(joined: str, last: str, toks: list, tname: str, person: bool, rng: random.Random, i: int,
              ctx: dict) -> str:
    if "first" not in ctx:
        ctx["first"], ctx["last"] = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    first, lastname = ctx["first"], ctx["last"]
    if "email" in joined or last == "mail":
        return f"{first}.{lastname}{i}@example.com".lower()
    if joined in ("first_name", "firstname", "given_name", "fname", "forename") or (last == "first" and len(toks) == 1):
        return first
    if joined in ("last_name", "lastname", "surname", "family_name", "lname"):
        return lastname
    if last in ("username", "login", "handle", "nickname") or joined == "user_name":
        return f"{first.lower()}{i}"
    if last == "name" or last == "author" or joined == "full_name":
        if person or joined in ("full_name", "author", "author_name", "customer_name", "employee_name"):
            return f"{first} {lastname}"
        for word in reversed(tname.split() + toks[:-1]):
            if word in NAMED_THINGS:
                return rng.choice(NAMED_THINGS[word])
        return f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}"
    if last == "title":
        return rng.choice(JOB_TITLES) if person else f"The {rng.choice(WORDS).title()} {rng.choice(WORDS).title()}"
    if last == "city" or last == "town":
        return rng.choice(CITIES)[0]
    if last == "country":
        return rng.choice(COUNTRIES)
    if last in ("state", "province", "region") and "status" not in joined:
        return rng.choice(STATES)
    if last in ("address", "street", "address1", "address2", "line1", "line2"):
        return f"{rng.randint(1, 999)} {rng.choice(STREETS)} St"
    if last in ("zip", "zipcode", "postcode") or "postal" in joined:
        return f"{rng.randint(10000, 99999)}"
    if last in ("phone", "fax", "mobile", "telephone", "tel", "cell"):
        return f"+1 (555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    if last in ("company", "organization", "organisation", "employer", "publisher", "manufacturer", "vendor",
                "supplier", "brand"):
        return rng.choice(COMPANIES)
    if last in ("url", "website", "homepage", "link", "uri"):
        return f"https://www.example.com/{rng.choice(WORDS)}"
    if last in ("description", "comment", "comments", "notes", "note", "body", "content", "text", "bio", "summary",
                "message", "review", "details"):
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).capitalize() + "."
    if last in ("password", "hash", "token", "secret", "salt", "uuid", "guid"):
        return "".join(rng.choice("0123456789abcdef") for _ in range(16))
    if last in ("code", "sku", "isbn", "ref", "reference", "serial"):
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    for word in reversed(toks):
        if word in CATEGORIES:
            return rng.choice(CATEGORIES[word])
    return f"{rng.choice(WORDS)} {rng.choice(WORDS)}"


def _fit_length(text: str, length: Optional[int]) -> str:
    return text[:length] if length else text


def synthesise(schema: Schema, table: Table, done: dict, rng: random.Random, n: int) -> list:
    """``n`` deterministic rows for ``table`` (fewer when keys run out): primary keys and unique
    sets unique, NOT NULL filled, foreign keys drawn from the parent rows already made."""
    cols = table.columns
    pos = {c.name: i for i, c in enumerate(cols)}
    fk_of: dict = {}
    for fk in table.foreign_keys:
        self_ref = fk.ref_table.lower() == table.name.lower()
        parent = None if self_ref else done.get(fk.ref_table.lower())
        if parent is not None:
            pnames = [c.name for c in parent.table.columns]
            choices = sorted({tuple(r[pnames.index(c)] for c in fk.ref_columns) for r in parent.rows},
                             key=lambda k: tuple((v is None, str(v)) for v in k))
        else:
            choices = None
        fk_of[tuple(pos[c] for c in fk.columns)] = (fk, self_ref, choices)
    key_sets = [[pos[c] for c in ks] for ks in table.key_sets()]
    seen = [set() for _ in key_sets]
    single_unique = {ks[0] for ks in key_sets if len(ks) == 1}
    rows: list = []
    for attempt in range(n * 4):
        if len(rows) >= n:
            break
        i = len(rows)
        row = [None] * len(cols)
        ok = True
        for fpos, (fk, self_ref, choices) in fk_of.items():
            nullable = not any(cols[p].not_null for p in fpos)
            if self_ref:
                names = [c.name for c in cols]
                pool = [tuple(r[names.index(c)] for c in fk.ref_columns) for r in rows]
                if not pool or (nullable and rng.random() < 0.25):
                    if not nullable:
                        ok = False
                    continue
                value = rng.choice(pool)
            elif not choices:
                if not nullable:
                    ok = False
                continue
            elif nullable and rng.random() < 0.1:
                continue
            else:
                value = rng.choice(choices)
            for p, v in zip(fpos, value):
                row[p] = v
        if not ok:
            continue
        fk_positions = {p for fpos in fk_of for p in fpos}
        ctx: dict = {}
        for j, col in enumerate(cols):
            if j in fk_positions:
                continue
            if col.autoincrement or (j in single_unique and col.family == "integer"):
                row[j] = i + 1
            elif j in single_unique and col.family == "text" and _is_identifier_text(col):
                row[j] = _unique_code(table, i, col.length)
            elif j in single_unique and col.family in ("date", "timestamp"):
                day = dt.datetime(2015, 1, 1) + dt.timedelta(days=i)
                row[j] = day.strftime("%Y-%m-%d") if col.family == "date" else format_timestamp(day)
            elif not col.not_null and rng.random() < 0.1 and j not in single_unique:
                row[j] = None
            else:
                row[j] = _value_for(col, table, rng, i, ctx)
                if j in single_unique and col.family == "text":
                    row[j] = _unique_text(row[j], col, seen, key_sets, j, i)
        keys = [tuple(row[p] for p in ks) for ks in key_sets]
        if any(k in s for k, s in zip(keys, seen) if None not in k):
            continue
        for k, s in zip(keys, seen):
            s.add(k)
        rows.append(tuple(row))
    return rows


def _is_identifier_text(col: Column) -> bool:
    toks = _tokens(col.name)
    return not toks or toks[-1] in ("id", "code", "key", "sku", "isbn", "ref", "uuid", "guid", "slug", "no", "number")


def _unique_code(table: Table, i: int, length: Optional[int]) -> str:
    """``CUS-0001`` style keys, or base-26 letters when the column is too short for that."""
    letters = re.sub(r"[^A-Za-z]", "", table.name).upper()
    code = f"{letters[:3] or 'K'}-{i + 1:04d}"
    if not length or len(code) <= length:
        return code
    out, n = "", i
    for _ in range(max(1, length)):
        out = chr(ord("A") + n % 26) + out
        n //= 26
    return out


def _unique_text(value: str, col: Column, seen: list, key_sets: list, j: int, i: int) -> str:
    for ks, s in zip(key_sets, seen):
        if ks == [j] and (value,) in s:
            suffix = f" {i + 1}"
            base = value[: (col.length - len(suffix))] if col.length and col.length > len(suffix) else value
            return _fit_length(base + suffix, col.length)
    return value
