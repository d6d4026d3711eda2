"""IDM end to end: the 796 real API responses through the idm DAG (real gate, real dbt),
the HTTP fetch against a local server, and generated responses with known defects."""

from __future__ import annotations

import csv
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from conftest import _LANDING, REPO, run_dag, run_source_dag

from lumbung.generate import GenerateConfig, generate
from lumbung.generate import idm as idm_generator
from lumbung.landing import BatchRejected
from lumbung.pipelines.batches import Gated
from lumbung.quality.many_batches import split_by_batch
from lumbung.sources import idm, idm_api

REAL = REPO / "data" / "landing" / "idm"
FIXTURES = REPO / "tests" / "fixtures" / "idm"
REAL_FILES = 796
REAL_INDICATORS = 39_800
# The batches of the real responses (the session's landing holds only those), whichever
# module landed them first: other modules land generated IDM files into the same warehouse.
_REAL_PATHS = sorted(p.relative_to(_LANDING).as_posix() for p in (_LANDING / "idm").rglob("*.json"))
REAL_BATCHES = "source = 'idm' and file_path in ({})".format(
    ", ".join(f"'{path}'" for path in _REAL_PATHS))


def _real_counts(db, batch_column: str, *tables: str) -> tuple[int, ...]:
    """Rows of each table that come from the real files' batches (``batch_column``: the
    tables' batch id column)."""
    return db.execute(
        "select " + ", ".join(
            f"(select count(*) from {table} where {batch_column} in ("
            f"select batch_id from audit.load_batches where {REAL_BATCHES}))"
            for table in tables)
    ).fetchone()


def _csv(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- reading one response (no database) ------------------------------------------------------


def _read(path: Path) -> tuple[list, list]:
    item = idm.landing_file(path)
    indicators, summary = list(item.reader(path, idm.INDICATORS))
    return list(indicators.records), list(summary.records)


def _spoiled(tmp_path: Path, change) -> Path:
    doc = json.loads((REAL / "tahun=2022" / "1801042001.json").read_text(encoding="utf-8"))
    change(doc)
    target = tmp_path / "tahun=2022" / "1801042001.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return target


def test_reader_keeps_values_as_received():
    indicators, (summary,) = _read(REAL / "tahun=2021" / "1801042001.json")
    assert len(indicators) == 50 and all(r.problem is None for r in indicators)
    fourth = dict(zip(idm.INDICATORS.columns, indicators[3].values, strict=True))
    assert indicators[3].number == 4
    assert fourth["dimensi"] == "IKS" and fourth["no"] == "4" and fourth["skor"] == "0"
    assert fourth["nilai"] == "0.00952381" and fourth["row_cell"] == "13"
    ike_first = dict(zip(idm.INDICATORS.columns, indicators[35].values, strict=True))
    assert (indicators[35].number, ike_first["dimensi"], ike_first["no"]) == (37, "IKE", "1")
    values = dict(zip(idm.SUMMARIES.columns, summary.values, strict=True))
    assert summary.number == idm.SUMMARY_RECORD
    assert values["iks"] == "0.85714285714286" and values["penambahan"] == "0.04655238095238001"
    assert values["status_idm"] == "Maju" and values["status"] == "MAJU"
    assert values["row_tahun"] == values["summaries_tahun"] == values["tahun"] == "2021"
    assert values["id_desa"] == values["kode_desa"] == "1801042001"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b'{"status":200,"error":false,"mapData":{"ROW":[{"NO":1,', "not valid JSON"),
        (b'{"status":200,"error":false,"data":null}', "no mapData"),
        (b'{"status":500,"error":true,"mapData":{"ROW":[]}}', "status 500"),
        (b'{"mapData":{"ROW":[]}}', "IKS 0 times"),
    ],
)
def test_reader_rejects_unusable_responses(tmp_path, content, reason):
    path = tmp_path / "tahun=2022" / "1801042001.json"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(BatchRejected, match=reason):
        _read(path)


def test_reader_quarantines_bad_items(tmp_path):
    def spoil(doc):
        rows = doc["mapData"]["ROW"]
        rows[4]["SKOR"] = "5,0"  # item 5
        rows[38]["NO"] = 14  # item 39: IKE has 12 indicators
        rows[50]["SKOR"] = None  # item 51

    indicators, _ = _read(_spoiled(tmp_path, spoil))
    bad = {(r.number, r.column, r.value, r.problem) for r in indicators if r.problem}
    assert bad == {
        (5, "SKOR", "5,0", "score is not a number"),
        (39, "NO", "14", "unknown indicator number 14 for IKE (1-12)"),
        (51, "SKOR", None, "score missing"),
    }
    quarantined = next(r for r in indicators if r.number == 5)
    assert '"SKOR":"5,0"' in quarantined.raw and '"ROW_CELL":14' in quarantined.raw


