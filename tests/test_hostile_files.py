"""Files a careless or hostile sender can deliver: other encodings, disguised spreadsheets,
archive bombs, giant fields, header-only files and failing readers. Each gets exactly one
batch row and a verdict, at a bounded cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest

from lumbung.landing import BatchRejected, DatasetSpec, land_csv, land_file
from lumbung.sources import apbdes

# The districts raw table under a test-only source name, so no pipeline reads these rows.
SPEC = DatasetSpec(
    "hostile_test", "districts", "raw", "kemendagri_districts",
    required=("code", "code_10", "name", "parent_code"),
    optional=("lat_centroid", "lng_centroid"),
)
DISTRICTS = "code,code_10,name,parent_code\r\n18.01.04,180104,Natar,18.01\r\n" \
            "18.01.05,180105,Jati Agung \u2013 Sukadamai \u00e9,18.01\r\n"
FLAT_HEADER = "Tahun;Kd_Desa;Kd_Akun;Kd_Keg;Kd_Rincian;Nilai_Anggaran;Nilai_Realisasi\r\n"
FLAT_SPEC = apbdes.BATCH_SPECS[apbdes.FLAT]


def flat_rows(n: int, first: int = 0) -> str:
    return "".join(f"2024;1801012001;5.1.1;01.01;5.1.1.{i:05d};1.234.{i % 1000:03d},00;"
                   f"1.000,00\r\n" for i in range(first, first + n))


@pytest.fixture()
def conn(warehouse):
    with psycopg.connect(warehouse.url()) as conn:
        yield conn


def _batches(conn, path: Path) -> list[tuple]:
    return conn.execute(
        "select batch_id, status, rows_received, rows_loaded, rows_quarantined, status_reason, "
        "landing_notes from audit.load_batches where file_name = %s", (path.name,)).fetchall()


def _districts(conn, batch_id: int) -> list[tuple]:
    return conn.execute("select code, name from raw.kemendagri_districts where _batch_id = %s "
                        "order by _row_number", (batch_id,)).fetchall()


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "cp1252", "utf-8-sig", "utf-8"])
def test_text_in_each_recognised_encoding_lands_with_the_right_values(conn, tmp_path, codec):
    text = DISTRICTS
    data = ("\ufeff" + text).encode("utf-16-be") if codec == "utf-16-be" else text.encode(codec)
    path = tmp_path / f"districts_{codec}.csv"
    path.write_bytes(data)
    outcome = land_csv(conn, SPEC, path, f"enc-{codec}")
    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 2, 0)
    assert _districts(conn, outcome.batch_id) == [
        ("18.01.04", "Natar"), ("18.01.05", "Jati Agung \u2013 Sukadamai \u00e9")]
    if codec in ("utf-16", "utf-16-be", "cp1252"):
        assert "read as" in outcome.notes  # the gate reports it as a warning


def test_a_utf16_flat_apbdes_file_lands_its_amounts(conn, tmp_path):
    path = tmp_path / "apbdes_1801_2024.csv"
    path.write_bytes((FLAT_HEADER + flat_rows(50)).encode("utf-16"))
    outcome = land_file(conn, FLAT_SPEC, path, "hostile/utf16", reader=apbdes.read_flat)
    assert (outcome.status, outcome.rows_received, outcome.rows_loaded) == ("loaded", 50, 50)
    amounts = conn.execute("select nilai_anggaran from raw.apbdes_flat where _batch_id = %s "
                           "order by _row_number limit 2", (outcome.batch_id,)).fetchall()
    assert amounts == [("1.234.000,00",), ("1.234.001,00",)]


@pytest.mark.parametrize(("content", "named"), [
    (b"\x00\x00\xfe\xff" + "a".encode("utf-32-be"), "UTF-32"),
    ("code,code_10,name,parent_code\n1,2,3,4\n".encode("utf-16-le"), "UTF-16 LE text without"),
    (b"%PDF-1.4\n%\xe2\xe3\n", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "legacy Excel 97-2003"),
])
def test_text_that_cannot_be_read_is_rejected_naming_what_it_is(conn, tmp_path, content, named,
                                                                request):
    path = tmp_path / f"{request.node.callspec.id}.csv"
    path.write_bytes(content)
    outcome = land_csv(conn, SPEC, path, request.node.name)
    assert outcome.status == "rejected" and named in outcome.reason
    assert "CSV UTF-8" in outcome.reason or "not text" in outcome.reason
    assert len(_batches(conn, path)) == 1


def test_an_error_while_reading_still_leaves_one_rejected_batch(conn, tmp_path):
    path = tmp_path / os.fsdecode(b"broken_\xff\xfe_name.csv")  # an undecodable file name
    path.write_bytes(b"code,code_10,name,parent_code\n1,2,3,4\n")

    def reader(path, spec):
        raise RuntimeError("the reader broke: \udcff\udc00 surrogates in the message")
        yield

    outcome = land_file(conn, SPEC, path, "hostile/broken", reader=reader)
    assert outcome.status == "rejected" and "RuntimeError" in outcome.reason
    stored = conn.execute("select status, status_reason from audit.load_batches "
                          "where batch_id = %s", (outcome.batch_id,)).fetchone()
    assert stored[0] == "rejected" and "the reader broke" in stored[1]


def test_a_header_only_flat_file_is_landed_with_zero_rows_not_one(conn, tmp_path):
    path = tmp_path / "apbdes_1801_2024_header_only.csv"
    path.write_text(FLAT_HEADER)
    outcome = land_file(conn, FLAT_SPEC, path, "hostile/header", reader=apbdes.read_flat)
    assert (outcome.status, outcome.rows_received, outcome.rows_loaded) == ("loaded", 0, 0)
    assert "no data rows" in outcome.notes and "0, loaded 0" in outcome.describe()
    members = conn.execute("select count(*) from raw.apbdes_file_members where _batch_id = %s",
                           (outcome.batch_id,)).fetchone()[0]
    assert members == 1  # the file's inventory is kept, and is not counted as a row
    from lumbung.quality.batch_state import landing_warnings

    (warning,) = landing_warnings(conn, outcome.batch_id)  # what the gate adds to its verdict
    assert warning.severity == "warning" and "no data rows" in warning.detail


def _html_table(rows: list[list[str]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>\n" for r in rows)
    return ("<html><head><meta charset='utf-8'></head><body><table border=1>\n"
            f"{body}</table></body></html>")


def test_an_html_table_saved_as_xlsx_lands_its_rows(conn, tmp_path):
    lines = [line.split(";") for line in (FLAT_HEADER + flat_rows(30)).splitlines()]
    path = tmp_path / "apbdes_1801_2024.xlsx"
    path.write_text(_html_table(lines), encoding="utf-8")
    outcome = land_file(conn, FLAT_SPEC, path, "hostile/html", reader=apbdes.read_flat)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 30, 0)
    assert "HTML table" in outcome.notes
    first = conn.execute("select kd_rincian, nilai_anggaran from raw.apbdes_flat "
                         "where _batch_id = %s order by _row_number limit 1",
                         (outcome.batch_id,)).fetchone()
    assert first == ("5.1.1.00000", "1.234.000,00")


@pytest.mark.parametrize(("content", "named"), [
    (b"%PDF-1.7\n", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "legacy Excel 97-2003"),
    (FLAT_HEADER.encode() + b"2024;1;2;3;4;5;6\n", "text (a CSV file?)"),
    (b"<?xml version='1.0'?><Workbook xmlns='urn:schemas-microsoft-com:office:spreadsheet'>",
     "Excel 2003 XML"),
])
def test_other_formats_under_a_spreadsheet_name_are_rejected_naming_them(
        conn, tmp_path, content, named, request):
    path = tmp_path / f"apbdes_1801_2024_{request.node.callspec.id}.xlsx"
    path.write_bytes(content)
    outcome = land_file(conn, FLAT_SPEC, path, request.node.name, reader=apbdes.read_flat)
    assert outcome.status == "rejected" and named in outcome.reason


def _siskeudes_bomb(path: Path, member_bytes: int) -> None:
    """A Siskeudes zip whose Ta_RABRinci.csv repeats one line to ``member_bytes``."""
    line = (b"2024,1801012001,01.01,5.1.1,01,1,DDS,Semen,sak,1,50.000,00,"
            b"50.000,00,0,0,0,0\n")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("Ta_RABRinci.csv", "w", force_zip64=True) as member:
            block = line * ((1 << 20) // len(line))
            for _ in range(member_bytes // len(block)):
                member.write(block)


def test_an_archive_bomb_is_rejected_before_it_is_expanded(conn, tmp_path):
    path = tmp_path / "siskeudes_1801_2024.zip"
    _siskeudes_bomb(path, 200 << 20)
    assert path.stat().st_size < 2 << 20
    before = conn.execute("select count(*) from audit.quarantine").fetchone()[0]
    outcome = land_file(conn, apbdes.BATCH_SPECS[apbdes.SISKEUDES], path, "hostile/bomb",
                        reader=apbdes.read_siskeudes_zip)
    assert outcome.status == "rejected"
    assert "LUMBUNG_MAX_COMPRESSION_RATIO=100" in outcome.reason
    assert conn.execute("select count(*) from audit.quarantine").fetchone()[0] == before


def test_a_member_larger_than_its_directory_says_is_rejected_while_streaming(
        conn, tmp_path, monkeypatch):
    monkeypatch.setenv("LUMBUNG_MAX_COMPRESSION_RATIO", "100000")
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Ta_RABRinci.csv", b"2024,1801012001\n" * (4 << 16))
    data = bytearray(good.read_bytes())
    # Forge the central directory: the member claims 2 MiB of its 4 (under every limit).
    at = data.rfind(b"PK\x01\x02")
    data[at + 24:at + 28] = (2 << 20).to_bytes(4, "little")
    path = tmp_path / "siskeudes_1801_2023.zip"
    path.write_bytes(bytes(data))
    from lumbung.sources import archive

    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
        assert info.file_size == 2 << 20
        meter = archive.Meter()
        with pytest.raises((BatchRejected, zipfile.BadZipFile)):
            with archive.open_member(zf, info, meter) as fh:
                while fh.read(1 << 20):
                    pass
        assert meter.total <= 2 << 20


def test_quarantining_too_many_rows_rejects_the_file_with_a_summary(
        conn, tmp_path, monkeypatch):
    monkeypatch.setenv("LUMBUNG_MAX_QUARANTINED_ROWS", "100")
    path = tmp_path / "apbdes_1801_2024_many_bad.csv"
    bad = "".join(f"2024;1801012001;5.1.1;01.01;5.1.1.{i:05d};belum;1.000,00\r\n"
                  for i in range(5000))
    path.write_text(FLAT_HEADER + flat_rows(10) + bad)
    before = conn.execute("select count(*) from audit.quarantine").fetchone()[0]
    outcome = land_file(conn, FLAT_SPEC, path, "hostile/many_bad", reader=apbdes.read_flat)
    assert outcome.status == "rejected"
    assert "LUMBUNG_MAX_QUARANTINED_ROWS=100" in outcome.reason
    assert "not an amount" in outcome.reason  # counts by reason
    kept = conn.execute("select count(*) from audit.quarantine where batch_id = %s",
                        (outcome.batch_id,)).fetchone()[0]
    assert 0 < kept <= 20
    after = conn.execute("select count(*) from audit.quarantine").fetchone()[0]
    assert after - before == kept
    loaded = conn.execute("select count(*) from raw.apbdes_flat where _batch_id = %s",
                          (outcome.batch_id,)).fetchone()[0]
    assert loaded == 0


CHILD = """
import json, resource, sys
from pathlib import Path
import psycopg
from lumbung.landing import land_file
from lumbung.sources import apbdes
with psycopg.connect(sys.argv[1]) as conn:
    outcome = land_file(conn, apbdes.BATCH_SPECS[apbdes.FLAT], Path(sys.argv[2]), sys.argv[3],
                        reader=apbdes.read_flat)
