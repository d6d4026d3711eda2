"""BUMDes (village-owned enterprises): the Kemendesa registry and the yearly reports."""

from __future__ import annotations

from lumbung.families.source_family import Regency, SourceFamily

FAMILY = SourceFamily(
    "bumdes", "BUMDes",
    partitioning=("registry/snapshot=<yyyy-mm-dd>", "laporan/tahun=<year>"),
    schedule="@quarterly", tags=("lumbung", "economy", "bumdes"), freshness_days=120,
    published=("staging.stg_bumdes__registry", "staging.stg_bumdes__units",
               "staging.stg_bumdes__annual_reports"),
    rebuild=("fqn:staging.bumdes+",),
    regency=Regency(rows=(("registry", (("bumdes_registry", "kode_desa"),)),
                          ("annual_reports", (("bumdes_annual_reports", "kode_desa"),)))),
)
