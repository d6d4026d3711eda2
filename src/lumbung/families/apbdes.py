"""APBDes: village budgets and realisation, Siskeudes exports or the flat template, one
file per regency and fiscal year, resubmitted during the year."""

from __future__ import annotations

from lumbung.families.source_family import FAIL_AT_END, Regency, SourceFamily

FAMILY = SourceFamily(
    "apbdes", "APBDes",
    partitioning=("<year>",),
    schedule="@daily", tags=("lumbung", "apbdes", "siskeudes"), freshness_days=120,
    published=("staging.stg_apbdes__submissions", "staging.stg_apbdes__budget_lines",
               "staging.stg_apbdes__realisation_lines"),
    rebuild=("fqn:staging.apbdes+",),
    gate_failure=FAIL_AT_END,  # a regency's bad file keeps its previous submission
    regency=Regency(partition_part=0),  # <regency>/<year>
    asset_paths=("staging/apbdes",),
)
