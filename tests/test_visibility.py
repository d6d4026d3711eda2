"""A delivery becomes visible to dbt whole or not at all (lumbung.visibility): a gate run
releases every batch it accepted in one transaction at its end, and a dbt build reads only
what was released before it started, whichever runs when."""

from __future__ import annotations

import shutil
import threading
import time

from lumbung import visibility
from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import batches, survey

YEAR = 2019  # a year no other module lands survey data for
REGENCIES = ("1801", "1802")


def _fake_batch(db, name: str, status: str) -> int:
    return db.execute(
        """
        insert into audit.load_batches (source, dataset, file_name, file_path, content_hash,
            file_bytes, rows_received, rows_loaded, rows_quarantined, status)
        values ('test_visibility', 'x', %s, %s, md5(%s), 1, 1, 1, 0, %s)
        returning batch_id
        """,
        (name, name, name, status),
    ).fetchone()[0]


def test_release_numbers_every_accepted_batch_at_once(db, warehouse):
    ids = [_fake_batch(db, f"v{i}", status)
           for i, status in enumerate(("validated", "validated", "failed", "loaded"))]
    try:
        before = visibility.pin(warehouse)
        number = visibility.release(warehouse, ids)
        assert number is not None and number > before
        rows = dict(db.execute(
            "select batch_id, visible_seq from audit.load_batches where batch_id = any(%s)",
            (ids,)).fetchall())
        # the accepted ones share the number; the others stay invisible
        assert [rows[i] for i in ids] == [number, number, None, None]
        assert visibility.pin(warehouse) == number
        # running it again releases nothing more
        assert visibility.release(warehouse, ids) is None
        assert visibility.release(warehouse, []) is None
    finally:
        db.execute("delete from audit.load_batches where source = 'test_visibility'")


def _survey_year(db) -> dict[str, int]:
    return dict(db.execute(
        "select left(village_code, 4), count(*) from staging.stg_survey__responses "
        "where survey_year = %s group by 1", (YEAR,)).fetchall())


def test_a_build_while_a_gate_is_half_way_sees_none_of_its_delivery(
        paths, warehouse, db, tmp_path, monkeypatch):
    """The overlap scenario, forced: the gate stops once it has accepted both regencies'
    files (judged together, pause hook) and before releasing them, a dbt build of the survey
    staging runs meanwhile and sees neither; released at the gate's end, the next build sees
    both."""
    generate(GenerateConfig(out=tmp_path / "generated", regencies=REGENCIES, years=(YEAR,),
                            seed=5, sources=("survey",)))
    landing = tmp_path / "landing"
    shutil.copytree(tmp_path / "generated" / "survey", landing / "survey")
    landed = survey.land(warehouse, landing)
    assert len(landed["batches"]) == 2

    flag = tmp_path / "hold-the-gate"
    flag.touch()
    monkeypatch.setenv(batches.PAUSE_ENV, str(flag))
    outcome: dict = {}
    gate = threading.Thread(target=lambda: outcome.update(survey.gate(warehouse, landed)))
    gate.start()
    try:
        reached = tmp_path / "hold-the-gate.reached"
        deadline = time.monotonic() + 600
        while not reached.exists():
            assert gate.is_alive(), "the gate ended without pausing"
            assert time.monotonic() < deadline, "the gate never reached its pause"
            time.sleep(0.2)
        statuses = db.execute(
            "select status, visible_seq from audit.load_batches where batch_id = any(%s) "
            "order by batch_id", ([b["batch_id"] for b in landed["batches"]],)).fetchall()
        # half-way: every file accepted, none released
        assert statuses == [("validated", None), ("validated", None)]

        survey.transform(paths, warehouse)  # what the marts DAG would build now
        assert _survey_year(db) == {}
    finally:
        flag.unlink()
        gate.join(timeout=600)
    assert outcome["released"] is not None

    survey.transform(paths, warehouse)
    assert set(_survey_year(db)) == set(REGENCIES)

