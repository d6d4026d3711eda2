"""What the API serves: the published marts the caller's role can read, from the database.

Read from the PostgreSQL catalog, so a mart appears exactly when the caller's role may
select it; descriptions are the dbt docs persisted as comments, keys the dbt
contracts' primary keys, and dates the publication (``audit.publications``) that last
replaced the mart.

:class:`Catalog` keeps what each role may read until the next publication: a request reads
only the latest publication's id (one indexed row), not the catalog.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from lumbung.opendata.metadata import YEAR_COLUMN
from lumbung.rls import PUBLISHED_SCHEMA, REGION_COLUMNS

# The year dimension: `year` (the marts' column contract), else a column named like the
# older `fiscal_year`, `report_year` of marts built before that contract.
_YEAR_RE = re.compile(r"^(year|tahun|[a-z_]+_year)$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str | None
    nullable: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "description": self.description,
                "nullable": self.nullable}


@dataclass(frozen=True)
class Publication:
    publication_id: int
    published_at: datetime


@dataclass(frozen=True)
class Mart:
    name: str
    description: str | None
    columns: list[Column]
    primary_key: list[str]
    publication: Publication | None = None
    column_names: list[str] = field(init=False)
    # the SQL of its pages by shape (lumbung.api.query), dropped with the catalog's entry
    queries: dict = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", [c.name for c in self.columns])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def title(self) -> str:
        """The first sentence of the description, else the name."""
        if self.description:
            first = re.split(r"(?<=[.!?])\s", self.description.strip(), maxsplit=1)[0]
            return first.rstrip(".")[:200]
        return self.name.replace("_", " ")

    @property
    def year_column(self) -> str | None:
        names = [c.name for c in self.columns if _YEAR_RE.match(c.name)
                 and c.type in ("integer", "smallint", "bigint", "numeric")]
        return YEAR_COLUMN if YEAR_COLUMN in names else (names[0] if names else None)

    @property
    def region_columns(self) -> list[str]:
        return [c for c in REGION_COLUMNS if c in self.column_names]

    @property
    def key(self) -> list[str]:
        """What pages are ordered by: the primary key, else every column."""
        return self.primary_key or self.column_names

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "columns": [c.to_dict() for c in self.columns],
            "primary_key": self.primary_key,
            "year_column": self.year_column,
            "region_columns": self.region_columns,
            "publication_id": self.publication.publication_id if self.publication else None,
            "modified": self.publication.published_at.isoformat() if self.publication else None,
        }


# One round trip: every mart the role may read, its columns (name, type, description,
# nullable, position in the primary key) and the latest publication that replaced it.
_MARTS = """
select c.relname::text, obj_description(c.oid, 'pg_class'),
       (select json_agg(json_build_array(
                   a.attname, format_type(a.atttypid, a.atttypmod),
                   col_description(a.attrelid, a.attnum), not a.attnotnull,
                   coalesce(array_position(k.conkey, a.attnum), 0)) order by a.attnum)
        from pg_attribute as a
        left join pg_constraint as k on k.conrelid = c.oid and k.contype = 'p'
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
       p.publication_id, p.published_at
from pg_class as c
inner join pg_namespace as n on c.relnamespace = n.oid
left join lateral (
    select publication_id, published_at from audit.publications
    where tables ? c.relname::text order by publication_id desc limit 1
) as p on true
where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'v', 'm')
  and has_table_privilege(%(role)s, c.oid, 'select')
  and (%(name)s::text is null or c.relname = %(name)s)
order by c.relname
"""


def marts(conn: psycopg.Connection, role: str, name: str | None = None) -> list[Mart]:
    """The marts ``role`` can read (or the one named ``name``); run as the API's own role,
    which reads the publications, before it sets the caller's role."""
    found = []
    for table, description, columns, publication_id, published_at in conn.execute(
            _MARTS, {"schema": PUBLISHED_SCHEMA, "name": name, "role": role}).fetchall():
        key = sorted((position, column) for column, _, _, _, position in columns or []
                     if position)
        found.append(Mart(
            name=table, description=description,
            columns=[Column(c, t, d, nullable) for c, t, d, nullable, _ in columns or []],
            primary_key=[column for _, column in key],
            publication=(Publication(publication_id, published_at)
                         if publication_id is not None else None)))
    return found


def mart(conn: psycopg.Connection, role: str, name: str) -> Mart | None:
    found = marts(conn, role, name)
    return found[0] if found else None


LATEST_PUBLICATION = "select coalesce(max(publication_id), 0) from audit.publications"


class Catalog:
    """:func:`marts` of each role, kept while no new publication appears.

    A publication is what replaces a mart, its columns, comments and grants, so the cache is
    dropped when ``audit.publications`` has a newer row than the one it was read at. The
    latest id is read in the request's own (repeatable-read) transaction, so the catalog a
    request uses is never older than the snapshot its rows come from. ``loads`` counts the
    catalog queries (for tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._publication = -1
        self._by_role: dict[str, dict[str, Mart]] = {}
        self.loads = 0

    def marts(self, conn: psycopg.Connection, role: str) -> dict[str, Mart]:
        """Name -> mart, every mart ``role`` can read; run as the API's own role."""
        latest = conn.execute(LATEST_PUBLICATION).fetchone()[0]
        with self._lock:
            if latest > self._publication:
                self._publication, self._by_role = latest, {}
            found = self._by_role.get(role) if latest == self._publication else None
        if found is not None:
            return found
        found = {m.name: m for m in marts(conn, role)}
        with self._lock:
            self.loads += 1
            if latest == self._publication:  # not an older snapshot than the cache's
                self._by_role[role] = found
        return found

    def forget(self) -> None:
        """Drop every cached entry: the database refused what the cache said was there (a
        grant or column changed by hand, between publications)."""
        with self._lock:
            self._by_role = {}

    def known(self, role: str) -> tuple[int, dict[str, Mart]] | None:
        """(publication id, name -> mart) as cached for ``role``, not yet checked against
        the database: the caller reads :data:`LATEST_PUBLICATION` with its rows and
        :meth:`marts` again when it differs."""
        with self._lock:
            found = self._by_role.get(role)
            return None if found is None else (self._publication, found)
