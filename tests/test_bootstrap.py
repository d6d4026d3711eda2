"""The warehouse bootstrap, which every source DAG runs first: at a first start under the
scheduler all of them run it at once, on a database that may not exist yet."""

from __future__ import annotations

import threading

import psycopg

from lumbung.airflow_watch import fresh_database
from lumbung.warehouse import bootstrap

PARALLEL = 6


def test_parallel_bootstraps_of_a_new_database_all_succeed(warehouse, paths):
    url = fresh_database(warehouse, "lumbung_parallel_bootstrap")
    start, errors = threading.Barrier(PARALLEL), []

    def one() -> None:
        start.wait()
        try:
            bootstrap(paths, url)
        except Exception as err:  # collected: every one is reported
            errors.append(repr(err))

    threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        public = conn.execute(
            "select datacl is null or exists (select 1 from aclexplode(datacl) a "
            "where a.grantee = 0) from pg_database where datname = %s",
            (url.dbname,)).fetchone()[0]
        assert not public  # PUBLIC may neither connect nor create temporary tables
        conn.execute(f'drop database "{url.dbname}" with (force)')


def test_bootstrap_renames_the_region_source_of_an_older_warehouse(warehouse, paths):
    """Batches, quality runs, publications and builds recorded under the region master's
    old source name 'kemendagri_region' carry its one name, 'region', after a bootstrap."""
    url = fresh_database(warehouse, "lumbung_region_rename")
    bootstrap(paths, url)
    try:
        with psycopg.connect(url.url(), autocommit=True) as conn:
            batch = conn.execute(
                "insert into audit.load_batches (source, dataset, partition_key, file_name, "
                "file_path, content_hash, file_bytes, status) values ('kemendagri_region', "
                "'villages', '2025', 'villages.csv', 'region/edition=2025/villages.csv', 'x', "
                "1, 'rejected') returning batch_id"
            ).fetchone()[0]
            conn.execute(
                "insert into audit.dq_runs (layer, source, dataset, suite, batch_id, passed, "
                "expectations_evaluated, critical_failures, warnings) values ('batch', "
                "'kemendagri_region', 'villages', 'kemendagri_villages', %s, true, 1, 0, 0)",
                (batch,))
            conn.execute(
                "insert into audit.mart_builds (project_fingerprint, source_fingerprints, "
                "rebuilt) values ('p', '{\"kemendagri_region\": \"f1\", \"idm\": \"f2\"}', "
                "'kemendagri_region,idm')")
            conn.execute(
                "insert into marts.publication_info (mart, published_at, publication_id, "
                "row_count, sources, batch_ids, batch_count) values ('dim_village', now(), 1, "
                "1, array['kemendagri_region', 'idm'], array[%s], 1)", (batch,))
        bootstrap(paths, url)
        with psycopg.connect(url.url(), autocommit=True) as conn:
            assert conn.execute("select source from audit.load_batches").fetchall() == [
                ("region",)]
            assert conn.execute("select source from audit.dq_runs").fetchall() == [("region",)]
            assert conn.execute(
                "select source_fingerprints, rebuilt from audit.mart_builds").fetchone() == (
                {"region": "f1", "idm": "f2"}, "region,idm")
            assert conn.execute("select sources from marts.publication_info").fetchone() == (
                ["region", "idm"],)
    finally:
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            conn.execute(f'drop database "{url.dbname}" with (force)')
