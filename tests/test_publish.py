"""Write-audit-publish: audited build tables reach ``marts`` in one transaction, or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psycopg
import pytest
from conftest import table_fingerprint

from lumbung.publish import BUILD_SCHEMA, PublishRefused, publish

PROBES = ("zz_probe_a", "zz_probe_b")


def _build(db: psycopg.Connection, version: int) -> None:
    """Stand-in for a dbt build: the build schema gets a new version of both probes."""
    for table in PROBES:
        db.execute(f"drop table if exists {BUILD_SCHEMA}.{table}")
        db.execute(f"create table {BUILD_SCHEMA}.{table} (village_code text primary key, "
                   "score numeric not null)")
        db.execute(f"comment on table {BUILD_SCHEMA}.{table} is 'probe version {version}'")
        db.execute(f"comment on column {BUILD_SCHEMA}.{table}.score is 'a score'")
        db.execute(f"insert into {BUILD_SCHEMA}.{table} "
                   f"select '18010' || n, n * {version} from generate_series(1, 50) as n")


@pytest.fixture()
def probes(db, warehouse):
    yield
    for table in PROBES:
        for schema in (BUILD_SCHEMA, "marts"):
            db.execute(f"drop table if exists {schema}.{table}")


def _marts(db):
    return {t: table_fingerprint(db, f"marts.{t}") for t in PROBES}


def test_publish_copies_content_comments_and_grants(db, warehouse, paths, probes):
    from lumbung.warehouse import bi_url

    _build(db, 1)
    result = publish(warehouse, list(PROBES), dag_id="test", run_id="r1")
    assert result.tables == {t: 50 for t in PROBES}
    for table in PROBES:
        assert table_fingerprint(db, f"marts.{table}") == \
            table_fingerprint(db, f"{BUILD_SCHEMA}.{table}")
    assert db.execute("select obj_description('marts.zz_probe_a'::regclass)").fetchone()[0] \
        == "probe version 1"
    recorded = db.execute("select tables from audit.publications where publication_id = %s",
                          (result.publication_id,)).fetchone()[0]
    assert recorded == {t: 50 for t in PROBES}
    with psycopg.connect(bi_url(paths, warehouse).url(), autocommit=True) as bi:
        assert bi.execute("select sum(score) from marts.zz_probe_b").fetchone()[0] == 1275
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute(f"select * from {BUILD_SCHEMA}.zz_probe_b")


def test_killed_publication_leaves_marts_as_they_were(db, warehouse, probes):
    _build(db, 1)
    publish(warehouse, list(PROBES))
    before = _marts(db)
    publications = db.execute("select count(*) from audit.publications").fetchone()[0]

    _build(db, 2)
    # The process dies after both tables were copied, before the commit, as a crash would.
    script = (
        "import os, signal, sys\n"
        "from lumbung.config import PgUrl\n"
        "from lumbung.publish import publish\n"
        "publish(PgUrl.parse(sys.argv[1]), ['zz_probe_a', 'zz_probe_b'],\n"
        "        before_commit=lambda: os.kill(os.getpid(), signal.SIGKILL))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, warehouse.url()],
                          env=os.environ, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _marts(db) == before
    assert db.execute("select count(*) from audit.publications").fetchone()[0] == publications

    publish(warehouse, list(PROBES))
    after = _marts(db)
    assert after != before
    assert db.execute("select sum(score) from marts.zz_probe_a").fetchone()[0] == 2 * 1275


def test_changed_columns_recreate_the_published_table(db, warehouse, probes):
    _build(db, 1)
    publish(warehouse, list(PROBES))
    db.execute(f"alter table {BUILD_SCHEMA}.zz_probe_a add column category text default 'Maju'")
    publish(warehouse, ["zz_probe_a"])
    assert db.execute("select count(*) from marts.zz_probe_a where category = 'Maju'"
                      ).fetchone()[0] == 50


def test_nothing_built_nothing_published(warehouse):
    with pytest.raises(PublishRefused):
        publish(warehouse, [])
    with pytest.raises(PublishRefused, match="does not exist"):
        publish(warehouse, ["zz_never_built"])


def test_marts_with_regency_or_year_get_the_filter_index(db, warehouse, probes):
    def indexes(table):
        return [r[0] for r in db.execute(
            "select pg_get_indexdef(indexrelid) from pg_index "
            "where indrelid = %s::regclass and not indisprimary", (f"marts.{table}",))]

    _build(db, 1)
    db.execute(f"alter table {BUILD_SCHEMA}.zz_probe_a add column regency_code text, "
               "add column year integer")
    publish(warehouse, list(PROBES))
    [index] = indexes("zz_probe_a")
    assert index.endswith("(regency_code, year)")
    assert indexes("zz_probe_b") == []  # neither column: no index
    publish(warehouse, ["zz_probe_a"])  # rows replaced: the index is kept, not doubled
    assert indexes("zz_probe_a") == [index]
    db.execute(f"alter table {BUILD_SCHEMA}.zz_probe_a drop column year")
    publish(warehouse, ["zz_probe_a"])  # recreated: the index follows the columns
    [index] = indexes("zz_probe_a")
    assert index.endswith("(regency_code)")
