"""Row-level security on the marts: each regency's role sees only its regency's rows.

Roles (created by bootstrap, see ``sql/bootstrap.sql``):

- ``lumbung_bi``: the province; its policy shows every row;
- ``lumbung_bi_regency``: a group (no login) holding the regencies' SELECT grants; every
  ``lumbung_bi_<code>`` (one per regency of ``marts.dim_region``) inherits them, without the
  right to ``set role`` to the group;
- ``lumbung_api``: the API's login; it inherits nothing and reads only after
  ``set local role`` to the province role or the role of the caller's token.

Every mart with a regency (a ``regency_code`` column, else the first 4 digits of its
``district_code`` or ``village_code``) has ``force row level security`` and three policies:
the province reads all, a regency role reads the rows of the code in its own name, and the
publisher (the role running the publication, named on purpose so that the owner does not
bypass by accident) writes. :func:`secure_table` runs inside every publication, so a mart
recreated by a contract change has its policies again before the commit makes it visible.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from lumbung.config import BI_ROLE

PUBLISHED_SCHEMA = "marts"
REGENCY_GROUP = "lumbung_bi_regency"
API_ROLE = "lumbung_api"
REGENCY_ROLE_PREFIX = "lumbung_bi_"
REGION_COLUMNS = ("regency_code", "district_code", "village_code")
POLICY_PROVINCE = "province_reads_all"
POLICY_REGENCY = "regency_reads_own_rows"
POLICY_PUBLISHER = "publisher_writes"
_REGENCY_RE = re.compile(r"^[0-9]{4}$")


class UnknownRegency(ValueError):
    """A regency code that is not a regency of the published region master."""


def normalise_regency(code: str) -> str:
    """``18.01`` or ``1801`` -> ``1801``; anything else is refused."""
    code = code.strip().replace(".", "")
    if not _REGENCY_RE.match(code):
        raise UnknownRegency(f"{code!r} is not a regency code: four digits, e.g. 1801 or 18.01")
    return code


def regency_role(code: str) -> str:
    return REGENCY_ROLE_PREFIX + normalise_regency(code)


def regency_expression(columns: list[str]) -> sql.Composable | None:
    """How a mart's row names its regency, or None for a mart without regency."""
    if "regency_code" in columns:
        return sql.Identifier("regency_code")
    for column in ("district_code", "village_code"):
        if column in columns:
            return sql.SQL("left({}, 4)").format(sql.Identifier(column))
    return None


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        """
        select a.attname from pg_attribute as a
        where a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))
          and a.attnum > 0 and not a.attisdropped
        """,
        (PUBLISHED_SCHEMA, table),
    ).fetchall()]


def _is_secured(conn: psycopg.Connection, table: str) -> bool:
    """Row security forced and exactly our three policies, the publisher's for this role."""
    row = conn.execute(
        """
        select c.relrowsecurity and c.relforcerowsecurity,
               coalesce(array_agg(p.polname::text order by p.polname)
                        filter (where p.polname is not null), '{}'),
               bool_or(p.polname = %s and (select oid from pg_roles where rolname = current_user)
                       = any(p.polroles))
        from pg_class as c
        left join pg_policy as p on p.polrelid = c.oid
        where c.oid = to_regclass(format('%%I.%%I', %s::text, %s::text))
        group by c.relrowsecurity, c.relforcerowsecurity
        """,
        (POLICY_PUBLISHER, PUBLISHED_SCHEMA, table),
    ).fetchone()
    expected = sorted([POLICY_PROVINCE, POLICY_PUBLISHER, POLICY_REGENCY])
    return bool(row and row[0] and list(row[1]) == expected and row[2])


def secure_table(conn: psycopg.Connection, table: str) -> bool:
    """Policies on ``marts.<table>`` if it has a regency; True when it has one.

    DDL only when something is missing: altering a table locks out its readers, and
    a mart whose rows are replaced in place keeps its policies.
    """
    expression = regency_expression(_columns(conn, table))
    if expression is None:
        return False
    if _is_secured(conn, table):
        return True
    live = sql.Identifier(PUBLISHED_SCHEMA, table)
    conn.execute(sql.SQL("alter table {} enable row level security").format(live))
    conn.execute(sql.SQL("alter table {} force row level security").format(live))
    for name in conn.execute(
        "select polname::text from pg_policy where polrelid = to_regclass(%s)",
        (f"{PUBLISHED_SCHEMA}.{table}",),
    ).fetchall():
        conn.execute(sql.SQL("drop policy {} on {}").format(sql.Identifier(name[0]), live))
    conn.execute(sql.SQL("create policy {} on {} for select to {} using (true)").format(
        sql.Identifier(POLICY_PROVINCE), live, sql.Identifier(BI_ROLE)))
    # The regency is the code in the role's own name: a role not named so matches nothing.
    conn.execute(sql.SQL(
        "create policy {} on {} for select to {} "
        "using ({} = substring(current_user from {}))"
    ).format(sql.Identifier(POLICY_REGENCY), live, sql.Identifier(REGENCY_GROUP), expression,
             sql.Literal("^" + REGENCY_ROLE_PREFIX + "([0-9]{4})$")))
    conn.execute(sql.SQL(
        "create policy {} on {} for all to current_user using (true) with check (true)"
    ).format(sql.Identifier(POLICY_PUBLISHER), live))
    return True


def grant_readers(conn: psycopg.Connection, table: str) -> None:
    """SELECT on a (re)created mart for the province role and the regencies' group."""
    for role in (BI_ROLE, REGENCY_GROUP):
        conn.execute(sql.SQL("grant select on {} to {}").format(
            sql.Identifier(PUBLISHED_SCHEMA, table), sql.Identifier(role)))


def published_regencies(conn: psycopg.Connection) -> list[str]:
    """The regency codes of the published region master (none before its first publication)."""
    if conn.execute("select to_regclass('marts.dim_region')").fetchone()[0] is None:
        return []
    return [r[0] for r in conn.execute(
        "select region_code from marts.dim_region where region_level = 'regency' "
        "order by region_code").fetchall()]


def ensure_regency_role(conn: psycopg.Connection, code: str) -> str:
    """The regency's role (no login yet), a member of the group, settable by the API."""
    role = regency_role(code)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    conn.execute(sql.SQL("grant {} to {} with inherit true, set false").format(
        sql.Identifier(REGENCY_GROUP), sql.Identifier(role)))
    conn.execute(sql.SQL("grant {} to {} with inherit false, set true").format(
        sql.Identifier(role), sql.Identifier(API_ROLE)))
    return role


def ensure_regency_roles(conn: psycopg.Connection) -> list[str]:
    """A role for every regency of the published region master."""
    return [ensure_regency_role(conn, code) for code in published_regencies(conn)]


def check_regency(conn: psycopg.Connection, code: str) -> str:
    """``code`` normalised, if it is a regency of the published region master."""
    code = normalise_regency(code)
    known = published_regencies(conn)
    if not known:
        raise UnknownRegency("marts.dim_region is not published yet: run the region "
                             "DAG (lumbung run) before giving a regency its access")
    if code not in known:
        raise UnknownRegency(f"{code} is not a regency of marts.dim_region "
                             f"(known: {', '.join(known)})")
    return code


def secure_marts(conn: psycopg.Connection) -> list[str]:
    """Secure every published mart that has a regency; returns them."""
    tables = [r[0] for r in conn.execute(
        "select tablename::text from pg_tables where schemaname = %s order by 1",
        (PUBLISHED_SCHEMA,)).fetchall()]
    return [t for t in tables if secure_table(conn, t)]