def test_landing_layouts(tmp_path):
    assert idm.landing_file(Path("idm/tahun=2023/1801042001.json")).tahun == "2023"
    mirror = idm.landing_file(Path("idm_api/1801042001/2024.json"))
    assert (mirror.kode_desa, mirror.tahun) == ("1801042001", "2024")
    with pytest.raises(idm.UnrecognisedFile):
        idm.landing_file(Path("idm/2023/desa.json"))
    # the session's copy: only the vendored responses, not those a `lumbung run` in this
    # working tree generated beside them
    files, problems = idm.discover(_LANDING / "idm")
    assert len(files) == REAL_FILES and problems == []


# --- the generator (no database) ------------------------------------------------------------


def test_generator_profile_is_built_from_the_real_responses():
    assert idm_generator.build_profile(_LANDING / "idm") == idm_generator.profile()


def test_generated_responses_have_the_real_shape(tmp_path):
    config = GenerateConfig(out=tmp_path / "a", regencies=("1812",), years=(2024,), seed=5)
    generate(config)
    generate(GenerateConfig(**{**config.__dict__, "out": tmp_path / "b"}))
    made = sorted((tmp_path / "a" / "idm" / "tahun=2024").glob("*.json"))
    assert len(made) == 100  # the desa of regency 1812 (kelurahan have no IDM)
    assert all(p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes()
               for p in made)
    real = json.loads((REAL / "tahun=2024" / "1801042001.json").read_text(encoding="utf-8"))
    fake = json.loads(made[0].read_text(encoding="utf-8"))

    def layout(doc):
        return [(list(r), r["NO"], r["INDIKATOR"].replace("2024", "<year>"), r["ROW_CELL"])
                for r in doc["mapData"]["ROW"]]

    assert list(fake) == list(real) and list(fake["mapData"]) == list(real["mapData"])
    assert list(fake["mapData"]["SUMMARIES"]) == list(real["mapData"]["SUMMARIES"])
    assert fake["mapData"]["IDENTITAS"][0].keys() == real["mapData"]["IDENTITAS"][0].keys()
    assert layout(fake) == layout(real)
    indicators, (summary,) = _read(made[0])
    values = dict(zip(idm.SUMMARIES.columns, summary.values, strict=True))
    scores = [Decimal(r.values[5]) for r in indicators]
    iks = sum(scores[:35]) / 175
    assert abs(Decimal(values["iks"]) - iks) < Decimal("1e-12")


# --- the DAG over the real responses --------------------------------------------------------


@pytest.fixture(scope="module")
def idm_run(paths, warehouse):
    run_dag("region")  # dim_village, which the staging tests check villages against
    return run_source_dag("idm", paths, warehouse)


def test_run_succeeds_without_the_api(idm_run):
    states = {ti.task_id: str(ti.state) for ti in idm_run.get_task_instances()}
    assert str(idm_run.state) == "success", states
    assert states.pop("fetch_from_api") == "skipped"  # no kemendesa_idm_api connection
    assert set(states.values()) == {"success"}


def test_every_real_response_landed_and_passed_the_gate(idm_run, db):
    rows = db.execute(
        f"""
        select status, count(*), sum(rows_received), sum(rows_loaded), sum(rows_quarantined),
            count(*) filter (where rows_received <> rows_loaded + rows_quarantined)
        from audit.load_batches where {REAL_BATCHES} group by status
        """
    ).fetchall()
    assert rows == [("validated", REAL_FILES, REAL_INDICATORS + REAL_FILES,
                     REAL_INDICATORS + REAL_FILES, 0, 0)]
    counts = _real_counts(db, "_batch_id", "raw.idm_indicators", "raw.idm_summaries")
    assert counts == (REAL_INDICATORS, REAL_FILES)


def test_gate_warns_where_published_iks_disagrees_with_its_scores(idm_run, db):
    warned = db.execute(
        f"""
        select left(partition_key, 4), count(*) from audit.load_batches
        where {REAL_BATCHES} and status_reason like '%%published indices match the scores%%'
        group by 1
        """
    ).fetchall()
    assert warned == [("2024", 27)]


