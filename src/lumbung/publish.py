"""Write-audit-publish for the marts.

dbt builds every mart into the build schema ``marts_build``, which BI users cannot read;
its tests (and the mart quality gate) audit it there. Only then does :func:`publish` copy
the audited tables into ``marts`` in ONE transaction: BI users see either the previous
version of every table or the new version of every table, never a mix, and a build that
fails its audit, or a process killed between build and publish, leaves ``marts`` as it was.

Rows are replaced with ``delete`` + ``insert`` so that readers are never blocked and keep
seeing the previous rows until the commit (MVCC); a table whose columns changed is
recreated instead. A published mart with a ``regency_code`` or ``year`` column gets an index
on them (:data:`FILTER_COLUMNS`), what the API's filtered pages read. Every publication is
recorded in ``audit.publications``, and for BI users in ``marts.publication_info``: per
mart, when and by which publication it was published, the latest year it holds, its
methodology version and the accepted batches it was built from.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from lumbung import dbt_manifest, rls
from lumbung.config import Paths, PgUrl
from lumbung.families import FAMILIES

log = logging.getLogger(__name__)

BUILD_SCHEMA = "marts_build"
PUBLISHED_SCHEMA = "marts"
BI_ROLE = "lumbung_bi"
PUBLICATION_INFO = "publication_info"
# dbt source name -> audit.load_batches.source
_BATCH_SOURCE = {f.module: f.name for f in FAMILIES}
# What the API's filtered pages (and a regency's row-level security) select on, in this
# order: a published mart with any of them gets one index on those it has.
FILTER_COLUMNS = ("regency_code", "year")


class PublishRefused(RuntimeError):
    """A table asked to be published is not in the build schema."""


@dataclass(frozen=True)
class Published:
    tables: dict[str, int]
    publication_id: int

    def to_dict(self) -> dict:
        return {"publication_id": self.publication_id, "tables": self.tables}


def built_marts(paths: Paths) -> list[str]:
    """Tables that the last dbt invocation built successfully in the build schema, from its
    ``run_results.json`` (read right after the build, by the task that ran it)."""
    results = json.loads((paths.dbt_target / "run_results.json").read_text(encoding="utf-8"))
    marker = f'"{BUILD_SCHEMA}".'
    tables = []
    for result in results["results"]:
        relation = result.get("relation_name") or ""
        if (result["unique_id"].startswith("model.") and result["status"] == "success"
                and marker in relation):
            tables.append(relation.split(".")[-1].strip('"'))
    return sorted(tables)


def build(paths: Paths, warehouse: PgUrl, *select: str, manifest: bool = True,
          pin: int | None = None, repin: bool = True,
          tested_after: int | None = None) -> list[str]:
    """``dbt build`` (models, seeds, tests) of the selection into the build schema; returns
    the mart tables it built, to be published once audited (``manifest``: see run_dbt).
    It reads the batches released to dbt up to ``pin`` (``lumbung.visibility``; default: all
    released when it starts), so a delivery released during the build stays out whole; its
    staging tests check the rows of batches released after ``tested_after`` (default: all)."""
    from lumbung.dbt_runner import run_dbt

    run_dbt(paths, warehouse, "build", "--select", *select, manifest=manifest, pin=pin,
            repin=repin, tested_after=tested_after)
    return built_marts(paths)


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_attribute as a
        where a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))
          and a.attnum > 0 and not a.attisdropped
        order by a.attnum
        """,
        (schema, table),
    ).fetchall()


def _copy_comments(conn: psycopg.Connection, table: str) -> None:
    """Descriptions follow the table (dbt persists them on the build tables)."""
    live = sql.Identifier(PUBLISHED_SCHEMA, table)
    comment = conn.execute(
        "select obj_description(to_regclass(%s), 'pg_class')", (f"{BUILD_SCHEMA}.{table}",)
    ).fetchone()[0]
    conn.execute(sql.SQL("comment on table {} is {}").format(live, sql.Literal(comment)))
    for column, text in conn.execute(
        """
        select a.attname, col_description(a.attrelid, a.attnum)
        from pg_attribute as a
        where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped
        """,
        (f"{BUILD_SCHEMA}.{table}",),
    ).fetchall():
        conn.execute(sql.SQL("comment on column {}.{} is {}").format(
            live, sql.Identifier(column), sql.Literal(text)))


def mart_sources(paths: Paths) -> dict[str, tuple[str, ...]]:
    """The landed sources (``audit.load_batches.source``) each mart table reads, from the
    lineage in dbt's manifest (written by every whole build); empty without a manifest."""
    manifest = dbt_manifest.read(paths)
    if manifest is None:
        return {}
    sources: dict[str, tuple[str, ...]] = {}
    for node_id, node in manifest.nodes.items():
        if node.resource_type != "model" or node.schema != BUILD_SCHEMA:
            continue
        found, seen, todo = set(), set(), [node_id]
        while todo:
            current = todo.pop()
            for parent in manifest.parent_map.get(current, ()):
                if parent in seen:
                    continue
                seen.add(parent)
                if parent.startswith("source."):
                    name = manifest.sources[parent].source_name
                    if name != "audit":  # the warehouse's own records, not a delivery
                        found.add(_BATCH_SOURCE.get(name, name))
                else:
                    todo.append(parent)
        sources[node.table] = tuple(sorted(found))
    return sources


