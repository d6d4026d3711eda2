"""What the indicator marts build must rebuild, and the record of what each build read.

A source DAG refreshes its staging views; the marts DAG then rebuilds only the models
downstream of the sources whose accepted batches changed since the last *published* build
(one regency's APBDes resubmission: the finance, BUMDes and Smart Village models, not IDM
or OJK). Everything is rebuilt when nothing was published yet, when the dbt project (models,
macros, seeds, tests, dbt version) changed since, or when a source has no selector here.
A build whose audit failed is never a reference, so its changes are rebuilt next time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib.metadata import version

import psycopg

from lumbung.config import Paths, PgUrl

log = logging.getLogger(__name__)

# Views over the load audit and the stored quality results (mart_data_quality): every
# build refreshes them, since every run of a DAG adds to what they show.
AUDIT_SELECT = ("stg_audit__load_batches+", "stg_audit__dq_runs+", "stg_audit__dq_results+")

# Everything this DAG builds: intermediate models, marts and the seeds only it loads.
# Only what the source DAGs do not build: rebuilding a view drops the views built on it
# (Postgres cascades), so e.g. stg_audit__region_batches, which the region staging models
# read, is left to village_master; the seeds the source DAGs load are theirs too.
EVERYTHING = (
    "stg_audit__load_batches", "stg_audit__dq_runs", "stg_audit__dq_results",
    "path:models/intermediate", "path:models/marts",
    "ref_indicator_catalogue", "ref_idm_status_thresholds",
)

# Source (audit.load_batches.source) -> the models whose descendants read it.
SOURCE_SELECT = {
    "kemendagri_region": ("dim_region+", "dim_village+"),
    "idm": ("path:models/staging/idm+",),
    "survey": ("path:models/staging/survey+",),
    "apbdes": ("path:models/staging/apbdes+",),
    "bumdes": ("path:models/staging/bumdes+",),
    "ojk": ("path:models/staging/ojk+",),
}

# Built by other DAGs (the region marts, and each source's staging and its tests).
EXCLUDE = (
    "path:models/marts/core", "path:models/intermediate/kemendagri",
    "path:models/staging/kemendagri", "path:models/staging/idm",
    "path:models/staging/survey", "path:models/staging/apbdes",
    "path:models/staging/bumdes", "path:models/staging/ojk",
    "stg_audit__region_batches",
)

# What of the dbt project decides what a build produces.
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "tests")


@dataclass(frozen=True)
class RebuildPlan:
    """The selection of one marts build and the inputs it is made from."""

    project_fingerprint: str
    source_fingerprints: dict[str, str]
    changed: tuple[str, ...] | None  # None: everything
    reason: str

    @property
    def rebuilt(self) -> str:
        return "everything" if self.changed is None else ",".join(self.changed)

    def select(self) -> tuple[str, ...]:
        if self.changed is None:
            return EVERYTHING
        return AUDIT_SELECT + tuple(s for source in self.changed for s in SOURCE_SELECT[source])

    def exclude(self) -> tuple[str, ...]:
        return EXCLUDE


def project_fingerprint(paths: Paths) -> str:
    """sha256 over the dbt project's files that decide what it builds, and dbt's version."""
    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\n".encode())
    root = paths.dbt_project
    for part in PROJECT_PARTS:
        base = root / part
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def source_fingerprints(conn: psycopg.Connection) -> dict[str, str]:
    """Per source, a fingerprint of its accepted batches (what its staging views read)."""
    rows = conn.execute(
        """
        select source, md5(string_agg(batch_id::text, ',' order by batch_id))
        from audit.load_batches
        where status = 'validated'
        group by source
        order by source
        """
    ).fetchall()
    return dict(rows)


def plan(paths: Paths, warehouse: PgUrl, everything: bool = False) -> RebuildPlan:
    """What the next marts build must rebuild (``everything`` forces a whole rebuild)."""
    project = project_fingerprint(paths)
    with psycopg.connect(warehouse.url()) as conn:
        sources = source_fingerprints(conn)
        last = conn.execute(
            """
            select project_fingerprint, source_fingerprints
            from audit.mart_builds
            where publication_id is not null
            order by build_id desc
            limit 1
            """
        ).fetchone()
    if everything:
        return RebuildPlan(project, sources, None, "a whole rebuild was asked for")
    if last is None:
        return RebuildPlan(project, sources, None, "no build of the marts was published yet")
    if last[0] != project:
        return RebuildPlan(project, sources, None,
                           "the dbt project changed since the last published build")
    before: dict[str, str] = last[1]
    changed = tuple(sorted(s for s in sources.keys() | before.keys()
                           if sources.get(s) != before.get(s)))
    unknown = [s for s in changed if s not in SOURCE_SELECT]
    if unknown:
        return RebuildPlan(project, sources, None,
                           f"source(s) {', '.join(unknown)} changed, which no selector maps")
    if not changed:
        return RebuildPlan(project, sources, (),
                           "no source changed since the last published build: "
                           "only the quality views and mart_data_quality")
    return RebuildPlan(project, sources, changed,
                       f"source(s) {', '.join(changed)} changed since the last published "
                       "build: only what they feed")


def record_build(
    warehouse: PgUrl, plan: RebuildPlan, dag_id: str | None, run_id: str | None
) -> int:
    """Record a successful build (not yet published); returns its id."""
    with psycopg.connect(warehouse.url()) as conn:
        return conn.execute(
            """
            insert into audit.mart_builds
                (dag_id, run_id, project_fingerprint, source_fingerprints, rebuilt)
            values (%s, %s, %s, %s, %s)
            returning build_id
            """,
            (dag_id, run_id, plan.project_fingerprint, json.dumps(plan.source_fingerprints),
             plan.rebuilt),
        ).fetchone()[0]


def mark_published(
    warehouse: PgUrl, publication_id: int, dag_id: str | None, run_id: str | None
) -> int | None:
    """Link the run's latest build to its publication: the next plan starts from it."""
    with psycopg.connect(warehouse.url()) as conn:
        row = conn.execute(
            """
            update audit.mart_builds set publication_id = %s
            where build_id = (
                select max(build_id) from audit.mart_builds
                where dag_id is not distinct from %s and run_id is not distinct from %s
                    and publication_id is null
            )
            returning build_id
            """,
            (publication_id, dag_id, run_id),
        ).fetchone()
    return row[0] if row else None
