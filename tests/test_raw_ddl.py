"""Raw tables and gate views derived from the sources' declarations (lumbung.raw_tables).

``fixtures/raw_schema.json`` is the raw schema the hand-written SQL made before the DDL was
derived (snapshot of ``raw_schema_snapshot``), updated only where a gate view changed on
purpose (the APBDes gate views gained ``_batch_id``): the derived DDL must make exactly that.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import yaml
from conftest import REPO
from raw_schema_snapshot import snapshot

from lumbung import raw_tables
from lumbung.sources import INGEST, RAW_TABLES
from lumbung.warehouse import apply_ddl, bootstrap

EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "raw_schema.json").read_text())
SCRATCH = "lumbung_raw_ddl"


@pytest.fixture()
def scratch(warehouse):
    """An empty database on the session's server (roles are the server's, already made)."""
    with psycopg.connect(warehouse.url(), autocommit=True) as admin:
        admin.execute(f"drop database if exists {SCRATCH}")
        admin.execute(f"create database {SCRATCH}")
    with psycopg.connect(warehouse.with_db(SCRATCH).url(), autocommit=True) as conn:
        yield conn
    with psycopg.connect(warehouse.url(), autocommit=True) as admin:
        admin.execute(f"drop database if exists {SCRATCH}")


def assert_expected(found: dict[str, dict]) -> None:
    """Every relation of the fixture, exactly; beyond them only a source family declared
    since (its tables and gate views)."""
    declared = {f"raw.{t.name}" for t in raw_tables.declared()} | {
        f"audit.{g.name or 'gate_' + t.name}" for t in raw_tables.declared() for g in t.gates}
    assert not set(EXPECTED) - set(found)
    assert set(found) - set(EXPECTED) <= declared - set(EXPECTED)
    for name, relation in EXPECTED.items():
        assert found[name] == relation, name


def test_derived_ddl_makes_the_raw_schema_and_runs_again(scratch):
    apply_ddl(scratch)
    assert_expected(snapshot(scratch))
    apply_ddl(scratch)  # the bootstrap runs at every start
    assert_expected(snapshot(scratch))


def test_bulk_tables_of_an_older_warehouse_lose_their_primary_key(scratch):
    rab = next(t for t in raw_tables.declared() if t.name == "apbdes_ta_rab")
    assert rab.bulk
    scratch.execute("create schema raw")
    # as bootstrapped before bulk tables lost their key (no foreign key: no audit schema yet)
    scratch.execute(replace(rab, bulk=False, batch_fk=False).create()[0])
    assert scratch.execute("select count(*) from pg_constraint "
                           "where conrelid = 'raw.apbdes_ta_rab'::regclass and contype = 'p'"
                           ).fetchone() == (1,)
    apply_ddl(scratch)
    assert_expected(snapshot(scratch))


def test_bootstrapping_the_warehouse_again_changes_nothing(warehouse, paths, db):
    before = snapshot(db)
    bootstrap(paths, warehouse)
    assert snapshot(db) == before
    for name, relation in EXPECTED.items():
        assert before[name] == relation, name


def test_every_source_family_declares_its_raw_tables():
    assert set(RAW_TABLES) == set(INGEST)
    tables = raw_tables.declared()
    names = [t.name for t in tables]
    assert len(names) == len(set(names))
    views = [g.name or f"gate_{t.name}" for t in tables for g in t.gates]
    assert len(views) == len(set(views))
    for table in tables:
        # the reader's spec and the table name the same columns
        assert set(table.columns) == {c.lower() for c in table.spec.columns}, table.name
        assert len(set(table.columns)) == len(table.columns), table.name
        assert set(table.column_comments) <= set(table.columns), table.name


def _dbt_raw_sources() -> dict[str, list[str]]:
    """Columns listed per raw table by the dbt sources YAML files."""
    listed: dict[str, list[str]] = {}
    for path in sorted((REPO / "dbt_project" / "models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            if source.get("schema", source["name"]) != "raw":
                continue
            for table in source.get("tables", []):
                assert table["name"] not in listed, f"{path}: {table['name']} twice"
                listed[table["name"]] = [str(c["name"]) for c in table.get("columns", [])]
    return listed


def test_dbt_sources_list_exactly_the_declared_columns():
    declared = {t.name: list(t.all_columns) for t in raw_tables.declared()}
    listed = _dbt_raw_sources()
    assert listed, "no dbt source reads schema raw"
    for table, columns in listed.items():
        assert table in declared, f"dbt names raw.{table}, which no source declares"
        assert columns == declared[table], table
