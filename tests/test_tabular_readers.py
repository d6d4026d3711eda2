"""The readers shared by the survey, BUMDes and OJK sources, without a database: CSV of either
delimiter, XLSX with title rows, broken workbooks, Indonesian numbers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lumbung.generate.exports import truncate, write_csv, write_xlsx
from lumbung.landing import BatchRejected
from lumbung.sources.spreadsheet import read_sheet
from lumbung.sources.tabular import (
    Column,
    Layout,
    amount,
    checked,
    parse_id_number,
    read_delimited,
    required,
    village_code,
)

LAYOUT = Layout.of("test", "things", "things", (
    Column("Kode Desa", "kode_desa"),
    Column("Nilai (Rp)", "nilai"),
    Column("Catatan", "catatan", required=False),
))
HEADER = ["Kode Desa", "Nilai (Rp)", "Catatan"]
ROWS = [["18.01.04.2001", "1.234.567,00", "a"], ["1801042002", "Rp 5.000,-", None],
        ["18.20.04.2003", "7", "unknown regency"], ["1801042004", "1.2OO", "letter O"],
        ["18.01.04.2001", "9", "duplicate code"]]
CHECKS = {"kode_desa": required(village_code), "nilai": required(amount)}


def _problems(header, records) -> dict[int, str | None]:
    return {r.number: r.problem for r in checked(records, header, CHECKS, key=("kode_desa",))}


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_of_either_delimiter_is_read_and_checked(tmp_path: Path, delimiter: str):
    path = tmp_path / "things.csv"
    write_csv(path, HEADER, ROWS, delimiter=delimiter, bom=delimiter == ";")
    header, records = read_delimited(path, LAYOUT)
    assert header == ["kode_desa", "nilai", "catatan"]
    problems = _problems(header, records)
    assert list(problems) == [2, 3, 4, 5, 6]  # file lines
    assert problems[2] is None and problems[3] is None
    assert "unknown village code" in problems[4]
    assert "not a number" in problems[5]
    assert problems[6] == "duplicate row: same kode_desa as row 2"


def test_xlsx_header_is_found_below_title_rows_and_rows_keep_their_numbers(tmp_path: Path):
    path = tmp_path / "things.xlsx"
    (numbers,) = write_xlsx(path, [("Data", [["LAPORAN"], ["Periode 2024"], []], HEADER,
                                    ROWS)])
    assert numbers == [5, 6, 7, 8, 9]
    header, lazy = read_sheet(path, LAYOUT)
    assert header == ["kode_desa", "nilai", "catatan"]
    records = list(lazy)
    assert [r.number for r in records] == numbers
    assert records[0].values == ["18.01.04.2001", "1.234.567,00", "a"]


def test_xlsx_with_data_above_its_header_is_rejected(tmp_path: Path):
    path = tmp_path / "sorted.xlsx"
    write_xlsx(path, [("Data", [["LAPORAN"], ROWS[0]], HEADER, ROWS[1:])])
    with pytest.raises(BatchRejected, match="above the header"):
        read_sheet(path, LAYOUT)


def test_truncated_or_foreign_workbook_is_rejected(tmp_path: Path):
    path = tmp_path / "cut.xlsx"
    write_xlsx(path, [("Data", [], HEADER, ROWS * 50)])
    truncate(path)
    with pytest.raises(BatchRejected, match="not a readable XLSX"):
        read_sheet(path, LAYOUT)
    renamed = tmp_path / "really.xlsx"
    renamed.write_text("Kode Desa,Nilai (Rp)\n")
    with pytest.raises(BatchRejected, match=r"UTF-8 text \(a CSV file\?\), not an XLSX"):
        read_sheet(renamed, LAYOUT)


def test_missing_and_unknown_columns_reject_the_file(tmp_path: Path):
    path = tmp_path / "other.csv"
    write_csv(path, ["Kode Desa", "Jumlah"], [["1801042001", "1"]])
    with pytest.raises(BatchRejected, match=r"missing column\(s\) 'Nilai \(Rp\)'.*unknown"):
        read_delimited(path, LAYOUT)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.234.567,89", Decimal("1234567.89")), ("Rp 1.234.567,-", Decimal(1234567)),
     ("Rp. 5.000.000", Decimal(5000000)), ("(1.234)", Decimal(-1234)), ("-250", Decimal(-250)),
     ("12,5", Decimal("12.5")), ("1234567.5", Decimal("1234567.5")), ("1.234", Decimal(1234)),
     ("1.25O.000", None), ("n/a", None), ("", None), ("1,234,567", None)],
)
def test_indonesian_numbers(text: str, value: Decimal | None):
    assert parse_id_number(text) == value
