"""The ``lumbung`` command: run the pipeline, manage the embedded warehouse, open Airflow."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from lumbung.config import Paths, PgUrl, redact

log = logging.getLogger("lumbung")

# lumbung api's processes: one process answers on one core at a time (its GIL), and two
# fit the two-core machines the API runs on, beside PostgreSQL.
API_WORKERS = 2
API_ACCESS_LOG = True  # lumbung api's line per request, without LUMBUNG_API_ACCESS_LOG


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def _bootstrapped() -> tuple[Paths, PgUrl]:
    """This installation and its warehouse, bootstrapped (idempotent), so that a command
    finds the schemas, audit tables and roles it reads or writes."""
    from lumbung.warehouse import bootstrap, warehouse_url

    paths = Paths.from_env()
    url = warehouse_url(paths)
    bootstrap(paths, url)
    return paths, url


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
        if args.regency and args.role != "bi":
            raise SystemExit("--regency goes with --role bi: lumbung db url --role bi "
                             "--regency 1801")
        if args.role == "bi":
            bootstrap(paths, url)  # the role exists and has its password before anyone uses it
            if args.regency:
                from lumbung.warehouse import regency_url

                url = regency_url(paths, url, args.regency)
            else:
                url = bi_url(paths, url)
        print(url.url())
    elif args.action == "bootstrap":
        url = warehouse_url(paths)
        bootstrap(paths, url)
        print(f"bootstrapped {redact(url.url())}")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from lumbung.api.app import serve
    from lumbung.warehouse import api_db_url, bootstrap, warehouse_url

    paths = Paths.from_env()
    # Deployed (docker-compose.yml), it gets only its own login: bootstrap ran elsewhere.
    db_url = os.environ.get("LUMBUNG_API_DB_URL")
    if not db_url:
        url = warehouse_url(paths)
        bootstrap(paths, url)  # roles, policies and the API's login exist before it serves
        db_url = api_db_url(paths, url).url()
    port = args.port or int(os.environ.get("LUMBUNG_API_PORT", "8000"))
    workers = _api_workers() if args.workers is None else args.workers
    if workers < 1:
        raise SystemExit("lumbung api --workers needs 1 process or more")
    print(f"Lumbung API on http://{args.host}:{port} (OpenAPI at /docs), {workers} "
          f"worker process(es); Ctrl-C stops.", flush=True)
    access_log = _api_access_log() if args.access_log is None else args.access_log
    serve(db_url, args.host, port, workers=workers, access_log=access_log)


def _api_access_log() -> bool:
    value = os.environ.get("LUMBUNG_API_ACCESS_LOG", "1" if API_ACCESS_LOG else "0")
    if value not in ("0", "1"):
        raise SystemExit(f"LUMBUNG_API_ACCESS_LOG must be 1 (on) or 0 (off), not {value!r}")
    return value == "1"


def _api_workers() -> int:
    value = os.environ.get("LUMBUNG_API_WORKERS", str(API_WORKERS))
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"LUMBUNG_API_WORKERS must be a number of processes, 1 or more, "
                         f"not {value!r}")
    return int(value)
    return 0


def cmd_api_token(args: argparse.Namespace) -> int:
    import psycopg

    from lumbung import api_tokens

    _, url = _bootstrapped()
    with psycopg.connect(url.url(), autocommit=True) as conn:
        if args.action == "create":
            if not args.regency:
                raise SystemExit("api-token create needs --regency, e.g. --regency 1801")
            token_id, token = api_tokens.create(conn, args.regency, args.label)
            print(f"token {token_id} for regency {args.regency} (shown once, keep it safe):")
            print(token)
        elif args.action == "revoke":
            if args.token_id is None:
                raise SystemExit("api-token revoke needs the token's id (see api-token list)")
            if not api_tokens.revoke(conn, args.token_id):
                print(f"no active token {args.token_id}")
                return 1
            print(f"token {args.token_id} revoked")
        else:
            tokens = api_tokens.list_tokens(conn)
            print("   id  regency  created           state                    label")
            for info in tokens:
                print(info.describe())
    return 0


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


class Terminated(SystemExit):
    """A signal ended the command (exit status 128 + its number, as a shell reports it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"{signal.Signals(self.signum).name} received"


def _terminated(signum: int, frame) -> None:
    raise Terminated(signum)


def cmd_run(args: argparse.Namespace) -> int:
    """Progress and the summary on the console; everything else (Airflow's task logs, dbt,
    the dbt server) in ``<state>/logs/run-<UTC time>.log``, or all of it streamed with -v."""
    from lumbung.run_console import Console, first_line, log_path, output_to_log
    from lumbung.runner import DAG_ORDER, run

    paths = Paths.from_env()
    dag_ids = tuple(args.dags) if args.dags else DAG_ORDER
    # SIGTERM ends the run as Ctrl-C does: the DAGs' processes and the dbt server stop too
    signal.signal(signal.SIGTERM, _terminated)
    if args.verbose:
        summary = run(paths, dag_ids, Console(sys.stdout), args.parallel)
        print(summary.render())
        return 0 if summary.ok else 1
    path = log_path(paths.state)
    with output_to_log(path) as console:
        console.line(f"lumbung run: {', '.join(dag_ids)}; detail in {path}")
        try:
            summary = run(paths, dag_ids, console, args.parallel)
        except BaseException as err:
            log.exception("lumbung run stopped")  # the trace, in the log
            console.summarise_log()
            console.line(f"lumbung run stopped: {first_line(str(err) or type(err).__name__)}")
            console.line(f"Detail: {path}")
            if isinstance(err, Exception):
                return 1
            raise
        console.summarise_log()
        console.line(summary.render())
        console.line(f"Log of this run (Airflow task logs, dbt): {path}")
    return 0 if summary.ok else 1


def cmd_ingest(args: argparse.Namespace) -> int:
    """Land files the way the DAGs do and gate them as the source's DAG does; print each
    batch's verdict; exit 1 when any batch was rejected at landing or by the gate."""
    from lumbung.ingest import ingest

    if not args.path.exists():
        print(f"lumbung ingest: {args.path}: no such file or folder", file=sys.stderr)
        return 1
    _, url = _bootstrapped()
    try:
        result = ingest(url, args.source, args.path.resolve())
    except (OSError, ValueError) as err:  # not a file of this source, unreadable
        print(f"lumbung ingest: {err}", file=sys.stderr)
        return 1
    for verdict in result.verdicts:
        print(verdict.describe())
    print(result.summary())
    if result.gate_error:
        print(f"the quality gate could not run ({result.gate_error}); its batches stay "
              "'loaded' and are gated by the next ingest or DAG run", file=sys.stderr)
    return 0 if result.ok else 1


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
            disagreements=args.disagreements,
            sources=tuple(args.sources),
        )
    )
    print(f"landing files written to {args.out}"
          + (f"; {len(manifest.defects)} defect(s) and disagreement(s) injected, see "
             "defects_manifest.json" if manifest.defects else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lumbung.reports import produce

    paths, url = _bootstrapped()
    print(produce(paths, url, out=args.out, since=args.since).describe())
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from lumbung.opendata.release import write_release

    paths, url = _bootstrapped()
    out = args.out.resolve() if args.out else None
    print(write_release(paths, url, publication_id=args.publication, out=out).describe())
    return 0


def _timestamp(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_airflow(args: argparse.Namespace) -> int:
    import signal
    import time

    from lumbung import airflow_env, dbt_server, service_record
    from lumbung.runner import ensure_landing, prepare

    paths = Paths.from_env()
    # another one alive for this state folder: refuse; one killed with kill -9: stop what
    # it left running (its ports, its dbt server) before starting again
    service_record.recover(paths)
    prepare(paths)
    # As `lumbung run` does: a source whose landing folder is empty gets generated files,
    # so a first start under the scheduler has something to land.
    generated = ensure_landing(paths)
    if generated:
        print(f"landing folders of {', '.join(generated)} were empty: filled with generated "
              f"files (lumbung generate, seed 1) under {paths.landing}", flush=True)
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
    try:
        with dbt_server.running(paths.state):  # the tasks' dbt builds fork it (see lumbung run)
            env = {**os.environ, "PATH": path}
            # its own session: the stop below reaches all of it, and nothing outlives us
            process = subprocess.Popen([airflow_env.airflow_executable(), "standalone"],
                                       env=env, start_new_session=True)
            service_record.write(paths, process.pid)
            try:
                while process.poll() is None and not stopping:
                    time.sleep(0.2)
            finally:
                airflow_env.stop_tree(process)
    finally:
        service_record.clear(paths)
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


def _command(sub: argparse._SubParsersAction, name: str,
             func: Callable[[argparse.Namespace], int], **text: str) -> argparse.ArgumentParser:
    """The subcommand ``name``, run by ``func``; ``text`` is its help and description."""
    parser = sub.add_parser(name, **text)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from lumbung.generate import DEFAULT_DISAGREEMENTS, DEFAULT_YEARS

    parser = argparse.ArgumentParser(
        prog="lumbung",
        description="Lumbung, the village data warehouse of the Smart Village programme. "
        "Without LUMBUNG_WAREHOUSE_URL it runs its own PostgreSQL (data in .lumbung/).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(sub, "run", cmd_run,
                   help="run every DAG once (land, gate, build marts) and report")
    run.add_argument("--dags", nargs="+", metavar="DAG_ID",
                     help="run only these DAGs (default: all, in dependency order)")
    run.add_argument("--parallel", type=_at_least_one, metavar="N",
                     help="run up to N DAGs at once, each as soon as the DAGs it needs have "
                     "ended (default: LUMBUNG_RUN_PARALLEL, else 2; 1 runs them one by one)")

    db = _command(sub, "db", cmd_db, help="manage the warehouse (embedded PostgreSQL by default)")
    db.add_argument("action", choices=["start", "stop", "status", "url", "bootstrap"],
                    help="start/stop/status of the embedded server; url prints a connection "
                    "URL; bootstrap creates schemas, audit and raw tables, gate views "
                    "and roles")
    db.add_argument("--role", choices=["admin", "bi"], default="admin",
                    help="for url: admin (default) or bi, the read-only role for BI tools")
    db.add_argument("--regency", metavar="CODE",
                    help="with --role bi: the role of one regency (e.g. 1801), which sees only "
                    "that regency's rows")

    api = _command(
        sub, "api", cmd_api,
        help="serve the read-only HTTP API (datasets, CKAN actions) on 127.0.0.1",
        description="Serve the published marts over HTTP: /datasets (metadata, rows as JSON "
        "or CSV, keyset pages, ETag/Last-Modified), CKAN-compatible /api/3/action/ actions, "
        "OpenAPI at /docs. Reads as the lumbung_api role: the public (province) role without "
        "a token, a regency's role with its token.",
    )
    api.add_argument("--host", default=os.environ.get("LUMBUNG_API_HOST", "127.0.0.1"),
                     help="address to listen on (default: LUMBUNG_API_HOST, else 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default: LUMBUNG_API_PORT, else 8000)")
    api.add_argument("--workers", type=int,
                     help="worker processes answering requests, each with its own pool of "
                     f"connections (default: LUMBUNG_API_WORKERS, else {API_WORKERS})")
    api.add_argument("--access-log", action=argparse.BooleanOptionalAction,
                     help="a line per request on stdout (default: LUMBUNG_API_ACCESS_LOG=1 "
                     f"or 0, else {'on' if API_ACCESS_LOG else 'off'})")

    token = _command(
        sub, "api-token", cmd_api_token,
        help="create, revoke or list the API tokens of the regencies",
        description="An API token reads as one regency's role (row-level security shows only "
        "its rows). Only its SHA-256 is stored (audit.api_tokens); create prints it once.",
    )
    token.add_argument("action", choices=["create", "revoke", "list"])
    token.add_argument("token_id", nargs="?", type=int, help="for revoke: the token's id")
    token.add_argument("--regency", metavar="CODE", help="for create: e.g. 1801 or 18.01")
    token.add_argument("--label", help="for create: who it is for")

    from lumbung.sources import INGEST

    ingest = _command(
        sub, "ingest", cmd_ingest,
        help="land one file or folder of a source into raw and gate it, as the DAGs do",
        description="Land PATH (a file, or a folder of files) into the raw schema: one batch "
        "per file, every row loaded or quarantined with its reason. Then the source's quality "
        "gate judges every batch not accepted yet, as the source's DAG does, and releases the "
        "accepted ones to dbt (the marts show them after their next build). Prints each "
        "batch's verdict (accepted, accepted with warnings, or rejected with the reason) and a "
        "summary; exits 1 when any batch was rejected at landing or by the gate.",
    )
    ingest.add_argument("source", choices=sorted(INGEST), help="source family")
    ingest.add_argument("path", type=Path, help="file or folder to land")

    gen = _command(
        sub, "generate", cmd_generate,
        help="write realistic landing files for every source (deterministic)",
        description="Write landing files for every source family on the real Lampung region "
        "master, deterministic for a seed.",
    )
    gen.add_argument("--out", type=Path, required=True, help="output landing folder")
    gen.add_argument("--regencies", nargs="*", default=[],
                     help="regency codes (18.01 or 1801); default: all 15")
    gen.add_argument("--years", nargs="+", type=int, default=list(DEFAULT_YEARS),
                     help="fiscal years (default: 2021-2024)")
    gen.add_argument("--seed", type=int, default=1, help="random seed (same seed, same files)")
    gen.add_argument("--scale", type=int, default=1,
                     help="multiply villages with synthetic codes valid in shape (load tests); "
                     "K>1 also writes their region master, region/edition=<year>/synthetic_*.csv")
    gen.add_argument("--defects", type=float, default=0.0,
                     help="rate of injected defects (0-1); listed in defects_manifest.json")
    gen.add_argument("--disagreements", type=float, default=DEFAULT_DISAGREEMENTS,
                     help="rate of injected disagreements between figures the marts cross-check "
                     "(IDM published index vs its scores, BUMDes report vs APBDes), listed in "
                     "defects_manifest.json with expect 'flag' (default 0.03)")
    gen.add_argument("--sources", nargs="*", default=[], help="only these source families")

    report = _command(
        sub, "report", cmd_report,
        help="write the quality report (HTML) and one workbook (XLSX) per regency",
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

    release = _command(
        sub, "release", cmd_release,
        help="write the open data release of the published marts",
        description="Write every published mart as CSV and Parquet with its metadata "
        "(datapackage.json, catalog.jsonld, BPS MS-Ind/MS-Var as bps_metadata.json and "
        "metadata.html) into $LUMBUNG_STATE_DIR/releases/<publication id>/ and point "
        "releases/latest at it. Every publication writes one; this writes it again.",
    )
    release.add_argument("--publication", type=int, metavar="ID",
                         help="refuse unless the marts hold this publication (default: the "
                         "latest, which is what the marts hold)")
    release.add_argument("--out", type=Path,
                         help="write into this folder instead (replaced whole; no latest)")

    server = _command(
        sub, "dbt-server", cmd_dbt_server,
        help="serve dbt invocations with dbt imported once (a fork per build)",
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

    bi = _command(
        sub, "bi", cmd_bi,
        help="Apache Superset on 127.0.0.1 with the dashboards of bi/dashboards/",
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

    docs = _command(
        sub, "docs", cmd_docs,
        help="serve the dbt docs site (models, columns, tests, lineage) on 127.0.0.1",
        description="Serve the dbt docs site that every `lumbung run` generates into "
        "$LUMBUNG_STATE_DIR/dbt/docs/ on 127.0.0.1:LUMBUNG_DOCS_PORT (8089). "
        "static_index.html there also opens from disk without a server.",
    )
    docs.add_argument("--port", type=int, help="port (default LUMBUNG_DOCS_PORT, 8089)")

    _command(sub, "airflow", cmd_airflow, help="start the Airflow UI and scheduler on 127.0.0.1")
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
