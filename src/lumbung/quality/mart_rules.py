"""The audit rules of the published marts (source ``marts``), checked in the build schema.

dbt builds every mart into ``marts_build``; before ``lumbung.publish`` copies a mart into
``marts``, its suite here must pass (write-audit-publish). dbt's own tests cover each
model's grain; these suites are what auditors read in the data docs and in
``audit.dq_results``, and they add what dbt's tests do not: a sudden drop of rows against the
published version, and checks across marts and sources. A suite exists for every mart:
``tests/test_mart_quality.py`` fails when a mart has none.
"""

from __future__ import annotations

from importlib import import_module

from lumbung.families import FAMILIES
from lumbung.publish import BUILD_SCHEMA, PUBLISHED_SCHEMA
from lumbung.quality.rules import (
    LAT_RANGE,
    LNG_RANGE,
    WARNING,
    Rule,
    SuiteSpec,
    between,
    in_set,
    matches,
    no_rows,
    not_null,
    row_count,
    unique,
    unique_together,
)

SOURCE = "marts"
IDM_STATUSES = ("Sangat Tertinggal", "Tertinggal", "Berkembang", "Maju", "Mandiri")
SMART_VILLAGE_SCORES = ("a_institution", "b_infrastructure", "c_service_delivery",
                        "d_technology_innovation", "e_societies", "f_economy")
DATA_ORIGINS = ["real", "generated", "mixed"]
DROP_TOLERATED = 0.9  # fewer than 90 % of the published rows is a sudden drop (warning)
# Coverage targets of the Smart Village Index (issue 14), warnings: the share of desa scored
# in each year, and the share of its desa a regency's mean stands on.
SCORED_DESA_TARGET = 0.95
REGENCY_DESA_TARGET = 0.90


def suite_name(table: str) -> str:
    return f"marts_{table}"


def _no_sudden_drop(table: str) -> Rule:
    """Warn when the build has far fewer rows than the published version (planner
    statistics of the published table: exact after each publication's ANALYZE)."""
    return no_rows(
        "no sudden drop against the published version",
        f"""
        select count(*) as built_rows, max(p.published_rows) as published_rows
        from {{batch}}
        cross join (
            select coalesce(max(c.reltuples), 0) as published_rows
            from pg_class as c
            inner join pg_namespace as n on c.relnamespace = n.oid
            where n.nspname = '{PUBLISHED_SCHEMA}' and c.relname = '{table}'
        ) as p
        having count(*) < {DROP_TOLERATED} * max(p.published_rows)
        """,
        f"the build keeps at least {DROP_TOLERATED:.0%} of the rows published before",
        WARNING,
    )


def _village_known(column: str = "village_code") -> Rule:
    """Every village code of the mart is a village of the region master being published
    with it (the build schema's dim_village). GX puts ``{batch}`` in as an aliased
    subquery (``(...) AS subselect``): the query gives it no alias of its own."""
    return no_rows(
        f"{column} is a village of dim_village",
        f"""
        select {column}
        from {{batch}}
        where {column} is not null and {column} not in (
            select v.village_code from {BUILD_SCHEMA}.dim_village as v
        )
        """,
        f"{column} is a village code of the region master (dim_village)",
    )


def _every_delivered_village() -> Rule:
    """Completeness against the accepted deliveries: each regency-year has every desa of
    the APBDes delivery the build read (the winning submission's budget lines, in staging
    at the build's visibility pin). A regency-year with fewer villages is half a delivery:
    critical, nothing is published."""
    return no_rows(
        "every desa of an accepted APBDes delivery is in the mart",
        """
        select d.regency_code, d.fiscal_year, d.villages as delivered,
            coalesce(m.villages, 0) as in_mart
        from (
            select regency_code, fiscal_year, count(distinct village_code) as villages
            from staging.stg_apbdes__budget_lines
            group by regency_code, fiscal_year
        ) as d
        left join (
            select left(village_code, 4) as regency_code, year as fiscal_year,
                count(*) as villages
            from {batch}
            group by left(village_code, 4), year
        ) as m on d.regency_code = m.regency_code and d.fiscal_year = m.fiscal_year
        where coalesce(m.villages, 0) < d.villages
        """,
        "each regency-year has every desa of its accepted APBDes delivery",
    )


