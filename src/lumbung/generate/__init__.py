"""Realistic landing files for every source, deterministic for a seed, on the real region master.

``generate(config)`` writes, under ``config.out``, the landing tree the DAGs read
(``<out>/<source folder>/...``), one module per source family (``lumbung.generate.<source>``,
each exposing ``generate(ctx: GenerateContext) -> None``). With a defect rate, known defects
are injected; with a disagreement rate (default 3 %), known disagreements between figures that
should agree (an IDM published index and its own scores, a BUMDes report and its desa's
APBDes) are injected. Every one is written to ``<out>/defects_manifest.json``.

The sources describe the same villages: a BUMDes's reported contribution to PADes is its
desa's APBDes 4.1.1 realisation, its village capital participation the desa's 6.2.2
realisation (``lumbung.generate.bumdes.village_year``), except for the injected disagreements.

Every file written is listed with its SHA-256 in ``<out>/generated_manifest.json``
(``{"generator": "lumbung generate", "files": {"<posix path relative to out>": "<sha256>"}}``),
merged with the one already there: a landing file is generated iff it is listed there with
the same digest. Real files found in the output folder (the vendored IDM responses) are never
overwritten.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import importlib
import json
import logging
import random
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lumbung.config import Paths
from lumbung.families import FAMILIES
from lumbung.generate.exports import truncate

log = logging.getLogger(__name__)

# Source family -> module; each module writes its own folder of the landing tree. The region
# family first: with --scale, the synthetic villages' region master (nothing at scale 1).
GENERATORS: dict[str, str] = {f.name: f.generator for f in FAMILIES}

MANIFEST = "defects_manifest.json"
GENERATED_MANIFEST = "generated_manifest.json"
GENERATOR = "lumbung generate"
DEFAULT_YEARS: tuple[int, ...] = (2021, 2022, 2023, 2024)
DEFAULT_DISAGREEMENTS = 0.03


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
    years: tuple[int, ...] = DEFAULT_YEARS
    seed: int = 1
    scale: int = 1
    defects: float = 0.0
    disagreements: float = DEFAULT_DISAGREEMENTS  # share of cross-checked figures made to disagree
    sources: tuple[str, ...] = ()  # empty = all


# A workbook spoilt as a whole: what the landing rejects it for.
WORKBOOK_DEFECTS = {
    "truncated_xlsx": "file cut short",
    "header_below_data": "a data row sorted above the header row",
}


@dataclass
class Defect:
    """One injected defect, and where the pipeline must report it."""

    source: str
    file: str  # relative to the output folder
    kind: str  # e.g. non_numeric_amount, unknown_village, duplicate_row, wrong_encoding
    # "quarantine" (one row), "reject" (the whole file), "accept" (a quirk to tolerate) or
    # "flag" (the row lands; a consistency mart flags it)
    expect: str
    row: int | None = None  # the record's number as the landing reports it
    detail: str = ""


@dataclass
class Manifest:
    defects: list[Defect] = field(default_factory=list)

    def add(self, defect: Defect) -> None:
        self.defects.append(defect)

    def write(self, out: Path, rewritten: AbstractSet[str] = frozenset()) -> Path:
        """Write the manifest, keeping the entries of an existing one whose file this run
        neither rewrote nor described (generating sources one by one into a folder
        accumulates)."""
        path = out / MANIFEST
        replaced = set(rewritten) | {d.file for d in self.defects}
        kept: list[dict[str, object]] = []
        if path.exists():
            kept = [d for d in json.loads(path.read_text()) if d["file"] not in replaced]
        entries = kept + [asdict(d) for d in self.defects]
        text = json.dumps(entries, indent=1) + "\n"
        if not path.exists() or path.read_text() != text:
            _replace(path, text)
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

    def disagree(self, rng: random.Random) -> bool:
        """Whether to make this cross-checked figure disagree, at the configured rate."""
        return self.config.disagreements > 0 and rng.random() < self.config.disagreements

    def row_defects(self, rng: random.Random, rows: list,
                    kinds: list[str]) -> Iterator[tuple[int, str]]:
        """Where row defects go, at the configured rate: (row index, kind) for each, to be
        applied by the caller. A ``duplicate_row`` is made here: its copy is put right after
        the row, and the copy's index is given."""
        index = 0
        while index < len(rows):
            if not self.inject(rng):
                index += 1
                continue
            kind = rng.choice(kinds)
            if kind == "duplicate_row":
                rows.insert(index + 1, copy.copy(rows[index]))
                index += 1
            yield index, kind
            index += 1

    def workbook_defect(self, rng: random.Random) -> str | None:
        """A whole-workbook defect to inject here, at the configured rate, or None."""
        if not self.inject(rng):
            return None
        return rng.choice(list(WORKBOOK_DEFECTS))

    def spoil_workbook(self, path: Path, defect: str | None) -> None:
        """Apply a workbook defect written into ``path`` (cut it short) and list it: the
        landing must reject the whole file."""
        if not defect:
            return
        if defect == "truncated_xlsx":
            truncate(path)
        self.manifest.add(Defect(self.source, str(path.relative_to(self.out)), defect, "reject",
                                 detail=WORKBOOK_DEFECTS[defect]))

    def as_source(self, source: str) -> GenerateContext:
        """The same run seen as another source's generator: its random draws, so two sources
        can compute the figures they share (a BUMDes report and the APBDes)."""
        return GenerateContext(self.config, self.villages, self.manifest, source)


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


