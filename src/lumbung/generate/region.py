"""The synthetic supplement of the region master, for the made-up villages of ``--scale``.

``--scale K`` adds K-1 synthetic copies of every regency's villages in synthetic districts
``40 + k`` (see ``scaled``). For the other sources' gates and dbt's relationship tests to
accept them, the region master must know them: this writes them as a delivery of the current
edition, ``<out>/region/edition=<year>/synthetic_districts.csv`` and
``synthetic_villages.csv``, in the columns of the real files. The ``synthetic`` in the file
names makes them their own datasets (``lumbung.sources.kemendagri``): they add to the real
edition without replacing it, and are flagged ``is_synthetic`` in ``marts.dim_region`` and
``marts.dim_village``. Nothing is written at scale 1, and never into the vendored real master.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from lumbung.config import Paths
from lumbung.generate import GenerateContext, Village
from lumbung.sources import kemendagri

log = logging.getLogger(__name__)

DISTRICTS_FILE = "synthetic_districts.csv"
VILLAGES_FILE = "synthetic_villages.csv"


def current_edition(paths: Paths | None = None) -> str:
    """The edition the generated villages come from: the latest vendored one."""
    paths = paths or Paths.from_env()
    latest = sorted((paths.root / "data" / "landing" / kemendagri.FOLDER).glob("edition=*"))[-1]
    return latest.name.removeprefix("edition=")


def _dotted(code: str) -> str:
    """1801 -> 18.01, 180141 -> 18.01.41, 1801412001 -> 18.01.41.2001."""
    parts = [code[:2], code[2:4], code[4:6], code[6:]]
    return ".".join(p for p in parts if p)


def district_name(district_code: str) -> str:
    return f"Sintetis {district_code[4:]}"


def generate(ctx: GenerateContext) -> None:
    synthetic = [v for v in ctx.villages if v.synthetic]
    if not synthetic:
        return
    paths = Paths.from_env()
    folder = ctx.out / kemendagri.FOLDER / f"edition={current_edition(paths)}"
    vendored = (paths.root / "data" / "landing" / kemendagri.FOLDER).resolve()
    if folder.resolve().is_relative_to(vendored):
        raise ValueError(
            f"--scale writes synthetic region files into {folder}, which is the vendored "
            "real region master: choose another --out"
        )
    folder.mkdir(parents=True, exist_ok=True)
    _write_districts(folder / DISTRICTS_FILE, synthetic)
    _write_villages(folder / VILLAGES_FILE, synthetic)
    log.info("region: %d synthetic district(s) and %d village(s) in %s",
             len({v.district_code for v in synthetic}), len(synthetic), folder)


def _write_districts(path: Path, villages: list[Village]) -> None:
    districts = sorted({(v.district_code, v.regency_code) for v in villages})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "code_10", "name", "parent_code"])
        for district, regency in districts:
            writer.writerow([_dotted(district), district, district_name(district),
                             _dotted(regency)])


def _write_villages(path: Path, villages: list[Village]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "code_10", "name", "type", "parent_code", "regency_code"])
        for v in sorted(villages, key=lambda v: v.code):
            writer.writerow([v.code_dotted, v.code, v.name, v.village_type,
                             _dotted(v.district_code), _dotted(v.regency_code)])
