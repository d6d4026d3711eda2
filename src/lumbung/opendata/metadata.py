"""What every published mart is, for open data consumers: one source for the release files
(Data Package, DCAT, BPS metadata) and the HTTP API.

Everything is read from the warehouse itself (tables of ``marts``, their columns, types,
not-null and primary-key constraints, and the descriptions dbt persisted as comments) and,
when it is there, from dbt's ``manifest.json`` (relationships tests as foreign keys, folder
and tags as keywords). No mart or column list is kept here: a mart added to dbt is described
as soon as it is published.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from lumbung import dbt_manifest
from lumbung.config import Paths
from lumbung.publish import PUBLISHED_SCHEMA

# The region marts and the columns every other mart names their codes with (the marts'
# column contract, dbt_project/README.md): a column of that name is a foreign key to them.
REGION_KEYS: dict[str, tuple[str, str]] = {
    "village_code": ("dim_village", "village_code"),
    "district_code": ("dim_region", "region_code"),
    "regency_code": ("dim_region", "region_code"),
    "province_code": ("dim_region", "region_code"),
}
# The column that carries the year of a yearly mart (the marts' column contract).
YEAR_COLUMN = "year"
# The column that says whether a row comes from real or generated data (same contract).
ORIGIN_COLUMN = "data_origin"

PUBLISHER = {
    "name": os.environ.get(
        "LUMBUNG_PUBLISHER", "Smart Village (Desa Berjaya) programme, Lampung province"),
    "url": os.environ.get("LUMBUNG_PUBLISHER_URL", "https://lampungprov.go.id"),
}
LICENSE = {
    "name": "CC-BY-4.0",
    "title": "Creative Commons Attribution 4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
}
LANGUAGE = "en"  # descriptions are English; Indonesian domain terms are kept

# PostgreSQL type (format_type, without modifiers) -> Table Schema type.
_FRICTIONLESS_TYPES = {
    "text": "string", "character varying": "string", "character": "string",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "number", "double precision": "number", "real": "number",
    "boolean": "boolean", "date": "date",
    "timestamp with time zone": "datetime", "timestamp without time zone": "datetime",
    "json": "any", "jsonb": "any",
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # as format_type() writes it, e.g. "numeric(18,2)", "text[]"
    nullable: bool
    description: str | None

    @property
    def base_type(self) -> str:
        return re.sub(r"\(.*\)", "", self.pg_type).strip()

    @property
    def is_array(self) -> bool:
        return self.pg_type.endswith("[]")

    @property
    def frictionless_type(self) -> str:
        """Table Schema type; arrays are released as JSON arrays."""
        if self.is_array:
            return "array"
        return _FRICTIONLESS_TYPES.get(self.base_type, "string")


@dataclass(frozen=True)
class ForeignKey:
    fields: tuple[str, ...]
    mart: str  # the referenced mart (may be the mart itself)
    reference_fields: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """One published mart."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    keywords: tuple[str, ...] = ()
    title_override: str | None = None
    # column -> values its dbt accepted_values test allows (the variable's classification)
    accepted_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The model's ``meta.title``, else the first sentence of its description."""
        if self.title_override:
            return self.title_override
        first = re.split(r"(?<=[a-z\)])\.\s|:\s|\n\n", self.description.strip(), maxsplit=1)[0]
        first = " ".join(first.split()).rstrip(".")
        if not first:
            return self.name
        return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "..."

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def region_columns(self) -> dict[str, tuple[str, str]]:
        """Columns holding Kemendagri region codes -> (region mart, code column)."""
        return {c: REGION_KEYS[c] for c in self.column_names if c in REGION_KEYS}

    @property
    def year_column(self) -> str | None:
        return YEAR_COLUMN if YEAR_COLUMN in self.column_names else None


@dataclass(frozen=True)
class Attribution:
    """A vendored source of real data and its licence (data/landing/<source>/SOURCES.md)."""

    source: str  # landing folder
    title: str
    text: str
    path: str  # relative to the repository
    licences: tuple[str, ...] = field(default=())

    @property
    def release_path(self) -> str:
        """Where a release carries a copy of it."""
        return f"sources/{self.source}.md"


@dataclass(frozen=True)
class DbtModel:
    """A published model as dbt's manifest describes it."""

    fqn: tuple[str, ...]
    tags: tuple[str, ...]
    title: str | None  # meta.title
    relationships: tuple[ForeignKey, ...]  # from its relationships tests
    accepted_values: dict[str, tuple[str, ...]]  # column -> its accepted_values test's


def dbt_models(paths: Paths | None) -> dict[str, DbtModel]:
    """Models and seeds of dbt's manifest by table name ({} without one), with their tests
    read in one pass."""
    manifest = dbt_manifest.read(paths) if paths is not None else None
    if manifest is None:
        return {}
    nodes = manifest.nodes.values()
    tests: dict[str, list[dbt_manifest.Node]] = {}
    for node in nodes:
        if node.test_metadata is not None and node.attached_node:
            tests.setdefault(node.attached_node, []).append(node)
    return {node.table: DbtModel(
                fqn=tuple(node.fqn), tags=tuple(node.tags),
                title=(node.meta or {}).get("title"),
                relationships=_relationships(tests.get(node.unique_id, [])),
                accepted_values=_accepted_values(tests.get(node.unique_id, [])))
            for node in nodes if node.resource_type in ("model", "seed")}


