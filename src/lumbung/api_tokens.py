"""API tokens: a regency's key to the API, kept only as its SHA-256 in ``audit.api_tokens``.

A token is 32 random bytes (URL-safe text) behind the prefix ``lbg_``; it is shown once,
when created. Its hash maps to a regency, whose role (``lumbung_bi_<code>``) the API sets
for the request, so the database's row-level security decides what it sees.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

from lumbung import rls

PREFIX = "lbg_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    regency_code: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    def describe(self) -> str:
        state = f"revoked {self.revoked_at:%Y-%m-%d %H:%M}" if self.revoked_at else "active"
        return (f"{self.token_id:>5}  {self.regency_code}  {self.created_at:%Y-%m-%d %H:%M}  "
                f"{state:<24} {self.label or ''}").rstrip()


def create(conn: psycopg.Connection, regency: str, label: str | None = None) -> tuple[int, str]:
    """A new token for ``regency`` (checked against ``marts.dim_region``): (id, token)."""
    code = rls.check_regency(conn, regency)
    rls.ensure_regency_role(conn, code)
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        "insert into audit.api_tokens (token_sha256, regency_code, label) "
        "values (%s, %s, %s) returning token_id",
        (token_hash(token), code, label),
    ).fetchone()[0]
    return token_id, token


def revoke(conn: psycopg.Connection, token_id: int) -> bool:
    """Revoke a token; False when there is no such active token."""
    return conn.execute(
        "update audit.api_tokens set revoked_at = now() "
        "where token_id = %s and revoked_at is null",
        (token_id,),
    ).rowcount == 1


def list_tokens(conn: psycopg.Connection) -> list[TokenInfo]:
    return [TokenInfo(*row) for row in conn.execute(
        "select token_id, regency_code, label, created_at, revoked_at "
        "from audit.api_tokens order by token_id").fetchall()]


def role_of(conn: psycopg.Connection, token: str) -> str | None:
    """The role an active token reads as, or None for an unknown or revoked token."""
    row = conn.execute(
        "select regency_code from audit.api_tokens "
        "where token_sha256 = %s and revoked_at is null",
        (token_hash(token),),
    ).fetchone()
    return rls.regency_role(row[0]) if row else None
