"""Indonesian numbers and village codes are read once in Python (landing) and once in SQL
(dbt staging, the gate's rules): the same table of cases through both, on the real warehouse,
and both must read each case as expected."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lumbung.quality.dbt_macros import amount_sql, render_macro
from lumbung.sources import tabular
from lumbung.sources.apbdes import AMOUNT, parse_amount

D = Decimal
NUMBERS: list[tuple[str | None, Decimal | None]] = [
    # thousands dots, decimal comma
    ("1.234.567,89", D("1234567.89")), ("1.234.567", D("1234567")), ("1.234", D("1234")),
    ("12.345,5", D("12345.5")), ("0,75", D("0.75")), ("999", D("999")), ("0", D("0")),
    # plain digits, decimal comma
    ("1234567", D("1234567")), ("1234567,5", D("1234567.5")), ("1,234", D("1.234")),
    # Rp / Rp. prefix, ,- suffix, spaces anywhere
    ("Rp 1.234.567", D("1234567")), ("Rp. 1.234.567,-", D("1234567")), ("rp1.000", D("1000")),
    ("RP. 2.500,50", D("2500.50")), ("12,-", D("12")), (" 1 234 567 ", D("1234567")),
    ("\t1.000\n", D("1000")), ("Rp\u00a01.500.000", D("1500000")),
    ("1.500.000\u00a0", D("1500000")),
    # negatives: leading minus, accounting parentheses
    ("-1.234", D("-1234")), ("-Rp 1.000", D("-1000")), ("(1.234.567)", D("-1234567")),
    ("(1.234,50)", D("-1234.50")), ("Rp (1.000)", D("-1000")), ("(Rp 1.000,-)", None),
    ("-0,5", D("-0.5")),
    # spreadsheet decimals (a point, not three digits after it)
    ("1234567.5", D("1234567.5")), ("0.5", D("0.5")), ("12.5", D("12.5")),
    ("1.2345", D("1.2345")), ("-3.25", D("-3.25")),
    # blanks
    (None, None), ("", None), ("   ", None), ("Rp", None), ("-", None), ("()", None),
    (",-", None),
    # junk
    ("abc", None), ("1,234,567", None), ("1.23.456", None), ("1.234.56", None), ("--5", None),
    ("1e5", None), ("12a", None), ("Rp 1.000 juta", None), ("1.000,00,00", None),
    ("(1.000", None), ("1.000)", None), ("+1.000", None), ("1..000", None), (".5", None),
    ("5.", None), ("NaN", None), ("Infinity", None),
    # digits of other scripts are no digits to SQL: not to landing either
    ("\uff11\uff12\uff13", None), ("\u0661\u0662\u0663", None),
    # huge values
    ("999.999.999.999.999.999,99", D("999999999999999999.99")),
    ("1" + "0" * 40, D("1" + "0" * 40)),
    ("-" + "9" * 30 + ",123456", D("-" + "9" * 30 + ".123456")),
]

# Every character Python's \s and strip() take for whitespace, in and around a number.
SPACES = [chr(c) for c in range(0x3001) if chr(c).isspace()]
NUMBERS += [(f"{s}Rp{s}1.000.000{s},-{s}", D("1000000")) for s in SPACES]

VILLAGES: list[tuple[str, bool]] = [
    # valid: dotted, 10 digits, every regency, kelurahan (1xxx) and desa (2xxx), spaces around
    ("18.08.01.2006", True), ("1808012006", True), ("18.71.01.1001", True),
    ("18.72.03.1004", True), ("18.13.01.2001", True), (" 18.01.04.2001 ", True),
    ("18.0101.2001", True),
    # not Lampung (another province, or no regency of Lampung)
    ("31.71.01.1001", False), ("3171011001", False), ("18.14.01.2001", False),
    ("18.00.01.2001", False), ("18.70.01.2001", False), ("18.99.01.2001", False),
    # wrong length
    ("18.08.01.200", False), ("18080120061", False), ("180801200", False), ("18.08.01", False),
    ("18.08.01.20061", False),
    # village part not 1xxx / 2xxx
    ("18.08.01.3001", False), ("1808010001", False),
    # letters, other separators, blanks
    ("18.08.01.2OO6", False), ("18-08-01-2006", False), ("18 08 01 2006", False),
    ("18.08.01.2006a", False), ("kode 1808012006", False), ("", False), ("  ", False),
    ("\u00a018.08.01.2006\u202f", True), ("\u300018080120 06", False),
    ("18..08.01.2006", False), ("\uff11\uff18\uff10\uff18\uff10\uff11\uff12\uff10\uff10\uff16",
                                False),
]


def _sql(db, expression: str, values: list) -> list:
    """``expression`` over ``v``, evaluated for each value, in order."""
    rows = ", ".join(f"({i}, %s::text)" for i in range(len(values)))
    return [r[1] for r in db.execute(
        f"select i, {expression} from (values {rows}) as c(i, v) order by i", values)]


def _disagreements(cases, read) -> list:
    return [(text, expected, got) for (text, expected), got in zip(cases, read, strict=True)
            if got != expected or (got is not None and got.as_tuple().sign
                                   != expected.as_tuple().sign)]


def test_python_reads_every_number_as_expected():
    read = [tabular.parse_id_number(text) for text, _ in NUMBERS]
    assert _disagreements(NUMBERS, read) == []


def test_the_dbt_macro_reads_every_number_as_python_does(db):
    read = _sql(db, render_macro("parse_id_number", "v"), [t for t, _ in NUMBERS])
    assert _disagreements(NUMBERS, read) == []


def test_the_gate_reads_every_number_as_python_does(db):
    """The gate's rules (an average credit, a participation over capital) read amounts as
    the dbt macro does."""
    read = _sql(db, amount_sql("v").format(), [t for t, _ in NUMBERS])  # as GX formats it
    assert _disagreements(NUMBERS, read) == []


@pytest.mark.parametrize(("text", "expected"), [c for c in NUMBERS if c[0] is not None])
def test_apbdes_amounts_are_the_same_numbers(text, expected):
    """APBDes accepts fewer shapes (no Rp, no parentheses); those it accepts it reads as
    every other source does."""
    accepted = AMOUNT.fullmatch(text.strip(" \t\r\n")) is not None
    assert parse_amount(text) == (expected if accepted else None)


def test_python_and_the_gate_agree_on_village_codes(db):
    python = [tabular.village_code(text) is None for text, _ in VILLAGES]
    sql = _sql(db, f"v ~ {_quoted(tabular.VILLAGE_CODE_SQL)}", [t for t, _ in VILLAGES])
    expected = [valid for _, valid in VILLAGES]
    assert [t for (t, _), p, e in zip(VILLAGES, python, expected, strict=True) if p != e] == []
    assert [t for (t, _), s, e in zip(VILLAGES, sql, expected, strict=True) if s != e] == []


def test_sql_space_is_python_whitespace(db):
    """tabular.SQL_SPACE matches exactly the characters Python strips, and the dbt macro
    removes that class."""
    probe = [*SPACES, "a", "0", ".", ",", "-", "\u200b", "\ufeff", "_"]
    matched = _sql(db, f"v ~ {_quoted('^' + tabular.SQL_SPACE + '$')}", probe)
    assert [c for c, m in zip(probe, matched, strict=True) if m] == SPACES
    assert len(SPACES) == 29  # str.isspace has no whitespace above U+3000
    assert tabular.SQL_SPACE in render_macro("parse_id_number", "v")


def test_every_gate_rule_on_a_village_code_uses_the_one_pattern():
    from lumbung.quality.rules import _sql_regex
    from lumbung.quality.suites import SUITES

    # a column rule names its regex; a rule by batch names it too, and runs it in its query
    rules = [(spec, rule) for spec in SUITES for rule in spec.rules
             if rule.rule == "kode_desa format" and "regex" in {**rule.kwargs, **rule.about}]
    patterns = {(spec.source, spec.dataset): rule.kwargs.get("regex") or rule.about["regex"]
                for spec, rule in rules}
    assert {("survey", "responses"), ("ojk", "access_points")} <= set(patterns)
    assert set(patterns.values()) == {tabular.VILLAGE_CODE_SQL}
    queries = [rule.kwargs["unexpected_rows_query"] for _, rule in rules
               if "unexpected_rows_query" in rule.kwargs]
    assert queries
    assert all(_sql_regex(tabular.VILLAGE_CODE_SQL) in query for query in queries)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"
