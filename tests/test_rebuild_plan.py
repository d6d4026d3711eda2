"""What the marts DAG rebuilds (lumbung.rebuild_plan): everything on the first build and
after a change of the dbt project; after that only what the changed sources feed, and what
a source DAG's staging rebuild dropped; the selection is exactly the models downstream of a
source, checked against dbt's own graph."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from lumbung import rebuild_plan
from lumbung.dbt_runner import run_dbt

DAG = "test_rebuild_plan"


@pytest.fixture()
def builds(db):
    """audit.mart_builds and publications as this test leaves them: emptied afterwards
    (no other module plans a marts build)."""
    db.execute("delete from audit.mart_builds")
    yield db
    db.execute("delete from audit.mart_builds")


def _published_build(db, paths, warehouse, run_id: str, **changes) -> int:
    """Record a build of the current state (with ``changes`` to its fingerprints) and a
    publication for it, as the marts DAG does after a successful run."""
    chosen = rebuild_plan.plan(paths, warehouse, everything=True)
    project = changes.pop("project", chosen.project_fingerprint)
    sources = {**chosen.source_fingerprints, **changes}
    recorded = rebuild_plan.RebuildPlan(project, sources, None, "test")
    rebuild_plan.record_build(warehouse, recorded, DAG, run_id)
    publication = db.execute(
        "insert into audit.publications (dag_id, run_id, tables) values (%s, %s, '{}') "
        "returning publication_id", (DAG, run_id)).fetchone()[0]
    assert rebuild_plan.mark_published(warehouse, publication, DAG, run_id) is not None
    return publication


@pytest.fixture()
def nothing_missing(monkeypatch):
    # Which relations exist depends on the modules that ran before: tested apart below.
    monkeypatch.setattr(rebuild_plan, "missing_models", lambda paths, warehouse: ())


def test_first_build_rebuilds_everything(builds, paths, warehouse):
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed is None
    assert chosen.select() == rebuild_plan.EVERYTHING
    assert "no build of the marts was published yet" in chosen.reason


def test_unchanged_sources_rebuild_only_the_quality_mart(builds, paths, warehouse,
                                                        nothing_missing):
    _published_build(builds, paths, warehouse, "r1")
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed == ()
    assert chosen.select() == ("mart_data_quality",)
    assert set(chosen.exclude()) >= {"fqn:marts.core", "fqn:staging.apbdes"}


def test_a_changed_source_rebuilds_what_it_feeds(builds, paths, warehouse, nothing_missing):
    _published_build(builds, paths, warehouse, "r1", apbdes="an older set of batches")
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed == ("apbdes",)
    assert chosen.select() == (
        "mart_data_quality",
        "fqn:staging.apbdes+,config.materialized:table",
        "fqn:staging.apbdes+,config.materialized:incremental",
    )
    assert "apbdes changed" in chosen.reason
    # asked for, everything is rebuilt anyway
    assert rebuild_plan.plan(paths, warehouse, everything=True).changed is None


def test_the_last_published_build_is_the_reference(builds, paths, warehouse, nothing_missing):
    _published_build(builds, paths, warehouse, "r1", idm="older")
    # a later build whose audit failed (never published) does not count
    chosen = rebuild_plan.plan(paths, warehouse)
    rebuild_plan.record_build(warehouse, chosen, DAG, "r2")
    assert rebuild_plan.plan(paths, warehouse).changed == ("idm",)
    # publishing links the run's own build, not another run's
    publication = builds.execute(
        "insert into audit.publications (dag_id, run_id, tables) values (%s, 'r3', '{}') "
        "returning publication_id", (DAG,)).fetchone()[0]
    assert rebuild_plan.mark_published(warehouse, publication, DAG, "r3") is None
    publication = builds.execute(
        "insert into audit.publications (dag_id, run_id, tables) values (%s, 'r2', '{}') "
        "returning publication_id", (DAG,)).fetchone()[0]
    assert rebuild_plan.mark_published(warehouse, publication, DAG, "r2") is not None
    assert rebuild_plan.plan(paths, warehouse).changed == ()


def test_a_changed_project_or_unknown_source_rebuilds_everything(builds, paths, warehouse,
                                                                 nothing_missing):
    _published_build(builds, paths, warehouse, "r1", project="another version of the models")
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed is None and "dbt project changed" in chosen.reason
    _published_build(builds, paths, warehouse, "r2", a_new_source="x")
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed is None and "a_new_source" in chosen.reason


def test_the_project_fingerprint_follows_the_models(paths, tmp_path):
    project = tmp_path / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    model = project / "models" / "m.sql"
    model.write_text("select 1\n")
    fake = SimpleNamespace(dbt_project=project)
    first = rebuild_plan.project_fingerprint(fake)
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}")
    assert rebuild_plan.project_fingerprint(fake) == first  # build output is not the project
    model.write_text("select 2\n")
    assert rebuild_plan.project_fingerprint(fake) != first
    assert rebuild_plan.project_fingerprint(paths) == rebuild_plan.project_fingerprint(paths)


def test_missing_models_are_found_and_rebuilt_with_what_follows(db, warehouse, tmp_path,
                                                                monkeypatch):
    db.execute("create or replace view intermediate.test_rebuild_plan_present as select 1")
    nodes = {
        f"model.lumbung.{name}": {"resource_type": "model", "name": name, "alias": name,
                                  "schema": "intermediate",
                                  "original_file_path": f"models/intermediate/x/{name}.sql"}
        for name in ("test_rebuild_plan_present", "test_rebuild_plan_dropped")
    }
    nodes["model.lumbung.dim_gone"] = {
        "resource_type": "model", "name": "dim_gone", "alias": "dim_gone",
        "schema": "marts_build", "original_file_path": "models/marts/core/dim_gone.sql"}
    (tmp_path / "manifest.json").write_text(json.dumps({"nodes": nodes}))
    fake = SimpleNamespace(dbt_target=tmp_path)
    try:
        # the region marts are another DAG's: never this plan's to rebuild
        assert rebuild_plan.missing_models(fake, warehouse) == ("test_rebuild_plan_dropped",)
    finally:
        db.execute("drop view intermediate.test_rebuild_plan_present")
    assert rebuild_plan.missing_models(SimpleNamespace(dbt_target=tmp_path / "no"),
                                       warehouse) is None
    plan = rebuild_plan.RebuildPlan("p", {}, ("ojk",), "r", ("test_rebuild_plan_dropped",))
    assert plan.select()[-1] == "test_rebuild_plan_dropped+"


def _listed(paths, warehouse, *args: str, resource_type: str = "model") -> set[str]:
    lines = run_dbt(paths, warehouse, "ls", "--resource-type", resource_type, "--output",
                    "name", "--quiet", *args)
    return {line.strip() for line in lines if line.strip() and " " not in line.strip()}


def test_the_selection_is_exactly_what_the_source_feeds(paths, warehouse):
    """dbt's selection for a changed APBDes and a changed region master equals the tables
    this DAG builds that read them, directly or not (dbt's graph, walked here)."""
    everything = _listed(paths, warehouse, "--select", *rebuild_plan.EVERYTHING,
                         "--exclude", *rebuild_plan.EXCLUDE)
    manifest = json.loads((paths.dbt_target / "manifest.json").read_text())
    children = defaultdict(set)
    for child, parents in manifest["parent_map"].items():
        for parent in parents:
            children[parent].add(child)

    def downstream(start: set[str]) -> set[str]:
        seen, todo = set(), list(start)
        while todo:
            for child in children[todo.pop()]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return {manifest["nodes"][n]["name"] for n in seen if n.startswith("model.")
                and manifest["nodes"][n]["config"]["materialized"] in ("table", "incremental")}

    for source, roots in (
        ("apbdes", {n for n, node in manifest["nodes"].items()
                    if node["name"].startswith("stg_apbdes__")}),
        ("kemendagri_region", {"model.lumbung.dim_village", "model.lumbung.dim_region"}),
    ):
        chosen = rebuild_plan.RebuildPlan("p", {}, (source,), "test")
        selected = _listed(paths, warehouse, "--select", *chosen.select(),
                           "--exclude", *chosen.exclude())
        expected = (downstream(roots) & everything) | {"mart_data_quality"}
        assert selected == expected, source
        assert selected < everything
    apbdes = rebuild_plan.RebuildPlan("p", {}, ("apbdes",), "test")
    selected = _listed(paths, warehouse, "--select", *apbdes.select(),
                       "--exclude", *apbdes.exclude())
    assert {"mart_village_finance", "mart_bumdes", "mart_smart_village"} <= selected
    assert not selected & {"mart_idm", "mart_financial_access", "dim_village"}


def test_fqn_selectors_select_what_their_folders_hold(paths, warehouse):
    """The plan names folders as fqn:a.b (cheaper for dbt to resolve): every node it
    selects, tests and seeds included, is the one path:models/a/b would select."""
    def as_paths(args: tuple[str, ...]) -> list[str]:
        return [re.sub(r"fqn:([\w.]+)",
                       lambda m: "path:models/" + m.group(1).replace(".", "/"), arg)
                for arg in args]

    for changed in (None, ("apbdes",)):
        chosen = rebuild_plan.RebuildPlan("p", {}, changed, "test")
        assert any(arg.startswith("fqn:") for arg in chosen.selection())
        listed = [_listed(paths, warehouse, "--select", *args, resource_type="all")
                  for args in (chosen.selection(), as_paths(chosen.selection()))]
        assert listed[0] == listed[1], changed
        assert any(name.startswith("unique_combination_of_columns_mart_village_finance")
                   for name in listed[0]), "tests are selected too"


@contextmanager
def _rebuilt_under_a_view(paths, warehouse, db, model: str, relation: str, view: str):
    """Build ``model`` with what it reads, put ``view`` on its ``relation``, rebuild it;
    yields the relation's oid from before the rebuild, and drops the view afterwards."""
    run_dbt(paths, warehouse, "run", "--select", f"+{model}")
    db.execute(f"create or replace view {view} as select count(*) as rows from {relation}")
    try:
        before = db.execute(f"select '{relation}'::regclass::oid").fetchone()
        run_dbt(paths, warehouse, "run", "--select", model)
        yield before
    finally:
        db.execute(f"drop view if exists {view}")


def test_rebuilding_a_view_keeps_the_views_built_on_it(paths, warehouse, db):
    """The project's view materialization replaces a view in place: a source DAG rebuilding
    its staging views no longer drops the intermediate views that read them."""
    relation = "staging.stg_audit__load_batches"
    with _rebuilt_under_a_view(paths, warehouse, db, "stg_audit__load_batches", relation,
                               "intermediate.test_reads_load_batches") as before:
        assert db.execute(
            "select to_regclass('intermediate.test_reads_load_batches')").fetchone()[0]
        # the same relation, replaced: not a new one swapped in
        assert db.execute(f"select '{relation}'::regclass::oid").fetchone() == before
        assert db.execute(
            f"select obj_description('{relation}'::regclass)").fetchone()[0]


def test_rebuilding_a_table_keeps_the_views_built_on_it(paths, warehouse, db):
    """The project's table materialization re-points the views reading a table at the new
    one before dropping the old (as a BUMDes resubmission rebuilds `int_bumdes__bumdes_years`
    under `int_bumdes__pades_reconciliation`, which the BUMDes mart reads next); shown on
    the quality mart, which needs no source data."""
    relation = "marts_build.mart_data_quality"
    view = "intermediate.test_reads_data_quality"
    with _rebuilt_under_a_view(paths, warehouse, db, "mart_data_quality", relation,
                               view) as before:
        # a new table (fresh DDL, as dbt builds it), and the view reads it
        assert db.execute(f"select '{relation}'::regclass::oid").fetchone() != before
        assert db.execute("select to_regclass('marts_build.mart_data_quality__dbt_backup')"
                          ).fetchone()[0] is None
        assert db.execute(f"select rows from {view}").fetchone() \
            == db.execute(f"select count(*) from {relation}").fetchone()
        depends = db.execute(
            f"""
            select count(*) from pg_depend as d join pg_rewrite as r on d.objid = r.oid
            where r.ev_class = '{view}'::regclass and d.refobjid = '{relation}'::regclass
            """).fetchone()[0]
        assert depends > 0


def test_a_build_without_the_manifest_still_records_its_results(paths, warehouse):
    """A selective rebuild leaves dbt's manifest as it was, and its run_results.json (which
    the publication reads) is written all the same."""
    run_dbt(paths, warehouse, "run", "--select", "stg_audit__load_batches")
    manifest = paths.dbt_target / "manifest.json"
    written = manifest.stat().st_mtime_ns
    run_dbt(paths, warehouse, "run", "--select", "stg_audit__dq_runs", manifest=False)
    assert manifest.stat().st_mtime_ns == written
    results = json.loads((paths.dbt_target / "run_results.json").read_text())
    assert [(r["unique_id"], r["status"]) for r in results["results"]] == [
        ("model.lumbung.stg_audit__dq_runs", "success")]
