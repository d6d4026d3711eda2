"""The region master pipeline: land Kemendagri files, gate them, build the region marts.

Each function is one task of the ``village_master`` DAG and is safe to run again: files
already landed are not landed twice, batches already accepted are not validated again, and
dbt rebuilds the marts from accepted batches only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.families import family
from lumbung.landing import BatchOutcome, land_csv, read_csv
from lumbung.pipelines.batches import (
    counts,
    judge,
    land_all,
    land_folder,
    log_problems,
    released_ids,
    verdict,
)
from lumbung.pipelines.marts import audit, publish_marts
from lumbung.publish import build
from lumbung.sources import kemendagri
from lumbung.visibility import release

log = logging.getLogger(__name__)

DBT_SELECT = "+dim_region +dim_village"
FAMILY = family("region")
PUBLISHED = FAMILY.published


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every region file in the landing folder; one batch per file."""
    files, problems = kemendagri.discover(landing)
    log_problems(problems)
    outcomes = land_all(warehouse, landing, files, read_csv, dag_id, run_id)
    if not files:
        problems.append(f"{landing / kemendagri.FOLDER}: no region master files to land")
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one region file (inside an ``edition=<year>`` folder) or a landing folder."""
    if path.is_dir():
        return land_folder(land, warehouse, path, kemendagri.FOLDER)
    item = kemendagri.landing_file(path)
    with psycopg.connect(warehouse.url()) as conn:
        return [land_csv(conn, item.spec, item.path, item.partition_key,
                         display_path=str(path))]


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted; raise GateFailed naming every failure.
    Else release the accepted batches of every complete edition (:func:`complete_editions`);
    an edition missing an accepted file is held back whole, with a warning naming the file,
    and the run goes on with the editions released before."""
    gated = judge(warehouse, landed)
    with psycopg.connect(warehouse.url()) as conn:
        releasable, held = complete_editions(conn, released_ids(landed))
    for edition, reasons in sorted(held.items()):
        log.warning("%s", held_back_message(edition, reasons))
    # The region master is one delivery: nothing of it is released to dbt.
    verdict(gated.to_dict(), "region master not published; the marts keep their previous "
            "content")
    gated.released = release(warehouse, releasable)
    return {**gated.to_dict(),
            "held_back": {e: held_back_message(e, r) for e, r in sorted(held.items())}}


def complete_editions(
    conn: psycopg.Connection, batch_ids: list[int]
) -> tuple[list[int], dict[str, list[str]]]:
    """Which batches of the editions the landed ``batch_ids`` belong to may be released.

    An edition is released whole: only once regencies, districts and villages each have a
    batch accepted by the gate (now or by an earlier run) are its accepted batches released,
    held-back ones of earlier runs included, its synthetic supplement with them. Returns
    those batch ids, and for each edition held back, what it lacks (one sentence a file).
    """
    rows = conn.execute(
        """
        with touched as (
            select distinct partition_key from audit.load_batches
            where source = %(source)s and batch_id = any(%(ids)s)
        )
        select b.batch_id, b.dataset, b.partition_key, b.file_path, b.status,
               b.status_reason, b.visible_seq
        from audit.load_batches as b
        inner join touched on b.partition_key = touched.partition_key
        where b.source = %(source)s
        order by b.partition_key, b.batch_id
        """,
        {"source": kemendagri.SOURCE, "ids": list(batch_ids)},
    ).fetchall()
    editions: dict[str, list[tuple]] = {}
    for row in rows:
        editions.setdefault(row[2], []).append(row)
    releasable: list[int] = []
    held: dict[str, list[str]] = {}
    for edition, batches in editions.items():
        missing = []
        for dataset in kemendagri.DATASET_ORDER:
            own = [b for b in batches if b[1] == dataset]
            if any(b[4] == "validated" for b in own):
                continue
            if not own:
                missing.append(f"no {dataset} file was delivered")
                continue
            _, _, _, path, status, reason, _ = own[-1]
            verdict = {"failed": "failed the gate", "rejected": "was rejected"}.get(
                status, f"is not accepted yet ({status})")
            missing.append(f"{path} ({dataset}) {verdict}"
                           + (f": {reason}" if reason and status != "failed" else ""))
        if missing:
            held[edition] = missing
        else:
            releasable += [b[0] for b in batches if b[4] == "validated" and b[6] is None]
    return releasable, held


def held_back_message(edition: str, missing: list[str]) -> str:
    """The operator's sentence for an edition held back: what it lacks, what to do."""
    return (
        f"region edition {edition} held back whole (staging keeps the previous complete "
        f"edition; its accepted files stay invisible until all three are accepted): "
        + "; ".join(missing)
        + f". Deliver the corrected file into edition={edition}/, or remove the folder."
    )


def transform(paths: Paths, warehouse: PgUrl) -> list[str]:
    """Build the region staging models and marts (dbt build: models, seeds and tests) into
    the build schema; returns the mart tables built, for :func:`publish_marts`."""
    # The region batches are read whole, unpinned; the pin stays the marts build's, whose
    # audit reads the staging views after its build.
    return build(paths, warehouse, DBT_SELECT, repin=False)


def region_master_ready(warehouse: PgUrl) -> bool:
    """The region marts are published and include every region batch released to dbt: what
    the APBDes gate and the indicator marts build check villages against. The source DAGs
    that need it wait for it (a sensor), rather than failing and retrying."""
    with psycopg.connect(warehouse.url()) as conn:
        if conn.execute("select to_regclass('marts.dim_village')").fetchone()[0] is None:
            return False
        return conn.execute(
            """
            select exists (select from marts.dim_village)
                and coalesce((select max(published_at) from audit.publications
                              where tables ? 'dim_village'), '-infinity')
                    >= coalesce((select max(released_at) from audit.load_batches
                                 where source = %s), '-infinity')
            """, (FAMILY.name,)
        ).fetchone()[0]


def published_counts(warehouse: PgUrl, tables: tuple[str, ...] = PUBLISHED) -> dict[str, int]:
    return counts(warehouse, tables)


def refresh_marts(paths: Paths, warehouse: PgUrl) -> dict:
    """Build, audit and publish the region marts outside Airflow (tests, maintenance): what
    the DAG's build_marts -> audit_marts -> publish_marts tasks do."""
    tables = transform(paths, warehouse)
    audit(warehouse, tables)
    return publish_marts(warehouse, tables)
