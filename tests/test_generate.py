"""``lumbung generate`` as a whole: IDM responses generated beside the real ones (real files
win and stay byte-identical), the origin manifest, idempotence of generate and of
``lumbung run``'s ensure_landing, and the injected disagreements. No warehouse needed."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from lumbung.config import Paths
from lumbung.generate import (
    GENERATED_MANIFEST,
    MANIFEST,
    GenerateConfig,
    generate,
    generated_files,
    is_generated,
    region_villages,
)
from lumbung.runner import ensure_landing
from lumbung.sources import idm

REPO_IDM = Path(__file__).resolve().parents[1] / "data" / "landing" / "idm"
REGENCY = "1801"  # has real IDM responses for some of its desa
YEAR = 2024


def _real_responses(year: int, pattern: str = "*.json") -> list[Path]:
    """The vendored real IDM responses of a year, without those a `lumbung run` in this
    working tree generated beside them."""
    landing = REPO_IDM.parent
    written = generated_files(landing)
    return [path for path in sorted((REPO_IDM / f"tahun={year}").glob(pattern))
            if not is_generated(landing, path.relative_to(landing).as_posix(), written)]


def _states(folder: Path) -> dict[str, tuple[int, int, int, str]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_size,
                                            p.stat().st_mtime_ns,
                                            hashlib.sha256(p.read_bytes()).hexdigest())
        for p in folder.rglob("*") if p.is_file()
    }


def _shape(value: object) -> object:
    """The structure of a JSON value: key order and value types, texts and numbers elided."""
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else (
        type(value).__name__)


@pytest.fixture(scope="module")
def idm_landing(tmp_path_factory) -> Path:
    """A landing folder holding the real responses of one regency and year, then generated
    into (IDM only)."""
    out = tmp_path_factory.mktemp("generate_idm")
    real = out / "idm" / f"tahun={YEAR}"
    real.mkdir(parents=True)
    for path in _real_responses(YEAR, f"{REGENCY}*.json"):
        shutil.copy2(path, real / path.name)
    generate(GenerateConfig(out=out, regencies=(REGENCY,), years=(YEAR,), seed=3,
                            sources=("idm",), disagreements=0.1))
    return out


def test_real_responses_win_and_stay_untouched(idm_landing):
    real = _real_responses(YEAR, f"{REGENCY}*.json")
    assert real
    files = generated_files(idm_landing)
    for path in real:
        relative = f"idm/tahun={YEAR}/{path.name}"
        assert (idm_landing / relative).read_bytes() == path.read_bytes()
        assert relative not in files and not is_generated(idm_landing, relative, files)
    desa = {v.code for v in region_villages() if v.regency_code == REGENCY
            and v.village_type == "desa"}
    landed = {p.stem for p in (idm_landing / "idm" / f"tahun={YEAR}").glob("*.json")}
    assert landed == desa  # every desa has a response: real, else generated
    assert {Path(f).stem for f in files} == desa - {p.stem for p in real}


def test_generated_responses_have_the_real_shape(idm_landing):
    real = json.loads(_real_responses(YEAR, f"{REGENCY}*.json")[0].read_text())
    with_identity = "IDENTITAS" in real["mapData"]
    compared = 0
    for relative in generated_files(idm_landing):
        text = (idm_landing / relative).read_text(encoding="utf-8")
        doc = json.loads(text)
        assert text == json.dumps(doc, ensure_ascii=False, separators=(",", ":"))  # compact
        if ("IDENTITAS" in doc["mapData"]) != with_identity:
            continue  # about 3 % answer without IDENTITAS, as real responses do
        assert _shape(doc) == _shape(real), relative
        assert [(r["NO"], r["INDIKATOR"].removesuffix(f" {YEAR}"), r["ROW_CELL"])
                for r in doc["mapData"]["ROW"]] == [
            (r["NO"], r["INDIKATOR"].removesuffix(f" {YEAR}"), r["ROW_CELL"])
            for r in real["mapData"]["ROW"]]
        compared += 1
    assert compared > 50


def _published_vs_scores(doc: dict) -> dict[str, tuple[float, float]]:
    rows = doc["mapData"]["ROW"]
    sums: dict[str, int] = {}
    result = {}
    for row in rows:
        if row["NO"] is not None:
            sums.setdefault("open", 0)
            sums["open"] += row["SKOR"]
            continue
        label = row["INDIKATOR"].rsplit(" ", 1)[0]
        if label in idm.DIMENSIONS:
            result[label] = (row["SKOR"], sums.pop("open") / (5 * idm.DIMENSIONS[label]))
    return result


def test_published_indices_agree_with_scores_except_the_manifest(idm_landing):
    manifest = json.loads((idm_landing / MANIFEST).read_text())
    flagged = {d["file"] for d in manifest if d["expect"] == "flag"}
    assert {d["kind"] for d in manifest if d["expect"] == "flag"} == {
        "published_index_disagrees"}
    generated = generated_files(idm_landing)
    assert flagged <= set(generated)
    for relative in generated:
        doc = json.loads((idm_landing / relative).read_text(encoding="utf-8"))
        off = {d for d, (published, own) in _published_vs_scores(doc).items()
               if abs(published - own) > 0.00005}
        assert len(off) == (1 if relative in flagged else 0), relative
    # about the configured 10 % (binomial over ~150 files)
    assert 0.02 < len(flagged) / len(generated) < 0.2


def test_generating_again_changes_no_byte(idm_landing):
    before = _states(idm_landing)
    generate(GenerateConfig(out=idm_landing, regencies=(REGENCY,), years=(YEAR,), seed=3,
                            sources=("idm",), disagreements=0.1))
    assert _states(idm_landing) == before


def test_origin_manifest_accumulates_and_lists_digests(tmp_path):
    generate(GenerateConfig(out=tmp_path, regencies=("1811",), years=(YEAR,), seed=2,
                            sources=("ojk",)))
    first = generated_files(tmp_path)
    assert first and all(f.startswith("ojk/") for f in first)
    generate(GenerateConfig(out=tmp_path, regencies=("1811",), years=(YEAR,), seed=2,
                            sources=("survey",)))
    doc = json.loads((tmp_path / GENERATED_MANIFEST).read_text())
    assert doc["generator"] == "lumbung generate"
    files = doc["files"]
    assert first.items() <= files.items() and any(f.startswith("survey/") for f in files)
    for relative, digest in files.items():
        assert hashlib.sha256((tmp_path / relative).read_bytes()).hexdigest() == digest
    # a file changed by hand is no longer the generated one
    changed = next(iter(first))
    (tmp_path / changed).write_bytes(b"edited")
    assert not is_generated(tmp_path, changed)


def test_ensure_landing_fills_missing_idm_years_once(tmp_path, monkeypatch):
    """The IDM folder holds real responses, so it is not empty: ensure_landing still
    generates every missing desa-year, and a second call writes nothing."""
    landing = tmp_path / "landing"
    real = landing / "idm" / f"tahun={YEAR}"
    real.mkdir(parents=True)
    for path in _real_responses(YEAR):
        shutil.copy2(path, real / path.name)
    monkeypatch.setenv("LUMBUNG_LANDING_DIR", str(landing))
    monkeypatch.setenv("LUMBUNG_GENERATE_YEARS", str(YEAR))
    paths = Paths.from_env()
    assert ensure_landing(paths, ("idm",)) == ["idm"]
    desa = {v.code for v in region_villages() if v.village_type == "desa"}
    assert {p.stem for p in real.glob("*.json")} == desa
    for path in _real_responses(YEAR):
        assert (real / path.name).read_bytes() == path.read_bytes()
    before = _states(landing)
    assert ensure_landing(paths, ("idm",)) == []
    assert _states(landing) == before
