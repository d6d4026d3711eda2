"""What the warehouse's raw layer looks like, read from the catalogue: every relation of
schema ``raw`` and every view of schema ``audit``, with columns (name, order, type,
nullability, default), constraints, indexes, comments, grants and view definitions.

Two warehouses whose snapshots are equal have the same raw tables and gate views.
"""

from __future__ import annotations

import re

import psycopg

SCHEMAS = ("raw", "audit")

_RELATIONS = """
select n.nspname || '.' || c.relname, c.relkind, c.relacl::text,
       obj_description(c.oid, 'pg_class'), c.oid
from pg_class as c join pg_namespace as n on c.relnamespace = n.oid
where (n.nspname = 'raw' and c.relkind in ('r', 'v', 'p'))
   or (n.nspname = 'audit' and c.relkind = 'v')
order by 1
"""

_COLUMNS = """
select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum), a.attacl::text
from pg_attribute as a
left join pg_attrdef as d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attrelid = %s and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""

_CONSTRAINTS = """
select conname, contype::text, pg_get_constraintdef(oid)
from pg_constraint where conrelid = %s order by conname
"""

_INDEXES = """
select i.relname, pg_get_indexdef(x.indexrelid)
from pg_index as x join pg_class as i on x.indexrelid = i.oid
where x.indrelid = %s order by i.relname
"""

_FROM_ALIAS = re.compile(r"FROM \(*raw\.\w+ (\w+)")


def view_definition(text: str) -> str:
    """A view's definition with the alias of its raw table spelt ``r``: an alias is a name
    inside the view, not part of what it shows."""
    found = _FROM_ALIAS.search(text)
    if found and found.group(1) != "r" and not text.count(" r."):
        text = re.sub(rf"\b{found.group(1)}\.", "r.", text)
        text = re.sub(rf"(FROM \(*raw\.\w+) {found.group(1)}\b", r"\1 r", text)
    return text


def snapshot(conn: psycopg.Connection) -> dict[str, dict]:
    """The raw tables and audit views of the database ``conn`` is connected to."""
    out: dict[str, dict] = {}
    for name, kind, acl, comment, oid in conn.execute(_RELATIONS).fetchall():
        entry: dict = {
            "kind": kind,
            "acl": acl,
            "comment": comment,
            "columns": [
                {"name": n, "type": t, "not_null": nn, "default": d, "comment": c, "acl": a}
                for n, t, nn, d, c, a in conn.execute(_COLUMNS, (oid,)).fetchall()
            ],
            "constraints": [list(r) for r in conn.execute(_CONSTRAINTS, (oid,)).fetchall()],
            "indexes": [list(r) for r in conn.execute(_INDEXES, (oid,)).fetchall()],
        }
        if kind == "v":
            entry["definition"] = view_definition(
                conn.execute("select pg_get_viewdef(%s::oid, true)", (oid,)).fetchone()[0])
        out[name] = entry
    return out
