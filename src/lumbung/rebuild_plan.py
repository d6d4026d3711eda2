"""What the indicator marts build must rebuild, and the record of what each build read.

The marts DAG is the only one that runs dbt on the indicator graph: every staging model of
the sources (with its tests), the intermediate models and the marts; the source DAGs only
land, gate and release their batches (``lumbung.visibility``). The region models and
marts (``+dim_region +dim_village``) are the ``region`` DAG's, which the source
gates need first; the two DAGs' dbt builds share one Airflow pool slot, never running
together. Each relation has one builder, so dbt's own materializations suffice.

A build reads the batches released up to its pin. It rebuilds what the sources whose
released batches changed since the last *published* build feed, all of it (a view dropped
with a rebuilt table it reads, by dbt's ``drop ... cascade``, is downstream of it and so
rebuilt in the same build): one regency's APBDes resubmission rebuilds the APBDes staging
(with its tests), the finance, BUMDes and Smart Village models, not IDM or OJK.
Its staging tests check the rows of the batches released since that build only
(``tested_after``, the dbt macro ``batches_to_test``): the others passed the same tests of
the same project then, against the same region master (a region change tests all).
Everything is rebuilt when nothing was published yet, when the dbt project (models,
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

from lumbung import visibility
from lumbung.config import Paths, PgUrl
from lumbung.families import FAMILIES, family

log = logging.getLogger(__name__)

# Every build refreshes the quality mart, since every run of a DAG adds to what it shows.
AUDIT_SELECT = ("mart_data_quality",)

# Selectors name folders by dbt's fully qualified names (fqn:staging.apbdes), which select
# the same nodes as path:models/staging/apbdes (a test checks it) at half the cost: dbt's
# path method resolves every node's file and its parents for each selector, about 0.5 s of
# each marts build, as much as one model.

# Everything this DAG builds: every model and seed but the region's (REGION, excluded).
EVERYTHING = ("fqn:staging", "fqn:intermediate", "fqn:marts", "resource_type:seed")

# Built by the region DAG: the region marts and all they are built from.
REGION = ("+dim_region", "+dim_village")
REGION_SOURCE = family("region").name

# Source (audit.load_batches.source) -> the models whose descendants read it (each source
# family's declaration, lumbung.families).
SOURCE_SELECT = {f.name: f.rebuild for f in FAMILIES}

# What of the dbt project decides what a build produces.
PROJECT_PARTS = ("dbt_project.yml", "models", "macros", "seeds", "tests")


@dataclass(frozen=True)
class RebuildPlan:
    """The selection of one marts build and the inputs it is made from."""

    project_fingerprint: str
    source_fingerprints: dict[str, str]
    changed: tuple[str, ...] | None  # None: everything
    reason: str
    pin: int = 0  # the visibility pin: the build reads batches released up to it
    tested_after: int | None = None  # staging tests check batches released after it

    @property
    def rebuilt(self) -> str:
        if self.changed is None:
            return "everything"
        return ",".join(self.changed)

    def select(self) -> tuple[str, ...]:
        if self.changed is None:
            return EVERYTHING
        # All of what a changed source feeds, views too: a rebuilt table drops the views
        # reading it (cascade), and a staging view reads up to the pin it was built with.
        return AUDIT_SELECT + tuple(
            base for source in self.changed for base in SOURCE_SELECT[source])

    def exclude(self) -> tuple[str, ...]:
        """The region's models, and what only sources with no released batch yet would
        feed: on a first start the marts of the sources already there are published
        (an empty mart fails its audit), the others with their source's first delivery."""
        return REGION + tuple(
            base for source, bases in SOURCE_SELECT.items()
            if source != REGION_SOURCE and source not in self.source_fingerprints
            for base in bases)

    def selection(self) -> tuple[str, ...]:
        """The ``dbt build --select`` arguments of this plan. Buildable: a test is run when
        each model it reads is selected or upstream of one (a staging test reading
        ``dim_village`` runs with that staging model)."""
        return (*self.select(), "--exclude", *self.exclude(),
                "--indirect-selection", "buildable")


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


def source_fingerprints(conn: psycopg.Connection, pin: int | None = None) -> dict[str, str]:
    """Per source, a fingerprint of its batches released up to ``pin`` (default: all), what
    its staging models read at that pin."""
    rows = conn.execute(
        """
        select source, md5(string_agg(batch_id::text, ',' order by batch_id))
        from audit.load_batches
        where status = 'validated' and visible_seq <= coalesce(%s, visible_seq)
        group by source
        order by source
        """,
        (pin,),
    ).fetchall()
    return dict(rows)


def plan(paths: Paths, warehouse: PgUrl, everything: bool = False) -> RebuildPlan:
    """What the next marts build must rebuild (``everything`` forces a whole rebuild), at
    the visibility pin taken now."""
    project = project_fingerprint(paths)
    with psycopg.connect(warehouse.url()) as conn:
        pin = visibility.pin(conn)
        sources = source_fingerprints(conn, pin)
        last = conn.execute(
            """
            select project_fingerprint, source_fingerprints, visible_seq
            from audit.mart_builds
            where publication_id is not null
            order by build_id desc
            limit 1
            """
        ).fetchone()
    if everything:
        return RebuildPlan(project, sources, None, "a whole rebuild was asked for", pin)
    if last is None:
        return RebuildPlan(project, sources, None, "no build of the marts was published yet",
                           pin)
    if last[0] != project:
        return RebuildPlan(project, sources, None,
                           "the dbt project changed since the last published build", pin)
    before: dict[str, str] = last[1]
    changed = tuple(sorted(s for s in sources.keys() | before.keys()
                           if sources.get(s) != before.get(s)))
    unknown = [s for s in changed if s not in SOURCE_SELECT]
    if unknown:
        return RebuildPlan(project, sources, None,
                           f"source(s) {', '.join(unknown)} changed, which no selector maps",
                           pin)
    reason = (f"source(s) {', '.join(changed)} changed since the last published build"
              if changed else "no source changed since the last published build")
    # Rows released up to the last published build passed its tests or earlier ones; a
    # new region master can fail a row that passed (a desa no longer in it).
    tested_after = None if REGION_SOURCE in changed else last[2]
    return RebuildPlan(project, sources, changed,
                       reason + ": only what that feeds, and mart_data_quality", pin,
                       tested_after)


def record_build(
    warehouse: PgUrl, plan: RebuildPlan, dag_id: str | None, run_id: str | None
) -> int:
    """Record a successful build (not yet published); returns its id."""
    with psycopg.connect(warehouse.url()) as conn:
        return conn.execute(
            """
            insert into audit.mart_builds
                (dag_id, run_id, project_fingerprint, source_fingerprints, rebuilt,
                 visible_seq)
            values (%s, %s, %s, %s, %s, %s)
            returning build_id
            """,
            (dag_id, run_id, plan.project_fingerprint, json.dumps(plan.source_fingerprints),
             plan.rebuilt, plan.pin),
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
