"""Superset's side of `lumbung bi`, run with Superset's own Python (.venv-bi), never Lumbung's.

Importing Superset costs most of a minute on a busy machine, so one process does it all:
migrate the metadata database, sync roles, make the admin user, import the dashboards (one
transaction), then serve, or export the dashboards back to the repository.

Inputs come from the environment, set by `lumbung bi` (src/lumbung/bi.py):
SUPERSET_CONFIG_PATH, LUMBUNG_BI_ADMIN_PASSWORD, LUMBUNG_BI_SQLALCHEMY_URI, LUMBUNG_BI_STATE.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import yaml

DATABASE_FILE = "databases/lumbung_bi.yaml"
ADMIN = "admin"


def read_bundle(folder: Path) -> dict[str, str]:
    """Every YAML file of the dashboards folder, by its path inside the folder."""
    return {
        str(path.relative_to(folder)): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.yaml"))
    }


def bundle_digest(contents: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(contents):
        digest.update(name.encode() + b"\0" + contents[name].encode() + b"\0")
    return digest.hexdigest()


def with_connection(contents: dict[str, str], uri: str) -> dict[str, str]:
    """The bundle with the warehouse's real URI: the committed YAML has none (it differs per
    installation and carries a password)."""
    database = yaml.safe_load(contents[DATABASE_FILE])
    database["sqlalchemy_uri"] = uri
    return {**contents, DATABASE_FILE: yaml.safe_dump(database, sort_keys=False)}


def with_mart_descriptions(contents: dict[str, str], uri: str) -> dict[str, str]:
    """The bundle with each table dataset described by its mart's own comment (what dbt
    persists from the model's docs), so a dataset never shows an older description than its
    mart: Superset reads column comments itself, but not a table's."""
    import sqlalchemy as sa

    tables = {
        name: yaml.safe_load(text) for name, text in contents.items()
        if name.startswith("datasets/")
    }
    tables = {name: d for name, d in tables.items() if not d.get("sql")}
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            comments = {
                name: conn.execute(
                    sa.text("select obj_description(to_regclass(:t), 'pg_class')"),
                    {"t": f"{d['schema']}.{d['table_name']}"}).scalar()
                for name, d in tables.items()
            }
    finally:
        engine.dispose()
    updated = dict(contents)
    for name, comment in comments.items():
        if comment and comment.strip() != (tables[name].get("description") or "").strip():
            tables[name]["description"] = comment
            updated[name] = yaml.safe_dump(tables[name], sort_keys=False, allow_unicode=True)
    return updated


def _app():
    from superset.app import create_app

    return create_app()


def _migrate() -> None:
    import superset
    from flask_migrate import upgrade

    upgrade(directory=str(Path(superset.__file__).parent / "migrations"))


def _sync_roles(state: Path) -> None:
    """`superset init`, only when Superset's version changed (it takes a while)."""
    from superset import appbuilder, security_manager
    from superset.utils.version import get_version_metadata

    stamp = state / "roles_synced_for"
    version = get_version_metadata().get("version_string", "")
    if stamp.exists() and stamp.read_text() == version:
        return
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    stamp.write_text(version)


def _ensure_admin(password: str) -> None:
    """The admin user exists and has the password kept in Lumbung's secrets."""
    from superset import security_manager

    user = security_manager.find_user(username=ADMIN)
    if user is None:
        role = security_manager.find_role("Admin")
        security_manager.add_user(ADMIN, "Lumbung", "Admin", "admin@lumbung.invalid", role,
                                  password=password)
    else:
        security_manager.reset_password(user.id, password)


def _import(bundle: Path, state: Path, uri: str, force: bool) -> str:
    """Import the dashboards unless this exact bundle was imported before, so that what users
    changed in the UI since stays until the repository's dashboards change."""
    from flask import g
    from superset import security_manager
    from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand

    contents = with_mart_descriptions(read_bundle(bundle), uri)
    digest = bundle_digest(contents)
    stamp = state / "imported_bundle"
    if not force and stamp.exists() and stamp.read_text() == digest:
        return "dashboards unchanged since the last import"
    g.user = security_manager.find_user(username=ADMIN)
    # One transaction: a failure leaves nothing half imported.
    ImportDashboardsCommand(with_connection(contents, uri), overwrite=True).run()
    stamp.write_text(digest)
    dashboards = sum(1 for name in contents if name.startswith("dashboards/"))
    return f"imported {dashboards} dashboards"


def _uuids(bundle: Path, kind: str) -> set[str]:
    return {
        str(yaml.safe_load(path.read_text(encoding="utf-8"))["uuid"])
        for path in (bundle / kind).rglob("*.yaml")
    }


# Filled in by Superset when a dashboard is opened or a chart saved, not by people.
DERIVED_METADATA = ("shared_label_colors", "color_scheme_domain", "map_label_colors")


