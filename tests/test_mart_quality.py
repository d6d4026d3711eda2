"""The mart audit of write-audit-publish: every mart has a suite, each critical rule broken on
purpose stops publication with ``marts`` unchanged, and a warning still publishes.

The build schema is reset to a copy of the published mart (no constraints, so the database
does not refuse the damage before the audit sees it), damaged for one rule, and audited.
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO, run_dag, table_fingerprint

from lumbung.pipelines.marts import audit, publish_marts
from lumbung.quality.gate import GateFailed
from lumbung.quality.mart_rules import BUILD_SCHEMA, mart_suites
from lumbung.quality.rules import CRITICAL

SUITES = {spec.dataset: spec for spec in mart_suites()}
# Marts already published by the DAGs this module runs.
AUDITED = ("dim_region", "dim_village")

# Damage for rules that are queries: what breaks each (by rule name).
QUERY_DAMAGE = {
    "a missing dimension is never scored":
        "update {t} set f_economy = 0, f_economy_completeness = 0 "
        "where ctid = (select min(ctid) from {t})",
    "category counts add up":
        "update {t} set village_count = village_count + 1 "
        "where ctid = (select min(ctid) from {t})",
    "APBDes identities hold":
        "update {t} set silpa_realised = silpa_realised + 1 "
        "where ctid = (select min(ctid) from {t})",
    "no negative amounts":
        "update {t} set spending_budget = -1 where ctid = (select min(ctid) from {t})",
    "a disagreement names its components":
        "update {t} set disagreeing_components = null "
        "where ctid = (select min(ctid) from {t} where consistency = 'inconsistent')",
    "rows received = loaded + quarantined":
        "update {t} set rows_received = rows_received + 1 where ctid = (select min(ctid) from {t})",
    "one current version per village":
        "insert into {t} select * from {t} where is_current limit 1",
    "village_code is a village of dim_village":
        "update {t} set village_code = '1899999999' where ctid = (select min(ctid) from {t})",
    "boundaries are GeoJSON polygons":
        "update {t} set geojson = '{{\"type\": \"Feature\"' "
        "where ctid = (select min(ctid) from {t} where region_level = 'regency')",
    "every desa of an accepted APBDes delivery is in the mart":
        "delete from {t} where ctid = (select min(ctid) from {t})",
    "one active methodology version":
        "update {t} set is_active_version = false",
}


def _first_row(table: str) -> str:
    return f"ctid = (select min(ctid) from {table})"


def damage(rule, table: str) -> str:
    """SQL that breaks ``rule`` on ``table`` (one row is enough)."""
    kind, kwargs = rule.expectation, rule.kwargs
    column = kwargs.get("column")
    if kind == "ExpectColumnValuesToBeUnique":
        return (f"update {table} set {column} = (select {column} from {table} "
                f"where not {_first_row(table)} limit 1) where {_first_row(table)}")
    if kind == "ExpectCompoundColumnsToBeUnique":
        return f"insert into {table} select * from {table} limit 1"
    if kind == "ExpectColumnValuesToNotBeNull":
        return f"update {table} set {column} = null where {_first_row(table)}"
    if kind in ("ExpectColumnValuesToBeInSet", "ExpectColumnValuesToMatchRegex"):
        return f"update {table} set {column} = 'not-a-valid-value' where {_first_row(table)}"
    if kind == "ExpectColumnValuesToBeBetween":
        return (f"update {table} set {column} = {kwargs['max_value']} + 1 "
                f"where {_first_row(table)}")
    if kind == "ExpectTableRowCountToBeBetween":
        return f"delete from {table}"
    return QUERY_DAMAGE[rule.rule].format(t=table)


def _mart_models() -> set[str]:
    """The tables the mart models build: a model's alias, else its name."""
    tables = set()
    for path in (REPO / "dbt_project" / "models" / "marts").rglob("*.sql"):
        alias = re.search(r"alias\s*=\s*'(\w+)'", path.read_text(encoding="utf-8"))
        tables.add(alias.group(1) if alias else path.stem)
    return tables


def test_every_mart_has_an_audit_suite():
    assert _mart_models() == set(SUITES)


def test_every_critical_query_rule_has_a_damage_case():
    for spec in SUITES.values():
        for rule in spec.rules:
            if rule.severity == CRITICAL and rule.expectation == "UnexpectedRowsExpectation":
                assert rule.rule in QUERY_DAMAGE, f"{spec.name}: no damage case for {rule.rule}"


@pytest.fixture(scope="module")
def published(warehouse):
    run = run_dag("region")
    assert str(run.state) == "success"
    return AUDITED


def _reset(db, table: str) -> None:
    db.execute(f"drop table if exists {BUILD_SCHEMA}.{table}")
    db.execute(f"create table {BUILD_SCHEMA}.{table} as select * from marts.{table}")


def _marts(db):
    return {t: table_fingerprint(db, f"marts.{t}") for t in AUDITED}


def _cases():
    for table in AUDITED:
        for rule in SUITES[table].rules:
            if rule.severity == CRITICAL:
                yield pytest.param(table, rule, id=f"{table}: {rule.rule}")


@pytest.mark.parametrize(("table", "rule"), list(_cases()))
def test_broken_critical_rule_stops_publication(published, db, warehouse, table, rule):
    before = _marts(db)
    _reset(db, table)
    try:
        db.execute(damage(rule, f"{BUILD_SCHEMA}.{table}"))
        with pytest.raises(GateFailed) as failed:
            tables = audit(warehouse, [table])["audited"]
            publish_marts(warehouse, tables)  # never reached when the audit works
        assert re.search(rf"\[critical\] {re.escape(rule.rule)}:", str(failed.value)), \
            str(failed.value)
        assert f"{BUILD_SCHEMA}.{table}" in str(failed.value)
        assert _marts(db) == before
    finally:
        _reset(db, table)


def test_warning_publishes_and_is_reported(published, db, warehouse):
    table = "dim_village"
    before = table_fingerprint(db, f"marts.{table}")
    db.execute(f"create table {BUILD_SCHEMA}.zz_published as select * from marts.{table}")
    _reset(db, table)
    try:
        # A third of the villages vanish: suspicious, but not a reason to stop.
        db.execute(f"delete from {BUILD_SCHEMA}.{table} where right(village_code, 1) in "
                   "('1', '3', '7')")
        verdict = audit(warehouse, [table])
        assert any("no sudden drop" in w for w in verdict["warnings"]), verdict
        publish_marts(warehouse, verdict["audited"])
        assert table_fingerprint(db, f"marts.{table}") == \
            table_fingerprint(db, f"{BUILD_SCHEMA}.{table}") != before
    finally:
        # Put the real version back the way it came: through the build schema.
        db.execute(f"drop table {BUILD_SCHEMA}.{table}")
        db.execute(f"alter table {BUILD_SCHEMA}.zz_published rename to {table}")
        publish_marts(warehouse, [table])
        assert table_fingerprint(db, f"marts.{table}") == before


def test_mart_without_suite_is_not_published(published, db, warehouse):
    db.execute(f"create table {BUILD_SCHEMA}.zz_unaudited as select 1 as x")
    try:
        with pytest.raises(GateFailed, match="no audit suite"):
            audit(warehouse, ["zz_unaudited"])
        assert db.execute("select to_regclass('marts.zz_unaudited')").fetchone()[0] is None
    finally:
        db.execute(f"drop table {BUILD_SCHEMA}.zz_unaudited")
