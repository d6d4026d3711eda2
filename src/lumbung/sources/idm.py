"""IDM (Indeks Desa Membangun, Kemendesa): one JSON API response per desa and year.

Landing layout: ``<landing>/idm/tahun=<year>/<kode_desa>.json``, each file the response of
the open API ``/open/api/desa/rumusan/<kode_desa>/<tahun>`` exactly as served. The mirror
layout ``<kode_desa>/<tahun>.json`` is read too (``lumbung ingest idm`` on a mirror copy).

One file is one batch (dataset ``idm``, partition key ``<tahun>/<kode_desa>``) filling two
raw tables:

- ``raw.idm_indicators``: the 50 indicator items of ``mapData.ROW`` (IKS 1-35, IKE 1-12,
  IKL 1-3: the API numbers indicators within their dimension), ``_row_number`` = the item's
  position in ``ROW``. The API does not name an item's dimension: the index row closing the
  section (``IKS <year>``, ``IKE <year>``, ``IKL <year>``) does, and the reader records it.
- ``raw.idm_summaries``: one record per file (``_row_number`` 0) with the published
  IKS/IKE/IKL/IDM and status rows of ``ROW``, ``mapData.SUMMARIES`` and ``mapData.IDENTITAS``.

Every value is kept as text exactly as received (a JSON number keeps its literal spelling).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from lumbung.families.idm import FAMILY
from lumbung.landing import BatchRejected, DatasetSpec, Part, Reader, Record
from lumbung.raw_tables import Gate, RawTable
from lumbung.sources import encoding, folders
from lumbung.sources.folders import UnrecognisedFile

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
DATASET = "idm"

# Indicators per dimension, numbered 1..n within it (the Kemendesa IDM catalogue): 50 in all.
DIMENSIONS: dict[str, int] = {"IKS": 35, "IKE": 12, "IKL": 3}
INDICATOR_COUNT = sum(DIMENSIONS.values())
SUMMARY_RECORD = 0  # _row_number of the one raw.idm_summaries record of a file

ITEM_FIELDS = ("NO", "INDIKATOR", "SKOR", "KETERANGAN", "KEGIATAN", "NILAI", "PUSAT", "PROV",
               "KAB", "DESA", "CSR", "LAINNYA", "ROW_CELL")
SUMMARY_FIELDS = ("SKOR_SAAT_INI", "STATUS", "TARGET_STATUS", "SKOR_MINIMAL", "PENAMBAHAN",
                  "TAHUN")
IDENTITY_FIELDS = ("nama_provinsi", "id_prov", "id_kabupaten", "nama_kab_kota", "id_kecamatan",
                   "nama_kecamatan", "id_desa", "nama_desa")
_ITEM_KEYS = frozenset(ITEM_FIELDS)
_OPTIONAL_FIELDS = ITEM_FIELDS[3:]
MAP_KEYS = ("ROW", "SUMMARIES", "IDENTITAS")
# Index rows of ROW (no indicator number): label -> raw.idm_summaries column.
SUMMARY_ROWS = {"IKS": "iks", "IKE": "ike", "IKL": "ikl", "IDM": "idm", "STATUS IDM": "status_idm"}

INDICATORS = DatasetSpec(
    SOURCE, DATASET, "raw", "idm_indicators",
    required=("kode_desa", "tahun", "dimensi", "no", "indikator", "skor"),
    optional=tuple(f.lower() for f in ITEM_FIELDS[3:]),
)
SUMMARIES = DatasetSpec(
    SOURCE, DATASET, "raw", "idm_summaries",
    required=("kode_desa", "tahun"),
    optional=(
        "api_status", "api_error", *SUMMARY_ROWS.values(), "row_tahun",
        "skor_saat_ini", "status", "target_status", "skor_minimal", "penambahan",
        "summaries_tahun", *IDENTITY_FIELDS,
    ),
)
# Every value as text, exactly as received. The gate may validate many IDM batches in one
# run, so every rule of the idm suite groups by _batch_id; the views carry the batch's year.
# gate_idm (one row per response) is the suite's table.
RAW_TABLES: tuple[RawTable, ...] = (
    RawTable.of(
        INDICATORS,
        comment="IDM indicator items as received from the Kemendesa API, one row per item of "
                "mapData.ROW.",
        gates=(Gate("_tahun", match=("source",), part=1),),
    ),
    RawTable.of(
        SUMMARIES,
        comment="IDM published indices, status and identity as received, one row per API "
                "response.",
        gates=(Gate("_tahun", "gate_idm", match=("source",), part=1),),
    ),
)

_VILLAGE = re.compile(r"^\d{10}$")
_YEAR = re.compile(r"^\d{4}$")
_SUMMARY_LABEL = re.compile(r"^(IKS|IKE|IKL|IDM|STATUS IDM)\s+(\d{4})$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_WHOLE = re.compile(r"^\d+$")


@dataclass(frozen=True)
class LandingFile:
    path: Path
    kode_desa: str
    tahun: str

    @property
    def partition_key(self) -> str:
        """``<tahun>/<kode_desa>``: the village belongs in the key, because two villages'
        responses can be byte-identical (IDENTITAS is not always there) and a batch is
        deduplicated by content within its partition."""
        return f"{self.tahun}/{self.kode_desa}"

    @property
    def reader(self) -> Reader:
        return partial(read_idm_json, kode_desa=self.kode_desa, tahun=self.tahun)


def landing_file(path: Path) -> LandingFile:
    """The village and year of a response, from ``tahun=<year>/<kode_desa>.json`` (or the
    mirror's ``<kode_desa>/<tahun>.json``)."""
    year = folders.YEAR_FOLDER.match(path.parent.name)
    if year and _VILLAGE.match(path.stem):
        return LandingFile(path, path.stem, year.group(1))
    if _VILLAGE.match(path.parent.name) and _YEAR.match(path.stem):
        return LandingFile(path, path.parent.name, path.stem)
    raise UnrecognisedFile(
        f"{path}: expected tahun=<year>/<10-digit kode_desa>.json "
        "(or <kode_desa>/<year>.json)"
    )


def landing_path(landing: Path, kode_desa: str, tahun: int | str) -> Path:
    """Where the response for one desa and year lives in the landing folder."""
    return landing / FOLDER / f"tahun={tahun}" / f"{kode_desa}.json"


def discover(root: Path) -> tuple[list[LandingFile], list[str]]:
    """Responses under ``root`` (the idm landing folder), by year and village, and problems
    with the other files."""
    return folders.discover(root, landing_file, lambda f: (f.tahun, f.kode_desa, str(f.path)),
                            suffix=".json", missing="no IDM landing folder")


# --- reading one response -------------------------------------------------------------------


class _Number(str):
    """A JSON number, kept as its literal text."""


def _text(value: Any) -> str | None:
    """A JSON value as the text kept in raw: numbers as spelled, true/false, null as NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    return _as_json(value)


def _as_json(value: Any) -> str:
    """Compact JSON as the API writes it, numbers as they were spelled."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_as_json(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_as_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def parse_response(data: bytes) -> dict[str, Any]:
    """The response's JSON object, or BatchRejected saying why it is not one."""
    if not data.strip():
        raise BatchRejected("empty file: no JSON response")
    try:
        text, _ = encoding.decode(data)
    except encoding.NotText as err:
        raise BatchRejected(str(err)) from None
    try:
        doc = json.loads(text, parse_float=_Number, parse_int=_Number, parse_constant=_Number)
    except json.JSONDecodeError as err:
        raise BatchRejected(
            f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno} "
            "(truncated or malformed response)"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("mapData"), dict):
        raise BatchRejected("no mapData object: not an IDM rumusan API response")
    status, error = _text(doc.get("status")), doc.get("error")
    if (status is not None and status != "200") or error not in (None, False):
        raise BatchRejected(f"the API answered status {status}, error {_text(error)}")
    unknown = sorted(set(doc["mapData"]) - set(MAP_KEYS))
    if unknown:
        raise BatchRejected(f"unknown key(s) in mapData: {', '.join(unknown)}")
    if not isinstance(doc["mapData"].get("ROW"), list):
        raise BatchRejected("mapData.ROW is missing or not a list")
    return doc


