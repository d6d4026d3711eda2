"""Which regency a landed file, or one of its quarantined rows, belongs to.

The workbooks go to the people who fix the source data, regency by regency, so every
problem needs a regency. In order of trust:

1. the batch's partition when the source partitions by regency or village (APBDes
   ``<regency>/<year>``, IDM ``<year>/<kode_desa>``);
2. the row's own village or district code: the ``kode_desa`` / ``Kd_Desa`` of a JSON item,
   or the field of a delimited record that is a whole Lampung village or district code
   (quarantined rows are kept as received, without their header, so the code is found by
   its shape; a code of no Lampung regency, e.g. ``18.20...``, names none);
3. a regency code in the file name (``survei_smart_village_2024_1811.csv``), for exports
   delivered one file per regency.

Otherwise the problem is the province's (province-wide files such as OJK's, or a row whose
code names no regency).
"""

from __future__ import annotations

import csv
import json
import re

from lumbung.families import BY_NAME

# Kemendagri regency codes of Lampung (province 18): 13 kabupaten and 2 kota.
LAMPUNG_REGENCIES = frozenset({f"18{n:02d}" for n in range(1, 14)} | {"1871", "1872"})
PROVINCE_CODE = "18"

_CODE_FIELD = re.compile(r"^(\d{2})\.?(\d{2})\.?\d{2}(?:\.?[12]\d{3})?$")
_FILE_NAME_REGENCY = re.compile(r"(?<![0-9])(18\d{2})(?![0-9])")
_JSON_CODE_KEYS = ("kode_desa", "Kd_Desa", "kode_kecamatan", "village_code")


def _lampung(code: str | None) -> str | None:
    return code if code in LAMPUNG_REGENCIES else None


def partition_regency(source: str, partition_key: str) -> str | None:
    """The regency a batch's partition names, for sources partitioned by regency or desa
    (declared by their family, ``lumbung.families``)."""
    family = BY_NAME.get(source)
    return _lampung(family.regency.of_partition(partition_key)) if family else None


def file_name_regency(file_path: str) -> str | None:
    """The one Lampung regency code in a file's name (not its folders), if exactly one."""
    name = file_path.replace("\\", "/").rsplit("/", 1)[-1]
    codes = {c for c in _FILE_NAME_REGENCY.findall(name) if c in LAMPUNG_REGENCIES}
    return codes.pop() if len(codes) == 1 else None


def code_regency(value: object) -> str | None:
    """The regency of a whole village or district code (dotted or digits), if in Lampung."""
    found = _CODE_FIELD.match(str(value).strip()) if value is not None else None
    if not found or found.group(1) != PROVINCE_CODE:
        return None
    return _lampung(found.group(1) + found.group(2))


def row_regency(raw_record: str) -> str | None:
    """The regency of a quarantined record from its own village or district code."""
    text = (raw_record or "").strip()
    if text.startswith("{"):
        try:
            item = json.loads(text)
        except ValueError:
            item = None
        if isinstance(item, dict):
            for key in _JSON_CODE_KEYS:
                if key in item:
                    return code_regency(item[key])
            return None
    delimiter = ";" if text.count(";") > text.count(",") else ","
    try:
        fields = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        fields = text.split(delimiter)
    for value in fields:
        if _CODE_FIELD.match(value.strip()):
            return code_regency(value)
    return None


def batch_regency(source: str, partition_key: str, file_path: str) -> str | None:
    """The regency a whole file belongs to, when it is one regency's (else None)."""
    return partition_regency(source, partition_key) or file_name_regency(file_path)


def quarantined_row_regency(
    source: str, partition_key: str, file_path: str, raw_record: str
) -> str | None:
    """The regency of one quarantined row (see the module docstring for the order)."""
    return (partition_regency(source, partition_key) or row_regency(raw_record)
            or file_name_regency(file_path))