def _file_states(out: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, size, mtime) of every file under ``out``, by posix path relative to it."""
    states = {}
    for path in out.rglob("*"):
        if path.is_file():
            st = path.stat()
            states[path.relative_to(out).as_posix()] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return states


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def generated_files(out: Path) -> dict[str, str]:
    """The files of ``<out>/generated_manifest.json``: posix path relative to out -> sha256."""
    path = out / GENERATED_MANIFEST
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8"))["files"])


def is_generated(out: Path, relative: str, files: dict[str, str] | None = None) -> bool:
    """Whether ``out/relative`` is a file this generator wrote, unchanged since."""
    files = generated_files(out) if files is None else files
    path = out / relative
    return relative in files and path.is_file() and _sha256(path) == files[relative]


def write_generated_manifest(out: Path, written: set[str]) -> Path:
    """Merge the files written in this run (their current digest) into the manifest; entries
    of files that no longer exist are dropped."""
    path = out / GENERATED_MANIFEST
    files = generated_files(out)
    files.update({rel: _sha256(out / rel) for rel in written})
    files = {rel: digest for rel, digest in sorted(files.items()) if (out / rel).is_file()}
    text = json.dumps({"generator": GENERATOR, "files": files}, indent=1) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        _replace(path, text)
    return path


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole: a DAG landing files meanwhile reads the old text or the new one
    (``lumbung run`` generates the sources one by one while the first DAGs land)."""
    part = path.with_name(f".{path.name}.part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)


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
    # A file counts as written by this run when it is new or its inode, size or mtime changed
    # (the writers need not report what they write; untouched real files stay out).
    before = _file_states(config.out)
    for source, module in GENERATORS.items():
        if config.sources and source not in config.sources:
            continue
        log.info("generating %s for %d villages, years %s", source, len(villages),
                 ", ".join(map(str, config.years)))
        ctx = GenerateContext(config, villages, manifest, source)
        importlib.import_module(module).generate(ctx)
    after = _file_states(config.out)
    own = {MANIFEST, GENERATED_MANIFEST}
    written = {rel for rel, state in after.items() if before.get(rel) != state and rel not in own}
    if manifest.defects or (config.out / MANIFEST).exists():
        path = manifest.write(config.out, written)
        log.info("injected %d defect(s) and disagreement(s); manifest %s",
                 len(manifest.defects), path)
    write_generated_manifest(config.out, written)
    return manifest
