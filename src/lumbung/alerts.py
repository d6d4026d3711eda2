"""Failure callbacks and alerts: failed tasks recorded in ``audit.failed_runs``, failures and
gate warnings sent to the channel Airflow is configured with.

The channel is the Airflow connection ``lumbung_alerts`` (e.g. the environment variable
``AIRFLOW_CONN_LUMBUNG_ALERTS``):

- type ``http``/``https``/``webhook``: a JSON POST (``text`` for chat tools such as Slack or
  Mattermost incoming webhooks, plus ``kind``, ``dag_id``, ``run_id``, ``task_id``,
  ``error`` and the gate's ``findings``). The URL is the host when it is a full URL, else
  ``http(s)://host:port`` plus ``extra.endpoint`` (or the URI's path); ``extra.headers`` are
  sent along, login/password as basic authentication.
- type ``smtp``/``email``: a plain-text mail through that server to ``extra.to``
  (comma-separated), from ``extra.from_email`` (default: the login); ``extra.ssl`` or
  ``extra.starttls`` for encryption.

Nothing configured: the alert is logged only. An alert that cannot be sent is logged and
never fails the task (the failure it reports is what matters). Failures and warnings are
also always in the stored quality results (``audit.dq_runs``) and the quality report.

DAG files call these from tiny wrappers that import this module inside the callback, so
DAG parsing stays light.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import smtplib
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import psycopg

log = logging.getLogger(__name__)

ALERT_CONN_ID = "lumbung_alerts"
FAILURE = "failure"
WARNING = "warning"
TASK_DIED = ("the task stopped without an error of its own: its process was killed (SIGKILL, "
             "out of memory) or stopped heartbeating; see its log in Airflow")
TIMEOUT_SECONDS = 10
MAX_ERROR = 10_000  # characters of an error kept
# Terminal colour and cursor codes (dbt and Airflow colour their errors): not for a table or mail.
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
WEBHOOK_TYPES = ("http", "https", "webhook")
EMAIL_TYPES = ("smtp", "email")


@dataclass
class Alert:
    """What went wrong (or was suspicious) in one task of one DAG run."""

    kind: str  # 'failure' or 'warning'
    dag_id: str
    run_id: str
    task_id: str
    error: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)  # gate verdicts, see below

    def subject(self) -> str:
        if self.kind == FAILURE:
            return f"[lumbung] FAILED: {self.dag_id}.{self.task_id} ({self.run_id})"
        return (f"[lumbung] {len(self.findings)} batch(es) with quality warnings: "
                f"{self.dag_id} ({self.run_id})")

    def text(self) -> str:
        lines = [self.subject()]
        if self.error:
            lines += ["", self.error]
        if self.findings:
            lines += ["", "Quality gate:"]
            lines += [f"- {f['message']}" for f in self.findings]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text(), **asdict(self)}


# --- channels ------------------------------------------------------------------------------


def _connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not configured (or Airflow is absent)."""
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception as error:  # AirflowNotFoundException, no Airflow, no secrets backend
        log.debug("no alert connection %s: %s", conn_id, error)
        return None


def _extra(conn: Any) -> dict[str, Any]:
    try:
        return dict(conn.extra_dejson or {})
    except Exception:
        return {}


def webhook_url(conn: Any) -> str:
    """The URL a webhook connection points to (see the module docstring)."""
    extra = _extra(conn)
    host = conn.host or ""
    if "://" in host:
        base = host.rstrip("/")
        path = extra.get("endpoint") or ""
    else:
        schema = (conn.schema or "").strip("/")
        scheme = schema if schema in ("http", "https") else (
            "https" if conn.conn_type == "https" else "http"
        )
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        path = extra.get("endpoint") or ("" if schema in ("http", "https") else schema)
    if path and not path.startswith("/"):
        path = "/" + path
    return base + path


