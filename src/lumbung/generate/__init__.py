"""Realistic landing files for every source, deterministic for a seed, on the real region master.

``generate(config)`` writes, under ``config.out``, the landing tree the DAGs read
(``<out>/<source folder>/...``), one module per source family (``lumbung.generate.<source>``,
each exposing ``generate(ctx: GenerateContext) -> None``). With a defect rate, known defects
are injected and every one is written to ``<out>/defects_manifest.json``.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lumbung.config import Paths

log = logging.getLogger(__name__)

# Source family -> module; each module writes its own folder of the landing tree.
GENERATORS: dict[str, str] = {
    # first: with --scale, the synthetic villages' region master (nothing at scale 1)
    "region": "lumbung.generate.region",
    "survey": "lumbung.generate.survey",
    "idm": "lumbung.generate.idm",
    "apbdes": "lumbung.generate.apbdes",
    "bumdes": "lumbung.generate.bumdes",
    "ojk": "lumbung.generate.ojk",
}

MANIFEST = "defects_manifest.json"


@dataclass(frozen=True)
class Village:
    code: str  # 10 digits, e.g. 1813012001
    code_dotted: str  # 18.13.01.2001
    name: str
    village_type: str  # desa | kelurahan
    district_code: str  # 6 digits
    regency_code: str  # 4 digits
    synthetic: bool = False


@dataclass(frozen=True)
class GenerateConfig:
    out: Path
    regencies: tuple[str, ...] = ()  # 4-digit codes; empty = all
    years: tuple[int, ...] = (2024,)
    seed: int = 1
    scale: int = 1
    defects: float = 0.0
    sources: tuple[str, ...] = ()  # empty = all


@dataclass
class Defect:
    """One injected defect, and where the pipeline must report it."""

    source: str
    file: str  # relative to the output folder
    kind: str  # e.g. non_numeric_amount, unknown_village, duplicate_row, wrong_encoding
    expect: str  # "quarantine" (one row) or "reject" (the whole file)
    row: int | None = None  # the record's number as the landing reports it
    detail: str = ""


@dataclass
class Manifest:
    defects: list[Defect] = field(default_factory=list)

    def add(self, defect: Defect) -> None:
        self.defects.append(defect)

    def write(self, out: Path) -> Path:
        path = out / MANIFEST
        path.write_text(json.dumps([asdict(d) for d in self.defects], indent=1) + "\n")
        return path


@dataclass
class GenerateContext:
    """What one source generator gets: its villages, years, randomness, and the manifest."""

    config: GenerateConfig
    villages: list[Village]
    manifest: Manifest
    source: str

    @property
    def out(self) -> Path:
        return self.config.out

    def rng(self, *salt: object) -> random.Random:
        """A generator seeded by (seed, source, salt): same inputs, same files, any order."""
        key = "|".join(map(str, (self.config.seed, self.source, *salt)))
        return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))

    def inject(self, rng: random.Random) -> bool:
        """Whether to inject a defect at this point, at the configured rate."""
        return self.config.defects > 0 and rng.random() < self.config.defects


def region_villages(paths: Paths | None = None) -> list[Village]:
    """The current edition of the vendored Kemendagri region master."""
    paths = paths or Paths.from_env()
    region = paths.root / "data" / "landing" / "region"
    latest = sorted(region.glob("edition=*"))[-1]
    (villages_csv,) = latest.glob("*villages*.csv")
    with villages_csv.open(encoding="utf-8") as fh:
        return [
            Village(
                code=row["code_10"].strip(),
                code_dotted=row["code"].strip(),
                name=" ".join(row["name"].split()),
                village_type=row["type"].strip(),
                district_code=row["code_10"].strip()[:6],
                regency_code=row["code_10"].strip()[:4],
            )
            for row in csv.DictReader(fh)
        ]


def scaled(villages: list[Village], scale: int) -> list[Village]:
    """The real villages plus (scale - 1) synthetic copies with codes valid in shape.

    Copy k of a regency's villages lives in a synthetic district ``40 + k`` of that regency
    (real district parts stay below 40) and is numbered 2001, 2002, ... there.
    """
    if scale < 1 or scale > 59:
        raise ValueError("--scale must be between 1 and 59")
    result = list(villages)
    by_regency: dict[str, list[Village]] = {}
    for v in villages:
        by_regency.setdefault(v.regency_code, []).append(v)
    for k in range(1, scale):
        for regency, members in sorted(by_regency.items()):
            district = f"{regency}{40 + k:02d}"
            for n, v in enumerate(members, start=1):
                part = f"2{n:03d}"
                code = district + part
                dotted = f"{code[:2]}.{code[2:4]}.{code[4:6]}.{part}"
                result.append(Village(code, dotted, f"{v.name} {k + 1}", "desa", district,
                                      regency, synthetic=True))
    return result


def generate(config: GenerateConfig) -> Manifest:
    villages = region_villages()
    if config.regencies:
        villages = [v for v in villages if v.regency_code in config.regencies]
        if not villages:
            raise ValueError(f"no village in regencies {', '.join(config.regencies)}")
    villages = scaled(villages, config.scale)
    manifest = Manifest()
    config.out.mkdir(parents=True, exist_ok=True)
    unknown = set(config.sources) - set(GENERATORS)
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(GENERATORS)}")
    for source, module in GENERATORS.items():
        if config.sources and source not in config.sources:
            continue
        log.info("generating %s for %d villages, years %s", source, len(villages),
                 ", ".join(map(str, config.years)))
        ctx = GenerateContext(config, villages, manifest, source)
        importlib.import_module(module).generate(ctx)
    if config.defects > 0:
        path = manifest.write(config.out)
        log.info("injected %d defect(s); manifest %s", len(manifest.defects), path)
    return manifest
