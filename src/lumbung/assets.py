"""The Airflow Assets of the warehouse, defined once, grouped by source.

A source DAG's ``announce_release`` (the region master's ``publish_marts``) updates its
source's Assets; the marts DAG is scheduled on all of them and updates ``INDICATOR_MARTS``.
Imports only ``airflow.sdk``: DAG files import it at parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset


def _asset(path: str) -> Asset:
    return Asset(f"lumbung://warehouse/{path}")


REGION = (_asset("marts/dim_region"), _asset("marts/dim_village"))
IDM = (_asset("staging/stg_idm__indicator_scores"), _asset("staging/stg_idm__published_index"))
SURVEY = (_asset("staging/stg_survey__responses"),)
APBDES = (_asset("staging/apbdes"),)
BUMDES = (
    _asset("staging/stg_bumdes__registry"),
    _asset("staging/stg_bumdes__units"),
    _asset("staging/stg_bumdes__annual_reports"),
)
OJK = (
    _asset("staging/stg_ojk__access_points"),
    _asset("staging/stg_ojk__kur_district_quarter"),
)

PROGRAMMES = (_asset("staging/stg_programmes__activities"),)

# What each source DAG updates, by dag_id.
BY_DAG: dict[str, tuple[Asset, ...]] = {
    "village_master": REGION,
    "idm": IDM,
    "smart_village_survey": SURVEY,
    "apbdes": APBDES,
    "bumdes": BUMDES,
    "ojk_financial_access": OJK,
    "programmes": PROGRAMMES,
}
SOURCES: tuple[Asset, ...] = tuple(a for assets in BY_DAG.values() for a in assets)

INDICATOR_MARTS = _asset("marts/indicators")
