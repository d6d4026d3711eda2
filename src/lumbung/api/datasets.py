"""``/datasets``: the published marts, their metadata and their rows (JSON or CSV).

Answers carry ``ETag`` and ``Last-Modified`` from the publication that last replaced the
mart, so a harvester asking again with ``If-None-Match`` or ``If-Modified-Since`` gets
``304 Not Modified`` until the next publication.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

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
from lumbung.api.roundtrip import Statements

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
def dataset_rows(
    request: Request,
    mart: Annotated[str, Path(pattern=MART_PATH)],
    columns: Annotated[str | None, Query(
        description="Comma-separated columns to return (default: all)", max_length=4000)] = None,
    regency_code: Annotated[str | None, Query(max_length=20)] = None,
    district_code: Annotated[str | None, Query(max_length=20)] = None,
    village_code: Annotated[str | None, Query(max_length=20)] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
    after: Annotated[str | None, Query(
        description="Cursor from the previous page's `next` link", max_length=2000)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
):
    """Rows ordered by the primary key, filtered on region codes and year; follow `next`
    (JSON) or the `Link` header (CSV) for the following page."""
    current = Session(request.app.state.warehouse, bearer_token(request))
    try:
        # The cached catalog's mart, checked in the same round trip as the rows; a
        # conditional request is judged on the catalog read first, as it sends no rows.
        known = None if _conditional(request) else current.known_mart(mart)
        for publication, found in ([known] if known else []) + [(None, None)]:
            found = found or _mart_or_404(current, mart)
            try:
                page = _rows_page(found, columns=columns, limit=limit, after=after,
                                  offset=offset, year=year,
                                  region_codes=(("regency_code", regency_code),
                                                ("district_code", district_code),
                                                ("village_code", village_code)))
            except BadRequest:
                if publication is None:
                    raise
                continue  # refused by the cached catalog: by the database's, then?
            headers, fresh = _mart_validators(request, current, found)
            if fresh:
                return Response(status_code=304, headers=headers)
            layout = None if format == "csv" else _json_layout(current, page)
            if format == "csv":
                read = current.copy(page.csv_copy(), publication, [page.next_key()])
            elif layout is not None:
                read = current.copy(page.json_copy(layout), publication)
            else:
                read = current.read([page.json_page()], publication, end=True)
            if read is not None:
                break
        if format == "csv":
            [keys], sent = read  # Page.next_key: the last row's key, and a row after it if any
            _link_next(request, headers, _cursor(page, keys[0] if keys else None,
                                                 len(keys) > 1))
            headers["Content-Disposition"] = f'inline; filename="{mart}.csv"'
            stream = _csv_stream(current, sent)
            current = None  # the stream ends the transaction
            # A page of one block is sent as one body, read here; a longer one streams on.
            blocks = [block for block in (next(stream, None), next(stream, None)) if block]
            if len(blocks) < 2:
                return Response(b"".join(blocks), media_type="text/csv; charset=utf-8",
                                headers=headers)
            return StreamingResponse(itertools.chain(blocks, stream),
                                     media_type="text/csv; charset=utf-8", headers=headers)
        if layout is not None:
            rows, last_key, more = layout.render(read[1].read(), page.limit)
        else:
            [[(text, last_key, more)]] = read
            rows = text.encode()
        next_url = _link_next(request, headers, _cursor(page, last_key, more))
        head = json.dumps({"dataset": mart, "columns": page.columns, "limit": page.limit})
        body = b"".join((head[:-1].encode(), b', "rows": ', rows, b', "next": ',
                         json.dumps(next_url).encode(), b"}"))
        return Response(body, media_type="application/json", headers=headers)
    finally:
        if current is not None:
            current.close()


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
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("after", "offset")] + [("after", cursor)]
    next_url = str(request.url.replace(query=urlencode(params)))
    headers["Link"] = f'<{next_url}>; rel="next"'
    return next_url


def _json_layout(current: Session, page: Page) -> rows_json.Layout | None:
    """How the page's JSON is written from COPY (None: by json_agg)."""
    layout = page.json_layout()
    if layout is not None and layout.dates and not (
            current.conn.info.parameter_status("DateStyle") or "").startswith("ISO"):
        return None
    return layout


def _csv_stream(current: Session, sent: Statements) -> Iterator[bytes]:
    """The page's CSV straight from ``COPY`` in blocks of 256 kB (COPY hands out a row at
    a time; each block sent costs a hop between threads); ends the session."""
    try:
        yield from sent.chunks(CSV_BLOCK)
    finally:
        sent.abandon()
        current.close()
