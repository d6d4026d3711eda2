"""Fetching IDM responses from the Kemendesa open API into the landing folder.

``GET <base>/open/api/desa/rumusan/<kode_desa>/<tahun>`` answers the same JSON the landing
reads. The base URL is the host of the Airflow connection ``kemendesa_idm_api`` (type http),
e.g. ``AIRFLOW_CONN_KEMENDESA_IDM_API='{"conn_type": "http", "host":
"https://idm.kemendesa.go.id"}'``; without the connection nothing is fetched.

A response is written byte for byte to ``<landing>/idm/tahun=<year>/<kode_desa>.json``,
atomically, and only when its content changed: fetching again what is already there
changes no file, so the landing sees no new batch.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lumbung.sources.idm import landing_path

log = logging.getLogger(__name__)

CONN_ID = "kemendesa_idm_api"
API_PATH = "/open/api/desa/rumusan/{kode_desa}/{tahun}"
TIMEOUT_SECONDS = 30.0


class FetchFailed(RuntimeError):
    """No response could be fetched at all (the API is unreachable or broken)."""


@dataclass
class FetchOutcome:
    """What one fetch did, per village-year (``kode_desa/tahun``)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"{len(self.written)} written, {len(self.unchanged)} unchanged, "
                f"{len(self.no_data)} without data, {len(self.failed)} failed")


def base_url(conn_id: str = CONN_ID) -> str | None:
    """The API's base URL from the Airflow connection, or None when it is not configured.

    ``host`` may be a whole URL (``https://idm.kemendesa.go.id``) or a host name, then with
    the connection's ``schema`` (http or https, default http) and ``port``.
    """
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return None
    if "://" in host:
        return host
    scheme = conn.schema if conn.schema in ("http", "https") else "http"
    return f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")


def _download(url: str, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 (the URL is built from an http(s) base)
        url, headers={"Accept": "application/json", "User-Agent": "lumbung-idm-fetch"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _has_data(body: bytes) -> bool:
    """A response worth landing: JSON with a mapData object (the API's 'no data' answers
    have none). Raises ValueError for a body that is not JSON (a broken transfer)."""
    doc = json.loads(body.decode("utf-8-sig"))
    return isinstance(doc, dict) and isinstance(doc.get("mapData"), dict)


def _write_if_changed(target: Path, body: bytes) -> bool:
    if target.is_file() and target.read_bytes() == body:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def fetch(
    base: str,
    landing: Path,
    targets: Iterable[tuple[str, int | str]],
    timeout: float = TIMEOUT_SECONDS,
) -> FetchOutcome:
    """Download the response of each (kode_desa, tahun) into the landing folder.

    A village-year without data (HTTP 404, or JSON without mapData) is noted and skipped; a
    failed request is noted and the others go on. Raises FetchFailed only when every request
    failed, so that Airflow retries when the API is down, not for one missing village.
    """
    outcome = FetchOutcome()
    tried = 0
    for kode_desa, tahun in targets:
        tried += 1
        key = f"{kode_desa}/{tahun}"
        url = base.rstrip("/") + API_PATH.format(kode_desa=kode_desa, tahun=tahun)
        try:
            status, body = _download(url, timeout)
        except (OSError, urllib.error.URLError) as err:
            log.warning("fetch %s: %s", url, err)
            outcome.failed.append(key)
            continue
        if status == 404:
            outcome.no_data.append(key)
            continue
        try:
            usable = status == 200 and _has_data(body)
        except ValueError as err:
            log.warning("fetch %s: not JSON (%s)", url, err)
            outcome.failed.append(key)
            continue
        if status != 200:
            log.warning("fetch %s: HTTP %s", url, status)
            outcome.failed.append(key)
        elif not usable:
            outcome.no_data.append(key)
        elif _write_if_changed(landing_path(landing, kode_desa, tahun), body):
            outcome.written.append(key)
        else:
            outcome.unchanged.append(key)
    log.info("IDM fetch from %s: %s", base, outcome.describe())
    if tried and len(outcome.failed) == tried:
        raise FetchFailed(f"all {tried} IDM requests to {base} failed")
    return outcome
