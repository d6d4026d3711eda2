"""The Kemendagri region master: regencies, districts and villages, one folder per edition.

Landing layout: ``<landing>/region/edition=<year>/<name>.csv`` where the file name says which
dataset it holds (``regencies``, ``districts`` or ``villages``), e.g.
``region/edition=2025/lampung_villages.csv``.

A file whose name also says ``synthetic`` (``synthetic_districts.csv``,
``synthetic_villages.csv``) is the synthetic supplement of its edition that
``lumbung generate --scale`` writes for its made-up districts and villages: it lands as its
own dataset (``synthetic_districts``, ``synthetic_villages``) into the same raw tables, is held
to the same gate rules, and is flagged ``is_synthetic`` downstream. Being its own dataset, it
never replaces the real file of its edition nor counts as the previous delivery of a real one.
"""

from __future__ import annotations

import re
from pathlib import Path

from lumbung.families.region import FAMILY
from lumbung.landing import DatasetSpec
from lumbung.raw_tables import Gate, RawTable
from lumbung.sources import folders
from lumbung.sources.folders import LandingFile, UnrecognisedFile

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
CENTROID = ("lat_centroid", "lng_centroid")

DATASETS: dict[str, DatasetSpec] = {
    spec.dataset: spec
    for spec in (
        DatasetSpec(
            SOURCE, "regencies", "raw", "kemendagri_regencies",
            required=("code", "code_10", "name", "type", "parent_code"),
            optional=("luas_km2_big2024", "penduduk_laki", "penduduk_perempuan",
                      "penduduk_total_dukcapil_2024s2", *CENTROID),
        ),
        DatasetSpec(
            SOURCE, "districts", "raw", "kemendagri_districts",
            required=("code", "code_10", "name", "parent_code"),
            optional=CENTROID,
        ),
        DatasetSpec(
            SOURCE, "villages", "raw", "kemendagri_villages",
            required=("code", "code_10", "name", "type", "parent_code", "regency_code"),
            optional=CENTROID,
        ),
    )
}

# Every column as text, exactly as received. A synthetic supplement lands into the same
# tables, so the gate views match no dataset: the suite sees the batch under validation
# ('validating') with its edition; the accepted views add the editions' accepted batches,
# for parent checks across datasets of one edition.
_EDITION = "_edition"
_ACCEPTED = ("validating", "validated")
RAW_TABLES: tuple[RawTable, ...] = (
    RawTable.of(DATASETS["regencies"], gates=(
        Gate(_EDITION, match=()),
        Gate(_EDITION, "accepted_kemendagri_regencies", match=(), statuses=_ACCEPTED),
    )),
    RawTable.of(DATASETS["districts"], gates=(
        Gate(_EDITION, match=()),
        Gate(_EDITION, "accepted_kemendagri_districts", match=(), statuses=_ACCEPTED),
    )),
    RawTable.of(DATASETS["villages"], gates=(Gate(_EDITION, match=()),)),
)

# The synthetic supplement (see the module docstring): districts and villages only, whose
# parents are real regencies and synthetic districts of the same edition.
SYNTHETIC = "synthetic"
SYNTHETIC_PREFIX = f"{SYNTHETIC}_"
SYNTHETIC_DATASETS: dict[str, DatasetSpec] = {
    name: DatasetSpec(SOURCE, SYNTHETIC_PREFIX + name, spec.schema, spec.table,
                      required=spec.required, optional=spec.optional)
    for name, spec in DATASETS.items()
    if name != "regencies"
}

# Parents before children: the gate checks that each row's parent was accepted.
DATASET_ORDER = ("regencies", "districts", "villages")
_EDITION = re.compile(r"^edition=(\d{4})$")


def dataset_of(path: Path) -> str:
    matches = [d for d in DATASETS if d in path.stem.lower()]
    if len(matches) != 1:
        raise UnrecognisedFile(
            f"{path}: cannot tell whether it holds regencies, districts or villages "
            "(the file name must contain exactly one of those words)"
        )
    return matches[0]


def is_synthetic(dataset: str) -> bool:
    """Whether a dataset of the region master is the synthetic supplement."""
    return dataset.startswith(SYNTHETIC_PREFIX)


def real_dataset(dataset: str) -> str:
    """The dataset of the real master a (possibly synthetic) dataset extends."""
    return dataset.removeprefix(SYNTHETIC_PREFIX)


def landing_file(path: Path) -> LandingFile:
    """One region file; its edition comes from its ``edition=<year>`` folder."""
    edition = _EDITION.match(path.parent.name)
    if not edition:
        raise UnrecognisedFile(f"{path}: must be inside an edition=<year> folder")
    dataset = dataset_of(path)
    if SYNTHETIC not in path.stem.lower():
        return LandingFile(path, DATASETS[dataset], edition.group(1))
    if dataset not in SYNTHETIC_DATASETS:
        raise UnrecognisedFile(
            f"{path}: a synthetic supplement holds districts or villages, not {dataset}"
        )
    return LandingFile(path, SYNTHETIC_DATASETS[dataset], edition.group(1))


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Files to land, parents first within each edition, and problems with the others."""
    # Within an edition the real files first, then the synthetic supplement they parent.
    return folders.discover(
        landing / FOLDER, landing_file,
        lambda f: (f.partition_key, is_synthetic(f.spec.dataset),
                   DATASET_ORDER.index(real_dataset(f.spec.dataset)), f.path.name),
        inside="an edition=<year>", suffix=".csv", missing="no region landing folder")
