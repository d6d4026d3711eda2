"""The source families of the warehouse: each declared once, in its own module here
(``FAMILY``), and listed once, in ``NAMES``.

Everything that varies by family is derived from these declarations: ``lumbung ingest``
and the raw tables (``lumbung.sources``), the quality suites (``lumbung.quality.suites``),
the DAGs (``lumbung.dag_factory``) and their Assets (``lumbung.assets``), the order of
``lumbung run`` (``lumbung.runner``), the marts rebuild plan (``lumbung.rebuild_plan``),
the regency of a batch (``lumbung.quality.results``), freshness
(``lumbung.quality.mart_rules``), ``lumbung generate`` and the dbt sources of the marts
(``lumbung.publish``). README, "Adding a source family", lists a family's files.

Stdlib only: DAG files and ``lumbung.assets`` import it at parse time.
"""

from __future__ import annotations

from importlib import import_module

from lumbung.families.source_family import (
    FAIL_AT_END,
    FAIL_GATE,
    HOLD_DELIVERY,
    Regency,
    SourceFamily,
)

# The registry: one name per family, in the order lumbung run runs their DAGs (the region
# master first: the other gates check village codes against it).
NAMES: tuple[str, ...] = ("region", "idm", "survey", "apbdes", "bumdes", "ojk", "programmes")

FAMILIES: tuple[SourceFamily, ...] = tuple(
    import_module(f"{__name__}.{name}").FAMILY for name in NAMES)
BY_NAME: dict[str, SourceFamily] = {f.name: f for f in FAMILIES}

__all__ = ["FAIL_AT_END", "FAIL_GATE", "FAMILIES", "HOLD_DELIVERY", "NAMES", "Regency",
           "SourceFamily", "family"]


def family(name: str) -> SourceFamily:
    """The family of that name (as ``lumbung ingest`` knows it)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no source family {name!r}; known: {', '.join(BY_NAME)}") from None
