"""IDM (Indeks Desa Membangun, Kemendesa): one API response per desa and year."""

from __future__ import annotations

from lumbung.families.source_family import FAIL_AT_END, Regency, SourceFamily

FAMILY = SourceFamily(
    "idm", "IDM",
    partitioning=("tahun=<year>",),
    schedule="@yearly", tags=("lumbung", "village", "idm", "kemendesa"), freshness_days=400,
    published=("staging.stg_idm__indicator_scores", "staging.stg_idm__published_index"),
    rebuild=("fqn:staging.idm+",),
    gate_failure=FAIL_AT_END,  # files are independent: one bad file holds none back
    regency=Regency(partition_part=-1),  # <tahun>/<kode_desa>
)
