"""Every DAG imports cleanly, without touching a database or the network, and is documented."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    """Load the DAG folder with sockets forbidden: any DB or network call at import fails."""
    from airflow.dag_processing.dagbag import DagBag

    real_connect = socket.socket.connect

    def forbidden(self, address):
        raise AssertionError(f"DAG import opened a connection to {address}")

    socket.socket.connect = forbidden
    try:
        bag = DagBag(dag_folder=str(DAGS))
    finally:
        socket.socket.connect = real_connect
    return bag


def test_dags_load_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG was loaded"
    files = {Path(dag.fileloc).name for dag in dagbag.dags.values()}
    assert files == {p.name for p in DAGS.glob("*.py")}


def test_expected_dags_present(dagbag):
    from lumbung.families import NAMES

    # a source's DAG has its family's name
    assert sorted(dagbag.dag_ids) == sorted([*NAMES, "smart_village_marts"])


def test_dags_have_owner_tags_docs_schedule(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 40, f"{dag.dag_id} has no documentation"
        assert dag.schedule is not None, f"{dag.dag_id} has no schedule"
        assert dag.max_active_runs == 1, f"{dag.dag_id} may run concurrently with itself"
        for t in dag.tasks:
            assert t.owner not in ("", "airflow"), f"{dag.dag_id}.{t.task_id} has no owner"
            assert isinstance(t.retries, int), f"{dag.dag_id}.{t.task_id} has no retries"
            assert t.doc_md or t.doc, f"{dag.dag_id}.{t.task_id} is undocumented"


# The package modules DAG files may import at parse time; they import only airflow.sdk, the
# stdlib and the source families' declarations themselves
# (test_dag_modules_import_only_airflow_sdk_and_stdlib).
DAG_MODULES = ("lumbung.assets", "lumbung.dag_factory", "lumbung.families")
# The declarations (a package of stdlib-only modules, one per source family).
DECLARATIONS = "lumbung.families"


def _is_declaration(module: str) -> bool:
    return module == DECLARATIONS or module.startswith(f"{DECLARATIONS}.")


def _top_level_imports(path: Path) -> list[str]:
    import ast

    modules = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules.append(node.module or "")
    return modules


def test_dag_files_import_nothing_heavy():
    """Top level of DAG files imports only airflow.sdk, the stdlib and DAG_MODULES (fast
    parsing)."""
    allowed = ("from __future__", "from datetime", "from airflow.sdk", "import ")
    for path in DAGS.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                if line.startswith(tuple(f"from {m} import " for m in DAG_MODULES)):
                    continue
                assert line.startswith(allowed) and "lumbung" not in line, (
                    f"{path.name}: top-level import {line!r} (import inside tasks instead)"
                )


def test_dag_modules_import_only_airflow_sdk_and_stdlib():
    """DAG_MODULES import, at module level, only airflow.sdk, the stdlib, each other and
    the declarations, and the declarations only the stdlib and each other; imported alone
    they load nothing else of the package, and no database driver, dbt, GX or pandas
    beyond what airflow.sdk itself loads."""
    import importlib.util

    declarations = Path(importlib.util.find_spec(DECLARATIONS).origin).parent
    for path in declarations.glob("*.py"):
        for module in _top_level_imports(path):
            assert (module.split(".")[0] in sys.stdlib_module_names
                    or _is_declaration(module)), (path.name, module)
    for name in DAG_MODULES:
        for module in _top_level_imports(Path(importlib.util.find_spec(name).origin)):
            assert (module == "airflow.sdk" or module.startswith("airflow.sdk.")
                    or module.split(".")[0] in sys.stdlib_module_names
                    or module in DAG_MODULES or _is_declaration(module)), (name, module)

    script = (
        "import json, sys\n"
        "import airflow.sdk\n"
        "sdk = sorted(sys.modules)\n"
        f"for name in {DAG_MODULES!r}:\n"
        "    __import__(name)\n"
        "print(json.dumps([sdk, sorted(sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=300)
    sdk, loaded = (set(m) for m in json.loads(out.stdout.strip().splitlines()[-1]))
    package = {m for m in loaded if m.split(".")[0] == "lumbung"}
    own = {f"{DECLARATIONS}.{p.stem}" for p in declarations.glob("*.py") if p.stem != "__init__"}
    assert package - own == {"lumbung", *DAG_MODULES}, package
    heavy = {"sqlalchemy", "psycopg", "psycopg2", "pandas", "dbt", "great_expectations"}
    tops = {m.split(".")[0] for m in loaded} & heavy
    assert tops <= {m.split(".")[0] for m in sdk}, tops


def _assets(condition) -> set[str]:
    """URIs in an asset condition (an Asset, or AssetAny/AssetAll of them)."""
    if hasattr(condition, "objects"):
        return set().union(*(_assets(c) for c in condition.objects))
    return {condition.uri}


def test_marts_dag_follows_every_source_dag(dagbag):
    """The transform DAG is scheduled on every asset the source DAGs produce."""
    marts = dagbag.dags["smart_village_marts"]
    produced = {
        outlet.uri
        for dag in dagbag.dags.values() if dag.dag_id != "smart_village_marts"
        for t in dag.tasks for outlet in t.outlets
    }
    assert produced, "no source DAG declares outlets"
    assert produced == _assets(marts.schedule)


def test_dbt_builds_run_one_at_a_time_and_only_in_two_places(dagbag):
    """One builder per dbt relation: the marts DAG and the region master's build are the
    only tasks that run dbt, both in the one-slot pool (never two builds at once); source
    DAGs only land, gate and release, and their Assets are updated by a task that is
    skipped when nothing new was released (no marts build for a run that landed nothing)."""
    from lumbung.airflow_env import DBT_POOL

    in_pool = {(d.dag_id, t.task_id) for d in dagbag.dags.values() for t in d.tasks
               if t.pool == DBT_POOL}
    assert in_pool == {("region", "build_marts"), ("smart_village_marts", "build_marts")}
    for path in DAGS.glob("*.py"):
        if path.stem not in ("region", "smart_village_marts"):
            assert "transform" not in path.read_text(encoding="utf-8"), path.name
    for dag in dagbag.dags.values():
        if dag.dag_id in ("region", "smart_village_marts"):
            continue
        announcing = [t.task_id for t in dag.tasks if t.outlets]
        assert announcing == ["announce_release"], dag.dag_id
        assert "wait_for_region_master" in dagbag.dags["smart_village_marts"].task_ids


def test_the_region_master_is_awaited_by_the_first_task_that_reads_it(dagbag):
    """APBDes lands while the region master is built (only its gate checks desa codes
    against marts.dim_village); the programmes match locations to villages as they land."""
    apbdes, programmes = dagbag.dags["apbdes"], dagbag.dags["programmes"]
    assert "wait_for_region_master" in apbdes.get_task("quality_gate").upstream_task_ids
    assert "wait_for_region_master" not in \
        apbdes.get_task("land_apbdes_files").get_flat_relative_ids(upstream=True)
    assert "wait_for_region_master" in \
        programmes.get_task("land_programme_files").upstream_task_ids
