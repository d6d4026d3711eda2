"""CKAN-compatible actions, so a CKAN portal's harvester or a CKAN client (``ckanapi``)
reads Lumbung as it reads another CKAN.

``package_list``, ``package_show``, ``package_search`` and ``datastore_search`` answer in
CKAN's shape, ``{"help": ..., "success": true, "result": ...}``, and fail as CKAN does,
``{"success": false, "error": {"__type": "Not Found Error", "message": ...}}``. One
package per published mart, with one resource (its rows) whose id is the mart's name.
Served under ``/api/3/action/`` and ``/api/action/`` (the path ckanapi calls), by GET (query
parameters) or POST (a JSON body).
"""

import json
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lumbung.api import catalog
from lumbung.api.access import ApiError, Session, session
from lumbung.api.query import MAX_LIMIT, MAX_OFFSET, BadRequest, Page
from lumbung.opendata.metadata import LICENSE, PUBLISHER

HELP = "https://docs.ckan.org/en/latest/api/index.html"
PREFIXES = ("/api/3/action", "/api/action")
MAX_SEARCH_ROWS = 1000


class CkanError(BaseModel):
    help: str
    success: bool
    error: dict[str, Any]


class CkanResult(BaseModel):
    help: str
    success: bool
    result: Any


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PackageListParams(_Params):
    limit: int | None = Field(None, ge=0, le=MAX_SEARCH_ROWS)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class PackageShowParams(_Params):
    id: str = Field(max_length=200)


class PackageSearchParams(_Params):
    q: str = Field("", max_length=500)
    rows: int = Field(10, ge=0, le=MAX_SEARCH_ROWS)
    start: int = Field(0, ge=0, le=MAX_OFFSET)


class DatastoreSearchParams(_Params):
    resource_id: str = Field(max_length=200)
    limit: int = Field(100, ge=0, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    filters: dict[str, Any] | str | None = Field(
        None, description="Column -> value (or list of values), as an object or JSON text")
    fields: list[str] | str | None = Field(
        None, description="Columns to return, a list or comma-separated")
    sort: str | None = Field(None, max_length=2000, description='e.g. "year desc, village_code"')
    include_total: bool = True


class DatastoreSearchQuery(DatastoreSearchParams):
    """By GET, filters are JSON text and fields comma-separated."""

    filters: str | None = Field(None, max_length=4000,
                                description='JSON object, e.g. {"regency_code": "1801"}')
    fields: str | None = Field(None, max_length=4000, description="Comma-separated columns")


def ok(action: str, result: Any) -> JSONResponse:
    return JSONResponse({"help": f"{HELP}#ckan.logic.action.get.{action}", "success": True,
                         "result": result})


def error_body(status: int, kind: str, message: str, field: str | None = None) -> dict:
    error: dict[str, Any] = {"__type": kind, "message": message}
    if field:
        error[field] = [message]
    return {"help": HELP, "success": False, "error": error}


_CKAN_TYPES = {"integer": "int", "bigint": "int", "smallint": "int", "boolean": "bool",
               "date": "date", "text": "text", "double precision": "float8",
               "real": "float4", "jsonb": "json", "json": "json"}


def _ckan_type(pg_type: str) -> str:
    if pg_type.startswith("numeric"):
        return "numeric"
    if pg_type.startswith("timestamp"):
        return "timestamp"
    if pg_type.startswith(("character", "varchar")):
        return "text"
    return _CKAN_TYPES.get(pg_type, pg_type)


def _package(request: Request, mart: catalog.Mart) -> dict:
    base = str(request.base_url).rstrip("/")
    modified = (mart.publication.published_at.astimezone(UTC).replace(tzinfo=None).isoformat()
                if mart.publication else None)
    resource = {
        "id": mart.name, "package_id": mart.name, "name": mart.name,
        "description": mart.description or "", "format": "CSV", "mimetype": "text/csv",
        "url": f"{base}/datasets/{mart.name}/rows?format=csv&limit={MAX_LIMIT}",
        "datastore_active": True, "last_modified": modified, "position": 0,
        "state": "active",
    }
    return {
        "id": mart.name, "name": mart.name, "title": mart.title,
        "notes": mart.description or "", "type": "dataset", "state": "active",
        "private": False, "metadata_modified": modified, "metadata_created": modified,
        "url": f"{base}/datasets/{mart.name}",
        "license_id": LICENSE["name"], "license_title": LICENSE["title"],
        "license_url": LICENSE["path"],
        "author": PUBLISHER["name"], "maintainer": PUBLISHER["name"],
        "organization": {"name": "lumbung", "title": PUBLISHER["name"], "type": "organization",
                         "is_organization": True, "state": "active"},
        "tags": [],
        "num_tags": 0, "resources": [resource], "num_resources": 1,
        "extras": [{"key": "primary_key", "value": ",".join(mart.primary_key)},
                   {"key": "publication_id", "value": str(mart.publication.publication_id
                                                           if mart.publication else "")}],
    }


def _mart(current: Session, name: str, field: str) -> catalog.Mart:
    found = current.mart(name)
    if found is None:
        raise ApiError(404, f"Not found: there is no dataset {name[:100]!r}; "
                       "package_list lists them.", field, kind="Not Found Error")
    return found


def package_list(request: Request, params: PackageListParams) -> JSONResponse:
    with session(request) as current:
        names = [m.name for m in current.marts()]
    end = None if params.limit is None else params.offset + params.limit
    return ok("package_list", names[params.offset:end])


def package_show(request: Request, params: PackageShowParams) -> JSONResponse:
    with session(request) as current:
        return ok("package_show", _package(request, _mart(current, params.id, "id")))


def package_search(request: Request, params: PackageSearchParams) -> JSONResponse:
    """Free-text search: every word of ``q`` in the name, title or description."""
    words = [w.lower() for w in params.q.replace("*:*", " ").split()]
    with session(request) as current:
        marts = current.marts()
    found = [m for m in marts
             if all(w in f"{m.name} {m.title} {m.description or ''}".lower() for w in words)]
    return ok("package_search", {
        "count": len(found), "sort": "name asc", "facets": {}, "search_facets": {},
        "results": [_package(request, m) for m in found[params.start:params.start + params.rows]],
    })


def _filters(mart: catalog.Mart, raw: dict[str, Any] | str | None) -> dict[str, list]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise BadRequest("filters must be a JSON object, e.g. {\"regency_code\": \"1801\"}",
                             "filters") from None
        if not isinstance(raw, dict):
            raise BadRequest("filters must be a JSON object of column -> value", "filters")
    filters: dict[str, list] = {}
    for column, value in raw.items():
        if column not in mart.column_names:
            raise BadRequest(f"{mart.name} has no column {column[:60]!r} to filter on; its "
                             f"columns are: {', '.join(mart.column_names)}", "filters")
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str | int | float) and not isinstance(v, bool)
                                 for v in values):
            raise BadRequest(f"the filter on {column} must be a value or a list of values",
                             "filters")
        filters[column] = [str(v)[:200] for v in values]
    return filters