def _post(conn: Any, alert: Alert) -> None:
    headers = {"Content-Type": "application/json"}
    headers.update({str(k): str(v) for k, v in (_extra(conn).get("headers") or {}).items()})
    if conn.login:
        token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    url = webhook_url(conn)
    if not url.startswith(("http://", "https://")):  # never file:// or other schemes
        raise ValueError(f"connection {conn.conn_id}: {url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=json.dumps(alert.payload(), default=str).encode(),
        headers=headers, method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def _mail(conn: Any, alert: Alert) -> None:
    extra = _extra(conn)
    recipients = [a.strip() for a in str(extra.get("to") or "").split(",") if a.strip()]
    if not recipients:
        raise ValueError(f"connection {conn.conn_id}: no recipient (extra 'to')")
    message = EmailMessage()
    message["Subject"] = alert.subject()
    message["From"] = str(extra.get("from_email") or conn.login or "lumbung@localhost")
    message["To"] = ", ".join(recipients)
    message.set_content(alert.text())
    smtp_class = smtplib.SMTP_SSL if extra.get("ssl") else smtplib.SMTP
    with smtp_class(conn.host or "localhost", int(conn.port or 25),
                    timeout=TIMEOUT_SECONDS) as server:
        if extra.get("starttls"):
            server.starttls()
        if conn.login:
            server.login(conn.login, conn.password or "")
        server.send_message(message)


def send(alert: Alert, conn_id: str = ALERT_CONN_ID) -> str:
    """Send the alert to the configured channel; returns where it went ('webhook', 'email',
    or 'log' when nothing is configured or sending failed). Never raises."""
    level = logging.ERROR if alert.kind == FAILURE else logging.WARNING
    log.log(level, "alert: %s", alert.text())
    conn = _connection(conn_id)
    if conn is None:
        return "log"
    kind = (conn.conn_type or "").lower()
    try:
        if kind in WEBHOOK_TYPES or "://" in (conn.host or ""):
            _post(conn, alert)
            return "webhook"
        if kind in EMAIL_TYPES:
            _mail(conn, alert)
            return "email"
        log.error("alert connection %s has type %r: use http (webhook) or smtp (email)",
                  conn_id, conn.conn_type)
    except Exception:
        log.exception("alert could not be sent through connection %s", conn_id)
    return "log"


# --- the warehouse side --------------------------------------------------------------------


def plain_text(text: str | None) -> str | None:
    """``text`` without terminal codes."""
    return _TERMINAL_CODES.sub("", text) if text else text


def record_failure(
    warehouse_url: str, dag_id: str, run_id: str, task_id: str, error: str | None
) -> None:
    """Upsert the failed task into ``audit.failed_runs`` (a cleared and failed-again task
    keeps one row, with its latest error)."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(
            """
            insert into audit.failed_runs (dag_id, run_id, task_id, error)
            values (%s, %s, %s, %s)
            on conflict (dag_id, run_id, task_id)
            do update set failed_at = now(), error = excluded.error
            """,
            (dag_id, run_id, task_id, (plain_text(error) or "")[:MAX_ERROR] or None),
        )


def record_if_missing(
    warehouse_url: str, dag_id: str, run_id: str, task_id: str, error: str
) -> bool:
    """Record the failed task unless its own callback already did; True when recorded here."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        return conn.execute(
            """
            insert into audit.failed_runs (dag_id, run_id, task_id, error)
            values (%s, %s, %s, %s)
            on conflict (dag_id, run_id, task_id) do nothing
            returning 1
            """,
            (dag_id, run_id, task_id, error[:MAX_ERROR]),
        ).fetchone() is not None


