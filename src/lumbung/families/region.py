"""The Kemendagri region master: regencies, districts and villages, one folder per edition;
its DAG builds and publishes the region marts itself."""

from __future__ import annotations

from lumbung.families.source_family import HOLD_DELIVERY, SourceFamily

FAMILY = SourceFamily(
    "region", "Kemendagri region master",
    partitioning=("edition=<year>",),
    schedule="@daily", tags=("lumbung", "village", "kemendagri"), freshness_days=400,
    published=("marts.dim_region", "marts.dim_village"),
    rebuild=("dim_region+", "dim_village+"),
    # an edition is released whole, once each of its datasets passed
    gate_failure=HOLD_DELIVERY,
    module="kemendagri", pipeline="village_master",
    generated=False,  # the real master is vendored (data/landing/region)
)