def _fields(mart: catalog.Mart, raw: list[str] | str | None) -> list[str]:
    if raw is None or raw == "" or raw == []:
        return mart.column_names
    names = raw.split(",") if isinstance(raw, str) else raw
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in mart.column_names]
    if unknown:
        raise BadRequest(f"{mart.name} has no field {', '.join(repr(n[:60]) for n in unknown)}; "
                         f"its fields are: {', '.join(mart.column_names)}", "fields")
    return list(dict.fromkeys(names)) or mart.column_names


def _sort(mart: catalog.Mart, raw: str | None) -> list[tuple[str, bool]] | None:
    if not raw or not raw.strip():
        return None
    order = []
    for part in raw.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2
                                           and words[1].lower() not in ("asc", "desc")):
            raise BadRequest("sort must be columns, each optionally followed by asc or desc, "
                             'e.g. "year desc, village_code"', "sort")
        if words[0] not in mart.column_names:
            raise BadRequest(f"{mart.name} has no column {words[0][:60]!r} to sort on", "sort")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def datastore_search(request: Request, params: DatastoreSearchParams) -> JSONResponse:
    with session(request) as current:
        mart = _mart(current, params.resource_id, "resource_id")
        page = Page(mart=mart, columns=_fields(mart, params.fields),
                    limit=max(params.limit, 1), offset=params.offset,
                    filters=_filters(mart, params.filters), sort=_sort(mart, params.sort))
        current.become()
        records: list = []
        if params.limit:
            query, values = page.json_rows()
            records = json.loads(current.conn.execute(query, values).fetchone()[0])
        result: dict[str, Any] = {
            "resource_id": mart.name, "records_format": "objects",
            "fields": [{"id": c, "type": _ckan_type(mart.column(c).type),
                        "info": {"notes": mart.column(c).description or ""}}
                       for c in page.columns],
            "records": records, "limit": params.limit, "offset": params.offset,
            "include_total": params.include_total,
        }
        if params.include_total:
            query, values = page.count()
            result["total"] = current.conn.execute(query, values).fetchone()[0]
    path = f"{PREFIXES[0]}/datastore_search"
    result["_links"] = {
        "start": f"{path}?resource_id={mart.name}",
        "next": f"{path}?offset={params.offset + params.limit}&resource_id={mart.name}",
    }
    return ok("datastore_search", result)


ACTIONS = {
    "package_list": (package_list, PackageListParams, PackageListParams),
    "package_show": (package_show, PackageShowParams, PackageShowParams),
    "package_search": (package_search, PackageSearchParams, PackageSearchParams),
    "datastore_search": (datastore_search, DatastoreSearchParams, DatastoreSearchQuery),
}

router = APIRouter(tags=["CKAN actions"],
                   responses={"4XX": {"model": CkanError, "description": "CKAN error"},
                              200: {"model": CkanResult}})


def _register(prefix: str, name: str, function, model: type[BaseModel],
              query_model: type[BaseModel]) -> None:
    """GET (query parameters) and POST (JSON body) routes of one action."""
    documented = prefix == PREFIXES[0]

    def by_get(request: Request,
               params: Annotated[query_model, Query()]):  # type: ignore[valid-type]
        return function(request, params)

    def by_post(request: Request,
                params: Annotated[model | None, Body()] = None):  # type: ignore[valid-type]
        return function(request, params if params is not None else _empty(model))

    for method, endpoint in (("GET", by_get), ("POST", by_post)):
        router.add_api_route(f"{prefix}/{name}", endpoint, methods=[method],
                             include_in_schema=documented, summary=f"CKAN {name}",
                             operation_id=f"ckan_{name}_{method.lower()}" if documented
                             else f"ckan_{name}_{method.lower()}_unversioned",
                             response_model=None)


def _empty(model: type[BaseModel]) -> BaseModel:
    try:
        return model()
    except ValueError as err:
        missing = ", ".join(str(e["loc"][0]) for e in getattr(err, "errors", list)())
        raise ApiError(409, f"Missing value: {missing}", missing or None) from None


for _prefix in PREFIXES:
    for _name, (_function, _model, _query_model) in ACTIONS.items():
        _register(_prefix, _name, _function, _model, _query_model)
