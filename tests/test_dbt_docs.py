"""The dbt docs site: generated on a warehouse whatever has been built there yet, with the
models, the tests and the exposures naming the dashboards."""

from __future__ import annotations

import json

from lumbung import dbt_docs


def test_docs_are_generated_before_any_build_pinned_the_batches(paths, warehouse, db):
    # A warehouse where only the region master was built (`lumbung run --dags region`):
    # no build has pinned the batches, and the APBDes tests' scope still compiles.
    saved = db.execute("select one_row, visible_seq, tested_after from audit.dbt_pin").fetchall()
    db.execute("delete from audit.dbt_pin")
    try:
        page = dbt_docs.generate(paths, warehouse)
    finally:
        for row in saved:
            db.execute("insert into audit.dbt_pin (one_row, visible_seq, tested_after) "
                       "values (%s, %s, %s)", row)
    assert page.is_file() and page.stat().st_size > 100_000  # manifest and catalog inlined
    manifest = json.loads((page.parent / "manifest.json").read_text(encoding="utf-8"))
    names = {node["name"] for node in manifest["nodes"].values()}
    assert {"mart_smart_village", "stg_apbdes__realisation_lines"} <= names
    assert any(name.startswith("not_null_columns_stg_apbdes") for name in names)
    assert any("superset" in (e.get("url") or "") or e.get("type") == "dashboard"
               for e in manifest["exposures"].values())