def _record_publication_info(
    conn: psycopg.Connection, table: str, publication_id: int, rows: int,
    sources: tuple[str, ...],
) -> None:
    """One row per published mart in ``marts.publication_info``, replaced on each
    publication of the mart (in the publication's transaction)."""
    live = sql.Identifier(PUBLISHED_SCHEMA, table)
    columns = {name for name, _ in _columns(conn, PUBLISHED_SCHEMA, table)}
    latest_year = None
    if "year" in columns:
        latest_year = conn.execute(sql.SQL("select max(year) from {}").format(live)).fetchone()[0]
    methodology_version = None
    if "methodology_version" in columns:
        active = (sql.SQL("where is_active_version") if "is_active_version" in columns
                  else sql.SQL(""))
        methodology_version = conn.execute(
            sql.SQL("select max(methodology_version) from {} {}").format(live, active)
        ).fetchone()[0]
    conn.execute(
        sql.SQL("""
        insert into {info} (mart, published_at, publication_id, row_count, latest_year,
            methodology_version, sources, batch_ids, batch_count)
        select %(mart)s, now(), %(publication_id)s, %(rows)s, %(latest_year)s,
            %(methodology_version)s, %(sources)s::text[], coalesce(b.batch_ids, '{{}}'),
            coalesce(cardinality(b.batch_ids), 0)
        from (
            select array_agg(batch_id order by batch_id) as batch_ids
            from audit.load_batches
            where status = 'validated' and source = any(%(sources)s::text[])
        ) as b
        on conflict (mart) do update set
            published_at = excluded.published_at, publication_id = excluded.publication_id,
            row_count = excluded.row_count, latest_year = excluded.latest_year,
            methodology_version = excluded.methodology_version, sources = excluded.sources,
            batch_ids = excluded.batch_ids, batch_count = excluded.batch_count
        """).format(info=sql.Identifier(PUBLISHED_SCHEMA, PUBLICATION_INFO)),
        {"mart": table, "publication_id": publication_id, "rows": rows,
         "latest_year": latest_year, "methodology_version": methodology_version,
         "sources": list(sources)},
    )


def _filter_index(conn: psycopg.Connection, table: str,
                  columns: list[tuple[str, str]]) -> None:
    """The index on the mart's :data:`FILTER_COLUMNS` (none without them), created once:
    kept when rows are replaced, made again when the table is recreated."""
    names = {name for name, _ in columns}
    indexed = [c for c in FILTER_COLUMNS if c in names]
    if not indexed:
        return
    name = f"{table}_filter_idx"
    if len(name) > 63:  # Postgres's limit on a name
        name = f"{table[:45]}_{hashlib.sha256(table.encode()).hexdigest()[:8]}_filter_idx"
    conn.execute(sql.SQL("create index if not exists {} on {} ({})").format(
        sql.Identifier(name), sql.Identifier(PUBLISHED_SCHEMA, table),
        sql.SQL(", ").join(sql.Identifier(c) for c in indexed)))


def _publish_table(conn: psycopg.Connection, table: str) -> int:
    build, live = sql.Identifier(BUILD_SCHEMA, table), sql.Identifier(PUBLISHED_SCHEMA, table)
    built_columns = _columns(conn, BUILD_SCHEMA, table)
    if not built_columns:
        raise PublishRefused(f"{BUILD_SCHEMA}.{table} does not exist: nothing to publish")
    if _columns(conn, PUBLISHED_SCHEMA, table) == built_columns:
        # Row security forced: without the publisher's policy this delete would see no row.
        rls.secure_table(conn, table)
        conn.execute(sql.SQL("delete from {}").format(live))
    else:
        # New table, or its contract changed: recreate it (constraints and comments too),
        # with its grants and row-level security before the commit makes it visible.
        conn.execute(sql.SQL("drop table if exists {}").format(live))
        conn.execute(sql.SQL("create table {} (like {} including all)").format(live, build))
        rls.grant_readers(conn, table)
        rls.secure_table(conn, table)
    _filter_index(conn, table, built_columns)
    rows = conn.execute(
        sql.SQL("insert into {} select * from {}").format(live, build)
    ).rowcount
    _copy_comments(conn, table)
    return rows


def publish(
    warehouse: PgUrl,
    tables: list[str],
    dag_id: str | None = None,
    run_id: str | None = None,
    before_commit=None,
    paths: Paths | None = None,
) -> Published:
    """Copy the audited build tables into ``marts`` in one transaction and record it.

    ``before_commit`` is called inside the transaction after the copies (tests use it to
    end the process there, as a crash would).
    """
    if not tables:
        raise PublishRefused("no audited table to publish")
    lineage = mart_sources(paths or Paths.from_env())
    counts: dict[str, int] = {}
    with psycopg.connect(warehouse.url()) as conn, conn.transaction():
        # One publication at a time: two DAGs publishing together must not interleave.
        conn.execute("select pg_advisory_xact_lock(hashtext('lumbung.publish'))")
        for table in tables:
            counts[table] = _publish_table(conn, table)
            log.info("publishing %s.%s: %d rows", PUBLISHED_SCHEMA, table, counts[table])
        publication_id = conn.execute(
            """
            insert into audit.publications (dag_id, run_id, tables)
            values (%s, %s, %s) returning publication_id
            """,
            (dag_id, run_id, json.dumps(counts)),
        ).fetchone()[0]
        for table in tables:
            _record_publication_info(conn, table, publication_id, counts[table],
                                     lineage.get(table, ()))
        if before_commit is not None:
            before_commit()
    for table in tables:
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(PUBLISHED_SCHEMA, table)))
    if "dim_region" in tables:
        # Every regency of the region master has its role (bootstrap's lock: roles are
        # created there too).
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(hashtext('lumbung.bootstrap'))")
            try:
                rls.ensure_regency_roles(conn)
            finally:
                conn.execute("select pg_advisory_unlock(hashtext('lumbung.bootstrap'))")
    log.info("published %d table(s) to %s in one transaction (publication %d)",
             len(tables), PUBLISHED_SCHEMA, publication_id)
    return Published(tables=counts, publication_id=publication_id)
