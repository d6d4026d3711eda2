"""One PostgreSQL server and one Airflow metadata database for the whole test session.

Airflow reads its configuration when first imported, so the environment is set here, at
import time of this conftest, before any test module imports Airflow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from lumbung.generate import generated_files, is_generated

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_STATE = Path(tempfile.mkdtemp(prefix="lumbung-test-"))
# As root the server runs as the service user, which must be able to reach its data dir.
_STATE.chmod(0o755)
_LANDING = _STATE / "landing"
# Only the vendored real data: folders and IDM responses that `lumbung run` generated in a
# working tree (git-ignored, listed in generated_manifest.json) must not leak into the tests.
_GENERATED = generated_files(REPO / "data" / "landing")


def _generated_here(folder: str, names: list[str]) -> list[str]:
    base = REPO / "data" / "landing"
    return [n for n in names
            if is_generated(base, (Path(folder) / n).relative_to(base).as_posix(), _GENERATED)]


def copy_vendored_landing(target: Path) -> None:
    """The repository's vendored real landing files (region master, IDM responses) into
    ``target``, without what a `lumbung run` in this working tree generated beside them."""
    for vendored in ("region", "idm"):
        shutil.copytree(REPO / "data" / "landing" / vendored, target / vendored,
                        ignore=_generated_here)


copy_vendored_landing(_LANDING)

os.environ.pop("LUMBUNG_WAREHOUSE_URL", None)
os.environ.pop("LUMBUNG_AIRFLOW_DB_URL", None)
os.environ.update(
    {
        "LUMBUNG_HOME": str(REPO),
        "LUMBUNG_STATE_DIR": str(_STATE / "state"),
        "LUMBUNG_LANDING_DIR": str(_LANDING),
        "LUMBUNG_PG_PORT": str(free_port()),
        "LUMBUNG_AIRFLOW_PORT": str(free_port()),
        # dbt unit tests run with every build here (production builds leave them out)
        "LUMBUNG_DBT_UNIT_TESTS": "1",
    }
)


def _configure_airflow() -> None:
    """Airflow's settings for the session's server, before any test module imports Airflow
    (whichever test runs first), so no test ever sees Airflow's SQLite default."""
    from lumbung import airflow_env
    from lumbung.config import Paths
    from lumbung.warehouse import warehouse_url

    paths = Paths.from_env()
    airflow_env.apply(paths, warehouse_url(paths, start=False))


_configure_airflow()


@pytest.fixture(scope="session")
def paths():
    from lumbung.config import Paths

    return Paths.from_env()


@pytest.fixture(scope="session")
def warehouse(paths):
    """Embedded warehouse started, bootstrapped, Airflow metadata migrated and configured."""
    from lumbung import dbt_server
    from lumbung.runner import prepare
    from lumbung.warehouse import embedded_server

    url = prepare(paths)
    # The session's dbt builds fork one dbt server, as `lumbung run`'s do.
    with dbt_server.running(paths.state):
        yield url
    _close_airflow_connections()
    embedded_server(paths).stop()
    shutil.rmtree(_STATE, ignore_errors=True)


# Self-contained runs of the whole pipeline (their own database, state and dbt server) that
# a test only waits for, started beside other tests that leave most of the machine idle.
_BACKGROUND: dict[str, tuple[subprocess.Popen, Path]] = {}


