"""An unexpected-rows rule costs one query, and its result is GX's own: the first rows,
the full count, success only without rows."""

from __future__ import annotations

import pytest

from lumbung.quality.checkpoints import gx_connection_string, quiet_gx

TABLE = "one_pass_probe"


@pytest.fixture()
def batch(warehouse, db):
    db.execute(f"drop table if exists audit.{TABLE}")
    db.execute(f"create table audit.{TABLE} as select g as n from generate_series(1, 1000) as g")
    with quiet_gx():
        import great_expectations as gx

        import lumbung.quality.one_pass  # noqa: F401

        context = gx.get_context(mode="ephemeral")
        source = context.data_sources.add_postgres(
            "probe", connection_string=gx_connection_string(warehouse.url()))
        asset = source.add_table_asset(TABLE, table_name=TABLE, schema_name="audit")
        yield asset.add_batch_definition_whole_table("all").get_batch()
        source.get_engine().dispose()
    db.execute(f"drop table audit.{TABLE}")


def _validate(batch, where: str) -> tuple[dict, list[str]]:
    """The expectation's result and the statements that read the probe table."""
    import great_expectations as gx
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if TABLE in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with quiet_gx():
            outcome = batch.validate(gx.expectations.UnexpectedRowsExpectation(
                unexpected_rows_query=f"select n from {{batch}} where {where}"),
                result_format="COMPLETE")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return outcome.to_json_dict(), seen


def test_failing_rule_keeps_the_first_rows_and_the_full_count_from_one_query(batch):
    result, statements = _validate(batch, "n > 250")
    assert result["success"] is False
    assert result["result"]["observed_value"] == 750
    rows = result["result"]["details"]["unexpected_rows"]
    assert len(rows) == 200  # GX's MAX_RESULT_RECORDS
    assert all(set(row) == {"n"} and row["n"] > 250 for row in rows)
    assert len(statements) == 1, statements


def test_passing_rule_is_one_query_with_no_rows(batch):
    result, statements = _validate(batch, "n < 0")
    assert result["success"] is True
    assert result["result"]["observed_value"] == 0
    assert len(statements) == 1, statements
