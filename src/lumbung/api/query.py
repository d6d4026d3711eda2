"""Pages of a mart as SQL: column selection, filters, keyset pagination, all parameterised.

Identifiers come only from the catalog (a requested name that is not a column of the mart
is refused before any SQL is written); values are always bound parameters, cast to the
column's type by the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg import sql

from lumbung.api import rows_json
from lumbung.api.catalog import Mart
from lumbung.rls import PUBLISHED_SCHEMA

MAX_LIMIT = 10_000
MAX_OFFSET = 100_000_000
MAX_SHAPES = 512  # page queries kept per mart (Page._written)
_CODE_RE = re.compile(r"^[0-9]{2,10}$")


class BadRequest(ValueError):
    """A request the API refuses, with a sentence the caller understands."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def region_code(column: str, value: str) -> str:
    """A Kemendagri code, dotted or not (``18.01.05`` -> ``180105``)."""
    code = value.strip().replace(".", "")
    if not _CODE_RE.match(code):
        raise BadRequest(f"{column} must be a Kemendagri code of digits (e.g. 1801 or 18.01), "
                         f"not {value[:40]!r}", column)
    return code


def choose_columns(mart: Mart, requested: list[str] | None) -> list[str]:
    if not requested:
        return mart.column_names
    unknown = [c for c in requested if c not in mart.column_names]
    if unknown:
        raise BadRequest(f"{mart.name} has no column {', '.join(repr(c[:60]) for c in unknown)}; "
                         f"its columns are: {', '.join(mart.column_names)}", "columns")
    return list(dict.fromkeys(requested))


