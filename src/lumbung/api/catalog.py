"""What the API serves: the published marts the caller's role can read, from the database.

Read from the PostgreSQL catalog, so a mart appears exactly when the caller's role may
select it; descriptions are the dbt docs persisted as comments, keys the dbt
contracts' primary keys, and dates the publication (``audit.publications``) that last
replaced the mart.
"""

from __future__ import annotations

import re
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


_MARTS = """
select c.relname::text, obj_description(c.oid, 'pg_class')
from pg_class as c
inner join pg_namespace as n on c.relnamespace = n.oid
where n.nspname = %(schema)s and c.relkind in ('r', 'p', 'v', 'm')
  and has_table_privilege(%(role)s, c.oid, 'select')
  and (%(name)s::text is null or c.relname = %(name)s)
order by c.relname
"""

_COLUMNS = """
select c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       col_description(a.attrelid, a.attnum), not a.attnotnull,
       coalesce(array_position(k.conkey, a.attnum), 0)
from pg_class as c
inner join pg_namespace as n on c.relnamespace = n.oid
inner join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
left join pg_constraint as k on k.conrelid = c.oid and k.contype = 'p'
where n.nspname = %(schema)s and c.relname = any(%(names)s)
order by c.relname, a.attnum
"""

# The latest publication of each mart (a publication names its tables in `tables`).
_PUBLICATIONS = """
select t.name, p.publication_id, p.published_at
from unnest(%(names)s::text[]) as t (name)
cross join lateral (
    select publication_id, published_at from audit.publications
    where tables ? t.name order by publication_id desc limit 1
) as p
"""


def marts(conn: psycopg.Connection, role: str, name: str | None = None) -> list[Mart]:
    """The marts ``role`` can read (or the one named ``name``); run as the API's own role,
    which reads the publications, before it sets the caller's role."""
    found = conn.execute(_MARTS, {"schema": PUBLISHED_SCHEMA, "name": name,
                                  "role": role}).fetchall()
    names = [r[0] for r in found]
    if not names:
        return []
    columns: dict[str, list[Column]] = {n: [] for n in names}
    keys: dict[str, list[tuple[int, str]]] = {n: [] for n in names}
    for table, column, type_, description, nullable, key_position in conn.execute(
            _COLUMNS, {"schema": PUBLISHED_SCHEMA, "names": names}).fetchall():
        columns[table].append(Column(column, type_, description, nullable))
        if key_position:
            keys[table].append((key_position, column))
    publications = {
        r[0]: Publication(r[1], r[2])
        for r in conn.execute(_PUBLICATIONS, {"names": names}).fetchall()
    }
    return [
        Mart(name=n, description=d, columns=columns[n],
             primary_key=[c for _, c in sorted(keys[n])], publication=publications.get(n))
        for n, d in found
    ]


def mart(conn: psycopg.Connection, role: str, name: str) -> Mart | None:
    found = marts(conn, role, name)
    return found[0] if found else None
