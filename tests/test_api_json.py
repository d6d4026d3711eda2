"""A JSON page of ``/rows`` written from COPY text (``lumbung.api.rows_json``) is what
PostgreSQL's json_agg writes for the same rows, byte for byte: every column type the marts
use, NaN and the infinities, dates before Christ, and text with quotes, backslashes, every
control character, COPY's own escapes and non-ASCII, in values, keys and column names.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import yaml

from lumbung.api import catalog, datasets, rows_json
from lumbung.api.query import Page

REPO = Path(__file__).resolve().parents[1]
TYPES = "zz_json_types"
STAMPS = "zz_json_stamps"
OTHERS = "zz_json_others"

NASTY = [
    "", " ", "plain", 'say "hi"', '"', '""', "back\\slash", "\\", "ends with \\", "\\\\",
    "\\N", "N", '\\"', ":", 'x:"\\N"', ':"\\N"', ":\\N,", ":\\N}", '"score":NaN,', "NaN",
    "-Infinity", "\\v", "\\t", "\\n", "tab\there", "line\nbreak", "cr\rlf\r\n", "\b\f\v",
    "".join(chr(c) for c in range(1, 32)), "\x7f", "del\x7fete", "%s", "%%s %(x)s %", "{}",
    "[1, 2]", "null", "true", "ê é ñ ü", "中文字", "emoji 🐉🌾", "\u2028\u2029", "\ufeffbom",
    "\U0010ffff", "a\tb\tc\nd\\e\"f", "trailing space   ", "Desa Sukamaju, Kec. \"Natar\"",
]
NUMERIC = ["0", "-0.5", "123456789012345678901234567890.123456789", "NaN", "Infinity",
           "-Infinity", "1e-20", "100", None]
NUMERIC_74 = ["0", "123.4567", "-999.9999", "NaN", "0.0001", None]
REAL = ["0", "-0", "3.4e38", "1.5e-07", "NaN", "Infinity", "-Infinity", "0.1", None]
DOUBLE = ["0", "-0", "1e300", "-1.5e-300", "0.1", "NaN", "Infinity", "-Infinity",
          "12345678.9", None]
INTEGERS = [("0", "0", "0"), ("-32768", "-2147483648", "-9223372036854775808"),
            ("32767", "2147483647", "9223372036854775807"), (None, None, None)]
DATES = ["2024-02-29", "infinity", "-infinity", "0044-03-15 BC", "0001-01-01", "9999-12-31",
         None]
STAMP_VALUES = ["2024-01-05 10:00:00.123456+07", "infinity", "-infinity",
                "0044-03-15 10:00:00 BC", "2024-07-01 00:00:00+00", "1999-12-31 23:59:59.5-03",
                None]
BOOLEANS = ["true", "false", None]
WEIRD = 'we"ird ñame\x01 \\'


def _cycle(values: list, i: int):
    return values[i % len(values)]


@pytest.fixture(scope="module")
def types_mart(warehouse):
    """Marts of every type the encoder writes, and one of types it leaves to json_agg."""
    with psycopg.connect(warehouse.url(), autocommit=True) as db:
        db.execute(f"drop table if exists marts.{TYPES}, marts.{STAMPS}, marts.{OTHERS}")
        db.execute(f"""
            create table marts.{TYPES} (
                k text, n integer, v varchar(40), c character(6), i2 smallint, i4 integer,
                i8 bigint, num numeric, num74 numeric(7, 4), r real, d8 double precision,
                b boolean, day date, ts timestamp, tstz timestamp with time zone,
                ts3 timestamp(3) with time zone, "{WEIRD.replace('"', '""')}" text,
                primary key (k, n))""")
        rows = []
        for i, text in enumerate(NASTY * 2):
            nulls = i == len(NASTY)  # one row of nulls but its key
            i2, i4, i8 = _cycle(INTEGERS, i)
            stamp = _cycle(STAMP_VALUES, i)
            rows.append((text, i, *([None] * 15 if nulls else [
                _cycle(NASTY, i + 7)[:40], _cycle(NASTY, i + 3)[:6] or None, i2, i4, i8,
                _cycle(NUMERIC, i), _cycle(NUMERIC_74, i), _cycle(REAL, i), _cycle(DOUBLE, i),
                _cycle(BOOLEANS, i), _cycle(DATES, i), stamp, stamp, stamp,
                _cycle(NASTY, i + 11)])))
        with db.cursor() as cur:
            cur.executemany(f"insert into marts.{TYPES} values ({', '.join(['%s'] * 17)})",
                            rows)
        db.execute(f"create table marts.{STAMPS} (at timestamp with time zone, "
                   "code character(4), label text, primary key (at, code))")
        db.execute(f"insert into marts.{STAMPS} select timestamptz '2024-01-01 00:00+07' "
                   "+ make_interval(hours => g), lpad((g % 7)::text, 2), 'label ' || g "
                   "from generate_series(1, 40) as g")
        db.execute(f"create table marts.{OTHERS} (id integer primary key, j jsonb, js json, "
                   "arr text[], iv interval, u uuid, tm time, mo money)")
        db.execute(f"insert into marts.{OTHERS} values (1, '{{\"a\": [1, \"x\"]}}', "
                   "'{\"b\" : 2}', '{a,\"b c\"}', '1 day 2 hours', "
                   "'00000000-0000-0000-0000-000000000001', '10:00', 12.5), "
                   "(2, null, null, null, null, null, null, null)")
        yield {name: catalog.mart(db, db.info.user, name) for name in (TYPES, STAMPS, OTHERS)}
        db.execute(f"drop table if exists marts.{TYPES}, marts.{STAMPS}, marts.{OTHERS}")


def _json_agg(db: psycopg.Connection, page: Page) -> tuple[str, list[str] | None, bool]:
    """The page as the API wrote it before: json_agg, the key (as ::text) of its last row
    when another page follows."""
    rows, last_key, more = db.execute(*page.json_page()).fetchone()
    return rows, last_key if more else None, more


def _from_copy(db: psycopg.Connection, page: Page) -> tuple[str, list[str] | None, bool]:
    layout = page.json_layout()
    assert layout is not None, page.columns
    with db.cursor() as cur, cur.copy(*page.json_copy(layout)) as copy:
        rows = [bytes(row) for row in copy]  # psycopg gives one row at a time
    # the rows in one block, a block per row, and blocks of 1, 2, 3, ... rows: each way of
    # cutting them as they arrive from the warehouse writes the same page
    text = b"".join(rows)
    growing, start = [], 0
    while start < len(rows):
        growing.append(b"".join(rows[start:start + len(growing) + 1]))
        start += len(growing)
    answers = [layout.render(blocks, page.limit) for blocks in ([text], rows, growing)]
    assert answers[1:] == answers[:1] * 2, answers
    json_text, last_key, more = answers[0]
    return json_text.decode(), last_key if more else None, more


def _every_page(db: psycopg.Connection, mart: catalog.Mart, columns: list[str],
                limit: int) -> int:
    """Pages through the mart by both ways, comparing each; the number of pages."""
    after, pages = None, 0
    while True:
        page = Page(mart=mart, columns=columns, limit=limit, after=after)
        expected = _json_agg(db, page)
        assert _from_copy(db, page) == expected, (mart.name, columns, limit, after)
        pages += 1
        _, last_key, more = expected
        if not more:
            return pages
        after = last_key


@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_every_type_and_nasty_text_is_written_as_json_agg_writes_it(types_mart, db, limit):
    assert db.info.parameter_status("DateStyle").startswith("ISO")
    mart = types_mart[TYPES]
    assert all(rows_json.kind(c.type) for c in mart.columns), [c.type for c in mart.columns]
    assert _every_page(db, mart, mart.column_names, limit) == -(-len(NASTY) * 2 // limit)
    # columns without the key (the cursor from the key read beside them), in another order
    _every_page(db, mart, [WEIRD, "tstz", "num", "b", "k"], limit)
    _every_page(db, mart, ["day", "r", "c"], limit)


def test_the_text_really_is_nasty(types_mart, db):
    """The rows hold what the test means them to: every special value made it in."""
    text = db.execute(f"select json_agg(t)::text from marts.{TYPES} as t").fetchone()[0]
    for spelling in ('"NaN"', '"Infinity"', '"-Infinity"', "\\u0001", "\\u000b", '\\"',
                     "\\\\", "\\n", "\\t", "BC", '"infinity"', "null", "🐉", "\\u001f"):
        assert spelling in text, spelling


@pytest.mark.parametrize("limit", [1, 6, 1000])
def test_timestamp_and_character_keys_give_the_same_cursor(types_mart, db, limit):
    mart = types_mart[STAMPS]
    _every_page(db, mart, mart.column_names, limit)
    _every_page(db, mart, ["label"], limit)


def test_types_it_does_not_write_are_left_to_json_agg(types_mart):
    mart = types_mart[OTHERS]
    for column in mart.columns[1:]:
        assert rows_json.kind(column.type) is None, column.type
        assert Page(mart=mart, columns=["id", column.name], limit=5).json_layout() is None
    assert Page(mart=mart, columns=["id"], limit=5).json_layout() is not None


def test_dates_are_left_to_json_agg_unless_datestyle_is_iso(types_mart, db):
    mart = types_mart[TYPES]
    dated = Page(mart=mart, columns=["k", "day"], limit=5)
    undated = Page(mart=mart, columns=["k", "num"], limit=5)
    session = SimpleNamespace(conn=db)
    assert datasets._json_layout(session, dated) is not None
    db.execute("set datestyle = 'German'")
    try:
        assert datasets._json_layout(session, dated) is None
        assert datasets._json_layout(session, undated) is not None
    finally:
        db.execute("reset datestyle")


def test_every_type_in_the_marts_contracts_is_written_from_copy():
    """The dbt contracts of the marts use only types the encoder writes, so no published
    mart's page falls back to json_agg."""
    types = set()
    for path in (REPO / "dbt_project" / "models" / "marts").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            types |= {c["data_type"] for c in model.get("columns", []) if "data_type" in c}
    assert len(types) >= 5
    # the contracts' spellings, as format_type writes them
    written = {t.replace(", ", ",") for t in types}
    assert {t for t in written if rows_json.kind(t) is None} == set()