def encode_cursor(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_cursor(mart: Mart, cursor: str) -> dict:
    """A cursor this API gave for this mart: {"after": [key values]} or {"offset": n}."""
    refused = BadRequest("`after` is not a cursor this API gave for this dataset; start again "
                         "without it and follow the `next` links", "after")
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise refused from None
    if not isinstance(state, dict):
        raise refused
    if "after" in state:
        values = state["after"]
        if (not mart.primary_key or not isinstance(values, list)
                or len(values) != len(mart.primary_key)
                or not all(isinstance(v, str) for v in values)):
            raise refused
        return {"after": values}
    offset = state.get("offset")
    if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset <= MAX_OFFSET:
        return {"offset": offset}
    raise refused


@dataclass
class Page:
    """One page of a mart: what to select, filter and skip."""

    mart: Mart
    columns: list[str]
    limit: int
    filters: dict[str, list[str | int]] = field(default_factory=dict)
    after: list[str] | None = None
    offset: int = 0
    sort: list[tuple[str, bool]] | None = None  # (column, descending); None: the key

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", "limit")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise BadRequest(f"offset must be between 0 and {MAX_OFFSET}", "offset")
        for column in self.filters:
            if column not in self.mart.column_names:
                raise BadRequest(f"{self.mart.name} has no column {column[:60]!r} to filter on",
                                 column)

    @property
    def _table(self) -> sql.Composable:
        return sql.Identifier(PUBLISHED_SCHEMA, self.mart.name)

    def _cast(self, column: str, array: bool = False) -> sql.Composable:
        # The type is the catalog's own spelling (format_type), never the caller's text.
        type_ = self.mart.column(column).type + ("[]" if array else "")
        return sql.SQL("cast(%s as {})").format(sql.SQL(type_))

    def _where(self, keyset: bool = True) -> tuple[sql.Composable, list]:
        clauses: list[sql.Composable] = []
        for column in self.filters:
            clauses.append(sql.SQL("t.{} = any({})").format(
                sql.Identifier(column), self._cast(column, array=True)))
        if keyset and self.after is not None:
            key = self.mart.primary_key
            clauses.append(sql.SQL("({}) > ({})").format(
                sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k in key),
                sql.SQL(", ").join(self._cast(k) for k in key)))
        params = self._where_params(keyset)
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" where ") + sql.SQL(" and ").join(clauses), params

    def _where_params(self, keyset: bool = True) -> list:
        """:meth:`_where`'s parameters, in its order."""
        params: list = [[str(v) for v in values] for values in self.filters.values()]
        if keyset and self.after is not None:
            params.extend(self.after)
        return params

    def _order(self) -> sql.Composable:
        if self.sort:
            parts = [sql.SQL("t.{} {}").format(sql.Identifier(c), sql.SQL("desc" if d else "asc"))
                     for c, d in self.sort]
            # The key last, so that equal sort values still come in one stable order.
            parts += [sql.SQL("t.{}").format(sql.Identifier(k)) for k in self.mart.key]
        else:
            parts = [sql.SQL("t.{}").format(sql.Identifier(k)) for k in self.mart.key]
        return sql.SQL(" order by ") + sql.SQL(", ").join(parts)

    def _select(self, projection: sql.Composable, limit: int, offset: int
                ) -> tuple[sql.Composable, list]:
        where, params = self._where()
        query = (sql.SQL("select ") + projection + sql.SQL(" from {} as t").format(self._table)
                 + where + self._order() + sql.SQL(" limit %s offset %s"))
        return query, [*params, limit, offset]

    def json_rows(self) -> tuple[sql.Composable, list]:
        """The page as one JSON array of objects (text), the chosen columns in their order:
        one value built by the database, so no row is handled one by one on the way."""
        projection = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c))
                                        for c in self.columns)
        query, params = self._select(projection, self.limit, self.offset)
        # json_agg keeps the subquery's order (the page's) and its column names as keys
        return (sql.SQL("select coalesce(json_agg(page)::text, '[]') from (") + query
                + sql.SQL(") as page"), params)

    def json_page(self) -> tuple[sql.Composable, list]:
        """One row: the page as :meth:`json_rows` does, the key of its last row (text[],
        null without keyset pagination) and whether a row follows it. One scan of the page
        and one row more, kept for the three (instead of :meth:`next_key` scanning the
        page again)."""
        keys = self.mart.primary_key if self.uses_keyset else []
        key_names = [sql.Identifier(f"?key {i}") for i in range(len(keys))]
        projection = sql.SQL(", ").join(
            [sql.SQL("t.{}").format(sql.Identifier(c)) for c in self.columns]
            + [sql.SQL("t.{}::text as {}").format(sql.Identifier(k), name)
               for k, name in zip(keys, key_names, strict=True)])
        query, params = self._select(projection, self.limit + 1, self.offset)
        last = (sql.SQL("array[{}]").format(sql.SQL(", ").join(key_names)) if keys
                else sql.SQL("null::text[]"))
        chosen = sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        return (sql.SQL("with page as materialized (") + query + sql.SQL(
            ") select (select coalesce(json_agg(rows)::text, '[]') from (select {} from page "
            "limit %s) as rows), (select {} from page offset %s limit 1), "
            "(select count(*) > %s from page)").format(chosen, last),
            [*params, self.limit, self.limit - 1, self.limit])

    def json_layout(self) -> rows_json.Layout | None:
        """How :meth:`json_copy`'s rows become the page's JSON (None: json_agg writes it,
        :meth:`json_page`)."""
        keys = self.mart.primary_key if self.uses_keyset else []
        return rows_json.layout([(c, self.mart.column(c).type) for c in self.columns],
                                [(k, self.mart.column(k).type) for k in keys])

    def _written(self, kind: str, write: Callable[[], sql.Composable], limit: int,
                 offset: int) -> tuple[str, list]:
        """(SQL, parameters) of a page query, the SQL written by ``write`` once per shape of
        page (its kind, columns, filters, keyset or not) and kept on the mart."""
        shape = (kind, tuple(self.columns), tuple(self.filters), self.after is not None,
                 tuple(self.sort or ()))
        query = self.mart.queries.get(shape)
        if query is None:
            query = write().as_string(None)
            if len(self.mart.queries) < MAX_SHAPES:  # callers choose the columns: bounded
                self.mart.queries[shape] = query
        return query, [*self._where_params(), limit, offset]

    def json_copy(self, layout: rows_json.Layout) -> tuple[str, list]:
        """``copy (...) to stdout`` (text) of the page and the row after it, as ``layout``
        (:meth:`json_layout`) selects them."""
        return self._written("json", lambda: sql.SQL("copy (") + self._select(
            sql.SQL(", ").join(layout.expressions), 0, 0)[0] + sql.SQL(") to stdout"),
            self.limit + 1, self.offset)

    def csv_copy(self) -> tuple[str, list]:
        """``copy (...) to stdout`` of the page as CSV with a header."""
        return self._written("csv", lambda: sql.SQL("copy (") + self._select(
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c))
                               for c in self.columns), 0, 0)[0]
            + sql.SQL(") to stdout with (format csv, header)"), self.limit, self.offset)

    def next_key(self) -> tuple[str, list]:
        """The key of the page's last row, and a second row when another page follows."""
        return self._written("next key", lambda: self._select(
            sql.SQL(", ").join(sql.SQL("t.{}::text").format(sql.Identifier(k))
                               for k in self.mart.primary_key), 0, 0)[0],
            2, self.offset + self.limit - 1)

    def count(self) -> tuple[sql.Composable, list]:
        where, params = self._where(keyset=False)
        return sql.SQL("select count(*) from {} as t").format(self._table) + where, params

    @property
    def uses_keyset(self) -> bool:
        return bool(self.mart.primary_key) and not self.sort
