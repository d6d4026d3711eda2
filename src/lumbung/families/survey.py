"""The Smart Village survey: the province's yearly self-assessment of each village."""

from __future__ import annotations

from lumbung.families.source_family import Regency, SourceFamily

FAMILY = SourceFamily(
    "survey", "Smart Village survey",
    partitioning=("tahun=<year>",),
    schedule="@yearly", tags=("lumbung", "village", "survey"), freshness_days=400,
    published=("staging.stg_survey__responses",),
    rebuild=("fqn:staging.survey+",),
    regency=Regency(rows=(("responses", (("survey_responses", "kode_desa"),)),)),
)
