"""``/datasets``: the published marts, their metadata and their rows (JSON or CSV).

Answers carry ``ETag`` and ``Last-Modified`` from the publication that last replaced the
mart, so a harvester asking again with ``If-None-Match`` or ``If-Modified-Since`` gets
``304 Not Modified`` until the next publication.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lumbung.api import catalog, rows_json
from lumbung.api.access import ApiError, Session, bearer_token, session
from lumbung.api.query import (
    MAX_LIMIT,
    MAX_OFFSET,
    BadRequest,
    Page,
    choose_columns,
    decode_cursor,
    encode_cursor,
    region_code,
)
from lumbung.roundtrip import Statements

router = APIRouter(tags=["datasets"])

MART_PATH = r"^[a-z][a-z0-9_]{0,62}$"


class ColumnInfo(BaseModel):
    name: str
    type: str
    description: str | None
    nullable: bool


class DatasetSummary(BaseModel):
    name: str
    title: str
    description: str | None
    modified: str | None
    publication_id: int | None
    url: str
    rows_url: str


class DatasetList(BaseModel):
    count: int
    datasets: list[DatasetSummary]


class Dataset(BaseModel):
    name: str
    title: str
    description: str | None
    columns: list[ColumnInfo]
    primary_key: list[str]
    year_column: str | None
    region_columns: list[str]
    publication_id: int | None
    modified: str | None
    rows_url: str


class RowsQuery(BaseModel):
    """The query parameters of a rows page (one model: validated at once)."""

    columns: str | None = Field(
        None, description="Comma-separated columns to return (default: all)", max_length=4000)
    regency_code: str | None = Field(None, max_length=20)
    district_code: str | None = Field(None, max_length=20)
    village_code: str | None = Field(None, max_length=20)
    year: int | None = Field(None, ge=1900, le=2200)
    limit: int = Field(1000, ge=1, le=MAX_LIMIT)
    after: str | None = Field(
        None, description="Cursor from the previous page's `next` link", max_length=2000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    format: Literal["json", "csv"] = "json"


class RowsPage(BaseModel):
    dataset: str
    columns: list[str]
    limit: int
    rows: list[dict[str, Any]]
    next: str | None


def _mart_or_404(current: Session, name: str) -> catalog.Mart:
    found = current.mart(name)
    if found is None:
        raise ApiError(404, f"There is no dataset named {name!r}; GET /datasets lists them.",
                       kind="Not Found Error")
    return found


def _etag(parts: list[Any]) -> str:
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _not_modified(request: Request, etag: str, modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if since and modified is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return modified.replace(microsecond=0) <= when
    return False


def _validators(request: Request, current: Session, publications: list[Any],
                modified: datetime | None) -> tuple[dict[str, str], bool]:
    """(ETag/Last-Modified headers, whether the caller already has this answer)."""
    etag = _etag([current.role, request.url.path, sorted(request.query_params.multi_items()),
                  publications])
    headers = {"ETag": etag, "Vary": "Authorization, X-API-Key, Accept",
               "Cache-Control": "private, no-cache" if current.token else "public, no-cache"}
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
    return headers, _not_modified(request, etag, modified)


def _mart_validators(request: Request, current: Session,
                     mart: catalog.Mart) -> tuple[dict[str, str], bool]:
    """:func:`_validators` of an answer about one mart: it changes with its publication."""
    publication = mart.publication
    return _validators(request, current, [publication.publication_id if publication else None],
                       publication.published_at if publication else None)


def _summary(request: Request, mart: catalog.Mart) -> dict:
    url = str(request.url_for("dataset", mart=mart.name))
    return {"name": mart.name, "title": mart.title, "description": mart.description,
            "modified": mart.to_dict()["modified"],
            "publication_id": mart.to_dict()["publication_id"],
            "url": url, "rows_url": url + "/rows"}


@router.get("/datasets", response_model=DatasetList, summary="The published datasets")
def list_datasets(request: Request, response: Response):
    """Every published mart the caller may read, with its title and last publication."""
    with session(request) as current:
        marts = current.marts()
    latest = [m.publication for m in marts if m.publication]
    modified = max((p.published_at for p in latest), default=None)
    headers, fresh = _validators(request, current, [m.name for m in marts]
                                 + [p.publication_id for p in latest], modified)
    if fresh:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return {"count": len(marts), "datasets": [_summary(request, m) for m in marts]}


@router.get("/datasets/{mart}", name="dataset", response_model=Dataset,
            summary="A dataset's metadata")
def show_dataset(request: Request, response: Response,
                 mart: Annotated[str, Path(pattern=MART_PATH)]):
    """Description, columns (type, description), primary key, year and region columns."""
    with session(request) as current:
        found = _mart_or_404(current, mart)
    headers, fresh = _mart_validators(request, current, found)
    if fresh:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return {**found.to_dict(), "rows_url": _summary(request, found)["rows_url"]}


def build_page(mart: catalog.Mart, *, columns: str | None, limit: int, after: str | None,
               offset: int, filters: dict[str, list[str | int]]) -> Page:
    requested = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    chosen = choose_columns(mart, requested)
    page = Page(mart=mart, columns=chosen, limit=limit, filters=filters, offset=offset)
    if after is not None:
        if offset:
            raise BadRequest("give either `after` (from a `next` link) or `offset`, not both",
                             "after")
        state = decode_cursor(mart, after)
        page.after = state.get("after")
        page.offset = state.get("offset", 0)
    return page


def _cursor(page: Page, last_key: list[str] | None, more: bool) -> str | None:
    """The next page's cursor from the key of this page's last row (none: no next page)."""
    if not more:
        return None
    if page.uses_keyset:
        return encode_cursor({"after": list(last_key)})
    return encode_cursor({"offset": page.offset + page.limit})


@router.get(
    "/datasets/{mart}/rows",
    response_model=RowsPage,
    summary="A page of a dataset's rows",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "A page of rows, JSON or CSV (`format=csv`)."},
               304: {"description": "Not modified since the publication you have."}},
)
async def dataset_rows(request: Request, mart: Annotated[str, Path(pattern=MART_PATH)],
                       query: Annotated[RowsQuery, Query()]):
    """Rows ordered by the primary key, filtered on region codes and year; follow `next`
    (JSON) or the `Link` header (CSV) for the following page."""
    token, ahead = bearer_token(request), request.app.state.read_ahead
    # a public harvester following `next` links: the page after this one is read ahead
    follows = token is None and query.after is not None and not _conditional(request)
    found = await ahead.take(str(request.url)) if follows else None
    answer, cursor = found or await _rows_answer(request, token, mart, query)
    if (follows and cursor is not None and not isinstance(answer, StreamingResponse)
            and request.app.state.warehouse.ready()):
        following = Request({**request.scope, "query_string": _next_query(request, cursor),
                             "headers": [(k, v) for k, v in request.scope["headers"]
                                         if k == b"host"]})
        ahead.start(str(following.url), functools.partial(
            _read_ahead, following, mart, query.model_copy(update={"after": cursor,
                                                                   "offset": 0})))
    return answer


async def _read_ahead(request: Request, mart: str, query: RowsQuery
                      ) -> tuple[Response, str | None] | None:
    answer, cursor = await _rows_answer(request, None, mart, query)
    if isinstance(answer, StreamingResponse):  # a long CSV page holds its connection: not kept
        await answer.body_iterator.aclose()
        return None
    return answer, cursor


async def _rows_answer(request: Request, token: str | None, mart: str, query: RowsQuery
                       ) -> tuple[Response, str | None]:
    """A rows page's answer, and the next page's cursor (None: no next page)."""
    # On the event loop: the page's round trip is awaited there; what only psycopg's
    # blocking calls do (a token, the catalog read again, json_agg) goes to a thread.
    current = await Session.open(request.app.state.warehouse, token)
    try:
        # The cached catalog's mart, checked in the same round trip as the rows; a
        # conditional request is judged on the catalog read first, as it sends no rows.
        known = None if _conditional(request) else current.known_mart(mart)
        for publication, found in ([known] if known else []) + [(None, None)]:
            found = found or await run_in_threadpool(_mart_or_404, current, mart)
            try:
                page = _rows_page(found, columns=query.columns, limit=query.limit,
                                  after=query.after, offset=query.offset, year=query.year,
                                  region_codes=(("regency_code", query.regency_code),
                                                ("district_code", query.district_code),
                                                ("village_code", query.village_code)))
            except BadRequest:
                if publication is None:
                    raise
                continue  # refused by the cached catalog: by the database's, then?
            headers, fresh = _mart_validators(request, current, found)
            if fresh:
                return Response(status_code=304, headers=headers), None
            layout = None if query.format == "csv" else _json_layout(current, page)
            if query.format == "csv":
                read = await current.copy(page.csv_copy(), publication, [page.next_key()])
            elif layout is not None:
                read = await current.copy(page.json_copy(layout), publication)
            else:
                read = await run_in_threadpool(current.read, [page.json_page()], publication,
                                               True)
            if read is not None:
                break
        if query.format == "csv":
            [keys], sent = read  # Page.next_key: the last row's key, and a row after it if any
            cursor = _cursor(page, keys[0] if keys else None, len(keys) > 1)
            _link_next(request, headers, cursor)
            headers["Content-Disposition"] = f'inline; filename="{mart}.csv"'
            stream = _csv_stream(current, sent)
            current = None  # the stream ends the transaction
            # A page of one block is sent as one body, read here; a longer one streams on.
            blocks = [block for block in [await anext(stream, None), await anext(stream, None)]
                      if block]
            if len(blocks) < 2:
                return Response(b"".join(blocks), media_type="text/csv; charset=utf-8",
                                headers=headers), cursor
            return StreamingResponse(_chain(blocks, stream), media_type="text/csv; charset=utf-8",
                                     headers=headers), cursor
        if layout is not None:
            sent, written = read[1], rows_json.PageJson(layout, page.limit)
            try:
                async for block in sent.blocks():
                    written.add(block)
            finally:
                await sent.abandon()  # failed half-way: the connection serves again
            rows, last_key, more = written.result()
        else:
            [[(text, last_key, more)]] = read
            rows = text.encode()
        cursor = _cursor(page, last_key, more)
        next_url = _link_next(request, headers, cursor)
        head = json.dumps({"dataset": mart, "columns": page.columns, "limit": page.limit})
        body = b"".join((head[:-1].encode(), b', "rows": ', rows, b', "next": ',
                         json.dumps(next_url).encode(), b"}"))
        return Response(body, media_type="application/json", headers=headers), cursor
    finally:
        if current is not None:
            await current.aclose()


def _conditional(request: Request) -> bool:
    return "if-none-match" in request.headers or "if-modified-since" in request.headers


def _rows_page(found: catalog.Mart, *, columns: str | None, limit: int, after: str | None,
               offset: int, region_codes: tuple[tuple[str, str | None], ...],
               year: int | None) -> Page:
    """The page a rows request asks for, its region codes and year checked against the
    mart's columns."""
    filters: dict[str, list[str | int]] = {}
    for column, value in region_codes:
        if value is not None:
            if column not in found.column_names:
                raise BadRequest(f"{found.name} has no column {column}; it can be filtered on "
                                 f"{', '.join(found.region_columns) or 'no region code'}",
                                 column)
            filters[column] = [region_code(column, value)]
    if year is not None:
        if found.year_column is None:
            raise BadRequest(f"{found.name} has no year column to filter on", "year")
        filters[found.year_column] = [year]
    return build_page(found, columns=columns, limit=limit, after=after, offset=offset,
                      filters=filters)


