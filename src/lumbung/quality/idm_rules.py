"""The gate's rules for IDM responses (source ``idm``, dataset ``idm``).

The gate validates many IDM batches (one per village-year) per checkpoint run, so every
rule is an unexpected-rows query whose first column is ``_batch_id``, one row per failing
batch: ``lumbung.quality.gate.validate_batches`` splits the verdict by that column. The
suite's table is ``audit.gate_idm`` (one row per response); the indicator rules join
``audit.gate_idm_indicators``.
"""

from __future__ import annotations

from lumbung.quality.rules import WARNING, Rule, SuiteSpec, no_rows
from lumbung.sources.idm import DIMENSIONS, INDICATOR_COUNT

INDICATORS_VIEW = "audit.gate_idm_indicators"
FIRST_YEAR = 2015  # the IDM was first published for 2015/2016
# Published status by IDM value (Permendesa 2/2016): the upper bound of each class.
STATUS_CEILINGS = (("SANGAT TERTINGGAL", 0.4907), ("TERTINGGAL", 0.5989),
                   ("BERKEMBANG", 0.7072), ("MAJU", 0.8155))
STATUSES = (*(s for s, _ in STATUS_CEILINGS), "MANDIRI")
# Published indices carry 14 significant digits; a recomputation differing by more than
# this is a different number, not rounding.
TOLERANCE = "0.00005"


def _num(expr: str) -> str:
    """A text column as numeric where it is a plain decimal, else null (never an error)."""
    return rf"(case when trim({expr}) ~ '^-?\d+(\.\d+)?$' then trim({expr})::numeric end)"


def _catalogue(dimensions: dict[str, int]) -> str:
    """The 50 (dimensi, no) pairs as a SQL relation ``c(dimensi, no)``."""
    sizes = ", ".join(f"('{d}', {n})" for d, n in dimensions.items())
    return (f"(select d.dimensi, g.no from (values {sizes}) as d (dimensi, n) "
            "cross join lateral generate_series(1, d.n) as g (no)) as c")


def _status_of(expr: str) -> str:
    """The IDM class of a numeric expression (null for null)."""
    whens = " ".join(f"when {expr} <= {ceiling} then '{status}'"
                     for status, ceiling in STATUS_CEILINGS)
    whens = f"when {expr} is null then null {whens}"
    return f"(case {whens} else 'MANDIRI' end)"


