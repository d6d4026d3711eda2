"""Every source family declared in lumbung.families has every piece it consists of, and every
registry derived from the declarations covers every family (a family missing a piece fails
here, before any run). No database."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from lumbung import assets, rebuild_plan, runner
from lumbung.families import FAIL_AT_END, FAMILIES, NAMES, SourceFamily, family
from lumbung.generate import GENERATORS
from lumbung.quality import mart_rules, suites
from lumbung.sources import INGEST, RAW_TABLES

REPO = Path(__file__).resolve().parents[1]
IDS = [f.name for f in FAMILIES]


def test_the_registry_lists_each_family_once_under_its_own_name():
    assert [f.name for f in FAMILIES] == list(NAMES)
    assert len(set(NAMES)) == len(NAMES)
    assert len({f.land_task for f in FAMILIES}) == len(FAMILIES)
    with pytest.raises(KeyError, match="known: region"):
        family("nope")


def test_a_wrong_gate_failure_policy_is_refused():
    with pytest.raises(ValueError, match="gate_failure"):
        SourceFamily("x", "X", ("tahun=<year>",), "@daily", ("lumbung",), 1,
                     ("staging.stg_x",), ("fqn:staging.x+",), gate_failure="ignore")


@pytest.mark.parametrize("f", FAMILIES, ids=IDS)
def test_every_registry_covers_the_family(f: SourceFamily):
    assert INGEST[f.name].startswith(f"{f.pipeline_module}:")
    assert RAW_TABLES[f.name] == f.reader_module
    assert GENERATORS[f.name] == f.generator
    assert f.name in runner.DAG_ORDER
    assert runner.DAG_ORDER.index(f.name) < runner.DAG_ORDER.index("smart_village_marts")
    assert (f.name in runner.GENERATED) == f.generated
    assert rebuild_plan.SOURCE_SELECT[f.name] == f.rebuild and f.rebuild
    assert mart_rules.FRESHNESS_DAYS[f.name] == f.freshness_days > 0
    uris = {a.uri for a in assets.of(f.name)}
    assert uris and uris == {f"lumbung://warehouse/{p}" for p in f.assets}
    assert uris <= {a.uri for a in assets.SOURCES}


@pytest.mark.parametrize("f", FAMILIES, ids=IDS)
def test_every_module_of_the_family_exists(f: SourceFamily):
    pipeline = importlib.import_module(f.pipeline_module)
    for task in ("land", "ingest_path", "gate", "transform", "published_counts"):
        assert callable(getattr(pipeline, task)), (f.pipeline_module, task)
    reader = importlib.import_module(f.reader_module)
    assert reader.RAW_TABLES and reader.SOURCE == f.name and reader.FOLDER == f.folder
    assert {t.spec.source for t in reader.RAW_TABLES} == {f.name}
    assert {s.source for s in importlib.import_module(f.rules_module).suites()} == {
        f.name}
    assert {s.source for s in suites.SUITES} >= {f.name}
    assert callable(importlib.import_module(f.generator).generate)


@pytest.mark.parametrize("f", FAMILIES, ids=IDS)
def test_the_family_has_its_dag_file_and_its_dbt_source(f: SourceFamily):
    dag_files = [p for p in (REPO / "dags").glob("*.py") if p.stem == f.name]
    assert dag_files, f"no DAG file dags/{f.name}.py"
    text = dag_files[0].read_text(encoding="utf-8")
    assert re.search(rf'(source_dag|family)\(\s*"{f.name}"', text), "not built from its family"
    assert ("verdict=" in text) == (f.gate_failure == FAIL_AT_END)
    sources = REPO / "dbt_project" / "models" / "staging" / f.module / f"_{f.module}__sources.yml"
    declared = yaml.safe_load(sources.read_text(encoding="utf-8"))["sources"]
    assert [s["name"] for s in declared] == [f.module]
    tables = {t["name"] for t in declared[0]["tables"]}
    raw = {t.name for t in importlib.import_module(f.reader_module).RAW_TABLES}
    assert tables and tables <= raw, tables - raw  # dbt reads only declared raw tables