def gate_findings(
    warehouse_url: str, dag_id: str, run_id: str, since: datetime | None = None,
    warnings_only: bool = False,
) -> list[dict[str, Any]]:
    """The gate verdicts with failures or warnings of a DAG run: batches it landed, and
    batches it validated again (checked since ``since``, the run's start); with
    ``warnings_only``, the batches that passed with warnings."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        rows = conn.execute(
            """
            select r.dq_run_id, r.batch_id, b.file_path, r.source, r.dataset, r.regency_code,
                r.passed, r.critical_failures, r.warnings, r.message
            from audit.dq_runs as r
            left join audit.load_batches as b on r.batch_id = b.batch_id
            where r.dag_id = %s
                and (r.run_id = %s or r.checked_at >= coalesce(%s, 'infinity'::timestamptz))
                and ((not r.passed and not %s) or (r.passed and r.warnings > 0))
            order by r.dq_run_id
            """,
            (dag_id, run_id, since, warnings_only),
        ).fetchall()
    names = ("dq_run_id", "batch_id", "file_path", "source", "dataset", "regency_code",
             "passed", "critical_failures", "warnings", "message")
    return [dict(zip(names, row, strict=True)) for row in rows]


# --- Airflow callbacks ---------------------------------------------------------------------


def _identity(context: Any) -> tuple[str, str, str, datetime | None]:
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", "") or ""
    run_id = context.get("run_id") or getattr(ti, "run_id", "") or ""
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", "") or ""
    dag_run = context.get("dag_run")
    since = getattr(dag_run, "start_date", None) or getattr(ti, "start_date", None)
    return dag_id, run_id, task_id, since


def _warehouse_url() -> str | None:
    try:
        from lumbung.airflow_tasks import warehouse_from_connection

        return warehouse_from_connection().url()
    except Exception:
        log.exception("alerts: the warehouse connection is not available")
        return None


def on_task_failure(context: Any) -> str:
    """``on_failure_callback``: record the failed task, alert with its error and the gate's
    findings of the run. Returns where the alert went; never raises."""
    dag_id, run_id, task_id, since = _identity(context)
    exception = context.get("exception")
    error = f"{type(exception).__name__}: {exception}" if isinstance(exception, BaseException) \
        else (str(exception) if exception else None)
    # no exception: Airflow failed the task for it (heartbeat timeout), its process is gone
    error = plain_text(error) or TASK_DIED
    findings: list[dict[str, Any]] = []
    url = _warehouse_url()
    if url:
        try:
            record_failure(url, dag_id, run_id, task_id, error)
            findings = gate_findings(url, dag_id, run_id, since)
        except Exception:
            log.exception("alerts: could not record the failure of %s.%s", dag_id, task_id)
    return send(Alert(FAILURE, dag_id, run_id, task_id, error, findings))


def on_dag_failure(context: Any) -> str | None:
    """DAG ``on_failure_callback``: the task that failed the run, when its own callback never
    ran (its process was killed, by SIGKILL or the out-of-memory killer: nothing runs in it
    after that), is recorded and alerted here. Returns where the alert went; never raises."""
    dag_id, run_id, task_id, since = _identity(context)
    if not (dag_id and run_id and task_id):
        return None
    reason = context.get("reason")
    error = TASK_DIED + (f" (run failed: {reason})" if reason else "")
    url = _warehouse_url()
    if not url:
        return None
    try:
        if not record_if_missing(url, dag_id, run_id, task_id, error):
            return None  # the task's own callback recorded and alerted it
        findings = gate_findings(url, dag_id, run_id, since)
    except Exception:
        log.exception("alerts: could not record the failure of %s.%s", dag_id, task_id)
        return None
    return send(Alert(FAILURE, dag_id, run_id, task_id, error, findings))


def on_gate_success(context: Any) -> str | None:
    """``on_success_callback`` of a gate task: alert the warnings of the batches that passed
    the gate in this run, if any (failures are alerted by the task that fails the run, as
    APBDes and IDM collect them for a later task). Never raises."""
    dag_id, run_id, task_id, since = _identity(context)
    url = _warehouse_url()
    if not url:
        return None
    try:
        findings = gate_findings(url, dag_id, run_id, since, warnings_only=True)
    except Exception:
        log.exception("alerts: could not read the gate verdicts of %s %s", dag_id, run_id)
        return None
    if not findings:
        return None
    return send(Alert(WARNING, dag_id, run_id, task_id, None, findings))
