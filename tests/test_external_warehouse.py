"""LUMBUNG_WAREHOUSE_URL replaces the embedded server with no other change."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg


def test_lumbung_run_on_another_postgres(warehouse):
    external = warehouse.with_db("province_dw")  # another database, as an operator would pick
    state = Path(tempfile.mkdtemp(prefix="lumbung-ext-"))
    env = {
        **os.environ,
        "LUMBUNG_WAREHOUSE_URL": external.url(),
        "LUMBUNG_STATE_DIR": str(state),
        # a port where nothing listens: the embedded server must not be needed at all
        "LUMBUNG_PG_PORT": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "lumbung.cli", "run", "--dags", "region"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "province_dw" in result.stdout and "marts.dim_village" in result.stdout
    # The console shows progress and names the log; the log holds the detail.
    console = result.stdout.splitlines()
    assert len(console) <= 200 and result.stderr == ""
    logs = list((state / "logs").glob("run-*.log"))
    assert len(logs) == 1 and console[-1].endswith(str(logs[0]))
    assert any(ln.split()[:2] == ["land_region_files", "success"]
               and "batch(es) landed" in ln for ln in console)
    assert "region: success in" in result.stdout
    detail = logs[0].read_text()
    assert "[DAG TEST] starting task_id=land_region_files" in detail
    assert "dbt |" in detail and "[DAG TEST]" not in result.stdout
    assert not (state / "postgres").exists()  # no embedded server was initialised
    with psycopg.connect(external.url()) as conn:
        current = conn.execute(
            "select count(*) from marts.dim_village where is_current"
        ).fetchone()[0]
        assert current == 2651
    with psycopg.connect(warehouse.with_db("province_dw_airflow").url()) as conn:
        runs = conn.execute(
            "select state from dag_run where dag_id = 'region'"
        ).fetchall()
        assert runs == [("success",)]