CSV_BLOCK = 256 * 1024


def _link_next(request: Request, headers: dict[str, str], cursor: str | None) -> str | None:
    """The next page's URL (this one's query with the cursor), also as a Link header."""
    if cursor is None:
        return None
    next_url = str(request.url.replace(query=_next_query(request, cursor).decode()))
    headers["Link"] = f'<{next_url}>; rel="next"'
    return next_url


def _next_query(request: Request, cursor: str) -> bytes:
    """The next page's query string: this one's, with the cursor."""
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("after", "offset")] + [("after", cursor)]
    return urlencode(params).encode()


def _json_layout(current: Session, page: Page) -> rows_json.Layout | None:
    """How the page's JSON is written from COPY (None: by json_agg)."""
    layout = page.json_layout()
    if layout is not None and layout.dates and not (
            current.conn.info.parameter_status("DateStyle") or "").startswith("ISO"):
        return None
    return layout


async def _csv_stream(current: Session, sent: Statements) -> AsyncIterator[bytes]:
    """The page's CSV straight from ``COPY`` in blocks of 256 kB or more (COPY hands out a
    row at a time); ends the session."""
    try:
        async for block in sent.blocks(CSV_BLOCK):
            yield block
    finally:
        await sent.abandon()
        await current.aclose()


async def _chain(first: list[bytes], rest: AsyncGenerator[bytes]) -> AsyncIterator[bytes]:
    try:
        for block in first:
            yield block
        async for block in rest:
            yield block
    finally:
        await rest.aclose()  # a client gone half-way: the session ends now
