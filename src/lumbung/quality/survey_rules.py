"""The gate's rules for the Smart Village survey (source ``survey``, dataset ``responses``).

The reader already quarantined rows without a usable timestamp, village code or year; these
rules hold each batch to that, on ``audit.gate_survey_responses``. Every rule names the batch
of what it finds, so a delivery's batches are judged in one checkpoint run
(``lumbung.quality.many_batches``).
"""

from __future__ import annotations

from lumbung.quality.rules import (
    SuiteSpec,
    matches_by_batch,
    no_rows_by_batch,
    present_by_batch,
)

# what the reader accepts (lumbung.sources.tabular.village_code), written for Postgres
from lumbung.sources.tabular import VILLAGE_CODE_SQL


def suites() -> tuple[SuiteSpec, ...]:
    return (SuiteSpec(
        "survey",
        "responses",
        "survey_responses",
        (
            *present_by_batch("kode_desa"),
            matches_by_batch("kode_desa", VILLAGE_CODE_SQL, "kode_desa format"),
            *present_by_batch("timestamp"),
            no_rows_by_batch(
                "tahun is the survey year",
                "select _batch_id, kode_desa, tahun, _survey_year from {batch} "
                "where trim(tahun) is distinct from _survey_year",
                "every response is for the year of the folder it was delivered in",
            ),
            no_rows_by_batch(
                "one submission per village and timestamp",
                "select _batch_id, kode_desa, timestamp, count(*) as n from {batch} "
                "group by _batch_id, kode_desa, timestamp having count(*) > 1",
                "the same village does not submit twice at the same moment (duplicate rows)",
            ),
        ),
        partition="year",
    ),)
