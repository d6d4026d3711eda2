"""The read-only HTTP API (``lumbung api``): FastAPI over the warehouse's roles.

Errors are JSON with a sentence the caller understands (CKAN's error shape under ``/api/``);
a failure inside the API is logged here and answered with a plain 500, never a trace.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumbung.api import ckan, datasets
from lumbung.api.access import ApiError, Warehouse
from lumbung.api.query import BadRequest
from lumbung.api.readahead import ReadAhead

log = logging.getLogger(__name__)

DESCRIPTION = """Read-only access to Lumbung's published marts (the village data warehouse of
Lampung's Smart Village programme).

Without a token you read the public release: every published mart, province-wide. With a
regency's token (`Authorization: Bearer <token>`) you read as that regency's role: the
database's row-level security shows only its villages. CKAN clients and harvesters use the
`/api/3/action/` actions."""


class ErrorDetail(BaseModel):
    status: int
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def _error(request: Request, status: int, message: str, field: str | None = None,
           kind: str | None = None) -> JSONResponse:
    if request.url.path.startswith("/api/"):
        if kind is None:
            kind = {404: "Not Found Error", 401: "Authorization Error",
                    403: "Authorization Error"}.get(status, "Validation Error")
        # CKAN answers a validation error with 409.
        if kind == "Validation Error" and status in (400, 422):
            status = 409
        return JSONResponse(ckan.error_body(status, kind, message, field), status_code=status)
    return JSONResponse({"error": {"status": status, "message": message, "field": field}},
                        status_code=status)


def _validation_message(err: RequestValidationError) -> tuple[str, str | None]:
    sentences, first = [], None
    for problem in err.errors():
        loc = [str(p) for p in problem.get("loc", ()) if p not in ("query", "body", "path")]
        name = ".".join(loc) or "request"
        first = first or (loc[0] if loc else None)
        sentences.append(f"{name}: {problem.get('msg', 'is not valid')}")
    return "; ".join(sentences[:5]) or "The request is not valid.", first


def create_app(db_url: str, pool_size: int = 10) -> FastAPI:
    """The API reading the warehouse as ``db_url`` (the ``lumbung_api`` role's URL)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.warehouse.open()
        try:
            yield
        finally:
            app.state.warehouse.close()

    app = FastAPI(title="Lumbung API", version="1", description=DESCRIPTION,
                  lifespan=lifespan,
                  responses={"4XX": {"model": ErrorBody, "description": "Refused, with why"}})
    app.state.warehouse = Warehouse(db_url, max_size=pool_size)
    app.state.read_ahead = ReadAhead()
    app.include_router(datasets.router)
    app.include_router(ckan.router)

    @app.exception_handler(ApiError)
    def api_error(request: Request, err: ApiError):
        return _error(request, err.status, err.message, err.field, err.kind)

    @app.exception_handler(BadRequest)
    def bad_request(request: Request, err: BadRequest):
        return _error(request, 400, err.message, err.field)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, err: RequestValidationError):
        message, field = _validation_message(err)
        return _error(request, 422, message, field)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, err: StarletteHTTPException):
        message = {404: "There is nothing at this address; GET /docs describes the API.",
                   405: "This address does not answer that method."}.get(
            err.status_code, str(err.detail))
        return _error(request, err.status_code, message)

    @app.exception_handler(psycopg.errors.DataError)
    def bad_value(request: Request, err: psycopg.errors.DataError):
        # A filter value the column's type refuses (e.g. a word for an integer year).
        reason = err.diag.message_primary or "a value does not fit its column"
        return _error(request, 400, f"A filter value does not fit its column: {reason}.")

    @app.exception_handler(psycopg.errors.InsufficientPrivilege)
    def refused(request: Request, err: psycopg.errors.InsufficientPrivilege):
        # A grant revoked by hand since the cached catalog was read: read it again next time.
        log.warning("the warehouse refused %s: %s", request.url.path, err)
        request.app.state.warehouse.catalog.forget()
        return _error(request, 404, "There is no such dataset you may read (any more); GET "
                      "/datasets lists them.", kind="Not Found Error")

    @app.exception_handler(psycopg.errors.QueryCanceled)
    def too_slow(request: Request, err: psycopg.errors.QueryCanceled):
        return _error(request, 503, "The query took too long; ask for a smaller page or "
                      "filter it.", kind="Internal Error")

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)
    def unavailable(request: Request, err: Exception):
        log.error("warehouse unavailable: %s", err)
        return _error(request, 503, "The warehouse cannot be reached right now; try again "
                      "later.", kind="Internal Error")

    @app.exception_handler(Exception)
    def unexpected(request: Request, err: Exception):
        log.exception("request %s %s failed", request.method, request.url.path)
        return _error(request, 500, "Something went wrong in the API; it has been logged. "
                      "Try again, or tell the province's data team.", kind="Internal Error")

    return app


DB_URL_ENV = "LUMBUNG_API_DB_URL"


def app_from_env() -> FastAPI:
    """The app of one worker process (uvicorn's factory): its URL from ``DB_URL_ENV``."""
    return create_app(os.environ[DB_URL_ENV])


def serve(db_url: str, host: str, port: int, workers: int = 1,
          access_log: bool = True) -> None:
    """Serve on ``host:port``; with ``workers`` > 1, that many processes share the socket,
    each with its own pool, so requests are answered on every core. ``access_log``: a line
    per request on stdout (uvicorn's)."""
    import uvicorn

    options = {"host": host, "port": port, "log_level": "info", "server_header": False,
               "access_log": access_log}
    if workers <= 1:
        uvicorn.run(create_app(db_url), **options)
        return
    os.environ[DB_URL_ENV] = db_url  # the workers are new processes: they read it there
    uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=workers, **options)
