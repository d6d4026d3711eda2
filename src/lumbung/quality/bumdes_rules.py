"""The gate's rules for BUMDes (source ``bumdes``): registry pages and yearly reports.

The readers already quarantined items and rows without id, with an unknown village code, a
date or amount that is not one, or repeated; these rules hold each batch to that and warn
about figures that contradict each other. This module imports ``suites`` only inside
``bumdes_suites()``, so ``suites.py`` can import it at its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# what the reader accepts (lumbung.sources.tabular.village_code), written for Postgres
from lumbung.sources.tabular import VILLAGE_CODE_SQL as VILLAGE_CODE

if TYPE_CHECKING:
    from lumbung.quality.suites import SuiteSpec



def amount_sql(column: str) -> str:
    """An Indonesian-formatted amount as numeric, null when it is none: the dbt macro
    ``parse_id_number`` itself (written once in SQL), rendered for ``column``, its braces
    doubled (GX formats these queries with ``str.format``)."""
    return render_macro("parse_id_number", column).replace("{", "{{").replace("}", "}}")


def render_macro(name: str, *args: str) -> str:
    """The SQL of the dbt macro ``name`` of ``dbt_project/macros/<name>.sql`` (plain Jinja:
    only for macros that call nothing of dbt)."""
    import jinja2

    from lumbung.config import Paths

    source = (Paths.from_env().dbt_project / "macros" / f"{name}.sql").read_text()
    template = jinja2.Environment(autoescape=False).from_string(source)  # noqa: S701 (SQL)
    return str(getattr(template.module, name)(*args)).strip()


def bumdes_suites() -> tuple[SuiteSpec, ...]:
    from lumbung.quality.suites import (
        WARNING,
        SuiteSpec,
        _in_set,
        _matches,
        _no_rows,
        _present,
        _unique,
    )

    registry = SuiteSpec(
        "bumdes",
        "registry",
        "bumdes_registry",
        (
            *_present("id"),
            _unique("id"),
            *_present("nama"),
            _matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            _matches("tanggal_berdiri", r"^\d{4}-\d{2}-\d{2}$", "tanggal_berdiri format"),
            _in_set("status_badan_hukum", ["Belum Terdaftar", "Nama Terverifikasi",
                                           "Perbaikan Dokumen", "Berbadan Hukum"]),
            _no_rows(
                "one page per file",
                "select page, count(*) as n from {batch} group by page "
                "having (select count(distinct page) from {batch}) > 1",
                "every item of a file comes from the same page of the registry",
            ),
            _no_rows(
                "legal entity has a certificate",
                "select id, status_badan_hukum, nomor_sertifikat from {batch} "
                "where status_badan_hukum = 'Berbadan Hukum' "
                "and coalesce(trim(nomor_sertifikat), '') = ''",
                "a BUMDes registered as a legal entity carries its certificate number",
                WARNING,
            ),
        ),
        partition="snapshot",
    )
    capital = amount_sql("modal")
    participation = amount_sql("penyertaan_modal_desa")
    reports = SuiteSpec(
        "bumdes",
        "annual_reports",
        "bumdes_annual_reports",
        (
            *_present("id_bumdes"),
            _matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            _no_rows(
                "tahun is the report year",
                "select id_bumdes, tahun, _report_year from {batch} "
                "where trim(tahun) is distinct from _report_year",
                "every report is for the year of the folder it was delivered in",
            ),
            _no_rows(
                "one report per BUMDes and year",
                "select id_bumdes, tahun, count(*) as n from {batch} "
                "group by id_bumdes, tahun having count(*) > 1",
                "a BUMDes reports once a year in a file (duplicate rows)",
            ),
            _no_rows(
                "village participation within capital",
                f"select id_bumdes, modal, penyertaan_modal_desa from {{batch}} "
                f"where {participation} > {capital}",
                "the village's capital participation is part of the BUMDes capital",
                WARNING,
            ),
        ),
        partition="year",
    )
    return registry, reports
