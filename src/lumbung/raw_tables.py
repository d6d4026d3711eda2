"""Raw tables and their gate views, derived from each source family's declaration.

A source family declares its raw tables once, next to its reader (``RAW_TABLES`` in the
modules named by ``lumbung.sources.RAW_TABLES``): the dataset spec the reader lands with,
the columns in table order (every one text, as received), comments, and the views the
quality gate reads. The columns every raw table starts with come from ``SHARED`` here.
``ddl()`` writes what the bootstrap runs; every statement can run again on an existing
warehouse.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from psycopg import sql

from lumbung.landing import DatasetSpec

BATCHES = "audit.load_batches"
# The columns every raw table starts with: the batch a row came in (audit.load_batches) and
# the row's place in its file (line, spreadsheet row, item), unique within the batch.
SHARED: tuple[tuple[str, str], ...] = (
    ("_batch_id", "bigint not null"),
    ("_row_number", "bigint not null"),
)
COLUMN_TYPE = "text"  # raw keeps every value exactly as received


@dataclass(frozen=True)
class Gate:
    """A view (schema audit) of a raw table's rows in the batches being judged, with their
    partition key, for the quality gate's suites.

    ``match`` names the batch fields (``source``, ``dataset``) that must equal the table's
    spec: a table that several datasets land into matches none of them. ``part`` keeps only
    that '/'-separated part of the partition key (1 = the first).
    """

    partition: str  # the view's name for the partition key: _edition, _period, ...
    name: str = ""  # default gate_<table>
    match: tuple[str, ...] = ("source", "dataset")
    part: int | None = None
    statuses: tuple[str, ...] = ("validating",)


@dataclass(frozen=True)
class RawTable:
    """One raw table: the spec its rows land with, its own columns in table order, comments.

    Small tables key their rows (primary key on the shared columns, foreign key to the batch);
    a ``bulk`` table, filled by COPY of millions of rows in the transaction that creates their
    batch, has neither (maintaining them slows COPY down several times) and a BRIN index on
    ``_batch_id`` instead: batches are appended in batch_id order, so it stays small.
    """

    spec: DatasetSpec
    columns: tuple[str, ...]
    comment: str | None = None
    column_comments: Mapping[str, str] = field(default_factory=dict)
    gates: tuple[Gate, ...] = ()
    bulk: bool = False
    batch_fk: bool = True  # a foreign key to audit.load_batches (never on bulk tables)

    @classmethod
    def of(cls, spec: DatasetSpec, columns: Iterable[str] | None = None, **kw) -> RawTable:
        """The table of ``spec``; columns in the spec's order unless given."""
        return cls(spec, tuple(spec.columns if columns is None else columns), **kw)

    @property
    def name(self) -> str:
        return self.spec.table

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*(name for name, _ in SHARED), *self.columns)

    def _id(self) -> sql.Identifier:
        return sql.Identifier(self.spec.schema, self.spec.table)

    def create(self) -> list[sql.Composable]:
        lines = [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in SHARED]
        if self.batch_fk and not self.bulk:
            lines[0] = sql.SQL("{} references {} (batch_id)").format(lines[0], _ident(BATCHES))
        lines += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(COLUMN_TYPE))
                  for c in self.columns]
        if not self.bulk:
            lines.append(sql.SQL("primary key ({})").format(
                sql.SQL(", ").join(sql.Identifier(n) for n, _ in SHARED)))
        out: list[sql.Composable] = [sql.SQL("create table if not exists {} (\n    {}\n)").format(
            self._id(), sql.SQL(",\n    ").join(lines))]
        if self.comment:
            out.append(sql.SQL("comment on table {} is {}").format(
                self._id(), sql.Literal(self.comment)))
        for column, text in self.column_comments.items():
            out.append(sql.SQL("comment on column {} is {}").format(
                sql.Identifier(self.spec.schema, self.spec.table, column), sql.Literal(text)))
        if self.bulk:
            out.append(sql.SQL("create index if not exists {} on {} using brin ({})").format(
                sql.Identifier(f"{self.spec.table}_batch_brin"), self._id(),
                sql.Identifier(SHARED[0][0])))
        return out

    def views(self) -> list[sql.Composable]:
        return [self._view(gate) for gate in self.gates]

    def _view(self, gate: Gate) -> sql.Composable:
        key = sql.SQL("b.partition_key")
        if gate.part is not None:
            key = sql.SQL("split_part(b.partition_key, '/', {})").format(sql.Literal(gate.part))
        statuses = [sql.Literal(s) for s in gate.statuses]
        where = [sql.SQL("b.status = {}").format(statuses[0]) if len(statuses) == 1 else
                 sql.SQL("b.status in ({})").format(sql.SQL(", ").join(statuses))]
        where += [sql.SQL("b.{} = {}").format(sql.Identifier(f), sql.Literal(getattr(self.spec, f)))
                  for f in gate.match]
        return sql.SQL(
            "create or replace view {} as\nselect r.*, {} as {}\nfrom {} as r\n"
            "inner join {} as b on r._batch_id = b.batch_id\nwhere {}"
        ).format(sql.Identifier("audit", gate.name or f"gate_{self.spec.table}"), key,
                 sql.Identifier(gate.partition), self._id(), _ident(BATCHES),
                 sql.SQL(" and ").join(where))


def _ident(qualified: str) -> sql.Identifier:
    return sql.Identifier(*qualified.split("."))


def _drop_old_keys(tables: list[RawTable]) -> sql.Composable:
    """Warehouses bootstrapped when bulk tables still had a primary key lose it (looked up
    first: altering a table that has none would still lock it)."""
    names = sql.SQL(", ").join(sql.Literal(t.spec.table) for t in tables)
    return sql.SQL("""do $$
declare
    old_key record;
begin
    for old_key in
        select c.conrelid::regclass as table_name, c.conname
        from pg_constraint as c
        inner join pg_class as t on c.conrelid = t.oid
        inner join pg_namespace as n on t.relnamespace = n.oid
        where n.nspname = 'raw' and c.contype = 'p' and t.relname in ({})
    loop
        execute format('alter table %s drop constraint %I', old_key.table_name, old_key.conname);
    end loop;
end
$$""").format(names)


def declared() -> list[RawTable]:
    """Every source family's raw tables, in the order of ``lumbung.sources.RAW_TABLES``."""
    from lumbung.sources import RAW_TABLES

    return [table for module in RAW_TABLES.values()
            for table in importlib.import_module(module).RAW_TABLES]


def ddl(tables: list[RawTable] | None = None) -> str:
    """The statements creating the raw tables, their comments and indexes, then the views."""
    tables = declared() if tables is None else tables
    statements = [s for t in tables for s in t.create()]
    if bulk := [t for t in tables if t.bulk]:
        statements.append(_drop_old_keys(bulk))
    statements += [v for t in tables for v in t.views()]
    return ";\n\n".join(s.as_string() for s in statements) + ";\n"