def test_staging_reproduces_the_reference_tables(idm_run, db):
    counts = _real_counts(db, "batch_id", "staging.stg_idm__indicator_scores",
                          "staging.stg_idm__published_index")
    assert counts == (REAL_INDICATORS, REAL_FILES)
    scores = {
        (r[0], r[1], r[2], r[3]): r[4:]
        for r in db.execute(
            "select village_code, year, dimension, indicator_no, score, indicator_name, "
            "keterangan from staging.stg_idm__indicator_scores"
        )
    }
    sample = _csv("indicators_sample.csv")
    for row in sample:
        key = (row["kode_desa"], int(row["tahun"]), row["dimensi"], int(row["no"]))
        assert scores[key] == (Decimal(row["skor"]), row["indikator"], row["keterangan"]), key
    published = {
        (r[0], r[1]): r[2:]
        for r in db.execute(
            "select village_code, year, iks, ike, ikl, idm, status, upper(target_status), "
            "target_min_idm from staging.stg_idm__published_index"
        )
    }
    for row in _csv("published_sample.csv"):
        expected = (*(Decimal(row[c]) for c in ("iks", "ike", "ikl", "idm")), row["status_idm"],
                    row["target_status"], Decimal(row["skor_minimal_target"]))
        assert published[(row["kode_desa"], int(row["tahun"]))] == expected


def test_landing_again_lands_nothing(idm_run, warehouse, landing):
    from lumbung.pipelines.idm import land

    landed = land(warehouse, landing)
    assert len(landed["batches"]) == REAL_FILES and landed["problems"] == []
    assert all(b["already_landed"] and b["status"] == "validated" for b in landed["batches"])


# --- fetching from the API ------------------------------------------------------------------


@pytest.fixture()
def local_api(warehouse):
    """The Kemendesa API on 127.0.0.1, serving two vendored responses; 404 for the rest,
    and the API's no-data answer for 1801042003/2021. (After ``warehouse``: Airflow, which
    reads the connection, must be configured first.)"""
    served = {
        f"/open/api/desa/rumusan/{code}/2021": (REAL / "tahun=2021" / f"{code}.json").read_bytes()
        for code in ("1801042001", "1801042002")
    }
    served["/open/api/desa/rumusan/1801042003/2021"] = b'{"status":200,"error":false}'
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b'{"status":404,"error":true}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_fetch_writes_each_response_once(local_api, monkeypatch, tmp_path):
    url, requests = local_api
    monkeypatch.setenv("AIRFLOW_CONN_KEMENDESA_IDM_API", url)
    base = idm_api.base_url()
    assert base == url
    targets = [("1801042001", 2021), ("1801042002", 2021), ("1801042003", 2021),
               ("1801042004", 2021)]
    first = idm_api.fetch(base, tmp_path, targets)
    assert first.written == ["1801042001/2021", "1801042002/2021"]
    assert first.no_data == ["1801042003/2021", "1801042004/2021"] and first.failed == []
    written = [idm.landing_path(tmp_path, code, 2021) for code in ("1801042001", "1801042002")]
    for path in written:
        assert path.read_bytes() == (REAL / "tahun=2021" / path.name).read_bytes()
    stamps = [p.stat().st_mtime_ns for p in written]
    second = idm_api.fetch(base, tmp_path, targets)
    assert second.unchanged == first.written and second.written == []
    assert [p.stat().st_mtime_ns for p in written] == stamps
    assert requests[0] == "/open/api/desa/rumusan/1801042001/2021" and len(requests) == 8


def test_fetch_needs_the_connection(monkeypatch, tmp_path, warehouse):
    from lumbung.pipelines.idm import fetch

    monkeypatch.delenv("AIRFLOW_CONN_KEMENDESA_IDM_API", raising=False)
    assert idm_api.base_url() is None
    assert fetch(warehouse, tmp_path, [2021]) is None


def test_fetch_asks_for_every_current_desa(idm_run, local_api, monkeypatch, warehouse, tmp_path):
    from lumbung.pipelines.idm import fetch

    url, requests = local_api
    monkeypatch.setenv("AIRFLOW_CONN_KEMENDESA_IDM_API", json.dumps(
        {"conn_type": "http", "host": url}))
    outcome = fetch(warehouse, tmp_path, [2021], regencies=["1801"])
    assert len(requests) == 256  # the current desa of regency 1801 in dim_village
    assert outcome["written"] == ["1801042001/2021", "1801042002/2021"]


def test_dag_fetches_when_the_api_is_configured(idm_run, local_api, monkeypatch, landing):
    from airflow.dag_processing.dagbag import DagBag

    url, requests = local_api
    monkeypatch.setenv("AIRFLOW_CONN_KEMENDESA_IDM_API", url)
    served = [idm.landing_path(landing, code, 2021) for code in ("1801042001", "1801042002")]
    stamps = [p.stat().st_mtime_ns for p in served]
    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("idm")
    dag_run = dag.test(run_conf={"years": [2021], "regencies": ["1801"]},
                       mark_success_pattern="announce_release")
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success" and set(states.values()) == {"success"}, states
    assert len(requests) == 256
    # the same responses as the landed ones: no file rewritten, so no new batch
    assert [p.stat().st_mtime_ns for p in served] == stamps


