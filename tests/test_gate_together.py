"""The small sources' deliveries (survey, BUMDes, OJK, programmes) are gated together: every
batch of a dataset judged in one checkpoint run, with the verdicts and messages that gating
them one at a time gives.

Each case lands clean generated files of its own (a seed and year no other module uses),
breaks rules in one batch of a dataset through its raw rows (the readers quarantine such
rows, so files cannot carry them to the gate), gates every batch of the dataset one at a
time, then again through the source's pipeline, and compares.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import psycopg
import pytest
from conftest import ensure_village_master

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import batches
from lumbung.quality import gate
from lumbung.quality.verdict import GateFailed

SEED = 23
YEAR = 2020
# Runs of two batches each (gate.TOGETHER) are checked on a delivery of this year (a
# delivery already gated keeps the rows an earlier case broke), for these cases.
YEAR_BY_TWO = 2016
BY_TWO = ("bumdes", "survey")
REGENCIES = ("1811", "1812", "1813")

# Per case: (source, dataset, raw table, statements breaking rules in the bad batch, where
# {b} is its batch id and {r1}.. the _row_number of its first rows).
CASES = {
    "survey": (
        "survey", "responses", "survey_responses",
        [
            "update raw.survey_responses set kode_desa = null "
            "where _batch_id = {b} and _row_number = {r1}",
            "update raw.survey_responses set kode_desa = '18.99.01.2001' "
            "where _batch_id = {b} and _row_number = {r2}",
            "update raw.survey_responses set timestamp = ' ' "
            "where _batch_id = {b} and _row_number = {r3}",
            "update raw.survey_responses set tahun = '1999' "
            "where _batch_id = {b} and _row_number = {r4}",
        ],
    ),
    "bumdes": (
        "bumdes", "registry", "bumdes_registry",
        [
            "update raw.bumdes_registry set id = (select id from raw.bumdes_registry "
            "where _batch_id = {b} and _row_number = {r1}) "
            "where _batch_id = {b} and _row_number = {r2}",
            "update raw.bumdes_registry set status_badan_hukum = 'Bubar' "
            "where _batch_id = {b} and _row_number = {r3}",
            "update raw.bumdes_registry set tanggal_berdiri = '2020/01/02' "
            "where _batch_id = {b} and _row_number = {r4}",
            "update raw.bumdes_registry set nama = '' "
            "where _batch_id = {b} and _row_number = {r5}",
        ],
    ),
    "ojk_kur": (
        "ojk", "kur", "ojk_kur",
        [
            "update raw.ojk_kur set skema = 'Besar' where _batch_id = {b} and _row_number = {r1}",
            "update raw.ojk_kur set kode_kecamatan = '18.0' "
            "where _batch_id = {b} and _row_number = {r2}",
            "update raw.ojk_kur set penyalur = null where _batch_id = {b} and _row_number = {r3}",
        ],
    ),
    "ojk_access": (
        "ojk", "access_points", "ojk_agents",
        [
            "update raw.ojk_agents set jumlah_agen = 'x' "
            "where _batch_id = {b} and _row_number = {r1}",
            "delete from raw.ojk_offices where _batch_id = {b}",
        ],
    ),
    "programmes": (
        "programmes", "sipd_regency", "programmes_sipd_regency",
        [
            "update raw.programmes_sipd_regency set _lokasi_tingkat = 'kota' "
            "where _batch_id = {b} and _row_number = {r1}",
            "update raw.programmes_sipd_regency set kode_sub_kegiatan = '1.2' "
            "where _batch_id = {b} and _row_number = {r2}",
            "update raw.programmes_sipd_regency set perangkat_daerah = null "
            "where _batch_id = {b} and _row_number = {r3}",
            "update raw.programmes_sipd_regency set pagu = 'banyak' "
            "where _batch_id = {b} and _row_number = {r4}",
        ],
    ),
}


# What gating the bad batch alone said before these suites became queries by batch (their
# column rules were GX column expectations then): the gate must still say exactly this.
BEFORE = json.loads((Path(__file__).parent / "fixtures" / "gate_together_before.json")
                    .read_text())


def _land(source: str, warehouse, tmp_path: Path, year: int = YEAR) -> dict:
    if source == "programmes":
        ensure_village_master(warehouse)  # locations are matched against it
    generate(GenerateConfig(out=tmp_path, regencies=REGENCIES, years=(year,), seed=SEED, defects=0,
                            sources=(source,)))
    return importlib.import_module(f"lumbung.pipelines.{source}").land(warehouse, tmp_path)


def _reset(conn: psycopg.Connection, ids: list[int]) -> None:
    conn.execute("update audit.load_batches set status = 'loaded', status_reason = null "
                 "where batch_id = any(%s)", (ids,))


@pytest.mark.parametrize(("case", "per_run"), [
    *((case, None) for case in sorted(CASES)), *((case, 2) for case in BY_TWO)])
def test_a_delivery_is_judged_in_one_run_as_one_at_a_time(case, per_run, warehouse, tmp_path,
                                                          monkeypatch, caplog):
    """Also with runs of two batches each (``gate.TOGETHER``): the same verdicts, a run per
    two batches, and a line in the log per rule of each run."""
    source, dataset, table, breaks = CASES[case]
    if per_run is not None:
        monkeypatch.setattr(gate, "TOGETHER", per_run)
    landed = _land(source, warehouse, tmp_path, YEAR if per_run is None else YEAR_BY_TWO)
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(
            "select batch_id from audit.load_batches where batch_id = any(%s) "
            "and dataset = %s and status <> 'rejected' order by batch_id",
            ([b["batch_id"] for b in landed["batches"] if b.get("batch_id")], dataset))]
        assert len(ids) >= 3, f"{case}: {len(ids)} batch(es) only"
        bad = ids[len(ids) // 2]
        rows = [r[0] for r in conn.execute(
            f"select _row_number from raw.{table} where _batch_id = %s "
            "order by _row_number limit 5", (bad,))]
        numbers = {f"r{n}": row for n, row in enumerate(rows, start=1)}
        for statement in breaks:
            conn.execute(statement.format(b=bad, **numbers))
        _reset(conn, ids)

    runs: list[str] = []
    checkpoint = gate.run_checkpoint

    def counted(spec, *args, run_name, **kwargs):
        runs.append(f"{spec.name} {run_name}")
        return checkpoint(spec, *args, run_name=run_name, **kwargs)

    monkeypatch.setattr(gate, "run_checkpoint", counted)
    # this module's batches stay invisible to dbt (other modules build staging)
    monkeypatch.setattr(batches, "release", lambda *args, **kwargs: None)

    one_by_one = {i: gate.validate_batch(warehouse.url(), i) for i in ids}
    assert len(runs) == len(ids)
    assert [i for i, r in one_by_one.items() if not r.passed] == [bad]
    found = one_by_one[bad].failures + one_by_one[bad].warnings
    if per_run is None:  # the messages name the year
        assert [f.describe() for f in found] == BEFORE[case]

    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        _reset(conn, ids)
    runs.clear()
    together: dict[int, gate.GateResult] = {}
    validate_batches = gate.validate_batches

    def kept(*args, **kwargs):
        results = validate_batches(*args, **kwargs)
        together.update((r.batch_id, r) for r in results)
        return results

    monkeypatch.setattr(gate, "validate_batches", kept)
    caplog.set_level("INFO", logger="lumbung.quality.one_pass")
    caplog.clear()
    pipeline = importlib.import_module(f"lumbung.pipelines.{source}")
    subset = {"batches": [b for b in landed["batches"] if b.get("batch_id") in ids],
              "problems": []}
    try:
        pipeline.gate(warehouse, subset)
    except GateFailed as failed:
        assert failed.problems == [one_by_one[bad].message()]
    # the whole delivery of the dataset in one checkpoint run, or one per two batches
    assert len(runs) == (1 if per_run is None else -(-len(ids) // per_run)), runs
    assert all(run.split()[1].startswith("batches-") for run in runs), runs
    spec = gate.suite_for(source, dataset)
    checked = [r.getMessage() for r in caplog.records if " checked in " in r.getMessage()]
    for rule in spec.rules:
        assert sum(f"rule '{rule.rule}' checked in " in m for m in checked) == len(runs), rule
    assert sorted(together) == ids
    for i in ids:
        assert together[i].passed == one_by_one[i].passed, i
        assert together[i].message() == one_by_one[i].message(), i
        assert [o.unexpected_count for o in together[i].outcomes] == [
            o.unexpected_count for o in one_by_one[i].outcomes]