def _object(value: Any, name: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """An optional object of known fields (absent: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BatchRejected(f"{name} is not an object")
    unknown = [k for k in value if k not in fields]
    if unknown:
        raise BatchRejected(f"unknown field(s) in {name}: {', '.join(unknown)}")
    return value


def _identity(value: Any) -> dict[str, Any]:
    """IDENTITAS: a list holding one object (or the object itself); absent in some years."""
    if isinstance(value, list):
        if len(value) > 1:
            raise BatchRejected(f"mapData.IDENTITAS describes {len(value)} villages, not one")
        value = value[0] if value else None
    return _object(value, "mapData.IDENTITAS", IDENTITY_FIELDS)


def _summary_label(item: dict[str, Any]) -> tuple[str, str] | None:
    match = _SUMMARY_LABEL.match(" ".join(str(item.get("INDIKATOR") or "").split()))
    return (match.group(1), match.group(2)) if match else None


def _closing_rows(rows: list[Any]) -> dict[str, int]:
    """Position of the index row closing each dimension; each must be there exactly once."""
    found: dict[str, list[int]] = {d: [] for d in DIMENSIONS}
    for position, item in enumerate(rows):
        if isinstance(item, dict) and item.get("NO") is None:
            label = _summary_label(item)
            if label and label[0] in found:
                found[label[0]].append(position)
    wrong = [f"{d} {len(p)} times" for d, p in found.items() if len(p) != 1]
    if wrong:
        raise BatchRejected(
            "mapData.ROW must close each dimension with one index row (IKS, IKE, IKL <year>): "
            + ", ".join(wrong)
        )
    return {d: p[0] for d, p in found.items()}


def _indicator(item: dict[str, Any], number: int, dimension: str | None,
               kode_desa: str, tahun: str) -> Record:
    no, score = _text(item.get("NO")), _text(item.get("SKOR"))
    problem: tuple[str, str, str | None] | None = None
    if dimension is None:
        problem = ("indicator row after the last dimension (IKL) index row", "NO", no)
    elif not _WHOLE.match(no.strip()):
        problem = ("indicator number is not a whole number", "NO", no)
    elif not 1 <= int(no) <= DIMENSIONS[dimension]:
        problem = (f"unknown indicator number {no.strip()} for {dimension} "
                   f"(1-{DIMENSIONS[dimension]})", "NO", no)
    elif score is None:
        problem = ("score missing", "SKOR", None)
    elif not _DECIMAL.match(score.strip()):
        problem = ("score is not a number", "SKOR", score)
    if problem is not None:  # the item as received is kept for rejected ones only
        return Record(number, None, _as_json(item), *problem)
    values = [kode_desa, tahun, dimension, no, _text(item.get("INDIKATOR")), score]
    # a plain string is its own text: most values are, and a file has 50 items
    values += [v if type(v) is str else _text(v) for v in map(item.get, _OPTIONAL_FIELDS)]
    return Record(number, values)


def read_idm_json(path: Path, spec: DatasetSpec, *, kode_desa: str, tahun: str
                  ) -> Iterator[Part]:
    """Reader of one response: its indicator items, then its one summary record."""
    doc = parse_response(path.read_bytes())
    mapdata = doc["mapData"]
    rows: list[Any] = mapdata["ROW"]
    summaries = _object(mapdata.get("SUMMARIES"), "mapData.SUMMARIES", SUMMARY_FIELDS)
    identity = _identity(mapdata.get("IDENTITAS"))
    for number, item in enumerate(rows, start=1):
        if isinstance(item, dict) and not _ITEM_KEYS.issuperset(item):
            unknown = [k for k in item if k not in ITEM_FIELDS]
            if unknown:
                raise BatchRejected(
                    f"unknown field(s) {', '.join(unknown)} in mapData.ROW item {number}"
                )
    closing = _closing_rows(rows)

    indicators: list[Record] = []
    published: dict[str, str | None] = {}
    years: list[str] = []
    for position, item in enumerate(rows):
        number = position + 1
        if not isinstance(item, dict):
            indicators.append(Record(number, None, _as_json(item), "ROW item is not an object"))
            continue
        if item.get("NO") is not None:
            after = [(p, d) for d, p in closing.items() if p > position]
            dimension = min(after)[1] if after else None
            indicators.append(_indicator(item, number, dimension, kode_desa, tahun))
            continue
        label = _summary_label(item)
        if label is None:
            indicators.append(Record(number, None, _as_json(item),
                                     "neither an indicator (no NO) nor an index row "
                                     "(IKS, IKE, IKL, IDM, STATUS IDM <year>)",
                                     "INDIKATOR", _text(item.get("INDIKATOR"))))
            continue
        column = SUMMARY_ROWS[label[0]]
        if column in published:
            indicators.append(Record(number, None, _as_json(item), "duplicate index row",
                                     "INDIKATOR", _text(item.get("INDIKATOR"))))
            continue
        published[column] = _text(item.get("SKOR"))
        years.append(label[1])

    yield Part(INDICATORS, list(INDICATORS.columns), indicators, "indicators")

    summary = {
        "kode_desa": kode_desa,
        "tahun": tahun,
        "api_status": _text(doc.get("status")),
        "api_error": _text(doc.get("error")),
        **{column: published.get(column) for column in SUMMARY_ROWS.values()},
        "row_tahun": ",".join(sorted(set(years))) or None,
        **{f.lower(): _text(summaries.get(f)) for f in SUMMARY_FIELDS if f != "TAHUN"},
        "summaries_tahun": _text(summaries.get("TAHUN")),
        **{f: _text(identity.get(f)) for f in IDENTITY_FIELDS},
    }
    yield Part(SUMMARIES, list(SUMMARIES.columns),
               [Record(SUMMARY_RECORD, [summary[c] for c in SUMMARIES.columns])], "summary")
