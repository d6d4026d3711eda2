"""Reaching the warehouse: embedded server or ``LUMBUNG_WAREHOUSE_URL``, databases, roles."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from importlib.resources import files
from pathlib import Path

import psycopg
from psycopg import sql

from lumbung.config import (
    AIRFLOW_DB,
    BI_ROLE,
    SUPERUSER,
    WAREHOUSE_DB,
    Paths,
    PgUrl,
    external_warehouse_url,
    pg_port,
)
from lumbung.embedded_pg import EmbeddedPostgres, new_password

log = logging.getLogger(__name__)

CLUSTERS_ROOT = Path("/var/lib/lumbung/clusters")


def load_secrets(paths: Paths) -> dict[str, str]:
    """Passwords of the embedded server and the BI role, made once and kept in the state dir."""
    if paths.secrets_file.exists():
        return json.loads(paths.secrets_file.read_text())
    paths.state.mkdir(parents=True, exist_ok=True)
    secrets = {"superuser_password": new_password(), "bi_password": new_password()}
    fd = os.open(paths.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(secrets, fh)
    return secrets


def secret(paths: Paths, key: str) -> str:
    """A password kept in the secrets file under ``key``, generated on first use."""
    import fcntl

    load_secrets(paths)
    with open(paths.secrets_file.with_suffix(".lock"), "w") as lock:
        # Two commands adding a password at once must not lose one of them.
        fcntl.flock(lock, fcntl.LOCK_EX)
        secrets = json.loads(paths.secrets_file.read_text())
        if key not in secrets:
            secrets[key] = new_password()
            tmp = paths.secrets_file.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(secrets, fh)
            os.replace(tmp, paths.secrets_file)
        return secrets[key]


def _others_can_traverse(path: Path) -> bool:
    """Whether every existing ancestor of ``path`` lets other users through (o+x)."""
    for folder in [path, *path.parents]:
        if folder.exists():
            if not folder.stat().st_mode & stat.S_IXOTH:
                return False
    return True


def embedded_pgdata(paths: Paths) -> Path:
    """The data directory: in the state dir, unless root keeps the repo where the server's
    service user cannot go (a private home): then under /var/lib/lumbung, one per checkout."""
    pgdata = paths.pgdata
    if os.geteuid() != 0 or "LUMBUNG_PGDATA" in os.environ:
        return pgdata
    if _others_can_traverse(pgdata.parent):
        return pgdata
    checkout = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    fallback = CLUSTERS_ROOT / checkout / "data"
    log.warning("%s is private to root and PostgreSQL must not run as root: using %s instead "
                "(set LUMBUNG_PGDATA to choose)", pgdata.parent, fallback)
    return fallback


def embedded_server(paths: Paths) -> EmbeddedPostgres:
    return EmbeddedPostgres(
        pgdata=embedded_pgdata(paths),
        port=pg_port(),
        superuser=SUPERUSER,
        password=load_secrets(paths)["superuser_password"],
    )


def uses_embedded() -> bool:
    return external_warehouse_url() is None


def warehouse_url(paths: Paths, start: bool = True) -> PgUrl:
    """The warehouse's admin URL; starts the embedded server unless a URL is configured."""
    external = external_warehouse_url()
    if external:
        return PgUrl.parse(external)
    server = embedded_server(paths)
    if start:
        server.start()
    return PgUrl(
        user=SUPERUSER,
        password=load_secrets(paths)["superuser_password"],
        host="127.0.0.1",
        port=server.port,
        dbname=WAREHOUSE_DB,
    )


def airflow_db_url(warehouse: PgUrl) -> PgUrl:
    """Airflow's metadata: its own database on the warehouse's server unless configured."""
    configured = os.environ.get("LUMBUNG_AIRFLOW_DB_URL")
    if configured:
        return PgUrl.parse(configured)
    return warehouse.with_db(AIRFLOW_DB if uses_embedded() else f"{warehouse.dbname}_airflow")


def bi_password(paths: Paths) -> str:
    return os.environ.get("LUMBUNG_BI_PASSWORD") or load_secrets(paths)["bi_password"]


def bi_url(paths: Paths, warehouse: PgUrl) -> PgUrl:
    return warehouse.with_user(BI_ROLE, bi_password(paths))


def api_password(paths: Paths) -> str:
    return os.environ.get("LUMBUNG_API_DB_PASSWORD") or secret(paths, "api_password")