def _capital_matches_apbdes() -> Rule:
    """Cross-source: the village capital a BUMDes reports receiving in a year against the
    capital participation (6.2.2) its desa's APBDes realised that year."""
    return no_rows(
        "BUMDes capital matches APBDes capital participation",
        f"""
        select b.village_code, b.year, sum(b.village_capital_participation)
            as reported_by_bumdes, max(f.capital_participation_realised) as realised_in_apbdes
        from {{batch}} as b
        inner join {BUILD_SCHEMA}.mart_village_finance as f
            on b.village_code = f.village_code and b.year = f.year
        where b.has_report
        group by b.village_code, b.year
        having abs(coalesce(sum(b.village_capital_participation), 0)
            - coalesce(max(f.capital_participation_realised), 0))
            > greatest(100000, 0.05 * greatest(
                coalesce(sum(b.village_capital_participation), 0),
                coalesce(max(f.capital_participation_realised), 0)))
        """,
        "village capital participation reported by BUMDes agrees (within Rp 100.000 or 5 %) "
        "with APBDes 6.2.2 realised by their desa in the same year",
        WARNING,
    )


# How old the last accepted delivery of each source may be before it is late (days), as
# its family declares (its DAG's schedule plus the time a delivery usually takes).
FRESHNESS_DAYS = {f.name: f.freshness_days for f in FAMILIES}


def _fresh_sources() -> tuple[Rule, ...]:
    """Freshness: a source whose last accepted delivery is too old (warning). Checked with
    the quality mart, whose audit reads the batches it summarises (GX asks every query to
    name its table, ``{batch}``)."""
    return tuple(
        no_rows(
            f"{source} delivered within {days} days",
            f"""
            select source, max(validated_at) as last_accepted
            from audit.load_batches
            where source = '{source}' and status = 'validated'
            group by source
            having max(validated_at) < now() - interval '{days} days'
                and (select count(*) from {{batch}}) >= 0
            """,
            f"the last accepted {source} delivery is at most {days} days old",
            WARNING,
        )
        for source, days in FRESHNESS_DAYS.items()
    )


def _boundaries_are_geojson() -> tuple[Rule, ...]:
    """A boundary both deck.gl charts can draw: a GeoJSON Feature with a non-empty Polygon
    or MultiPolygon, and a ring of at least four points (``is json`` first, so that text
    which is not JSON is a finding, not an error). A regency or district without one (a
    new code the boundary file does not know yet) is a warning: it must not hold back the
    region master."""
    return (
        no_rows(
            "boundaries are GeoJSON polygons",
            """
            select region_code, left(geojson, 60) as geojson
            from {batch}
            where (geojson is not null or boundary_polygon is not null)
                and not coalesce(
                    geojson is json object and boundary_polygon is json array
                    and geojson::jsonb ->> 'type' = 'Feature'
                    and geojson::jsonb -> 'geometry' ->> 'type' in ('Polygon', 'MultiPolygon')
                    and jsonb_array_length(geojson::jsonb -> 'geometry' -> 'coordinates') > 0
                    and jsonb_array_length(boundary_polygon::jsonb) >= 4,
                    false)
            """,
            "every boundary is a non-empty GeoJSON Feature with a polygon ring",
        ),
        no_rows(
            "every regency and district has a boundary",
            """
            select region_code, region_name from {batch}
            where region_level in ('regency', 'district') and not is_synthetic
                and geojson is null
            """,
            "every regency and district of the region master has a boundary to draw",
            WARNING,
        ),
    )


def _centroids_in_lampung() -> Rule:
    (south, north), (west, east) = LAT_RANGE, LNG_RANGE
    return no_rows(
        "centroids inside Lampung",
        f"""
        select region_code, latitude, longitude
        from {{batch}}
        where not (latitude between {south} and {north}
            and longitude between {west} and {east})
        """,
        "every centroid lies inside Lampung's bounding box",
        WARNING,
    )


def _desa_scored_each_year() -> Rule:
    return no_rows(
        f"at least {SCORED_DESA_TARGET:.0%} of desa scored each year",
        f"""
        select year, count(smart_village_index) as scored, count(*) as desa
        from {{batch}}
        group by year
        having count(smart_village_index) < {SCORED_DESA_TARGET} * count(*)
        """,
        f"the Smart Village Index covers at least {SCORED_DESA_TARGET:.0%} of desa in every "
        "year (coverage target)",
        WARNING,
    )


def _regency_rests_on_its_desa() -> Rule:
    return no_rows(
        f"regency means stand on at least {REGENCY_DESA_TARGET:.0%} of their desa",
        f"""
        select regency_code, year, scored_village_count, village_count
        from {{batch}}
        where scored_village_count < {REGENCY_DESA_TARGET} * village_count
        """,
        f"every regency-year's index is the mean of at least {REGENCY_DESA_TARGET:.0%} of "
        "its desa (coverage target)",
        WARNING,
    )


def mart_suite(table: str, *rules: Rule, may_be_empty: bool = False) -> SuiteSpec:
    """``may_be_empty``: no row-count floor (a family's own marts are empty until it
    delivers); a sudden drop against the published version still fails."""
    return SuiteSpec(
        SOURCE, table, suite_name(table),
        (*rules, *(() if may_be_empty else (row_count(),)), _no_sudden_drop(table)),
        schema=BUILD_SCHEMA, table=table, partition="build",
    )


