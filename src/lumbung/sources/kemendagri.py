"""The Kemendagri region master: regencies, districts and villages, one folder per edition.

Landing layout: ``<landing>/region/edition=<year>/<name>.csv`` where the file name says which
dataset it holds (``regencies``, ``districts`` or ``villages``), e.g.
``region/edition=2025/lampung_villages.csv``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lumbung.landing import DatasetSpec

SOURCE = "kemendagri_region"
FOLDER = "region"
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

# Parents before children: the gate checks that each row's parent was accepted.
DATASET_ORDER = ("regencies", "districts", "villages")
# Documentation travelling with the data (attribution, notes) is not data.
DOCS = {".md", ".txt"}
_EDITION = re.compile(r"^edition=(\d{4})$")


@dataclass(frozen=True)
class LandingFile:
    path: Path
    spec: DatasetSpec
    edition: str


class UnrecognisedFile(ValueError):
    """A file in the region landing folder whose edition or dataset cannot be told."""


def dataset_of(path: Path) -> str:
    matches = [d for d in DATASETS if d in path.stem.lower()]
    if len(matches) != 1:
        raise UnrecognisedFile(
            f"{path}: cannot tell whether it holds regencies, districts or villages "
            "(the file name must contain exactly one of those words)"
        )
    return matches[0]


def landing_file(path: Path) -> LandingFile:
    """One region file; its edition comes from its ``edition=<year>`` folder."""
    edition = _EDITION.match(path.parent.name)
    if not edition:
        raise UnrecognisedFile(f"{path}: must be inside an edition=<year> folder")
    return LandingFile(path, DATASETS[dataset_of(path)], edition.group(1))


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Files to land, parents first within each edition, and problems with the others."""
    found: list[LandingFile] = []
    problems: list[str] = []
    root = landing / FOLDER
    if not root.is_dir():
        return found, [f"{root}: no region landing folder"]
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() in DOCS:
            continue
        if path.parent.parent != root:
            problems.append(f"{path}: not inside an edition=<year> folder of {root}")
            continue
        if path.suffix.lower() != ".csv":
            problems.append(f"{path}: not a .csv file")
            continue
        try:
            found.append(landing_file(path))
        except UnrecognisedFile as err:
            problems.append(str(err))
    found.sort(key=lambda f: (f.edition, DATASET_ORDER.index(f.spec.dataset), f.path.name))
    return found, problems
