"""Small SQL helpers shared by the pipeline steps."""

from __future__ import annotations

import psycopg
from psycopg import sql


def qualified(name: str) -> sql.Composable:
    """``schema.table`` as a safely quoted identifier."""
    return sql.Identifier(*name.split("."))


def count_rows(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(sql.SQL("select count(*) from {}").format(qualified(table))).fetchone()[0]
