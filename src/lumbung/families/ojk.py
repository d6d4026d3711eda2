"""OJK financial access: the monthly access report and the quarterly KUR report."""

from __future__ import annotations

from lumbung.families.source_family import Regency, SourceFamily

FAMILY = SourceFamily(
    "ojk", "OJK financial access",
    partitioning=("akses/periode=<yyyy-mm>", "kur/triwulan=<yyyy>-Q<n>"),
    schedule="@monthly", tags=("lumbung", "economy", "ojk"), freshness_days=62,
    published=("staging.stg_ojk__access_points", "staging.stg_ojk__kur_district_quarter"),
    rebuild=("fqn:staging.ojk+",),
    regency=Regency(rows=(
        ("access_points", (("ojk_agents", "kode_desa"), ("ojk_offices", "kode_kecamatan"))),
        ("kur", (("ojk_kur", "kode_kecamatan"),)),
    )),
    land_task="land_ojk_reports",
)
