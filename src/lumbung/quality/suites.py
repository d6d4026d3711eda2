"""Every suite of the gate, in one list: the rules of each source come from its
``*_rules`` module, built with ``lumbung.quality.rules``.

The order here is the order of the committed context (``lumbung.quality.gx_context``).
"""

from __future__ import annotations

from lumbung.quality.apbdes_rules import apbdes_suites
from lumbung.quality.bumdes_rules import bumdes_suites
from lumbung.quality.idm_rules import idm_suite
from lumbung.quality.kemendagri_rules import kemendagri_suites
from lumbung.quality.mart_rules import mart_suites
from lumbung.quality.ojk_rules import ojk_suites
from lumbung.quality.programmes_rules import programmes_suites
from lumbung.quality.rules import SuiteSpec
from lumbung.quality.survey_rules import survey_suite
from lumbung.sources import kemendagri

SUITES: tuple[SuiteSpec, ...] = (
    *kemendagri_suites(),  # the region master: regencies, districts, villages
    idm_suite(),  # IDM responses, gated many batches at a time
    *apbdes_suites(),  # APBDes Siskeudes exports and flat template
    survey_suite(),  # Smart Village survey responses
    *bumdes_suites(),  # BUMDes registry pages and yearly reports
    *ojk_suites(),  # OJK access reports and KUR per district
    *programmes_suites(),  # SIPD (regencies, province) and CSR programmes
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