def stable(name: str, config: dict) -> dict:
    """An exported file without what differs between two Superset installations holding the
    same dashboards: database ids (Superset maps charts and datasets by uuid on import) and
    the order of a dataset's columns."""
    if name.startswith("datasets/"):
        # Superset lists a dataset's columns in the order it stored them, which for a SQL
        # dataset changes from one import to the next
        config["columns"] = sorted(config.get("columns", []), key=lambda c: c["column_name"])
    elif name.startswith("charts/"):
        config["params"].pop("datasource", None)
        config["params"].pop("slice_id", None)
        config["query_context"] = None  # saved with database ids; rebuilt from params
    elif name.startswith("dashboards/"):
        ids: dict[int, int] = {}
        for item in config.get("position", {}).values():
            if isinstance(item, dict) and item.get("type") == "CHART":
                old = item["meta"]["chartId"]
                item["meta"]["chartId"] = ids.setdefault(old, len(ids) + 1)
        metadata = config.get("metadata", {})
        for key in DERIVED_METADATA:
            metadata.pop(key, None)
        for native_filter in metadata.get("native_filter_configuration", []):
            native_filter.pop("chartsInScope", None)
            scope = native_filter.get("scope", {})
            scope["excluded"] = [ids[i] for i in scope.get("excluded", []) if i in ids]
        metadata.get("global_chart_configuration", {}).pop("chartsInScope", None)
        if "timed_refresh_immune_slices" in metadata:
            metadata["timed_refresh_immune_slices"] = [
                ids[i] for i in metadata["timed_refresh_immune_slices"] if i in ids]
    return config


def export(bundle: Path, out: Path) -> list[str]:
    """Export the repository's dashboards (by uuid) as Superset has them now into ``out``,
    file names without database ids and the connection URI masked, so that a fresh export
    of an unchanged import equals the committed folder."""
    from flask import g
    from superset import db, security_manager
    from superset.commands.dashboard.export import ExportDashboardsCommand
    from superset.models.dashboard import Dashboard

    g.user = security_manager.find_user(username=ADMIN)
    wanted = _uuids(bundle, "dashboards")
    ids = [d.id for d in db.session.query(Dashboard).all() if str(d.uuid) in wanted]
    written = []
    for name, content in ExportDashboardsCommand(ids).run():
        text = content()
        if name == "metadata.yaml":
            text = re.sub(r"(?m)^timestamp: .*\n", "", text)
        if name.startswith("databases/"):
            name = DATABASE_FILE
            database = yaml.safe_load(text)
            database["sqlalchemy_uri"] = "postgresql+psycopg2://lumbung_bi@warehouse/lumbung"
            text = yaml.safe_dump(database, sort_keys=False)
        elif name.startswith(("charts/", "dashboards/", "datasets/")):
            text = yaml.safe_dump(stable(name, yaml.safe_load(text)), sort_keys=False,
                                  allow_unicode=True)
        name = re.sub(r"_\d+\.yaml$", ".yaml", name)
        name = re.sub(r"^datasets/[^/]+/", "datasets/lumbung_bi/", name)
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(name)
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["setup", "serve", "export"])
    parser.add_argument("--bundle", type=Path, required=True, help="the dashboards folder")
    parser.add_argument("--out", type=Path, help="export: folder to write")
    parser.add_argument("--force-import", action="store_true",
                        help="import even if this bundle was imported before")
    parser.add_argument("--host", default="127.0.0.1", help="serve: address to listen on")
    parser.add_argument("--port", type=int, help="serve: port")
    args = parser.parse_args(argv)
    state = Path(os.environ["LUMBUNG_BI_STATE"])
    app = _app()
    try:
        with app.app_context():
            if args.action == "export":
                names = export(args.bundle, args.out)
                print(json.dumps({"exported": names}))
                return 0
            _migrate()
            _sync_roles(state)
            _ensure_admin(os.environ["LUMBUNG_BI_ADMIN_PASSWORD"])
            outcome = _import(args.bundle, state, os.environ["LUMBUNG_BI_SQLALCHEMY_URI"],
                              args.force_import)
    except Exception as err:  # one line for `lumbung bi`; the trace is in the log above
        import traceback

        traceback.print_exc()
        messages = getattr(err, "normalized_messages", None)
        detail = json.dumps(messages()) if callable(messages) else str(err)
        print(json.dumps({"error": f"{type(err).__name__}: {detail}"}), flush=True)
        return 1
    print(json.dumps({"ready": outcome}), flush=True)
    if args.action == "serve":
        serve(args.host, args.port)
    return 0


def serve(host: str, port: int) -> None:
    """Become gunicorn serving Superset (the WSGI server Superset documents for production;
    ``LUMBUNG_BI_WORKERS`` processes of 4 threads each, default 2). An exec, not a fork:
    the set-up's connections to SQLite and the warehouse close on exec instead of being
    shared with the workers, and the process stays the one `lumbung bi` stops."""
    workers = os.environ.get("LUMBUNG_BI_WORKERS", "2")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
            "--workers", workers, "--worker-class", "gthread", "--threads", "4",
            "--timeout", "300", "--graceful-timeout", "10",
            "--no-control-socket",  # it would be a file in $HOME, shared by every instance
            # Superset's own advice: its URLs carry whole chart states
            "--limit-request-line", "0", "--limit-request-field_size", "0",
            "superset.app:create_app()"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 (a fixed argv, no shell)


if __name__ == "__main__":
    sys.exit(main())
