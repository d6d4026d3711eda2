"""Small files landed a group per transaction end exactly as landed one by one: the same
batches (loaded, rejected, already landed), rows, quarantined rows and outcomes; and a
group the warehouse refuses is landed again file by file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from conftest import REPO

from lumbung import small_files
from lumbung.landing import land_file
from lumbung.sources import idm

REAL = REPO / "data" / "landing" / "idm" / "tahun=2022"
YEAR = "1999"  # no other test lands IDM responses of this year


def _files(root: Path) -> list[idm.LandingFile]:
    """Real responses moved to YEAR, with a bad item, a truncated file, a file that is not
    text, and the same response again in the API mirror's layout."""
    folder = root / f"tahun={YEAR}"
    folder.mkdir(parents=True)
    real = sorted(REAL.glob("*.json"))[:12]
    for path in real:
        shutil.copy(path, folder / path.name)
    spoiled = json.loads(real[1].read_text(encoding="utf-8"))
    spoiled["mapData"]["ROW"][4]["SKOR"] = "5,0"
    (folder / real[1].name).write_text(json.dumps(spoiled), encoding="utf-8")
    (folder / real[2].name).write_bytes(real[2].read_bytes()[:500])
    (folder / real[3].name).write_bytes(b"\xff\xfe{\x00")
    mirror = root / real[0].stem / f"{YEAR}.json"
    mirror.parent.mkdir()
    shutil.copy(real[0], mirror)
    files, problems = idm.discover(root)
    assert not problems and len(files) == 13
    return files


def _state(db: psycopg.Connection) -> tuple:
    batches = ("select batch_id from audit.load_batches "
               f"where source = 'idm' and partition_key like '{YEAR}/%'")
    return (
        db.execute("select partition_key, content_hash, status, rows_received, rows_loaded, "
                   "rows_quarantined, status_reason, landing_notes, data_origin, file_name, "
                   "file_path, loaded_at is null, finished_at is null "
                   f"from audit.load_batches where batch_id in ({batches}) "
                   "order by 1, 2").fetchall(),
        db.execute("select b.partition_key, to_jsonb(r) - '_batch_id' from raw.idm_indicators "
                   "as r join audit.load_batches as b on b.batch_id = r._batch_id "
                   f"where r._batch_id in ({batches}) order by 1, r._row_number").fetchall(),
        db.execute("select b.partition_key, to_jsonb(r) - '_batch_id' from raw.idm_summaries "
                   "as r join audit.load_batches as b on b.batch_id = r._batch_id "
                   f"where r._batch_id in ({batches}) order by 1").fetchall(),
        db.execute("select b.partition_key, q.row_number, q.reason, q.raw_record "
                   "from audit.quarantine as q join audit.load_batches as b using (batch_id) "
                   f"where q.batch_id in ({batches}) order by 1, 2").fetchall(),
    )


def _forget(db: psycopg.Connection) -> None:
    ids = [r[0] for r in db.execute("select batch_id from audit.load_batches where "
                                    f"source = 'idm' and partition_key like '{YEAR}/%'")]
    for table in ("raw.idm_indicators", "raw.idm_summaries"):
        db.execute(f"delete from {table} where _batch_id = any(%s)", (ids,))
    db.execute("delete from audit.quarantine where batch_id = any(%s)", (ids,))
    db.execute("delete from audit.load_batches where batch_id = any(%s)", (ids,))


def _outcomes(outcomes) -> list[tuple]:
    return [(o.partition_key, o.file_path, o.status, o.rows_received, o.rows_loaded,
             o.rows_quarantined, o.reason, o.already_landed, o.notes) for o in outcomes]


def _one_by_one(url: str, files) -> list:
    with psycopg.connect(url) as conn:
        return [land_file(conn, idm.INDICATORS, f.path, f.partition_key, reader=f.reader,
                          display_path=f.path.name) for f in files]


def _grouped(url: str, files) -> list:
    with psycopg.connect(url) as conn:
        return small_files.land_small_files(conn, idm.INDICATORS, [
            small_files.SmallFile(f.path, f.partition_key, f.reader, f.path.name)
            for f in files])


@pytest.fixture()
def files(tmp_path, db):
    _forget(db)
    yield _files(tmp_path)
    _forget(db)


def test_a_group_lands_as_file_by_file(files, warehouse, db, monkeypatch):
    monkeypatch.setattr(small_files, "GROUP", 5)  # several groups, a duplicate across two
    expected = _outcomes(_one_by_one(warehouse.url(), files))
    state = _state(db)
    statuses = [o[2] for o in expected]
    assert statuses.count("rejected") == 2 and sum(o[5] for o in expected if o[5]) == 1
    assert [o[7] for o in expected].count(True) == 1  # the mirror's copy
    again = _outcomes(_one_by_one(warehouse.url(), files))
    _forget(db)

    assert _outcomes(_grouped(warehouse.url(), files)) == expected
    assert _state(db) == state
    assert _outcomes(_grouped(warehouse.url(), files)) == again


def test_a_refused_group_is_landed_file_by_file(files, warehouse, db, monkeypatch):
    expected = _outcomes(_one_by_one(warehouse.url(), files))
    state = _state(db)
    _forget(db)

    def refuse(conn, new):
        raise psycopg.errors.DataError("refused")

    monkeypatch.setattr(small_files, "_copy_rows", refuse)
    assert _outcomes(_grouped(warehouse.url(), files)) == expected
    assert _state(db) == state
