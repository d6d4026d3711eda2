"""Development programmes per village: regency and province SIPD sub-activities and
private (CSR) programmes, their free-text locations matched to Kemendagri codes."""

from __future__ import annotations

from lumbung.families.source_family import Regency, SourceFamily

FAMILY = SourceFamily(
    "programmes", "Development programmes",
    partitioning=("sipd/kabupaten=<regency>/tahun=<year>", "sipd/provinsi/tahun=<year>",
                  "csr/tahun=<year>"),
    schedule="@weekly", tags=("lumbung", "programmes", "sipd"), freshness_days=400,
    published=("staging.stg_programmes__activities",),
    rebuild=("fqn:staging.programmes+",),
    # a regency's SIPD export is keyed <regency>/<year>; the province's and CSR's by the
    # year alone: province-wide
    regency=Regency(partition_part=-2),
    land_task="land_programme_files",
)
