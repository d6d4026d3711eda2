"""`lumbung ingest` gates what it lands: every batch ends with a stored verdict, none stays
``loaded``, and the exit code says whether any was rejected (OJK access reports of Way
Kanan, 18.08, for months of 2031 that no other test lands)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from lumbung.sources import ojk

AGENT_HEADER = [c.label for c in ojk.AGENT_LAYOUT.columns]
OFFICE_HEADER = [c.label for c in ojk.OFFICE_LAYOUT.columns]
AGENTS = [
    [1, "18.08.01.1005", "Blambangan Umpu", "Blambangan Umpu", "Kab. Way Kanan", "BRI", 3],
    [2, "1808012006", "Lembasung", "Blambangan Umpu", "Kab. Way Kanan", "BNI", 1],
]
OFFICES = [
    [1, "18.08.01", "Blambangan Umpu", "Kab. Way Kanan", "BRI", 1, 0, 1, 2],
    [2, "18.08.02", "Kasui", "Kab. Way Kanan", "BNI", 0, 1, 0, 1],
]
# The gate's warning: a bank with a branch office in a district but no ATM there.
NO_ATM = [[1, "18.08.02", "Kasui", "Kab. Way Kanan", "BRI", 1, 0, 0, 0]]


def _report(path: Path, offices: list[list]) -> None:
    book = Workbook()
    agents = book.active
    agents.title = ojk.AGENTS_SHEET
    agents.append(["Laporan Akses Keuangan"])
    for row in (AGENT_HEADER, *AGENTS):
        agents.append(row)
    sheet = book.create_sheet(ojk.OFFICES_SHEET)
    for row in (OFFICE_HEADER, *offices):
        sheet.append(row)
    path.parent.mkdir(parents=True)
    book.save(path)


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    """One folder, four reports: clean, with a gate warning, with its offices sheet left
    empty (the gate fails it), and one that is no workbook (landing rejects it)."""
    root = tmp_path_factory.mktemp("ingest") / "ojk" / "akses"
    _report(root / "periode=2031-01" / "akses_1808.xlsx", OFFICES)
    _report(root / "periode=2031-02" / "akses_1808.xlsx", NO_ATM)
    _report(root / "periode=2031-03" / "akses_1808.xlsx", [])
    broken = root / "periode=2031-04" / "akses_1808.xlsx"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    return root.parent.parent


def lumbung(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lumbung.cli", *args], capture_output=True,
                          text=True, timeout=600)


def _batches(db) -> dict[str, tuple]:
    rows = db.execute(
        "select partition_key, batch_id, status, status_reason, visible_seq "
        "from audit.load_batches where source = 'ojk' and partition_key like '2031-%' "
        "order by batch_id"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.fixture(scope="module")
def ingested(delivery, warehouse):
    return lumbung("ingest", "ojk", str(delivery))


def test_every_batch_ends_with_a_stored_verdict(ingested, db):
    batches = _batches(db)
    assert sorted(batches) == ["2031-01", "2031-02", "2031-03", "2031-04"]
    assert {k: v[1] for k, v in batches.items()} == {
        "2031-01": "validated", "2031-02": "validated", "2031-03": "failed",
        "2031-04": "rejected"}
    assert batches["2031-01"][2] is None  # clean: no reason
    assert "a branch has an ATM" in batches["2031-02"][2]
    assert "offices sheet present" in batches["2031-03"][2]
    # The gate's results are stored for each batch it judged, as a DAG run stores them.
    gated = [batches[k][0] for k in ("2031-01", "2031-02", "2031-03")]
    runs = dict(db.execute("select batch_id, passed from audit.dq_runs "
                           "where batch_id = any(%s)", (gated,)).fetchall())
    assert runs == {gated[0]: True, gated[1]: True, gated[2]: False}


def test_accepted_batches_are_released_to_dbt_as_by_a_dag_run(ingested, db):
    batches = _batches(db)
    released = {k for k, v in batches.items() if v[3] is not None}
    assert released == {"2031-01", "2031-02"}
    assert batches["2031-01"][3] == batches["2031-02"][3]  # one release, all at once


def test_it_prints_each_verdict_and_exits_1_for_a_rejected_batch(ingested):
    assert ingested.returncode == 1, ingested.stderr
    assert "Traceback" not in ingested.stdout + ingested.stderr
    lines = {line.split(":", 1)[0]: line for line in ingested.stdout.splitlines()}
    assert lines["ojk/akses/periode=2031-01/akses_1808.xlsx"].endswith("; accepted")
    assert "accepted with warnings" in lines["ojk/akses/periode=2031-02/akses_1808.xlsx"]
    assert "REJECTED by the gate" in lines["ojk/akses/periode=2031-03/akses_1808.xlsx"]
    assert "offices sheet present" in lines["ojk/akses/periode=2031-03/akses_1808.xlsx"]
    assert "REJECTED at landing" in lines["ojk/akses/periode=2031-04/akses_1808.xlsx"]
    summary = ingested.stdout.splitlines()[-1]
    assert summary.startswith("4 batch(es): 2 accepted (1 with warnings), 1 rejected at "
                              "landing, 1 rejected by the gate")
    assert "released to dbt as visibility #" in summary


def test_ingesting_again_lands_nothing_and_judges_the_failed_batch_again(ingested, delivery,
                                                                        db):
    before = _batches(db)
    again = lumbung("ingest", "ojk", str(delivery))
    assert again.returncode == 1, again.stderr
    assert _batches(db).keys() == before.keys()
    assert {k: v[:2] for k, v in _batches(db).items()} == {k: v[:2] for k, v in before.items()}
    assert again.stdout.count("already landed as batch") == 4
    summary = again.stdout.splitlines()[-1]
    assert "0 rows loaded, 0 quarantined (4 file(s) already landed before)" in summary
    assert "released to dbt" not in summary  # nothing new


def test_one_good_file_exits_0(delivery, warehouse, db):
    good = delivery.parent / "good" / "ojk" / "akses" / "periode=2031-05" / "akses_1808.xlsx"
    _report(good, OFFICES)
    result = lumbung("ingest", "ojk", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _batches(db)["2031-05"][1] == "validated"
    assert result.stdout.splitlines()[-1].startswith("1 batch(es): 1 accepted (0 with warnings)")


def test_a_path_that_is_not_a_file_of_the_source_is_an_error_not_a_traceback(tmp_path,
                                                                             warehouse):
    stray = tmp_path / "stray.xlsx"
    stray.write_bytes(b"")
    result = lumbung("ingest", "ojk", str(stray))
    missing = lumbung("ingest", "ojk", str(tmp_path / "missing.xlsx"))
    for run in (result, missing):
        assert run.returncode == 1
        assert "Traceback" not in run.stderr and run.stderr.startswith("lumbung ingest: ")


def test_help_says_it_gates():
    result = lumbung("ingest", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "quality gate" in text and "exits 1 when any batch was rejected" in text