def _family_marts() -> tuple[SuiteSpec, ...]:
    """The suites of the marts a source family publishes on its own: its rules module's
    ``mart_rules()`` (table -> rules), when it has one. They may be empty: a family that
    has delivered nothing yet must not stop the other marts' publication."""
    return tuple(
        mart_suite(table, *rules, may_be_empty=True)
        for family in FAMILIES
        if (own := getattr(import_module(family.rules_module), "mart_rules", None))
        for table, rules in own().items())


def mart_suites() -> tuple[SuiteSpec, ...]:
    return (
        mart_suite(
            "dim_region",
            unique("region_code"),
            not_null("region_name"),
            in_set("region_level", ["province", "regency", "district"]),
            matches("region_code", r"^\d{2}(\d{2}(\d{2})?)?$", "region_code format"),
            *_boundaries_are_geojson(),
            _centroids_in_lampung(),
        ),
        mart_suite(
            "dim_village",
            unique("village_key"),
            unique_together("village_code", "valid_from"),
            matches("village_code", r"^\d{10}$", "village_code format"),
            in_set("village_type", ["desa", "kelurahan"]),
            no_rows(
                "one current version per village",
                """
                select village_code, count(*) as current_versions
                from {batch} where is_current
                group by village_code having count(*) > 1
                """,
                "each village code has exactly one current version",
            ),
        ),
        mart_suite(
            "mart_data_quality",
            *_fresh_sources(),
            unique("data_quality_key"),
            in_set("layer", ["batch", "mart"]),
            not_null("activity_date"),
            between("quarantine_rate", 0, 1),
            between("validation_pass_rate", 0, 1),
            between("expectation_pass_rate", 0, 1),
            no_rows(
                "rows received = loaded + quarantined",
                """
                select data_quality_key, rows_received, rows_loaded, rows_quarantined
                from {batch}
                where rows_received <> rows_loaded + rows_quarantined
                """,
                "every row received was loaded or quarantined",
            ),
        ),
        mart_suite(
            "mart_idm",
            unique_together("village_code", "year"),
            in_set("data_origin", DATA_ORIGINS),
            _village_known(),
            in_set("consistency", ["consistent", "inconsistent", "incomplete"]),
            *(between(f"{c}_recomputed", 0, 1) for c in ("iks", "ike", "ikl", "idm")),
            in_set("status_recomputed", list(IDM_STATUSES)),
            no_rows(
                "a disagreement names its components",
                """
                select village_code, year, consistency, disagreeing_components from {batch}
                where (consistency = 'inconsistent') <> (disagreeing_components is not null)
                """,
                "a village-year is 'inconsistent' exactly when components disagree",
            ),
            # Published figures that disagree with their own scores are a finding for
            # auditors (mart_idm_inconsistencies), not a reason to withhold the mart.
            no_rows(
                "published IDM agrees with its indicator scores",
                """
                select village_code, year, disagreeing_components from {batch}
                where consistency = 'inconsistent'
                """,
                "Kemendesa's published IKS/IKE/IKL/IDM/status agree with the 50 scores",
                WARNING,
            ),
        ),
        mart_suite(
            "mart_idm_inconsistencies",
            unique_together("village_code", "year", "component"),
            in_set("data_origin", DATA_ORIGINS),
            _village_known(),
            not_null("finding"),
        ),
        mart_suite(
            "mart_village_finance",
            unique_together("village_code", "year"),
            in_set("data_origin", DATA_ORIGINS),
            _village_known(),
            _every_delivered_village(),
            in_set("submission_format", ["siskeudes", "flat"]),
            no_rows(
                "APBDes identities hold",
                """
                select village_code, year, surplus_deficit_realised, net_financing_realised,
                    silpa_realised
                from {batch}
                where surplus_deficit_budget <> revenue_budget - spending_budget
                    or surplus_deficit_realised <> revenue_realised - spending_realised
                    or net_financing_budget
                        <> financing_receipts_budget - financing_expenditure_budget
                    or net_financing_realised
                        <> financing_receipts_realised - financing_expenditure_realised
                    or silpa_budget <> surplus_deficit_budget + net_financing_budget
                    or silpa_realised <> surplus_deficit_realised + net_financing_realised
                """,
                "surplus/deficit = revenue - spending; net financing = 6.1 - 6.2; "
                "SiLPA = surplus/deficit + net financing (budget and realised)",
            ),
            no_rows(
                "no negative amounts",
                """
                select village_code, year, revenue_budget, spending_budget
                from {batch}
                where least(dana_desa_budget, revenue_budget, spending_budget,
                    revenue_realised, spending_realised) < 0
                """,
                "revenue and spending, budgeted or realised, are never negative",
            ),
            no_rows(
                "realised spending within budget",
                """
                select village_code, year, spending_budget, spending_realised
                from {batch} where spending_realised > spending_budget
                """,
                "villages rarely spend more than budgeted: worth a look when they do",
                WARNING,
            ),
        ),
        # BUMDes Center and financial access (dbt tests check their rules in detail)
        mart_suite(
            "mart_bumdes",
            unique_together("bumdes_id", "year"),
            in_set("data_origin", DATA_ORIGINS),
            _village_known(),
            in_set("ranking_class", ["Perintis", "Pemula", "Berkembang", "Maju"]),
            in_set("pades_reconciliation_status",
                      ["consistent", "discrepancy", "no_apbdes", "no_bumdes_report"]),
            _capital_matches_apbdes(),
            no_rows(
                "BUMDes income matches APBDes 4.1.1",
                """
                select bumdes_id, year, pades_contribution,
                    village_apbdes_4_1_1_realised
                from {batch} where is_pades_discrepancy
                """,
                "what a BUMDes reports as its contribution to PADes is what its desa's APBDes "
                "realised as 4.1.1 (a cross-source finding for auditors)",
                WARNING,
            ),
        ),
        mart_suite(
            "mart_bumdes_regency",
            unique_together("regency_code", "year"),
            in_set("data_origin", DATA_ORIGINS),
            between("desa_with_bumdes_share", 0, 1),
            between("desa_with_legal_entity_bumdes_share", 0, 1),
        ),
        mart_suite(
            "mart_financial_access",
            unique_together("village_code", "year"),
            in_set("data_origin", DATA_ORIGINS),
            _village_known(),
            not_null("laku_pandai_agent_count"),
            not_null("is_without_access_point"),
        ),
        mart_suite(
            "mart_financial_access_regency",
            unique_together("regency_code", "year"),
            in_set("data_origin", DATA_ORIGINS),
            between("villages_with_agent_share", 0, 1),
        ),
        *_family_marts(),
        mart_suite(
            "mart_smart_village",
            unique_together("village_code", "year"),
            in_set("data_origin", DATA_ORIGINS),
            _village_known(),
            not_null("methodology_version"),
            *(between(c, 0, 1) for c in SMART_VILLAGE_SCORES),
            *(between(f"{c}_completeness", 0, 1) for c in SMART_VILLAGE_SCORES),
            between("smart_village_index", 0, 1),
            between("completeness", 0, 1),
            in_set("category", list(IDM_STATUSES)),
            no_rows(
                "a missing dimension is never scored",
                """
                select village_code, year from {batch}
                where (a_institution is not null and a_institution_completeness = 0)
                    or (b_infrastructure is not null and b_infrastructure_completeness = 0)
                    or (c_service_delivery is not null and c_service_delivery_completeness = 0)
                    or (d_technology_innovation is not null
                        and d_technology_innovation_completeness = 0)
                    or (e_societies is not null and e_societies_completeness = 0)
                    or (f_economy is not null and f_economy_completeness = 0)
                """,
                "a dimension with no data has no score (never a silent zero)",
            ),
            no_rows(
                "villages scored with little data",
                """
                select village_code, year, completeness from {batch} where completeness < 0.5
                """,
                "most villages have data for at least half of the catalogue's weight",
                WARNING,
            ),
            _desa_scored_each_year(),
        ),
        *(
            mart_suite(
                f"mart_smart_village_{level}",
                unique_together("year", key),
                in_set("data_origin", DATA_ORIGINS),
                not_null("methodology_version"),
                between("mean_index", 0, 1),
                between("population_weighted_index", 0, 1),
                no_rows(
                    "category counts add up",
                    """
                    select year, village_count from {batch}
                    where sangat_tertinggal_count + tertinggal_count + berkembang_count
                        + maju_count + mandiri_count + unscored_count <> village_count
                    """,
                    "every village is counted in exactly one category (or unscored)",
                ),
                *((_regency_rests_on_its_desa(),) if level == "regency" else ()),
            )
            for level, key in (("district", "district_code"), ("regency", "regency_code"),
                               ("province", "province_code"))
        ),
        mart_suite(
            "ref_indicator_catalogue",
            unique_together("methodology_version", "indicator_id"),
            in_set("dimension", ["A", "B", "C", "D", "E", "F"]),
            between("weight", 0, 1_000_000),
            no_rows(
                "one active methodology version",
                """
                select count(distinct methodology_version) as active_versions
                from {batch} where is_active_version
                having count(distinct methodology_version) <> 1
                """,
                "exactly one methodology version is the one the marts are computed with",
            ),
        ),
    )
