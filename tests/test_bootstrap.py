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