print(json.dumps({"status": outcome.status, "reason": outcome.reason,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _land_in_child(warehouse, path: Path, partition: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, warehouse.url(), str(path), partition],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("quoted", [False, True])
def test_a_giant_field_is_rejected_at_the_memory_of_a_normal_file(warehouse, tmp_path, quoted):
    rows = flat_rows(20_000)
    normal = tmp_path / "apbdes_1801_2024.csv"
    normal.write_text(FLAT_HEADER + rows)
    giant = tmp_path / "apbdes_1801_2024_rev1.csv"
    value = "x" * (50 << 20)
    with giant.open("w") as fh:
        fh.write(FLAT_HEADER + rows[: len(rows) // 2])
        field = f'"{value}"' if quoted else value
        fh.write(f"2024;1801012001;5.1.1;01.01;{field};1.000,00;1.000,00\r\n")
        fh.write(rows[len(rows) // 2:])
    base = _land_in_child(warehouse, normal, f"hostile/giant-base-{quoted}")
    big = _land_in_child(warehouse, giant, f"hostile/giant-{quoted}")
    assert base["status"] == "loaded"
    assert big["status"] == "rejected" and "LUMBUNG_MAX_FIELD_CHARS=131072" in big["reason"]
    assert big["peak_kib"] < 2 * base["peak_kib"], (base, big)
