"""Landing files into raw: every row loaded or quarantined with a reason, bad files rejected."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from lumbung.landing import DatasetSpec, land_csv

# The districts raw table under a test-only source name, so no pipeline ever reads these rows.
SPEC = DatasetSpec(
    "landing_test", "districts", "raw", "kemendagri_districts",
    required=("code", "code_10", "name", "parent_code"),
    optional=("lat_centroid", "lng_centroid"),
)
HEADER = b"code,code_10,name,parent_code\n"


@pytest.fixture()
def conn(warehouse):
    with psycopg.connect(warehouse.url()) as conn:
        yield conn


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _batch(conn, batch_id):
    return conn.execute(
        "select status, rows_received, rows_loaded, rows_quarantined, status_reason "
        "from audit.load_batches where batch_id = %s", (batch_id,)
    ).fetchone()


def test_good_and_bad_rows_are_all_accounted_for(conn, tmp_path, request):
    content = (
        "\ufeff".encode() + HEADER
        + b"18.01.04,180104,Natar,18.01\n"
        + b"18.01.05,180105,Tanjung Bintang\n"           # a field short
        + b"18.01.06,180106,Kalianda,18.01,extra,x,y\n"  # too many fields
        + b"\n"                                           # blank line: no record
        + b'18.01.07,180107,"Way \xff Ratu",18.01\n'      # not UTF-8
        + b'18.01.08,180108,"Quoted, with comma",18.01\n'
    )
    path = _write(tmp_path, f"{request.node.name}.csv", content)
    outcome = land_csv(conn, SPEC, path, "p1")
    assert (outcome.rows_received, outcome.rows_loaded, outcome.rows_quarantined) == (5, 2, 3)
    status, received, loaded, quarantined, _ = _batch(conn, outcome.batch_id)
    assert (status, received, loaded, quarantined) == ("loaded", 5, 2, 3)
    raw = conn.execute(
        "select code, name from raw.kemendagri_districts where _batch_id = %s order by 1",
        (outcome.batch_id,),
    ).fetchall()
    assert raw == [("18.01.04", "Natar"), ("18.01.08", "Quoted, with comma")]
    reasons = conn.execute(
        "select row_number, reason, column_name, raw_record from audit.quarantine "
        "where batch_id = %s order by row_number", (outcome.batch_id,)
    ).fetchall()
    assert [r[1] for r in reasons] == [
        "expected 4 fields, found 3", "expected 4 fields, found 7", "not valid UTF-8 text",
    ]
    assert reasons[2][2] == "name" and "Way" in reasons[2][3]
    assert [r[0] for r in reasons] == [3, 4, 6]  # the file line each record starts on


def test_same_file_twice_lands_once(conn, tmp_path, request):
    path = _write(tmp_path, f"{request.node.name}.csv", HEADER + b"18.02.01,180201,A,18.02\n")
    first = land_csv(conn, SPEC, path, "p2")
    again = land_csv(conn, SPEC, path, "p2")
    assert not first.already_landed and again.already_landed
    assert again.batch_id == first.batch_id
    rows = conn.execute(
        "select count(*) from raw.kemendagri_districts where _batch_id = %s", (first.batch_id,)
    ).fetchone()[0]
    assert rows == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"code,code_10,parent_code\n18.01.04,180104,18.01\n", "missing column(s) name"),
        (b"code,code_10,name,parent_code,colour\n1,2,3,4,5\n", "unknown column(s) colour"),
    ],
)
def test_files_of_the_wrong_shape_are_rejected_whole(conn, tmp_path, content, reason, request):
    path = _write(tmp_path, "bad.csv", content)
    outcome = land_csv(conn, SPEC, path, request.node.name)
    assert outcome.status == "rejected"
    assert reason in outcome.reason and "bad.csv" in outcome.reason
    status, *_, stored_reason = _batch(conn, outcome.batch_id)
    assert status == "rejected" and reason in stored_reason
    rows = conn.execute(
        "select count(*) from raw.kemendagri_districts where _batch_id = %s",
        (outcome.batch_id,),
    ).fetchone()[0]
    assert rows == 0


def test_a_header_only_file_lands_with_zero_rows_and_a_note(conn, tmp_path, request):
    path = _write(tmp_path, "header_only.csv", HEADER)
    outcome = land_csv(conn, SPEC, path, request.node.name)
    assert (outcome.status, outcome.rows_received, outcome.rows_loaded) == ("loaded", 0, 0)
    assert "no data rows" in outcome.notes
    stored = conn.execute("select rows_received, landing_notes from audit.load_batches "
                          "where batch_id = %s", (outcome.batch_id,)).fetchone()
    assert stored[0] == 0 and "no data rows" in stored[1]
