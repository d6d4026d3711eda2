"""The IDM pipeline: fetch (when the API is configured), land, gate, build the staging models.

Each function is one task of the ``idm`` DAG and is safe to run again: a response fetched
again unchanged leaves its file as it was, a file already landed is not landed twice,
batches already accepted are not validated again, and dbt reads accepted batches only.

The files are independent (one per desa and year), so one bad file does not hold the others
back: the gate judges every batch, staging shows the accepted ones, and the run fails at its
end (``verdict``) naming every rejected or failed file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.dbt_runner import run_dbt
from lumbung.families import family
from lumbung.landing import BatchOutcome
from lumbung.pipelines import batches
from lumbung.pipelines.batches import validate_all
from lumbung.small_files import SmallFile, land_small_files
from lumbung.sources import idm

log = logging.getLogger(__name__)

DBT_SELECT = "+stg_idm__* ref_idm_indicators"
PUBLISHED = family("idm").published


def _land_files(
    warehouse: PgUrl, files: list[idm.LandingFile], landing: Path,
    dag_id: str | None = None, run_id: str | None = None,
) -> list[BatchOutcome]:
    with psycopg.connect(warehouse.url()) as conn:
        outcomes = land_small_files(conn, idm.INDICATORS, [
            SmallFile(item.path, item.partition_key, item.reader,
                      batches.shown(item.path, landing)) for item in files],
            dag_id=dag_id, run_id=run_id)
    new = [o for o in outcomes if not o.already_landed]
    log.info("IDM: %d file(s), %d newly landed (%d rejected), %d already landed",
             len(outcomes), len(new), sum(o.status == "rejected" for o in new),
             len(outcomes) - len(new))
    return outcomes


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every response under ``<landing>/idm``; one batch per file."""
    files, problems = idm.discover(landing / idm.FOLDER)
    batches.log_problems(problems)
    outcomes = _land_files(warehouse, files, landing, dag_id, run_id)
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one response file, or every response under a folder (the landing folder, its
    ``idm`` folder, or a mirror of the API laid out ``<kode_desa>/<tahun>.json``)."""
    if path.is_file():
        # shown as <folder>/<file>: the folder names the year (or the village)
        return _land_files(warehouse, [idm.landing_file(path)], path.parent.parent)
    root = path / idm.FOLDER if (path / idm.FOLDER).is_dir() else path
    files, problems = idm.discover(root)
    batches.log_problems(problems)
    return _land_files(warehouse, files, path)


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted, thousands per checkpoint run; the
    verdict of each is recorded. Failures are collected for ``verdict`` instead of raised, so the
    accepted batches are still released and built."""
    return validate_all(warehouse, landed, together=True)


def transform(paths: Paths, warehouse: PgUrl) -> None:
    """Build the IDM staging models and the seed they use (dbt build: models, seeds,
    tests): this source's staging alone (tests, maintenance); in production the marts DAG
    builds it with what it feeds."""
    run_dbt(paths, warehouse, "build", "--select", DBT_SELECT)


def verdict(gated: dict) -> dict:
    """Fail the run when a file was rejected or failed the gate, naming every one."""
    return batches.verdict(gated, "the accepted ones are released to dbt regardless")


def fetch_targets(
    warehouse: PgUrl, landing: Path, years: Iterable[int], regencies: Iterable[str] = ()
) -> list[tuple[str, int]]:
    """(kode_desa, tahun) to ask the API for: every current desa of ``marts.dim_village``
    (IDM covers desa, not kelurahan), or the villages already in the landing folder when
    the region master has not been built yet; optionally only some regencies."""
    wanted = tuple(regencies)
    with psycopg.connect(warehouse.url()) as conn:
        exists = conn.execute("select to_regclass('marts.dim_village')").fetchone()[0]
        codes = [
            r[0] for r in conn.execute(
                # a load test's synthetic villages are unknown to the API
                "select village_code from marts.dim_village "
                "where is_current and village_type = 'desa' and not is_synthetic "
                "order by village_code"
            )
        ] if exists else []
    if not codes:
        files, _ = idm.discover(landing / idm.FOLDER)
        codes = sorted({f.kode_desa for f in files})
    if wanted:
        codes = [c for c in codes if c[:4] in wanted]
    return [(code, int(year)) for year in years for code in codes]


def fetch(warehouse: PgUrl, landing: Path, years: Iterable[int],
          regencies: Iterable[str] = ()) -> dict | None:
    """Fetch the responses of the given years from the API into the landing folder; None
    when the connection ``kemendesa_idm_api`` is not configured."""
    from lumbung.sources import idm_api

    base = idm_api.base_url()
    if base is None:
        log.info("connection %s not configured: landing only what is in %s", idm_api.CONN_ID,
                 landing / idm.FOLDER)
        return None
    targets = fetch_targets(warehouse, landing, years, regencies)
    log.info("fetching %d IDM response(s) from %s", len(targets), base)
    return idm_api.fetch(base, landing, targets).to_dict()


def published_counts(warehouse: PgUrl, tables: tuple[str, ...] = PUBLISHED) -> dict[str, int]:
    return batches.counts(warehouse, tables)
