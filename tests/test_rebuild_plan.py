"""What the marts DAG rebuilds (lumbung.rebuild_plan): everything on the first build and
after a change of the dbt project; after that only what the changed sources feed (their
staging, with its tests, and every model downstream, views too); the selection is exactly
the models downstream of a source, checked against dbt's own graph."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from types import SimpleNamespace

import pytest

from lumbung import rebuild_plan
from lumbung.dbt_runner import run_dbt

DAG = "test_rebuild_plan"
# every source with released batches (a plan leaves out what a source without any feeds)
EVERY_SOURCE = dict.fromkeys(rebuild_plan.SOURCE_SELECT, "released")


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
    recorded = rebuild_plan.RebuildPlan(project, sources, None, "test", chosen.pin)
    rebuild_plan.record_build(warehouse, recorded, DAG, run_id)
    publication = db.execute(
        "insert into audit.publications (dag_id, run_id, tables) values (%s, %s, '{}') "
        "returning publication_id", (DAG, run_id)).fetchone()[0]
    assert rebuild_plan.mark_published(warehouse, publication, DAG, run_id) is not None
    return publication


def test_first_build_rebuilds_everything(builds, paths, warehouse):
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed is None
    assert chosen.select() == rebuild_plan.EVERYTHING
    assert "no build of the marts was published yet" in chosen.reason


def test_unchanged_sources_rebuild_only_the_quality_mart(builds, paths, warehouse):
    _published_build(builds, paths, warehouse, "r1")
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed == ()
    assert chosen.select() == ("mart_data_quality",)
    assert chosen.exclude()[:2] == ("+dim_region", "+dim_village")  # the region DAG's
    # a source with no released batch yet: what it feeds waits for its first delivery
    waiting = rebuild_plan.RebuildPlan("p", {"apbdes": "x"}, (), "test")
    assert waiting.exclude() == ("+dim_region", "+dim_village", "fqn:staging.idm+",
                                 "fqn:staging.survey+", "fqn:staging.bumdes+",
                                 "fqn:staging.ojk+", "fqn:staging.programmes+")


def test_a_changed_source_rebuilds_what_it_feeds(builds, paths, warehouse):
    _published_build(builds, paths, warehouse, "r1", apbdes="an older set of batches")
    chosen = rebuild_plan.plan(paths, warehouse)
    assert chosen.changed == ("apbdes",)
    assert chosen.select() == ("mart_data_quality", "fqn:staging.apbdes+")
    assert "apbdes changed" in chosen.reason
    # asked for, everything is rebuilt anyway
    assert rebuild_plan.plan(paths, warehouse, everything=True).changed is None


def test_a_selective_rebuild_tests_what_was_released_since_the_reference(builds, paths,
                                                                          warehouse):
    _published_build(builds, paths, warehouse, "r1", apbdes="an older set of batches")
    (reference,) = builds.execute(
        "select visible_seq from audit.mart_builds where run_id = 'r1'").fetchone()
    assert reference == rebuild_plan.plan(paths, warehouse, everything=True).pin
    assert rebuild_plan.plan(paths, warehouse).tested_after == reference
    # rows that passed may fail against a new region master: all are tested
    _published_build(builds, paths, warehouse, "r2", apbdes="older", region="older")
    assert rebuild_plan.plan(paths, warehouse).tested_after is None
    assert rebuild_plan.plan(paths, warehouse, everything=True).tested_after is None


def test_the_last_published_build_is_the_reference(builds, paths, warehouse):
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


def test_a_changed_project_or_unknown_source_rebuilds_everything(builds, paths,
                                                                 warehouse):
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


def _listed(paths, warehouse, *args: str, resource_type: str = "model") -> set[str]:
    lines = run_dbt(paths, warehouse, "ls", "--resource-type", resource_type, "--output",
                    "name", "--quiet", *args)
    return {line.strip() for line in lines if line.strip() and " " not in line.strip()}


def test_the_selection_is_exactly_what_the_source_feeds(paths, warehouse):
    """dbt's selection for a changed APBDes and a changed region master equals the models
    this DAG builds that read them, directly or not (dbt's graph, walked here), views too:
    a rebuilt table drops the views reading it, which must be rebuilt in the same build."""
    everything = _listed(paths, warehouse, "--select", *rebuild_plan.EVERYTHING,
                         "--exclude", *rebuild_plan.REGION)
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
        return {manifest["nodes"][n]["name"] for n in seen if n.startswith("model.")}

    for source, roots in (
        ("apbdes", {n for n, node in manifest["nodes"].items()
                    if node["name"].startswith("stg_apbdes__")}),
        # the staging models themselves are selected: the marts DAG builds them now
        ("region", {"model.lumbung.dim_village", "model.lumbung.dim_region"}),
    ):
        chosen = rebuild_plan.RebuildPlan("p", EVERY_SOURCE, (source,), "test")
        selected = _listed(paths, warehouse, "--select", *chosen.select(),
                           "--exclude", *chosen.exclude())
        expected = (downstream(roots) | {manifest["nodes"][n]["name"] for n in roots}
                    ) & everything | {"mart_data_quality"}
        assert selected == expected, source
        assert selected < everything
    apbdes = rebuild_plan.RebuildPlan("p", EVERY_SOURCE, ("apbdes",), "test")
    selected = _listed(paths, warehouse, "--select", *apbdes.select(),
                       "--exclude", *apbdes.exclude())
    assert {"stg_apbdes__budget_lines", "mart_village_finance", "mart_bumdes",
            "mart_smart_village", "int_smart_village__indicator_values"} <= selected
    assert not selected & {"mart_idm", "mart_financial_access", "dim_village"}


def test_fqn_selectors_select_what_their_folders_hold(paths, warehouse):
    """The plan names folders as fqn:a.b (cheaper for dbt to resolve): every node it
    selects, tests and seeds included, is the one path:models/a/b would select."""
    def as_paths(args: tuple[str, ...]) -> list[str]:
        return [re.sub(r"fqn:([\w.]+)",
                       lambda m: "path:models/" + m.group(1).replace(".", "/"), arg)
                for arg in args]

    for changed in (None, ("apbdes",)):
        chosen = rebuild_plan.RebuildPlan("p", EVERY_SOURCE, changed, "test")
        assert any(arg.startswith("fqn:") for arg in chosen.selection())
        # (sources, named "<source>.<table>", are listed by path but never built)
        listed = [{n for n in _listed(paths, warehouse, "--select", *args,
                                      resource_type="all") if "." not in n}
                  for args in (chosen.selection(), as_paths(chosen.selection()))]
        assert listed[0] == listed[1], changed
        assert any(name == "mart_village_finance_expressions_are_true"
                   for name in listed[0]), "tests are selected too"


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