def api_db_url(paths: Paths, warehouse: PgUrl) -> PgUrl:
    """The API's login: it reads nothing until it sets the role of its caller."""
    from lumbung.rls import API_ROLE

    return warehouse.with_user(API_ROLE, api_password(paths))


def regency_url(paths: Paths, warehouse: PgUrl, code: str) -> PgUrl:
    """The login URL of a regency's role (role and password made on first use)."""
    from lumbung import rls

    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        code = rls.check_regency(conn, code)
        role = rls.ensure_regency_role(conn, code)
        password = secret(paths, f"bi_password_{code}")
        conn.execute(sql.SQL("alter role {} with login password {}").format(
            sql.Identifier(role), sql.Literal(password)))
    return warehouse.with_user(role, password)


def public_may_connect(conn: psycopg.Connection, dbname: str) -> bool:
    """Whether PUBLIC still holds CONNECT or TEMPORARY on ``dbname`` (a NULL ACL is the
    default, which grants both)."""
    return conn.execute(
        "select datacl is null or exists (select 1 from aclexplode(datacl) a "
        "where a.grantee = 0 and a.privilege_type in ('CONNECT', 'TEMPORARY')) "
        "from pg_database where datname = %s", (dbname,)).fetchone()[0]


def ensure_database(server: PgUrl, dbname: str) -> None:
    """Create ``dbname`` on the server of ``server`` if it does not exist yet; only its owner
    and superusers may connect to it."""
    for maintenance_db in (server.dbname, "postgres", "template1"):
        try:
            conn = psycopg.connect(server.with_db(maintenance_db).url(), autocommit=True)
        except psycopg.OperationalError:
            continue
        with conn:
            # Parallel DAG runs bootstrap at once: two concurrent changes of the same
            # pg_database row fail ("tuple concurrently updated"), so one at a time (the
            # lock ends with the connection).
            conn.execute("select pg_advisory_lock(hashtext('lumbung.ensure_database'))")
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                log.info("creating database %s", dbname)
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
            # PostgreSQL lets every role connect and create temporary tables: here only the
            # owner, superusers and the roles granted CONNECT (lumbung_bi, by bootstrap) may.
            if public_may_connect(conn, dbname):
                conn.execute(sql.SQL("revoke connect, temporary on database {} from public")
                             .format(sql.Identifier(dbname)))
        return
    raise RuntimeError(f"cannot connect to the PostgreSQL server at {server.host}:{server.port}")


def ddl_scripts() -> list[str]:
    """bootstrap.sql first (schemas, audit, roles), then the raw tables and gate views derived
    from the sources' declarations (``lumbung.raw_tables``), then the gate views written by
    hand over them (``gate_<source>.sql``)."""
    from lumbung import raw_tables

    folder = files("lumbung").joinpath("sql")
    gates = sorted(p.name for p in folder.iterdir() if p.name.startswith("gate_"))
    return [folder.joinpath("bootstrap.sql").read_text(), raw_tables.ddl(),
            *(folder.joinpath(n).read_text() for n in gates)]


def apply_ddl(conn: psycopg.Connection) -> None:
    """Every statement of ``ddl_scripts``, on an autocommit connection; safe to run again."""
    for ddl in ddl_scripts():
        conn.execute(ddl)


def bootstrap(paths: Paths, warehouse: PgUrl) -> None:
    """Schemas, audit and raw tables, gate views, the BI roles (province, regencies) and
    the API's role. Safe to run again."""
    from lumbung import rls

    ensure_database(warehouse, warehouse.dbname)
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        # Serialise concurrent bootstraps (parallel DAG runs) on one advisory lock.
        conn.execute("select pg_advisory_lock(hashtext('lumbung.bootstrap'))")
        try:
            apply_ddl(conn)
            conn.execute(
                sql.SQL("alter role {} with login password {}").format(
                    sql.Identifier(BI_ROLE), sql.Literal(bi_password(paths))
                )
            )
            conn.execute(
                sql.SQL("alter role {} with login password {}").format(
                    sql.Identifier(rls.API_ROLE), sql.Literal(api_password(paths))
                )
            )
            for role in (BI_ROLE, rls.REGENCY_GROUP, rls.API_ROLE):
                conn.execute(
                    sql.SQL("grant connect on database {} to {}").format(
                        sql.Identifier(warehouse.dbname), sql.Identifier(role)
                    )
                )
            # Marts published before row-level security existed get it now.
            rls.ensure_regency_roles(conn)
            rls.secure_marts(conn)
        finally:
            conn.execute("select pg_advisory_unlock(hashtext('lumbung.bootstrap'))")
