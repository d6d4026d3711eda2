"""What the indicator marts build must rebuild, and the record of what each build read.

A source DAG refreshes its staging views; the marts DAG then rebuilds only the models
downstream of the sources whose accepted batches changed since the last *published* build
(one regency's APBDes resubmission: the finance, BUMDes and Smart Village models, not IDM
or OJK). Everything is rebuilt when nothing was published yet, when the dbt project (models,
macros, seeds, tests, dbt version) changed since, or when a source has no selector here.
A build whose audit failed is never a reference, so its changes are rebuilt next time.
Only tables are rebuilt then (views read live data); a view that is gone, dropped when a
source DAG recreated a staging view it reads, is rebuilt with everything that follows it.
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

# Every build refreshes the quality mart, since every run of a DAG adds to what it shows
# (the views under it need no rebuild while the project is unchanged).
AUDIT_SELECT = ("mart_data_quality",)

# Selectors name folders by dbt's fully qualified names (fqn:staging.apbdes), which select
# the same nodes as path:models/staging/apbdes (a test checks it) at half the cost: dbt's
# path method resolves every node's file and its parents for each selector, about 0.5 s of
# each marts build, as much as one model.

# Everything this DAG builds: intermediate models, marts and the seeds only it loads.
# Only what the source DAGs do not build: rebuilding a view drops the views built on it
# (Postgres cascades), so e.g. stg_audit__region_batches, which the region staging models
# read, is left to village_master; the seeds the source DAGs load are theirs too.
EVERYTHING = (
    "stg_audit__load_batches", "stg_audit__dq_runs", "stg_audit__dq_results",
    "fqn:intermediate", "fqn:marts",
    "ref_indicator_catalogue", "ref_idm_status_thresholds",
)

# Source (audit.load_batches.source) -> the models whose descendants read it.
SOURCE_SELECT = {
    "kemendagri_region": ("dim_region+", "dim_village+"),
    "idm": ("fqn:staging.idm+",),
    "survey": ("fqn:staging.survey+",),
    "apbdes": ("fqn:staging.apbdes+",),
    "bumdes": ("fqn:staging.bumdes+",),
    "ojk": ("fqn:staging.ojk+",),
}

# Built by other DAGs (the region marts, and each source's staging and its tests).
EXCLUDE = (
    "fqn:marts.core", "fqn:intermediate.kemendagri",
    "fqn:staging.kemendagri", "fqn:staging.idm",
    "fqn:staging.survey", "fqn:staging.apbdes",
    "fqn:staging.bumdes", "fqn:staging.ojk",
    "stg_audit__region_batches",
)

# What of the dbt project decides what a build produces.
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "materializations", "seeds", "tests")


@dataclass(frozen=True)
class RebuildPlan:
    """The selection of one marts build and the inputs it is made from."""

    project_fingerprint: str
    source_fingerprints: dict[str, str]
    changed: tuple[str, ...] | None  # None: everything
    reason: str
    missing: tuple[str, ...] = ()  # models whose relation is gone, rebuilt with what follows

    @property
    def rebuilt(self) -> str:
        if self.changed is None:
            return "everything"
        return ",".join(self.changed + tuple(f"{model}+" for model in self.missing))

    def select(self) -> tuple[str, ...]:
        if self.changed is None:
            return EVERYTHING
        # Tables only: a view reads live data, and its SQL is unchanged (the project is), so
        # it needs no rebuild; its tests run with the next whole build.
        return (AUDIT_SELECT
                + tuple(f"{base},config.materialized:{kind}"
                        for source in self.changed for base in SOURCE_SELECT[source]
                        for kind in ("table", "incremental"))
                + tuple(f"{model}+" for model in self.missing))

    def exclude(self) -> tuple[str, ...]:
        return EXCLUDE

    def selection(self) -> tuple[str, ...]:
        """The ``dbt build --select`` arguments of this plan. Cautious: a test also reading a
        model outside the selection (a source DAG's staging) is that DAG's to run."""
        return (*self.select(), "--exclude", *self.exclude(), "--indirect-selection", "cautious")


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
    missing = missing_models(paths, warehouse)
    before: dict[str, str] = last[1]
    changed = tuple(sorted(s for s in sources.keys() | before.keys()
                           if sources.get(s) != before.get(s)))
    unknown = [s for s in changed if s not in SOURCE_SELECT]
    if unknown:
        return RebuildPlan(project, sources, None,
                           f"source(s) {', '.join(unknown)} changed, which no selector maps")
    if missing is None:
        return RebuildPlan(project, sources, None, "no dbt manifest to check the models with")
    parts = [f"source(s) {', '.join(changed)} changed since the last published build"
             if changed else "no source changed since the last published build"]
    if missing:
        # A source DAG recreating a staging view drops the views built on it (cascade).
        parts.append(f"{len(missing)} model(s) missing ({', '.join(missing[:5])})")
    return RebuildPlan(project, sources, changed, "; ".join(parts)
                       + ": only what that feeds, and mart_data_quality", missing)


def missing_models(paths: Paths, warehouse: PgUrl) -> tuple[str, ...] | None:
    """Models this DAG builds whose relation does not exist (None without a manifest)."""
    manifest_file = paths.dbt_target / "manifest.json"
    if not manifest_file.exists():
        return None
    try:
        nodes = json.loads(manifest_file.read_text(encoding="utf-8"))["nodes"].values()
    except (ValueError, KeyError):  # being rewritten by another dbt run: do not guess
        return None
    built_here = [
        node for node in nodes
        if node["resource_type"] == "model"
        and (node["original_file_path"].startswith(("models/intermediate/", "models/marts/"))
             or node["name"] in EVERYTHING)
        and not node["original_file_path"].startswith(
            ("models/marts/core/", "models/intermediate/kemendagri/"))
    ]
    with psycopg.connect(warehouse.url()) as conn:
        return tuple(sorted(
            node["name"] for node in built_here
            if conn.execute("select to_regclass(format('%%I.%%I', %s::text, %s::text))",
                            (node["schema"], node["alias"] or node["name"])).fetchone()[0]
            is None
        ))


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
