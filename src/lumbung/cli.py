"""The ``lumbung`` command: run the pipeline, manage the embedded warehouse, open Airflow."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from lumbung.config import Paths, redact

log = logging.getLogger("lumbung")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def cmd_db(args: argparse.Namespace) -> int:
    from lumbung.warehouse import bi_url, bootstrap, embedded_server, uses_embedded, warehouse_url

    paths = Paths.from_env()
    if args.action in ("start", "stop", "status") and not uses_embedded():
        print(f"LUMBUNG_WAREHOUSE_URL is set: the warehouse is {redact(warehouse_url(paths).url())}"
              ", not the embedded server; nothing to {args.action}.")
        return 0
    if args.action == "start":
        status = embedded_server(paths).start()
        print(status.describe())
    elif args.action == "stop":
        print(embedded_server(paths).stop().describe())
    elif args.action == "status":
        status = embedded_server(paths).status()
        print(status.describe())
        return 0 if status.running else 3
    elif args.action == "url":
        url = warehouse_url(paths)
        if args.role == "bi":
            bootstrap(paths, url)  # the role exists and has its password before anyone uses it
            url = bi_url(paths, url)
        print(url.url())
    elif args.action == "bootstrap":
        url = warehouse_url(paths)
        bootstrap(paths, url)
        print(f"bootstrapped {redact(url.url())}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lumbung.runner import DAG_ORDER, run

    summary = run(Paths.from_env(), tuple(args.dags) if args.dags else DAG_ORDER)
    print(summary.render())
    return 0 if summary.ok else 1


def cmd_ingest(args: argparse.Namespace) -> int:
    """Land files the way the DAGs do; exit 1 only when a whole batch was rejected."""
    import importlib

    from lumbung.sources import INGEST
    from lumbung.warehouse import bootstrap, warehouse_url

    paths = Paths.from_env()
    url = warehouse_url(paths)
    bootstrap(paths, url)
    module, function = INGEST[args.source].split(":")
    outcomes = getattr(importlib.import_module(module), function)(url, args.path.resolve())
    for outcome in outcomes:
        print(outcome.describe())
    rejected = [o for o in outcomes if o.status == "rejected"]
    print(f"{len(outcomes)} batch(es): {len(rejected)} rejected, "
          f"{sum(o.rows_loaded or 0 for o in outcomes):,} rows loaded, "
          f"{sum(o.rows_quarantined or 0 for o in outcomes):,} quarantined")
    return 1 if rejected else 0


def cmd_dbt_server(args: argparse.Namespace) -> int:
    from lumbung import dbt_server

    path = args.socket or dbt_server.socket_path(Paths.from_env().state)
    print(f"dbt server on {path}: set {dbt_server.ENV}={path} where dbt is run; "
          "stop with Ctrl-C", flush=True)
    dbt_server.serve(path.resolve())
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from lumbung.generate import GenerateConfig, generate

    manifest = generate(
        GenerateConfig(
            out=args.out.resolve(),
            regencies=tuple(r.replace(".", "") for r in args.regencies),
            years=tuple(args.years),
            seed=args.seed,
            scale=args.scale,
            defects=args.defects,
            sources=tuple(args.sources),
        )
    )
    print(f"landing files written to {args.out}"
          + (f"; {len(manifest.defects)} defect(s) injected, see defects_manifest.json"
             if args.defects else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lumbung.reports import produce
    from lumbung.warehouse import bootstrap, warehouse_url

    paths = Paths.from_env()
    url = warehouse_url(paths)
    bootstrap(paths, url)
    print(produce(paths, url, out=args.out, since=args.since).describe())
    return 0


def _timestamp(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_airflow(args: argparse.Namespace) -> int:
    import signal
    import time

    from lumbung import airflow_env, dbt_server
    from lumbung.runner import prepare

    paths = Paths.from_env()
    prepare(paths)
    port = os.environ["AIRFLOW__API__PORT"]
    print(f"Airflow UI on http://127.0.0.1:{port} (user admin; password in "
          f"{airflow_env.passwords_file(paths)}). Ctrl-C stops.", flush=True)
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda sig, frame: stopping.append(sig))
    # standalone = api-server + scheduler + dag-processor + triggerer, each started as an
    # `airflow` subprocess found on PATH: our shim first (log servers on 127.0.0.1), then
    # this environment's bin.
    bin_dir = os.path.dirname(sys.executable)
    path = os.pathsep.join([str(airflow_env.shim_dir(paths)), bin_dir, os.environ.get("PATH", "")])
    with dbt_server.running(paths.state):  # the tasks' dbt builds fork it (see lumbung run)
        env = {**os.environ, "PATH": path}
        # its own session: the stop below reaches all of it, and nothing outlives us
        process = subprocess.Popen([airflow_env.airflow_executable(), "standalone"], env=env,
                                   start_new_session=True)
        try:
            while process.poll() is None and not stopping:
                time.sleep(0.2)
        finally:
            airflow_env.stop_tree(process)
    return 128 + stopping[0] if stopping else process.returncode


def cmd_docs(args: argparse.Namespace) -> int:
    from lumbung import dbt_docs

    paths = Paths.from_env()
    try:
        dbt_docs.serve(paths, args.port or dbt_docs.docs_port())
    except (FileNotFoundError, OSError) as err:
        print(f"lumbung docs: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_bi(args: argparse.Namespace) -> int:
    from lumbung import bi
    from lumbung.warehouse import warehouse_url

    paths = Paths.from_env()
    try:
        if args.action == "export":
            out = (args.out or bi.bundle_dir(paths)).resolve()
            job = bi.superset(paths, warehouse_url(paths), "export", "--out", str(out))
            print(f"exported {len(job.run()['exported'])} files into {out}")
            return 0
        port = args.port or bi.bi_port()
        extra = ["--force-import"] if args.force_import else []
        if args.action == "setup":
            print(bi.superset(paths, warehouse_url(paths), "setup", *extra).run()["ready"])
            return 0
        bi.check_port(port)
        return bi.serve(paths, warehouse_url(paths), port, extra)
    except bi.BiError as err:
        print(f"make bi stopped: {err}.", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lumbung",
        description="Lumbung, the village data warehouse of the Smart Village programme. "
        "Without LUMBUNG_WAREHOUSE_URL it runs its own PostgreSQL (data in .lumbung/).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run every DAG once (land, gate, build marts) and report")
    run.add_argument("--dags", nargs="+", metavar="DAG_ID",
                     help="run only these DAGs (default: all, in dependency order)")
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="manage the warehouse (embedded PostgreSQL by default)")
    db.add_argument("action", choices=["start", "stop", "status", "url", "bootstrap"],
                    help="start/stop/status of the embedded server; url prints a connection "
                    "URL; bootstrap creates schemas, audit tables and roles")
    db.add_argument("--role", choices=["admin", "bi"], default="admin",
                    help="for url: admin (default) or bi, the read-only role for BI tools")
    db.set_defaults(func=cmd_db)

    from lumbung.sources import INGEST

    ingest = sub.add_parser(
        "ingest", help="land one file or folder of a source into raw, as the DAGs do",
        description="Land PATH (a file, or a folder of files) into the raw schema: one batch "
        "per file, every row loaded or quarantined with its reason. Prints the batch summary; "
        "exits 1 only when a whole batch was rejected.",
    )
    ingest.add_argument("source", choices=sorted(INGEST), help="source family")
    ingest.add_argument("path", type=Path, help="file or folder to land")
    ingest.set_defaults(func=cmd_ingest)

    gen = sub.add_parser(
        "generate", help="write realistic landing files for every source (deterministic)",
        description="Write landing files for every source family on the real Lampung region "
        "master, deterministic for a seed.",
    )
    gen.add_argument("--out", type=Path, required=True, help="output landing folder")
    gen.add_argument("--regencies", nargs="*", default=[],
                     help="regency codes (18.01 or 1801); default: all 15")
    gen.add_argument("--years", nargs="+", type=int, default=[2024], help="fiscal years")
    gen.add_argument("--seed", type=int, default=1, help="random seed (same seed, same files)")
    gen.add_argument("--scale", type=int, default=1,
                     help="multiply villages with synthetic codes valid in shape (load tests); "
                     "K>1 also writes their region master, region/edition=<year>/synthetic_*.csv")
    gen.add_argument("--defects", type=float, default=0.0,
                     help="rate of injected defects (0-1); writes defects_manifest.json")
    gen.add_argument("--sources", nargs="*", default=[], help="only these source families")
    gen.set_defaults(func=cmd_generate)

    report = sub.add_parser(
        "report", help="write the quality report (HTML) and one workbook (XLSX) per regency",
        description="Write the auditor outputs from the warehouse's audit tables and marts: "
        "one self-contained HTML quality report (opens offline: rows received, loaded and "
        "quarantined per source and regency, failed checks with examples, the trend against "
        "earlier runs, IDM inconsistencies, APBDes identity breaks, BUMDes vs APBDes "
        "discrepancies) and, for each regency with something to fix, a workbook of its "
        "quarantined rows and failed checks. Default folder: "
        "$LUMBUNG_STATE_DIR/reports/<UTC timestamp>/, copied to reports/latest/.",
    )
    report.add_argument("--out", type=Path,
                        help="write into this folder instead (no timestamped folder, no latest)")
    report.add_argument("--since", type=_timestamp, metavar="ISO_TIME",
                        help="only files landed from then on, e.g. 2025-03-01 or "
                        "2025-03-01T08:00+07:00 (default: the latest version of every file)")
    report.set_defaults(func=cmd_report)

    server = sub.add_parser(
        "dbt-server", help="serve dbt invocations with dbt imported once (a fork per build)",
        description="Import dbt once and serve dbt invocations on a Unix socket, each in a "
        "fork of this process: a build then starts in about a second instead of paying "
        "dbt's import (several seconds). The pipeline uses the server named by "
        "LUMBUNG_DBT_SERVER and runs dbt in a new process without one. `lumbung run` and "
        "`lumbung airflow` start their own; docker-compose.yml runs one beside the Airflow "
        "worker.",
    )
    server.add_argument("--socket", type=Path,
                        help="Unix socket to listen on (default: "
                        "$LUMBUNG_STATE_DIR/dbt/server.sock)")
    server.set_defaults(func=cmd_dbt_server)

    bi = sub.add_parser(
        "bi", help="Apache Superset on 127.0.0.1 with the dashboards of bi/dashboards/",
        description="serve (default): install-checked Superset (.venv-bi, see make bi) with "
        "its metadata in the state folder, the warehouse registered as lumbung_bi, the "
        "dashboards of bi/dashboards/ imported when they changed since the last import, "
        "served on 127.0.0.1:LUMBUNG_BI_PORT (8088) until Ctrl-C. setup: the same without "
        "serving. export: write the dashboards as Superset has them now back into "
        "bi/dashboards/ (after editing them in the UI).",
    )
    bi.add_argument("action", nargs="?", choices=["serve", "setup", "export"], default="serve")
    bi.add_argument("--port", type=int, help="port on 127.0.0.1 (default LUMBUNG_BI_PORT, 8088)")
    bi.add_argument("--force-import", action="store_true",
                    help="import the dashboards even if unchanged (discards UI edits to them)")
    bi.add_argument("--out", type=Path, help="export: folder to write (default bi/dashboards)")
    bi.set_defaults(func=cmd_bi)

    docs = sub.add_parser(
        "docs", help="serve the dbt docs site (models, columns, tests, lineage) on 127.0.0.1",
        description="Serve the dbt docs site that every `lumbung run` generates into "
        "$LUMBUNG_STATE_DIR/dbt/docs/ on 127.0.0.1:LUMBUNG_DOCS_PORT (8089). "
        "static_index.html there also opens from disk without a server.",
    )
    docs.add_argument("--port", type=int, help="port (default LUMBUNG_DOCS_PORT, 8089)")
    docs.set_defaults(func=cmd_docs)

    airflow = sub.add_parser("airflow", help="start the Airflow UI and scheduler on 127.0.0.1")
    airflow.set_defaults(func=cmd_airflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the CLI's last line of defence: one clear line, not a trace
        if args.verbose:
            raise
        log.error("%s", err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
