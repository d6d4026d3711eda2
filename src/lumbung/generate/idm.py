"""IDM responses for every desa and year, in the exact shape of the Kemendesa API.

Each desa gets a latent development level; each indicator's score is drawn from that
indicator's real distribution (``idm_profile.json``, built from the vendored real responses
by ``build_profile``) through a one-factor Gaussian copula, so scores of one village hang
together and villages spread over the IDM classes as real ones do. From year to year a few
indicators change, more often up than down. The texts of an item (KETERANGAN, KEGIATAN,
NILAI, actors) are those the API gives that indicator at that score. Published IKS, IKE,
IKL, IDM, status and SUMMARIES are computed from the scores as Kemendesa does.

Real responses win: a desa-year whose file already exists and is not one this generator
wrote (listed in ``generated_manifest.json`` with the same digest) is skipped, so the
vendored real files are never touched and generating into ``data/landing`` fills in only the
missing desa-years. A file is rewritten only when its bytes would change.

Defects (at the configured rate, at most one per file): a non-numeric score or an unknown
indicator number (the item is quarantined; its number is its position in ``ROW``), a
truncated response or one without ``mapData`` (the file is rejected). Disagreements (at the
disagreement rate, in files without a defect): one dimension's published index is off by one
to three indicator points from its own scores, as a missed or double-counted indicator leaves
it, and IDM and status follow it (``mart_idm`` flags the desa-year).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import math
import random
from collections import Counter
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from lumbung.config import Paths
from lumbung.generate import Defect, GenerateContext, Village
from lumbung.sources import idm

PROFILE = "idm_profile.json"
BASE_YEAR = 2021  # the year whose state is drawn; other years evolve from it
LEVEL_WEIGHT = 0.28  # copula loading of the village level: IDM sd ~0.06, as in the real data
REDRAWS_PER_YEAR = 16.0  # indicators redrawn each year; about 3.7 then change (real: 3.6-3.9)
KEEP_BETTER = 0.6  # a redrawn worse score is discarded this often: IDM rises ~0.015 a year
IDENTITY_MISSING = 0.03  # responses without IDENTITAS
# Class, the minimum IDM of the next class (as SUMMARIES.SKOR_MINIMAL spells it), the next.
CLASSES = (
    ("Sangat Tertinggal", 0.4907, "0.4908", "TERTINGGAL"),
    ("Tertinggal", 0.5989, "0.5990", "BERKEMBANG"),
    ("Berkembang", 0.7072, "0.7073", "MAJU"),
    ("Maju", 0.8155, "0.8156", "MANDIRI"),
    ("Mandiri", math.inf, "0.8156", "MANDIRI"),
)
NON_NUMERIC_SCORES = ("-", "n/a", "5,0", "", "lima")


# --- the profile of the real responses ------------------------------------------------------


def build_profile(folder: Path) -> dict[str, Any]:
    """Per indicator (in ROW order): dimension, NO, name, ROW_CELL, how often each score
    occurs and the item texts that go with each score; ROW_CELL of the index rows. Built
    from real responses (each item's texts are a function of its indicator and score)."""
    indicators: dict[int, dict[str, Any]] = {}
    cells: dict[str, int] = {}
    for path in sorted(folder.rglob("*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))["mapData"]["ROW"]
        section: list[int] = []
        for position, row in enumerate(rows):
            if row["NO"] is not None:
                section.append(position)
                score = str(row["SKOR"])
                entry = indicators.setdefault(position, {
                    "dimensi": None, "NO": row["NO"], "INDIKATOR": row["INDIKATOR"],
                    "ROW_CELL": row["ROW_CELL"], "scores": Counter(), "texts": {},
                })
                entry["scores"][score] += 1
                entry["texts"][score] = {f: row[f] for f in idm.ITEM_FIELDS[3:12]}
                continue
            label = row["INDIKATOR"].rsplit(" ", 1)[0]
            cells[label] = row["ROW_CELL"]
            if label in idm.DIMENSIONS:
                for closed in section:
                    indicators[closed]["dimensi"] = label
                section = []
    if len(indicators) != idm.INDICATOR_COUNT:
        raise ValueError(f"expected {idm.INDICATOR_COUNT} indicators, found {len(indicators)}")

    def by_score(mapping: dict[str, Any]) -> dict[str, Any]:
        return {s: mapping[s] for s in sorted(mapping, key=int)}

    return {
        "_source": "Derived from the real Kemendesa IDM API responses vendored in "
                   "data/landing/idm (GitHub andifahruddinakas/api-idm; government open "
                   "data); rebuild with lumbung.generate.idm.build_profile.",
        "indicators": [
            {**entry, "scores": by_score(entry["scores"]), "texts": by_score(entry["texts"])}
            for _, entry in sorted(indicators.items())
        ],
        "index_row_cells": dict(sorted(cells.items(), key=lambda kv: kv[1])),
    }


@cache
def profile() -> dict[str, Any]:
    return json.loads(files("lumbung.generate").joinpath(PROFILE).read_text(encoding="utf-8"))


# --- scores ---------------------------------------------------------------------------------


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@cache
def _distributions() -> tuple[tuple[list[int], list[int], int], ...]:
    """Per indicator: its scores, their cumulative counts and the total (for ``_draw``)."""
    result = []
    for indicator in profile()["indicators"]:
        scores = [int(s) for s in indicator["scores"]]
        cumulative = list(itertools.accumulate(indicator["scores"].values()))
        result.append((scores, cumulative, cumulative[-1]))
    return tuple(result)


def _draw(n: int, level: float, rng: random.Random) -> int:
    """Indicator n's score at the quantile of a latent draw: the first score whose cumulative
    count reaches q * total."""
    noise = rng.gauss(0.0, 1.0)
    latent = LEVEL_WEIGHT * level + math.sqrt(1.0 - LEVEL_WEIGHT**2) * noise
    scores, cumulative, total = _distributions()[n]
    return scores[min(bisect.bisect_left(cumulative, _phi(latent) * total), len(scores) - 1)]


def _evolve(scores: list[int], level: float, rng: random.Random, forward: bool) -> list[int]:
    """One year on (or back): a few indicators redrawn, worse draws often discarded."""
    changed = list(scores)
    for n in range(len(changed)):
        if rng.random() >= REDRAWS_PER_YEAR / len(changed):
            continue
        new = _draw(n, level, rng)
        worse = new < changed[n] if forward else new > changed[n]
        if worse and rng.random() < KEEP_BETTER:
            continue
        changed[n] = new
    return changed


def village_scores(ctx: GenerateContext, village: Village, year: int) -> list[int]:
    """The 50 scores of a desa in a year, in ROW order; deterministic for (seed, village,
    year) whatever other years are generated."""
    return village_years_scores(ctx, village, (year,))[year]


def village_years_scores(ctx: GenerateContext, village: Village,
                         years: tuple[int, ...]) -> dict[int, list[int]]:
    """``village_scores`` of several years, each year's evolution computed once."""
    level = ctx.rng(village.code, "level").gauss(0.0, 1.0)
    base_rng = ctx.rng(village.code, BASE_YEAR)
    base = [_draw(n, level, base_rng) for n in range(len(_distributions()))]
    result: dict[int, list[int]] = {BASE_YEAR: base}
    for step in (1, -1):
        wanted = [y for y in years if (y - BASE_YEAR) * step > 0]
        if not wanted:
            continue
        farthest = max(wanted) if step > 0 else min(wanted)
        scores = base
        for y in range(BASE_YEAR + step, farthest + step, step):
            scores = _evolve(scores, level, ctx.rng(village.code, y), forward=step > 0)
            result[y] = scores
    return {y: result[y] for y in years}


# --- the response ---------------------------------------------------------------------------


def _published(value: float) -> float | int:
    """A published index as the API prints it: 14 significant digits, integral as int."""
    rounded = float(f"{value:.14g}")
    return int(rounded) if rounded.is_integer() else rounded


def _class_of(value: float) -> tuple[str, str, str]:
    for name, ceiling, minimum, target in CLASSES:
        if value <= ceiling:
            return name, minimum, target
    raise AssertionError("unreachable")


def response(village: Village, year: int, scores: list[int], names: dict[str, str],
             with_identity: bool, shift: tuple[str, int] | None = None) -> dict[str, Any]:
    """The API response for one desa and year, keys in the API's order; ``shift`` = (dimension,
    points) publishes that dimension's index off by as many indicator points."""
    indicators = profile()["indicators"]
    cells = profile()["index_row_cells"]
    rows: list[dict[str, Any]] = []
    sums: dict[str, float] = {}
    published: dict[str, float | int] = {}

    def index_row(label: str, value: Any) -> dict[str, Any]:
        empty = dict.fromkeys(idm.ITEM_FIELDS[3:12])
        return {"NO": None, "INDIKATOR": f"{label} {year}", "SKOR": value, **empty,
                "ROW_CELL": cells[label]}

    for n, (indicator, score) in enumerate(zip(indicators, scores, strict=True)):
        texts = indicator["texts"][str(score)]
        rows.append({"NO": indicator["NO"], "INDIKATOR": indicator["INDIKATOR"],
                     "SKOR": score, **texts, "ROW_CELL": indicator["ROW_CELL"]})
        dimension = indicator["dimensi"]
        sums[dimension] = sums.get(dimension, 0) + score
        if n + 1 == len(indicators) or indicators[n + 1]["dimensi"] != dimension:
            # the index row closing the dimension's section
            points = sums[dimension] + (shift[1] if shift and shift[0] == dimension else 0)
            published[dimension] = _published(points / (5 * idm.DIMENSIONS[dimension]))
            rows.append(index_row(dimension, published[dimension]))
    value = _published((published["IKS"] + published["IKE"] + published["IKL"]) / 3)
    status, minimum, target = _class_of(float(value))
    rows.append(index_row("IDM", value))
    rows.append(index_row("STATUS IDM", status))
    mapdata: dict[str, Any] = {
        "SUMMARIES": {
            "SKOR_SAAT_INI": float(value),
            "STATUS": status.upper(),
            "TARGET_STATUS": target,
            "SKOR_MINIMAL": minimum,
            "PENAMBAHAN": float(minimum) - float(value),
            "TAHUN": year,
        },
        "ROW": rows,
    }
    if with_identity:
        mapdata["IDENTITAS"] = [{
            "nama_provinsi": names.get(village.code[:2], "LAMPUNG"),
            "id_prov": village.code[:2],
            "id_kabupaten": village.regency_code,
            "nama_kab_kota": names.get(village.regency_code, ""),
            "id_kecamatan": village.district_code,
            "nama_kecamatan": names.get(village.district_code,
                                        f"KECAMATAN {village.district_code}"),
            "id_desa": village.code,
            "nama_desa": village.name.upper(),
        }]
    return {"status": 200, "error": False, "mapData": mapdata}


def dumps(doc: dict[str, Any]) -> str:
    """Compact JSON with UTF-8 text, as the API serves it."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def region_names(paths: Paths | None = None) -> dict[str, str]:
    """Upper-case regency and district names by code, as IDENTITAS spells them."""
    paths = paths or Paths.from_env()
    latest = sorted((paths.root / "data" / "landing" / "region").glob("edition=*"))[-1]
    names: dict[str, str] = {}
    for pattern in ("*regencies*.csv", "*districts*.csv"):
        for path in latest.glob(pattern):
            with path.open(encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    name = " ".join(row["name"].split())
                    for prefix in ("Kabupaten ", "KAB. ", "Kota ", "KOTA "):
                        name = name.removeprefix(prefix)
                    names[row["code_10"].strip()] = name.upper()
    return names


# --- defects --------------------------------------------------------------------------------


def _inject(doc: dict[str, Any], rng: random.Random) -> tuple[str, str, int | None, str]:
    """Spoil one response: (kind, expect, row, detail); the document is changed in place
    except for the rejected kinds, whose text the caller writes instead."""
    kind = rng.choice(("non_numeric_score", "unknown_indicator", "truncated_json",
                       "missing_mapdata"))
    rows = doc["mapData"]["ROW"]
    if kind in ("non_numeric_score", "unknown_indicator"):
        candidates = [n for n, r in enumerate(rows, start=1) if r["NO"] is not None]
        number = rng.choice(candidates)
        item = rows[number - 1]
        if kind == "non_numeric_score":
            item["SKOR"] = rng.choice(NON_NUMERIC_SCORES)
            return kind, "quarantine", number, f"SKOR {item['SKOR']!r}"
        dimension = profile()["indicators"][candidates.index(number)]["dimensi"]
        item["NO"] = rng.choice((0, idm.DIMENSIONS[dimension] + 1 + rng.randrange(5)))
        return kind, "quarantine", number, f"NO {item['NO']} in {dimension}"
    if kind == "missing_mapdata":
        return kind, "reject", None, "the API's answer without mapData"
    return kind, "reject", None, "response cut short"


def _disagreement(scores: list[int], rng: random.Random) -> tuple[str, int]:
    """A dimension and a number of points (1-3, either way) that keeps its index in 0-1."""
    dimension = rng.choices(list(idm.DIMENSIONS), weights=[3, 2, 1])[0]
    indicators = profile()["indicators"]
    total = sum(s for s, i in zip(scores, indicators, strict=True) if i["dimensi"] == dimension)
    ceiling = 5 * idm.DIMENSIONS[dimension]
    points = rng.randint(1, 3)
    if total + points > ceiling or (total - points >= 0 and rng.random() < 0.5):
        points = -points
    return dimension, points


def generate(ctx: GenerateContext) -> None:
    from lumbung.generate import generated_files, is_generated

    names = region_names()
    generated = generated_files(ctx.out)
    for village in ctx.villages:
        if village.village_type != "desa":
            continue  # the IDM covers desa only
        todo = {}
        for year in ctx.config.years:
            path = idm.landing_path(ctx.out, village.code, year)
            relative = path.relative_to(ctx.out).as_posix()
            if path.exists() and not is_generated(ctx.out, relative, generated):
                continue  # a real response (or one delivered by hand): never replaced
            todo[year] = (path, relative)
        if not todo:
            continue
        all_scores = village_years_scores(ctx, village, tuple(todo))
        for year, (path, relative) in todo.items():
            rng = ctx.rng(village.code, year, "file")
            scores = all_scores[year]
            with_identity = rng.random() >= IDENTITY_MISSING
            doc = response(village, year, scores, names, with_identity)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = dumps(doc)
            if ctx.inject(rng):
                kind, expect, row, detail = _inject(doc, rng)
                if kind == "truncated_json":
                    text = text[: rng.randrange(len(text) // 4, len(text) - 10)]
                elif kind == "missing_mapdata":
                    text = dumps({"status": 200, "error": False, "data": None})
                else:
                    text = dumps(doc)
                ctx.manifest.add(Defect("idm", relative, kind, expect, row, detail))
            elif ctx.disagree(ctx.rng(village.code, year, "disagreement")):
                shift = _disagreement(scores, ctx.rng(village.code, year, "shift"))
                text = dumps(response(village, year, scores, names, with_identity, shift))
                ctx.manifest.add(Defect(
                    "idm", relative, "published_index_disagrees", "flag", None,
                    f"{shift[0]} published {shift[1]:+d} indicator point(s) off its scores"))
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