def start_background(name: str, argv: list[str], env: dict[str, str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink:
        _BACKGROUND[name] = (subprocess.Popen(argv, env=env, cwd=REPO, stdout=sink,
                                              stderr=subprocess.STDOUT, text=True), out)


def wait_background(name: str, timeout: float = 3600) -> tuple[int, list[str]]:
    """(exit status, output lines) of a background run, once it has ended."""
    process, out = _BACKGROUND[name]
    process.wait(timeout=timeout)
    return process.returncode, out.read_text(encoding="utf-8").splitlines()


def shared_roles_for(paths, env: dict[str, str], warehouse) -> dict[str, str]:
    """``env`` for a run with a state folder of its own on the session's server: the
    session's passwords for the cluster-wide BI and API roles (its bootstrap would set its
    own), and every regency role made beforehand (two publications must not create one at
    the same moment)."""
    from lumbung import rls
    from lumbung.warehouse import api_password, bi_password

    regencies = REPO / "data" / "landing" / "region" / "edition=2025" / "lampung_regencies.csv"
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        for line in regencies.read_text(encoding="utf-8").splitlines()[1:]:
            rls.ensure_regency_role(conn, line.split(",")[1])
    return {**env, "LUMBUNG_BI_PASSWORD": bi_password(paths),
            "LUMBUNG_API_DB_PASSWORD": api_password(paths)}


@pytest.fixture(scope="session")
def background_default_run(request, paths, warehouse):
    """Start the default run of ``test_default_run`` in the background, if the session
    runs that module: the scheduler's tests request it, so that it runs beside them (they
    mostly wait on Airflow's scheduler) instead of after them."""
    if "default_run" not in _BACKGROUND and "test_default_run" in {
            item.module.__name__ for item in request.session.items}:
        import test_default_run

        test_default_run.start(paths, warehouse)
    yield
    for process, _ in _BACKGROUND.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def _close_airflow_connections() -> None:
    """End Airflow's sessions and close its pooled metadata connections while Postgres still
    runs: otherwise its exit hook rolls them back and prints a traceback on a closed server."""
    import sys

    settings = sys.modules.get("airflow.settings")
    if settings is not None:
        settings.dispose_orm()


@pytest.fixture(scope="session")
def landing() -> Path:
    return _LANDING


@pytest.fixture()
def db(warehouse):
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        yield conn


def table_fingerprint(conn: psycopg.Connection, table: str,
                      exclude: tuple[str, ...] = ()) -> tuple[int, str]:
    """Row count and a hash of the full sorted content (but the ``exclude`` columns):
    equal means unchanged."""
    row = "t"
    if exclude:
        schema, name = table.split(".")
        row = "row({})".format(", ".join(f't."{r[0]}"' for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = %s and column_name <> all(%s) order by ordinal_position",
            (schema, name, list(exclude)))))
    rows = conn.execute(f"select {row}::text from {table} as t order by 1").fetchall()
    digest = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
    return len(rows), digest


def run_dag(dag_id: str):
    """Run one DAG for real with dag.test(); return the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None
    return dag.test()


def run_source_dag(dag_id: str, paths, warehouse):
    """Run a source DAG with dag.test(), then build its staging (with its tests) as the
    marts DAG would, alone (``transform`` of its pipeline); return the DagRun."""
    import importlib

    from lumbung.families import family

    dag_run = run_dag(dag_id)
    importlib.import_module(family(dag_id).pipeline_module).transform(paths, warehouse)
    return dag_run


def audit_and_publish(paths, warehouse) -> list[str]:
    """The marts DAGs' audit and publish steps on what the last dbt build built."""
    from lumbung.pipelines.marts import audit, publish_marts
    from lumbung.publish import built_marts

    tables = built_marts(paths)
    audit(warehouse, tables)
    publish_marts(warehouse, tables)
    return tables


def build_and_publish(paths, warehouse, *select: str) -> list[str]:
    """What the marts DAGs do: dbt build of the selection into the build schema, the mart
    audit, then publication into ``marts``; returns the published tables."""
    from lumbung.publish import build

    build(paths, warehouse, *select)
    return audit_and_publish(paths, warehouse)


def ensure_village_master(warehouse) -> None:
    """The region master published (``marts.dim_village``, which the marts and the APBDes
    gate read): the region DAG runs unless an earlier module of the session ran it."""
    with psycopg.connect(warehouse.url()) as conn:
        built = conn.execute("select to_regclass('marts.dim_village')").fetchone()[0]
    if built is None:
        run_dag("region")


def land_generated(landing: Path, source: str, regencies: tuple[str, ...],
                   years: tuple[int, ...]) -> None:
    """One source's clean generated files (seed 3) copied into the session's landing folder,
    where its DAG reads them."""
    from lumbung.generate import GenerateConfig, generate

    out = landing.parent / f"{source}_generated"
    generate(GenerateConfig(out=out, regencies=regencies, years=years, seed=3,
                            sources=(source,)))
    shutil.copytree(out / source, landing / source, dirs_exist_ok=True)


def land_and_gate(warehouse, source: str, landing: Path) -> None:
    """What a source DAG does before its dbt step: land every file, then the gate."""
    import importlib

    pipeline = importlib.import_module(f"lumbung.pipelines.{source}")
    landed = pipeline.land(warehouse, landing)
    assert not landed["problems"], landed["problems"]
    gated = pipeline.gate(warehouse, landed)
    assert not gated.get("problems") and not gated.get("failures"), gated


def quarantined_rows(db: psycopg.Connection, outcomes: dict) -> list[tuple[str, int, str]]:
    """(file, row number, reason) of every row the ingest quarantined from the files it did
    not reject (``outcomes``: file -> outcome), each file's rows all accounted for."""
    rows = []
    for file, outcome in outcomes.items():
        if outcome.status == "rejected":
            continue
        assert outcome.rows_received == outcome.rows_loaded + outcome.rows_quarantined
        for number, reason in db.execute(
            "select row_number, reason from audit.quarantine where batch_id = %s",
            (outcome.batch_id,),
        ):
            rows.append((file, number, reason))
    return rows


def pytest_collection_modifyitems(config, items):
    """`e2e` tests (the whole pipeline under Airflow's scheduler, dashboards in a browser)
    run by default, as in CI; LUMBUNG_E2E=0 leaves them out of a quicker local run. Tests
    under Airflow's scheduler and the default run they start beside them go last."""
    last = ("test_scheduler", "test_default_run")
    items.sort(key=lambda item: last.index(item.module.__name__) + 1
               if item.module.__name__ in last else 0)
    if os.environ.get("LUMBUNG_E2E", "1") != "0":
        return
    skip = pytest.mark.skip(reason="end-to-end test left out: LUMBUNG_E2E=0")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)
