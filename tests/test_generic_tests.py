"""The project's generic dbt tests that check many columns or rules in one scan
(tests/generic): what each reports, run by dbt on a small table with known faults."""

from __future__ import annotations

import json

import pytest

from lumbung.dbt_runner import run_dbt

TABLE = "public.test_generic_tests_rows"


@pytest.fixture()
def rows(db):
    db.execute(f"drop table if exists {TABLE}")
    db.execute(f"""create table {TABLE} as select * from (values
                   (1, null::int, 'x', 10), (null, 2, null, 20), (null, 3, 'y', 30))
                   as v (a, b, c, d)""")
    yield
    db.execute(f"drop table {TABLE}")


def _failures(paths, warehouse, test: str, **arguments) -> list[dict]:
    """The rows the generic test returns on TABLE (dbt fails the test when there are any)."""
    call = (f"{{{{ test_{test}(model=api.Relation.create(schema='public', "
            f"identifier='test_generic_tests_rows'), "
            + ", ".join(f"{k}={json.dumps(v)}" for k, v in arguments.items()) + ") }}")
    lines = run_dbt(paths, warehouse, "show", "--inline", call, "--limit", "100",
                    "--output", "json", "--quiet", manifest=False)
    text = "\n".join(lines)
    return json.loads(text[text.index("{"):text.rindex("}") + 1])["show"]


def test_not_null_columns_names_each_column_with_nulls_and_counts_them(paths, warehouse,
                                                                        rows):
    found = _failures(paths, warehouse, "not_null_columns", column_names=["a", "b", "c", "d"])
    assert {row["column_name"]: row["null_rows"] for row in found} == {"a": 2, "b": 1, "c": 1}
    assert _failures(paths, warehouse, "not_null_columns", column_names=["d"]) == []


def test_expressions_are_true_names_the_rule_each_row_fails(paths, warehouse, rows):
    found = _failures(paths, warehouse, "expressions_are_true",
                      expressions=["a > 0", "c <> 'y'", "b is not null", "d >= 10"])
    # a null is not true: it fails as false does
    assert sorted((row["failed_expression"], row["d"]) for row in found) == [
        ("a > 0", 20), ("a > 0", 30), ("b is not null", 10), ("c <> 'y'", 20),
        ("c <> 'y'", 30)]
    assert _failures(paths, warehouse, "expressions_are_true", expressions=["d >= 10"]) == []
