"""Quality results are stored, failed runs recorded and alerted, and mart_data_quality shows them.

The gate runs on real landed files (the 2025 region master's regencies, two IDM responses),
good and tampered; a DAG run that fails posts to a webhook served by this test. Every batch
this module lands is deleted at the end, so the other modules see the warehouse as before.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from conftest import run_dag

from lumbung.landing import land_csv, land_file
from lumbung.quality.gate import validate_batch, validate_batches
from lumbung.quality.suites import suite_for
from lumbung.sources import idm, kemendagri

DAG_ID, RUN_ID = "dq_results_test", "manual__dq_results_test"
IDM_GOOD, IDM_BAD = "1802042002", "1807042008"  # villages of Lampung Tengah and Tulang Bawang


# --- fixtures ------------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


@pytest.fixture(scope="module")
def webhook():
    """A local webhook (127.0.0.1) recording what is posted to it."""
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Hook.received
    server.shutdown()
    server.server_close()


def _regencies(landing: Path) -> tuple[list[str], list[list[str]]]:
    with (landing / "region" / "edition=2025" / "lampung_regencies.csv").open() as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path.write_text(buf.getvalue())
    return path


def _cleanup(conn: psycopg.Connection, batch_ids: list[int]) -> None:
    tables = [r[0] for r in conn.execute(
        "select table_schema || '.' || table_name from information_schema.columns "
        "where table_schema = 'raw' and column_name = '_batch_id'").fetchall()]
    for table in tables:
        conn.execute(f"delete from {table} where _batch_id = any(%s)", (batch_ids,))
    conn.execute("delete from audit.quarantine where batch_id = any(%s)", (batch_ids,))
    conn.execute("delete from audit.dq_runs where batch_id = any(%s)", (batch_ids,))
    conn.execute("delete from audit.load_batches where batch_id = any(%s)", (batch_ids,))
    for schema in ("marts", "marts_build"):
        conn.execute(f"drop table if exists {schema}.mart_data_quality")


@pytest.fixture(scope="module")
def gated(warehouse, landing, tmp_path_factory):
    """Land and gate a good and a tampered regencies file, and a good and a tampered IDM
    response (these two in one checkpoint run); yield the batch ids and the gate results."""
    folder = tmp_path_factory.mktemp("dq") / "edition=2025"
    folder.mkdir()
    header, rows = _regencies(landing)
    population = header.index("penduduk_laki")
    good_rows = [list(r) for r in rows]
    good_rows[0][population] = str(int(good_rows[0][population]) + 1)  # a new file content
    bad_rows = [list(r) for r in good_rows[:10]]  # 10 of 15 rows: a sudden drop
    code, code_10, kind, lat = (header.index(c) for c in ("code", "code_10", "type",
                                                         "lat_centroid"))
    bad_rows[1][code] = bad_rows[0][code]  # a duplicated code
    bad_rows[2][code_10] = "18x3"
    bad_rows[3][kind] = "kab"
    bad_rows[4][lat] = "-1.25"  # north of Sumatra's equator line: not in Lampung (warning)
    good_csv = _write_csv(folder / "lampung_regencies.csv", header, good_rows)
    warned_rows = [list(r) for r in good_rows]
    warned_rows[5][lat] = "-1.25"  # the only problem: a warning
    warned_dir = folder.parent / "warned" / "edition=2025"
    warned_dir.mkdir(parents=True)
    warned_csv = _write_csv(warned_dir / "lampung_regencies.csv", header, warned_rows)
    bad_dir = folder.parent / "bad" / "edition=2025"
    bad_dir.mkdir(parents=True)
    bad_csv = _write_csv(bad_dir / "lampung_regencies.csv", header, bad_rows)

    idm_dir = folder.parent / "idm" / "tahun=2023"
    idm_dir.mkdir(parents=True)
    responses = {}
    for village in (IDM_GOOD, IDM_BAD):
        data = json.loads((landing / "idm" / "tahun=2023" / f"{village}.json").read_text())
        if village == IDM_BAD:
            data["mapData"]["SUMMARIES"]["TAHUN"] = 2022  # breaks the critical "years agree"
        responses[village] = idm_dir / f"{village}.json"
        responses[village].write_text(json.dumps(data, indent=1))  # a new file content

    spec = kemendagri.DATASETS[kemendagri.dataset_of(good_csv)]
    with psycopg.connect(warehouse.url()) as conn:
        good = land_csv(conn, spec, good_csv, "2025", dag_id=DAG_ID, run_id=RUN_ID)
        warned = land_csv(conn, spec, warned_csv, "2025", dag_id=DAG_ID, run_id=RUN_ID)
        bad = land_csv(conn, spec, bad_csv, "2025", dag_id=DAG_ID, run_id=RUN_ID)
        idm_batches = {
            village: land_file(conn, idm.INDICATORS, path, idm.landing_file(path).partition_key,
                               reader=idm.landing_file(path).reader, dag_id=DAG_ID,
                               run_id=RUN_ID)
            for village, path in responses.items()
        }
    assert not (good.already_landed or warned.already_landed or bad.already_landed)
    ids = [good.batch_id, warned.batch_id, bad.batch_id,
           *(b.batch_id for b in idm_batches.values())]
    try:
        results = {
            "good": validate_batch(warehouse.url(), good.batch_id),
            "warned": validate_batch(warehouse.url(), warned.batch_id),
            "bad": validate_batch(warehouse.url(), bad.batch_id),
        }
        idm_results = validate_batches(warehouse.url(), [b.batch_id for b in
                                                         idm_batches.values()])
        results["idm_good"], results["idm_bad"] = idm_results
        yield {"good": good, "warned": warned, "bad": bad, "idm": idm_batches, "results": results,
               "good_rows": len(good_rows), "bad_rows": len(bad_rows)}
    finally:
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            _cleanup(conn, ids)


def _run(db, batch_id: int) -> dict:
    cur = db.execute("select * from audit.dq_runs where batch_id = %s", (batch_id,))
    names = [c.name for c in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == 1, rows
    return rows[0]


def _results(db, dq_run_id: int) -> dict[str, dict]:
    cur = db.execute("select * from audit.dq_results where dq_run_id = %s", (dq_run_id,))
    names = [c.name for c in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {row["rule"]: row for row in rows}


# --- gate results stored -------------------------------------------------------------------


def test_good_batch_stores_every_expectation_passed(gated, db):
    run = _run(db, gated["good"].batch_id)
    spec = suite_for("region", "regencies")
    assert run["passed"] and run["layer"] == "batch"
    assert (run["source"], run["dataset"], run["suite"]) == ("region", "regencies",
                                                             spec.name)
    assert (run["dag_id"], run["run_id"], run["partition_key"]) == (DAG_ID, RUN_ID, "2025")
    assert run["regency_code"] is None  # the whole province's file
    assert run["critical_failures"] == 0 and run["warnings"] == 0
    results = _results(db, run["dq_run_id"])
    assert run["expectations_evaluated"] == len(results) == len(spec.rules)
    assert all(r["success"] for r in results.values())
    assert {r: results[r]["severity"] for r in results} == {x.rule: x.severity
                                                           for x in spec.rules}
    # the row count observed is the file's data rows
    assert results["row count in expected range"]["observed_value"] == str(gated["good_rows"])
    assert results["code unique"]["unexpected_count"] == 0
    assert run["message"] and "passed" in run["message"]


def test_bad_batch_stores_failures_warnings_observed_values_and_examples(gated, db):
    run = _run(db, gated["bad"].batch_id)
    results = _results(db, run["dq_run_id"])
    failed = {r for r, v in results.items() if not v["success"]}
    critical = {r for r in failed if results[r]["severity"] == "critical"}
    assert not run["passed"]
    assert db.execute("select status from audit.load_batches where batch_id = %s",
                      (gated["bad"].batch_id,)).fetchone()[0] == "failed"
    assert {"code unique", "code_10 format", "type in {kabupaten, kota}",
            "row count in expected range"} <= critical
    assert failed - critical == {"centroid in Lampung"}
    assert run["critical_failures"] == len(critical) and run["warnings"] == 1
    # 10 rows against the previous delivery's 15: outside 90-110 %
    assert results["row count in expected range"]["observed_value"] == str(gated["bad_rows"])
    kind = results["type in {kabupaten, kota}"]
    assert kind["unexpected_count"] == 1
    assert kind["examples"] == ["'kab' (line 5)"]  # the 4th data row, after the header
    assert "kab" in kind["detail"] and "kab" in run["message"]
    assert results["code unique"]["unexpected_count"] == 2
    assert results["centroid in Lampung"]["observed_value"] == "1"
    assert all(v["success"] for r, v in results.items() if r not in failed)


def test_batches_gated_together_store_their_own_verdicts_and_regency(gated, db):
    good = _run(db, gated["idm"][IDM_GOOD].batch_id)
    bad = _run(db, gated["idm"][IDM_BAD].batch_id)
    assert good["passed"] and not bad["passed"]
    assert (good["regency_code"], bad["regency_code"]) == (IDM_GOOD[:4], IDM_BAD[:4])
    assert good["partition_key"] == f"2023/{IDM_GOOD}"
    good_results, bad_results = _results(db, good["dq_run_id"]), _results(db, bad["dq_run_id"])
    assert len(good_results) == len(bad_results) == good["expectations_evaluated"] \
        == len(suite_for("idm", "idm").rules)
    assert not bad_results["years agree"]["success"]
    assert bad_results["years agree"]["observed_value"] == "1"  # one file: one summary row
    assert good_results["years agree"]["success"]
    assert good_results["years agree"]["observed_value"] == "0"


def test_gate_result_carries_every_outcome(gated):
    bad = gated["results"]["bad"]
    assert len(bad.outcomes) == bad.evaluated
    assert {o.rule for o in bad.outcomes if not o.success} == {
        f.rule for f in bad.failures + bad.warnings}


def test_row_count_reference_is_the_same_regencys_previous_delivery(warehouse, db):
    """APBDes is delivered per regency: a regency's file is compared with that regency's
    previous accepted file, never another regency's; the region master with the dataset's."""
    from lumbung.quality.batch_state import Batch, reference_rows

    def batch(partition: str, rows: int, status: str = "validated") -> int:
        return db.execute(
            "insert into audit.load_batches (source, dataset, partition_key, file_name, "
            "file_path, content_hash, file_bytes, rows_received, rows_loaded, "
            "rows_quarantined, status, validated_at) values ('apbdes', 'zz_probe', %s, 'f', "
            "'f', md5(random()::text), 1, %s, %s, 0, %s, now()) returning batch_id",
            (partition, rows, rows, status)).fetchone()[0]

    ids = [batch("1801/2023", 100), batch("1812/2024", 5000), batch("1801/2024", 120)]
    try:
        new = batch("1801/2025", 10, "loaded")
        ids.append(new)
        probe = Batch(new, "apbdes", "zz_probe", "1801/2025", "f", "loaded")
        assert reference_rows(db, probe) == 120  # 1801's latest, not 1812's
        other = Batch(new, "apbdes", "zz_probe", "1808/2025", "f", "loaded")
        assert reference_rows(db, other) is None  # 1808 never delivered
    finally:
        db.execute("delete from audit.load_batches where batch_id = any(%s)", (ids,))


# --- failure callbacks and alerts ----------------------------------------------------------


@pytest.fixture()
def empty_landing(tmp_path, monkeypatch):
    """A landing folder without region files: the region gate fails the run."""
    monkeypatch.setenv("LUMBUNG_LANDING_DIR", str(tmp_path))
    return tmp_path


def test_failed_run_is_recorded_and_posted_to_the_webhook(warehouse, db, webhook, empty_landing,
                                                         monkeypatch):
    url, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_LUMBUNG_ALERTS", url)
    received.clear()
    dag_run = run_dag("region")
    assert dag_run.state == "failed"
    error = db.execute(
        "select error from audit.failed_runs where dag_id = 'region' and run_id = %s "
        "and task_id = 'quality_gate'", (dag_run.run_id,)).fetchone()
    assert error and "GateFailed" in error[0] and "no region master files" in error[0]
    posted = [p for p in received if p["run_id"] == dag_run.run_id]
    assert len(posted) == 1
    alert = posted[0]
    assert (alert["kind"], alert["dag_id"], alert["task_id"]) == ("failure", "region",
                                                                  "quality_gate")
    assert "no region master files" in alert["error"] and "no region master files" in \
        alert["text"]


def test_failed_run_without_alert_connection_is_still_recorded(warehouse, db, webhook,
                                                              empty_landing, monkeypatch):
    _, received = webhook
    monkeypatch.delenv("AIRFLOW_CONN_LUMBUNG_ALERTS", raising=False)
    received.clear()
    dag_run = run_dag("region")
    assert dag_run.state == "failed"  # the gate's failure, not the alerting
    assert db.execute("select count(*) from audit.failed_runs where dag_id = 'region' "
                      "and run_id = %s", (dag_run.run_id,)).fetchone()[0] == 1
    assert received == []
    # ... and the run summary says why, naming the task
    from lumbung.runner import _failure_reason

    reason = _failure_reason(warehouse, "region", dag_run.run_id)
    assert reason.startswith("quality_gate: ") and "no region master files" in reason


def test_failure_errors_are_stored_and_alerted_without_terminal_codes(warehouse, db, webhook,
                                                                       monkeypatch):
    from lumbung.alerts import on_task_failure

    url, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_LUMBUNG_ALERTS", url)
    received.clear()
    ti = SimpleNamespace(dag_id="apbdes", run_id="ansi-run", task_id="build", start_date=None)
    error = RuntimeError("\x1b[31mDatabase Error\x1b[0m in model \x1b[1mstg_x\x1b[0m\x1b[2K")
    assert on_task_failure({"ti": ti, "run_id": "ansi-run", "exception": error}) == "webhook"
    stored = db.execute("select error from audit.failed_runs where run_id = 'ansi-run'"
                        ).fetchone()[0]
    assert stored == "RuntimeError: Database Error in model stg_x"
    (alert,) = received
    assert alert["error"] == stored and "\x1b" not in alert["text"]


def test_a_killed_task_is_recorded_and_alerted_once(warehouse, db, webhook, monkeypatch):
    """A task whose process was killed runs no callback of its own: the DAG's failure callback
    records it with a sentence saying so and alerts it. A heartbeat timeout (Airflow calls the
    task's callback without an exception) says the same; a task already recorded by its own
    callback is not recorded or alerted twice."""
    from lumbung.alerts import TASK_DIED, on_dag_failure, on_task_failure

    url, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_LUMBUNG_ALERTS", url)
    received.clear()
    killed = SimpleNamespace(dag_id="apbdes", run_id="killed-run", task_id="build_staging",
                             start_date=None)
    context = {"ti": killed, "run_id": "killed-run", "reason": "task_failure"}
    assert on_dag_failure(context) == "webhook"
    assert on_dag_failure(context) is None  # recorded already: no second alert
    stored = db.execute("select error from audit.failed_runs where run_id = 'killed-run'"
                        ).fetchall()
    assert stored == [(TASK_DIED + " (run failed: task_failure)",)]
    (alert,) = received
    assert alert["task_id"] == "build_staging" and "killed" in alert["error"]

    lost = SimpleNamespace(dag_id="apbdes", run_id="lost-run", task_id="land_apbdes_files",
                           start_date=None)
    on_task_failure({"ti": lost, "run_id": "lost-run"})  # the heartbeat-timeout callback
    assert on_dag_failure({"ti": lost, "run_id": "lost-run", "reason": "task_failure"}) is None
    assert db.execute("select error from audit.failed_runs where run_id = 'lost-run'"
                      ).fetchall() == [(TASK_DIED,)]
    assert len(received) == 2


def test_gate_warnings_are_alerted(gated, webhook, monkeypatch):
    """After a gate task, the batches that passed with warnings are alerted (not the failed
    ones: the task that fails the run alerts those)."""
    from lumbung.alerts import on_gate_success

    url, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_LUMBUNG_ALERTS", url)
    ti = SimpleNamespace(dag_id=DAG_ID, run_id=RUN_ID, task_id="quality_gate", start_date=None)
    received.clear()
    assert on_gate_success({"ti": ti, "run_id": RUN_ID}) == "webhook"
    (alert,) = received
    assert alert["kind"] == "warning" and alert["error"] is None
    expected = {r.batch_id for r in gated["results"].values() if r.passed and r.warnings}
    assert gated["warned"].batch_id in expected
    assert {f["batch_id"] for f in alert["findings"]} == expected
    assert "centroid in Lampung" in alert["text"]


def test_alert_without_connection_or_with_a_dead_webhook_never_raises(monkeypatch):
    from lumbung.alerts import Alert, send

    alert = Alert("failure", "d", "r", "t", "boom")
    monkeypatch.delenv("AIRFLOW_CONN_LUMBUNG_ALERTS", raising=False)
    assert send(alert) == "log"
    monkeypatch.setenv("AIRFLOW_CONN_LUMBUNG_ALERTS", "http://127.0.0.1:9/nothing-listens")
    assert send(alert) == "log"


# --- the mart ------------------------------------------------------------------------------


def test_mart_data_quality_shows_the_runs(gated, warehouse, paths, db):
    from lumbung.pipelines.marts import publish_marts
    from lumbung.publish import build

    # What the smart_village_marts DAG builds for this mart (its transform() builds every
    # mart and seed, whose tests need every source's staging).
    tables = build(paths, warehouse, "stg_audit__load_batches", "stg_audit__dq_runs",
                   "stg_audit__dq_results", "path:models/marts/quality")
    assert tables == ["mart_data_quality"]
    publish_marts(warehouse, tables, dag_id=DAG_ID, run_id=RUN_ID)
    row = db.execute(
        """
        select batches_received, batches_validated, batches_failed, rows_received,
            validations, validations_passed, critical_failures, warnings,
            expectations_evaluated
        from marts.mart_data_quality
        where source = 'region' and dataset = 'regencies' and regency_code is null
            and activity_date = (now() at time zone 'Asia/Jakarta')::date
        """).fetchone()
    good, bad = gated["results"]["good"], gated["results"]["bad"]
    # at least this module's two batches and checks (other modules may have landed more)
    assert row[2] >= 1
    assert row[3] >= 2 * gated["good_rows"] + gated["bad_rows"]
    warned = gated["results"]["warned"]
    assert row[0] >= 3 and row[1] >= 2 and row[4] >= 3 and row[5] >= 2
    assert row[6] >= len(bad.failures) and row[7] >= len(warned.warnings) + len(bad.warnings)
    assert row[8] >= good.evaluated + warned.evaluated + bad.evaluated
    by_regency = dict(db.execute(
        """
        select regency_code, validations - validations_passed from marts.mart_data_quality
        where source = 'idm' and regency_code in (%s, %s)
        """, (IDM_GOOD[:4], IDM_BAD[:4])).fetchall())
    assert by_regency[IDM_BAD[:4]] >= 1
    assert set(by_regency) == {IDM_GOOD[:4], IDM_BAD[:4]}


def test_email_alert_goes_through_the_smtp_connection(monkeypatch):
    import lumbung.alerts as alerts

    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append({"server": (host, port)})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def login(self, user, password):
            sent[-1]["login"] = user

        def send_message(self, message):
            sent[-1]["message"] = message

    monkeypatch.setattr(alerts.smtplib, "SMTP", FakeSMTP)
    monkeypatch.setenv("AIRFLOW_CONN_LUMBUNG_ALERTS", json.dumps({
        "conn_type": "smtp", "host": "mail.example.org", "port": 2525, "login": "lumbung",
        "password": "x", "extra": {"to": "ops@example.org, audit@example.org"}}))
    alert = alerts.Alert("failure", "apbdes", "r1", "check_files", "GateFailed: 1812 broken")
    assert alerts.send(alert) == "email"
    (mail,) = sent
    assert mail["server"] == ("mail.example.org", 2525) and mail["login"] == "lumbung"
    assert mail["message"]["To"] == "ops@example.org, audit@example.org"
    assert "apbdes.check_files" in mail["message"]["Subject"]
    assert "1812 broken" in mail["message"].get_content()


def test_data_docs_index_every_validation(gated):
    """The gate renders the data docs itself (one build per gate run): the index exists and
    links a page for each batch's validation, and each page is there."""
    results = gated["results"]
    index = Path(results["good"].docs_index)
    assert index.is_file() and {r.docs_index for r in results.values()} == {str(index)}
    html = index.read_text(encoding="utf-8")
    for key in ("good", "warned", "bad"):
        run_name = f"batch-{gated[key].batch_id}"
        assert run_name in html, run_name
        pages = list(index.parent.glob(f"validations/*/{run_name}/*/*.html"))
        assert pages, f"no data docs page for {run_name}"
    assert "batches-" in html  # the IDM files' validation together
