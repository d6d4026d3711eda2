"""A default `lumbung run`, as a new user's `make run` does it: the whole province, the
generated sources' default years (2021-2024) beside the vendored real data, on a fresh
database of the session's server. Every desa must get a Smart Village Index in every year
(at least 95 % of them), every regency-level figure must rest on at least 90 % of its desa,
and the console must stay short and name the log that holds the detail."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from conftest import (
    copy_vendored_landing,
    shared_roles_for,
    start_background,
    wait_background,
)

from lumbung import airflow_watch
from lumbung.generate import DEFAULT_YEARS

MAX_CONSOLE_LINES = 200


DATABASE = "lumbung_default_run"


def start(paths, warehouse) -> None:
    """Start the default run on a fresh database of the session's server, in the
    background (conftest's ``background_default_run``); the tests wait for it."""
    root = Path(tempfile.mkdtemp(prefix="default_run-", dir=paths.state.parent))
    copy_vendored_landing(root / "landing")
    url = airflow_watch.fresh_database(warehouse, DATABASE)
    # a user's shell: none of the session's Airflow settings, its own dbt server
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "LUMBUNG_DBT_SERVER", "LUMBUNG_DBT_UNIT_TESTS",
                                "LUMBUNG_GENERATE_YEARS", "LUMBUNG_AUTO_GENERATE"))}
    env.update({"LUMBUNG_WAREHOUSE_URL": url.url(), "LUMBUNG_STATE_DIR": str(root / "state"),
                "LUMBUNG_LANDING_DIR": str(root / "landing")})
    start_background("default_run", [sys.executable, "-m", "lumbung.cli", "run"],
                     shared_roles_for(paths, env, warehouse), root / "console.txt")


@pytest.fixture(scope="module")
def default_run(paths, warehouse, background_default_run):
    """(warehouse url, console lines) of a default run on a fresh database."""
    returncode, lines = wait_background("default_run")
    assert returncode == 0, "\n".join(lines[-60:])
    return warehouse.with_db(DATABASE), lines


def test_every_year_scores_at_least_95_percent_of_desa(default_run):
    url, _ = default_run
    with psycopg.connect(url.url()) as conn:
        desa = conn.execute("select count(*) from marts.dim_village "
                            "where is_current and village_type = 'desa'").fetchone()[0]
        coverage = dict(conn.execute(
            "select year, count(smart_village_index) from marts.mart_smart_village "
            "group by year").fetchall())
    assert desa > 2400
    assert sorted(coverage) == list(DEFAULT_YEARS)
    shares = {year: scored / desa for year, scored in coverage.items()}
    assert all(share >= 0.95 for share in shares.values()), shares


def test_every_regency_figure_rests_on_90_percent_of_its_desa(default_run):
    url, _ = default_run
    with psycopg.connect(url.url()) as conn:
        rows = conn.execute(
            "select regency_code, year, village_count, scored_village_count "
            "from marts.mart_smart_village_regency").fetchall()
        # the regencies with desa (the two cities hold kelurahan only)
        regencies = {r[0] for r in conn.execute(
            "select distinct regency_code from marts.dim_village "
            "where is_current and village_type = 'desa'")}
    assert {r[0] for r in rows} == regencies and len(regencies) == 13
    assert {r[1] for r in rows} == set(DEFAULT_YEARS)
    thin = [r for r in rows if r[3] < 0.9 * r[2]]
    assert not thin, thin


def test_the_console_stays_short_and_names_its_log(default_run):
    _, lines = default_run
    assert len(lines) <= MAX_CONSOLE_LINES, len(lines)
    named = [line.split(": ", 1)[1].strip() for line in lines
             if line.startswith("Log of this run")]
    assert named, lines[-20:]
    log = open(named[-1], encoding="utf-8").read().splitlines()
    # the detail (Airflow's task logs, dbt's lines) went there, not to the console
    assert len(log) > 10 * len(lines)
    assert any("dbt" in line for line in log)


def test_dags_ran_side_by_side_in_the_schedulers_order(default_run):
    """Two DAGs at a time (the default), each started when what it needs has ended."""
    from lumbung.runner import DAG_ORDER

    _, lines = default_run

    def at(start: str) -> int:
        found = [i for i, line in enumerate(lines) if line.startswith(start)]
        assert len(found) == 1, (start, lines[:40])
        return found[0]

    region_done = at("region: success in ")
    assert at("idm: running") < region_done  # beside the region master, not after it
    # each source's files generated in turn, a DAG waiting for its own only
    assert at("generated landing files for idm") < at("idm: running") \
        < at("generated landing files for apbdes") < at("apbdes: running")
    assert at("apbdes: running") > region_done
    assert at("programmes: running") > region_done
    marts = at("smart_village_marts: running")
    assert all(at(f"{dag_id}: success in ") < marts for dag_id in DAG_ORDER[:-1])
    assert any(line.startswith("  idm.land_idm_files ") for line in lines)