def _relationships(tests: list[dbt_manifest.Node]) -> tuple[ForeignKey, ...]:
    """Foreign keys from dbt ``relationships`` tests on the model's columns."""
    keys = []
    for test in tests:
        if test.test_metadata.name != "relationships":
            continue
        kwargs = test.test_metadata.kwargs
        target = re.search(r"ref\(['\"](\w+)['\"]\)", kwargs.get("to") or "")
        column = kwargs.get("column_name") or test.column_name
        if target and column and kwargs.get("field"):
            keys.append(ForeignKey((column,), target.group(1), (kwargs["field"],)))
    return tuple(keys)


def _accepted_values(tests: list[dbt_manifest.Node]) -> dict[str, tuple[str, ...]]:
    found = {}
    for test in tests:
        if test.test_metadata.name != "accepted_values":
            continue
        kwargs = test.test_metadata.kwargs
        column = kwargs.get("column_name") or test.column_name
        if column and isinstance(kwargs.get("values"), list):
            found[column] = tuple(str(v) for v in kwargs["values"])
    return found


def _keywords(model: DbtModel | None, name: str) -> tuple[str, ...]:
    words = ["Lampung", "desa", "Smart Village"]
    if model:
        # fqn: project, "marts", <domain folder>, ..., model
        words += [part.replace("_", " ") for part in model.fqn[2:-1]]
        words += list(model.tags)
    else:
        words.append(name.removeprefix("mart_").removeprefix("dim_").replace("_", " "))
    return tuple(dict.fromkeys(words))


# Every published mart's comment, columns (name, type, not null, comment) and primary key,
# in one round trip.
_MARTS = """
select c.relname, obj_description(c.oid, 'pg_class'),
       coalesce((select json_agg(json_build_array(
                            a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                            col_description(a.attrelid, a.attnum)) order by a.attnum)
                 from pg_attribute as a
                 where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]'),
       coalesce((select json_agg(a.attname order by k.position)
                 from pg_constraint as p
                 cross join lateral unnest(p.conkey) with ordinality as k (attnum, position)
                 join pg_attribute as a on a.attrelid = p.conrelid and a.attnum = k.attnum
                 where p.conrelid = c.oid and p.contype = 'p'), '[]')
from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm')
order by c.relname
"""


def describe(table: str, description: str | None, columns: list[list], primary_key: list[str],
             models: dict[str, DbtModel], region_marts: dict[str, set[str]]) -> Dataset:
    """The metadata of ``marts.<table>`` from its catalog entry (:data:`_MARTS`), the
    columns of the region marts and dbt's models (:func:`dbt_models`)."""
    columns = tuple(Column(name, pg_type, not not_null, comment)
                    for name, pg_type, not_null, comment in columns)
    model = models.get(table)
    names = {c.name for c in columns}
    keys: dict[tuple, ForeignKey] = {}
    for key in model.relationships if model else ():
        if set(key.fields) <= names and set(key.reference_fields) <= region_marts.get(
                key.mart, set()):
            keys[key.fields] = key
    for column, (mart, code) in REGION_KEYS.items():
        if column in names and code in region_marts.get(mart, set()) and (column,) not in keys \
                and (mart, code) != (table, column):
            keys[(column,)] = ForeignKey((column,), mart, (code,))
    return Dataset(
        name=table,
        description=(description or "").strip(),
        columns=columns,
        primary_key=tuple(primary_key),
        foreign_keys=tuple(keys.values()),
        keywords=_keywords(model, table) + (
            ("Kemendagri region code",) if names & set(REGION_KEYS) else ()),
        title_override=model.title if model else None,
        accepted_values=dict(model.accepted_values) if model else {},
    )


def datasets(conn: psycopg.Connection, paths: Paths | None = None) -> list[Dataset]:
    """Every published mart, described (``paths``: where dbt's manifest is)."""
    models = dbt_models(paths)
    found = conn.execute(_MARTS, (PUBLISHED_SCHEMA,)).fetchall()
    region_mart_names = {mart for mart, _ in REGION_KEYS.values()}
    region_marts = {mart: {column[0] for column in columns}
                    for mart, _, columns, _ in found if mart in region_mart_names}
    return [describe(table, description, columns, key, models, region_marts)
            for table, description, columns, key in found]


def undocumented_columns(described: list[Dataset]) -> list[str]:
    """``mart.column`` of every released column without a description."""
    return [f"{d.name}.{c.name}" for d in described for c in d.columns
            if not (c.description or "").strip()]


def attributions(paths: Paths) -> list[Attribution]:
    """The vendored sources of real data (``data/landing/*/SOURCES.md`` of the repository)."""
    found = []
    for file in sorted((paths.root / "data" / "landing").glob("*/SOURCES.md")):
        text = file.read_text(encoding="utf-8")
        heading = next((ln.lstrip("# ").strip() for ln in text.splitlines()
                        if ln.startswith("#")), file.parent.name)
        licences = tuple(dict.fromkeys(re.findall(r"\(([A-Z][A-Za-z0-9.\- ]*licen[cs]e)\)",
                                                  text)))
        found.append(Attribution(
            source=file.parent.name, title=heading, text=text.strip(),
            path=str(Path(file).relative_to(paths.root)), licences=licences))
    return found