def test_fetch_fails_when_the_api_is_down(tmp_path):
    with pytest.raises(idm_api.FetchFailed):
        idm_api.fetch("http://127.0.0.1:9", tmp_path, [("1801042001", 2021)], timeout=2)


# --- the gate over many batches -------------------------------------------------------------


def _failing(rule: str, rows: list[dict], observed: int | None = None,
             severity: str = "critical") -> dict:
    return {
        "success": False,
        "expectation_config": {"type": "unexpected_rows_expectation",
                               "meta": {"severity": severity, "rule": rule}, "kwargs": {}},
        "result": {"observed_value": len(rows) if observed is None else observed,
                   "details": {"unexpected_rows": rows}},
    }


def test_split_settles_batches_by_batch_id():
    validation = {"results": [
        _failing("score 0-5", [{"_batch_id": 1, "items": 2}]),
        _failing("status matches the IDM", [{"_batch_id": 2, "idm": "0.7"}], severity="warning"),
    ]}
    per_batch, settled = split_by_batch(validation, [1, 2, 3])
    assert settled == {1, 2, 3}
    assert per_batch[3]["results"] == []
    (only,) = per_batch[1]["results"]
    assert only["result"]["details"]["unexpected_rows"] == [{"items": 2}]
    # more failing batches than a query returns: settle only those known to fail
    overflow = {"results": [_failing("score 0-5", [{"_batch_id": 1}], observed=300)]}
    assert split_by_batch(overflow, [1, 2, 3])[1] == {1}
    # a failure that names no batch settles nothing (the gate then goes one by one)
    unnamed = {"results": [_failing("score 0-5", [{"kode_desa": "x"}])]}
    assert split_by_batch(unnamed, [1, 2])[1] is None


# --- generated responses with defects -------------------------------------------------------


def test_generated_defects_are_all_found_and_nothing_else(idm_run, warehouse, db, tmp_path):
    from lumbung.pipelines.idm import gate, land

    manifest = generate(GenerateConfig(out=tmp_path, regencies=("1801",), years=(2019,),
                                       seed=11, defects=0.06, disagreements=0,
                                       sources=("idm",)))
    kinds = {d.kind for d in manifest.defects}
    assert kinds == {"non_numeric_score", "unknown_indicator", "truncated_json",
                     "missing_mapdata"}
    landed = land(warehouse, tmp_path, dag_id="test_idm_defects")
    batches = {b["file_path"]: b for b in landed["batches"]}
    assert len(batches) == 256 and not any(b["already_landed"] for b in batches.values())
    ids = [b["batch_id"] for b in batches.values()]
    quarantined = {
        (batch_id, row) for batch_id, row in db.execute(
            "select batch_id, row_number from audit.quarantine where batch_id = any(%s)", (ids,))
    }
    expected_quarantine = {(batches[d.file]["batch_id"], d.row)
                           for d in manifest.defects if d.expect == "quarantine"}
    assert quarantined == expected_quarantine
    rejected = {path for path, b in batches.items() if b["status"] == "rejected"}
    assert rejected == {d.file for d in manifest.defects if d.expect == "reject"}

    gated = gate(warehouse, landed)
    incomplete = {batches[d.file]["batch_id"] for d in manifest.defects
                  if d.expect == "quarantine"}
    failed = dict(db.execute(
        "select batch_id, status_reason from audit.load_batches "
        "where batch_id = any(%s) and status = 'failed'", (ids,)).fetchall())
    assert set(failed) == incomplete  # a quarantined indicator leaves its village-year short
    assert all("indicators present" in reason for reason in failed.values())
    assert gated["failed"] == len(incomplete)
    assert len(gated["failures"]) == len(incomplete) + len(rejected)
    assert gated.keys() == Gated().to_dict().keys()  # the shape of every source's gate
    validated = db.execute(
        "select count(*) from audit.load_batches where batch_id = any(%s) and status = "
        "'validated'", (ids,)).fetchone()[0]
    assert validated == 256 - len(incomplete) - len(rejected)
    # lumbung ingest idm <file>: the same file again is the same batch
    from lumbung.pipelines.idm import ingest_path

    first = next(iter(batches))
    (again,) = ingest_path(warehouse, tmp_path / first)
    assert again.already_landed and again.batch_id == batches[first]["batch_id"]
    assert again.file_path == first.removeprefix("idm/")
    # Staging shows what the next dbt build is pinned at; pin it as a build would.
    from lumbung import visibility

    visibility.set_pin(warehouse, visibility.pin(warehouse))
    with psycopg.connect(warehouse.url()) as conn:
        shown = conn.execute(
            "select count(*) from staging.stg_idm__published_index where year = 2019"
        ).fetchone()[0]
    assert shown == validated
