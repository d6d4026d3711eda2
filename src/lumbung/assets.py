"""The Airflow Assets of the warehouse, defined once: each source family's from its
declaration (``lumbung.families``), and the marts DAG's.

A source DAG's ``announce_release`` (the region master's ``publish_marts``) updates its
source's Assets; the marts DAG is scheduled on all of them and updates ``INDICATOR_MARTS``.
Imports only ``airflow.sdk`` and the declarations: DAG files import it at parse time.
"""

from __future__ import annotations

from airflow.sdk import Asset

from lumbung.families import FAMILIES, family


def _asset(path: str) -> Asset:
    return Asset(f"lumbung://warehouse/{path}")


# What each source DAG updates, by its family's name (the DAG's id).
BY_DAG: dict[str, tuple[Asset, ...]] = {
    f.name: tuple(_asset(path) for path in f.assets) for f in FAMILIES}
SOURCES: tuple[Asset, ...] = tuple(a for assets in BY_DAG.values() for a in assets)

INDICATOR_MARTS = _asset("marts/indicators")


def of(name: str) -> tuple[Asset, ...]:
    """The Assets of the source family ``name``."""
    return BY_DAG[family(name).name]