def suites() -> tuple[SuiteSpec, ...]:
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    index_columns = ("iks", "ike", "ikl", "idm")
    scores_in_range = " and ".join(f"{_num(c)} between 0 and 1" for c in index_columns)
    sums = ", ".join(
        f"sum({_num('i.skor')}) filter (where i.dimensi = '{d}') / {5 * n} as {d.lower()}"
        for d, n in DIMENSIONS.items()
    )
    recomputed = " or ".join(
        f"abs(b.{c}_value - r.{c}) > {TOLERANCE}" for c in ("iks", "ike", "ikl")
    )
    rules: tuple[Rule, ...] = (
        no_rows(
            "kode_desa format",
            r"""
            select _batch_id, kode_desa from {batch}
            where kode_desa is null or kode_desa !~ '^\d\d\d\d\d\d\d\d\d\d$'
            """,
            "the village code (from the file name) is 10 digits",
        ),
        no_rows(
            "kode_desa matches IDENTITAS",
            """
            select _batch_id, kode_desa, id_desa from {batch}
            where id_desa is not null and trim(id_desa) <> kode_desa
            """,
            "the response describes the village it was requested for (IDENTITAS.id_desa, "
            "when present, is the file's kode_desa)",
        ),
        no_rows(
            "kode_desa is a desa",
            """
            select _batch_id, kode_desa from {batch}
            where substr(kode_desa, 7, 1) <> '2'
            """,
            "the IDM covers desa: the village part of the code starts with 2 (1 = kelurahan)",
            WARNING,
        ),
        no_rows(
            "tahun plausible",
            rf"""
            select _batch_id, tahun from {{batch}}
            where not coalesce(
                case when tahun ~ '^\d\d\d\d$' then tahun::int between {FIRST_YEAR}
                    and extract(year from current_date)::int + 1 end,
                false
            )
            """,
            f"the year (from the folder) is between {FIRST_YEAR} and next year",
        ),
        no_rows(
            "years agree",
            """
            select _batch_id, tahun, summaries_tahun, row_tahun from {batch}
            where (summaries_tahun is not null and trim(summaries_tahun) <> tahun)
                or row_tahun is distinct from tahun
            """,
            "SUMMARIES.TAHUN (when present) and the year in the index rows' labels "
            "(IKS <year>, ...) are the year of the file's folder",
        ),
        no_rows(
            "published IDM present",
            f"""
            select _batch_id, iks, ike, ikl, idm, status_idm from {{batch}}
            where status_idm is null or not coalesce({scores_in_range}, false)
            """,
            "the IKS, IKE, IKL and IDM index rows are present with values in [0, 1], and "
            "the STATUS IDM row is present",
        ),
        no_rows(
            "status known",
            f"""
            select _batch_id, status_idm, status, target_status from {{batch}}
            where upper(trim(status_idm)) not in ({statuses})
                or upper(trim(status)) not in ({statuses})
                or upper(trim(target_status)) not in ({statuses})
            """,
            "the published status, SUMMARIES.STATUS and TARGET_STATUS (when present) are "
            f"IDM classes ({', '.join(STATUSES)})",
        ),
        no_rows(
            "indicator known",
            f"""
            select b._batch_id, min(i.dimensi || ' ' || i.no) as indicator, count(*) as items
            from {{batch}} as b
            inner join {INDICATORS_VIEW} as i on b._batch_id = i._batch_id
            where not exists (
                select 1 from {_catalogue(DIMENSIONS)}
                where c.dimensi = i.dimensi and c.no = {_num('i.no')}
            )
            group by b._batch_id
            """,
            "every indicator row is one of the 50 of the catalogue (IKS 1-35, IKE 1-12, "
            "IKL 1-3)",
        ),
        no_rows(
            "indicator once per village-year",
            f"""
            select b._batch_id, min(d.indicator) as indicator, count(*) as repeated
            from {{batch}} as b
            inner join (
                select _batch_id, dimensi || ' ' || {_num('no')} as indicator
                from {INDICATORS_VIEW}
                group by _batch_id, dimensi, {_num('no')}
                having count(*) > 1
            ) as d on b._batch_id = d._batch_id
            group by b._batch_id
            """,
            "no indicator appears twice in one response",
        ),
        no_rows(
            f"all {INDICATOR_COUNT} indicators present",
            f"""
            select b._batch_id,
                string_agg(c.dimensi || ' ' || c.no, ', ' order by c.dimensi, c.no)
                    as missing,
                count(*) as missing_count
            from {{batch}} as b
            cross join {_catalogue(DIMENSIONS)}
            where not exists (
                select 1 from {INDICATORS_VIEW} as i
                where i._batch_id = b._batch_id and i.dimensi = c.dimensi
                    and {_num('i.no')} = c.no
            )
            group by b._batch_id
            """,
            f"each of the {INDICATOR_COUNT} indicators has a loaded row (a quarantined or "
            "missing indicator leaves the village-year incomplete)",
        ),
        no_rows(
            "score 0-5",
            f"""
            select b._batch_id,
                min(i.dimensi || ' ' || i.no || ' = ' || coalesce(i.skor, 'null')) as example,
                count(*) as items
            from {{batch}} as b
            inner join {INDICATORS_VIEW} as i on b._batch_id = i._batch_id
            where not coalesce({_num('i.skor')} between 0 and 5, false)
            group by b._batch_id
            """,
            "every indicator score is a number from 0 to 5",
        ),
        no_rows(
            "published indices match the scores",
            f"""
            select b._batch_id, b.iks, round(r.iks, 8)::text as iks_from_scores, b.ike,
                round(r.ike, 8)::text as ike_from_scores, b.ikl,
                round(r.ikl, 8)::text as ikl_from_scores, b.idm
            from (
                select *, {", ".join(f"{_num(c)} as {c}_value" for c in index_columns)}
                from {{batch}}
            ) as b
            inner join (
                select i._batch_id, {sums}
                from {INDICATORS_VIEW} as i
                group by i._batch_id
            ) as r on b._batch_id = r._batch_id
            where {recomputed}
                or abs(b.idm_value - (b.iks_value + b.ike_value + b.ikl_value) / 3)
                    > {TOLERANCE}
            """,
            "IKS = sum of the IKS scores / 175, IKE = sum / 60, IKL = sum / 15 and "
            "IDM = (IKS + IKE + IKL) / 3: a published value that its own scores do not "
            "give is reported for auditors",
            WARNING,
        ),
        no_rows(
            "status matches the IDM",
            f"""
            select _batch_id, idm, status_idm, status from (
                select *, {_num('idm')} as idm_value, {_num('skor_saat_ini')} as current_value
                from {{batch}}
            ) as b
            where upper(trim(status_idm)) <> {_status_of('idm_value')}
                or upper(trim(status)) <> upper(trim(status_idm))
                or current_value <> idm_value
            """,
            "the published status is the class of the published IDM (Sangat Tertinggal "
            "<= 0.4907 < Tertinggal <= 0.5989 < Berkembang <= 0.7072 < Maju <= 0.8155 < "
            "Mandiri) and SUMMARIES repeat the IDM and its status",
            WARNING,
        ),
    )
    return (SuiteSpec("idm", "idm", "idm", rules, partition="year/village"),)
