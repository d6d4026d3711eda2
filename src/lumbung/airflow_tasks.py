"""What every task needs from Airflow: the warehouse connection and the run's identity."""

from __future__ import annotations

from lumbung.config import WAREHOUSE_CONN_ID, PgUrl


def warehouse_from_connection(conn_id: str = WAREHOUSE_CONN_ID) -> PgUrl:
    """The warehouse URL from the Airflow connection (secrets stay in Airflow's keeping)."""
    from airflow.sdk import Connection

    conn = Connection.get(conn_id)
    return PgUrl(
        user=conn.login or "",
        password=conn.password or "",
        host=conn.host or "127.0.0.1",
        port=int(conn.port or 5432),
        dbname=conn.schema or "postgres",
    )


def announce_release(gated: dict) -> dict:
    """The task that updates a source DAG's Assets (its outlets), so the marts DAG runs:
    skipped, so no Asset event and no marts build, when the gate released nothing new to
    dbt (no new file, or none accepted)."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not gated.get("released"):
        raise AirflowSkipException("nothing new was released to dbt: no marts build needed")
    return {"released": gated["released"]}
