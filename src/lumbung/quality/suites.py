"""Every suite of the gate, in one list: the rules of each source family come from its
rules module (``lumbung.quality.<module>_rules``, ``suites()``), built with
``lumbung.quality.rules``.

The order here is the order of the committed context (``lumbung.quality.gx_context``).
"""

from __future__ import annotations

from importlib import import_module

from lumbung.families import FAMILIES
from lumbung.quality.mart_rules import mart_suites
from lumbung.quality.rules import SuiteSpec
from lumbung.sources import kemendagri

SUITES: tuple[SuiteSpec, ...] = (
    # each source family's (its rules module's suites()), in the families' order
    *(spec for f in FAMILIES for spec in import_module(f.rules_module).suites()),
    *mart_suites(),  # every published mart, audited in the build schema
)


def suite_for(source: str, dataset: str) -> SuiteSpec:
    if source == kemendagri.SOURCE:
        # The synthetic supplement of ``lumbung generate --scale`` fills the raw tables of the
        # dataset it extends (so the same gate view) and is held to the same rules.
        dataset = kemendagri.real_dataset(dataset)
    for spec in SUITES:
        if spec.source == source and spec.dataset == dataset:
            return spec
    raise KeyError(f"no quality suite for {source} {dataset}")
