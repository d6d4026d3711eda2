"""The gate's rules for the Smart Village survey (source ``survey``, dataset ``responses``).

The reader already quarantined rows without a usable timestamp, village code or year; these
rules hold each batch to that, on ``audit.gate_survey_responses``. This module imports
``suites`` only inside ``survey_suite()``, so ``suites.py`` can import it at its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lumbung.quality.suites import SuiteSpec


def survey_suite() -> SuiteSpec:
    from lumbung.quality.suites import SuiteSpec, _matches, _no_rows, _present
    from lumbung.sources.tabular import VILLAGE_CODE_SQL

    return SuiteSpec(
        "survey",
        "responses",
        "survey_responses",
        (
            *_present("kode_desa"),
            _matches("kode_desa", VILLAGE_CODE_SQL, "kode_desa format"),
            *_present("timestamp"),
            _no_rows(
                "tahun is the survey year",
                "select kode_desa, tahun, _survey_year from {batch} "
                "where trim(tahun) is distinct from _survey_year",
                "every response is for the year of the folder it was delivered in",
            ),
            _no_rows(
                "one submission per village and timestamp",
                "select kode_desa, timestamp, count(*) as n from {batch} "
                "group by kode_desa, timestamp having count(*) > 1",
                "the same village does not submit twice at the same moment (duplicate rows)",
            ),
        ),
        partition="year",
    )
