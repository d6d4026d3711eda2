"""Benchmark: the whole pipeline under Airflow's real scheduler, at province scale (and
``--scales 10``: 26,510 villages), fiscal years 2021-2024 by default.

For each scale it generates the landing as ``lumbung run`` would have it (the vendored
region master and real IDM responses, the generator's files for every other source and a
generated IDM response for every desa-year without a real one; above scale 1 the synthetic
villages are added to the region master), timed. A fresh embedded warehouse is started
(``LUMBUNG_WAREHOUSE_URL`` set: that server instead, in a fresh database), then
``lumbung airflow`` over it; once its API answers every DAG is unpaused, as a new user does,
and the run is watched until every DAG has succeeded and nothing runs any more.

Reported per scale:

- generation seconds;
- wall time from the unpause to the last publication (targets on a 2-core machine: under
  5 minutes at province scale, under 30 at 10x), and until everything settled;
- peak resident memory of every kind of process (`lumbung airflow`, Airflow's services,
  the task processes by DAG, the dbt server, PostgreSQL), sampled once a second: flat when
  it does not grow with the scale;
- rows landed per second (data rows received by the landing tasks over their summed
  duration) against plain ``COPY ... FROM STDIN`` of the same raw rows into same-shaped
  tables, measured in the same run after the pipeline settled;
- failed or retried task instances (there must be none) and whether `lumbung airflow`
  stopped cleanly on SIGTERM.

A script, not a test: ``make test`` does not run it (``tests/test_scheduler.py`` runs the
same path on one regency).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from benchlib import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_S = {1: 5 * 60, 10: 30 * 60}
SOURCES = ("apbdes", "survey", "bumdes", "ojk")


def _landing(base: Path, scale: int, years: tuple[int, ...], seed: int) -> float:
    """The landing folder of ``lumbung run`` at ``scale``; returns the generation seconds."""
    import bench_dbt_marts

    from lumbung.generate import GenerateConfig, generate

    generated, landing = base / "generated", base / "landing"
    seconds = bench_dbt_marts._generate(generated, scale, years, seed)
    bench_dbt_marts._region_folder(generated, landing, scale)
    for source in SOURCES:
        shutil.copytree(generated / source, landing / source)
    started = time.perf_counter()  # the IDM responses real files leave missing; programmes
    generate(GenerateConfig(out=landing, years=years, seed=seed, scale=scale,
                            sources=("idm", "programmes")))
    shutil.rmtree(generated)
    return seconds + time.perf_counter() - started


def _role(proc) -> str:
    """What kind of process ``proc`` is, for the memory table."""
    import psutil

    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:  # gone, or a zombie: it is counted no more
        return "gone"
    if "postgres" in proc.name():
        return "postgresql"
    for marker, role in (("lumbung.cli airflow", "lumbung airflow"),
                         ("dbt_server", "dbt server"), ("dbt-server", "dbt server"),
                         ("scheduler", "airflow scheduler"),
                         ("api-server", "airflow api-server"),
                         ("api_server", "airflow api-server"),
                         ("dag-processor", "airflow dag-processor"),
                         ("triggerer", "airflow triggerer"),
                         ("standalone", "airflow standalone"),
                         ("airflow worker", "airflow worker (LocalExecutor)"),
                         ("serve-logs", "airflow serve-logs"), ("airflow db", "airflow db")):
        if marker in cmd:
            return role
    if "supervisor" in cmd or "task" in cmd:
        return "airflow task"
    return f"other: {cmd[:60]}"


def _pss_mb(pid: int) -> float | None:
    """The proportional set size of ``pid`` (its shared pages divided among their sharers),
    or None where the kernel does not say."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Peak RSS by kind of process in the tree of ``pid`` and of the PostgreSQL postmaster
    ``pg_pid``, and the peak of their sum, sampled every ``interval`` seconds. The sum adds
    proportional set sizes: forks share their parent's pages (the executor's workers and the
    tasks are forks of the scheduler), which a sum of RSS would count once per process.
    Each process's kind is read once per ``ROLE_SAMPLES`` samples (its command line; a fork
    renames itself once), so the sampler stays a small share of a 2-core machine."""

    ROLE_SAMPLES = 10

    def __init__(self, pid: int, pg_pid: int | None, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.roots, self.interval = [p for p in (pid, pg_pid) if p], interval
        self.peak: dict[str, float] = defaultdict(float)
        self.total = 0.0
        self.stopped = threading.Event()
        self._roles: dict[int, tuple[int, str]] = {}  # pid -> (samples left, kind)

    def _role_of(self, proc) -> str:
        left, role = self._roles.get(proc.pid, (0, ""))
        if left <= 0:
            left, role = self.ROLE_SAMPLES, _role(proc)
        self._roles[proc.pid] = (left - 1, role)
        return role

    def run(self) -> None:
        import psutil

        while not self.stopped.is_set():
            total, by_role = 0.0, defaultdict(float)
            for root in self.roots:
                try:
                    top = psutil.Process(root)
                    procs = [top, *top.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for proc in procs:
                    try:
                        rss = proc.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    role = self._role_of(proc)
                    # the biggest single process of a kind (tasks run one per process)
                    self.peak[role] = max(self.peak[role], rss)
                    by_role[role] += rss
                    pss = _pss_mb(proc.pid)
                    total += rss if pss is None else pss
            self.peak["postgresql (all backends)"] = max(
                self.peak["postgresql (all backends)"], by_role.get("postgresql", 0.0))
            self.total = max(self.total, total)
            self.stopped.wait(self.interval)


def _postmaster_pid(state: Path) -> int | None:
    for pid_file in state.rglob("postmaster.pid"):
        return int(pid_file.read_text().split()[0])
    return None


def _copy_baseline(url) -> tuple[int, float]:
    """Every raw row again, plain: ``COPY ... FROM STDIN`` (CSV) into an empty table like
    its raw table; returns (rows, seconds of the COPY FROM only)."""
    import psycopg

    rows, seconds = 0, 0.0
    with psycopg.connect(url.url(), autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' and table_type = 'BASE TABLE' order by 1")]
        conn.execute("drop schema if exists bench_copy cascade")
        conn.execute("create schema bench_copy")
        try:
            for table in tables:
                data = io.BytesIO()
                with conn.cursor().copy(
                        f'copy raw."{table}" to stdout (format csv)') as copy:
                    for chunk in copy:
                        data.write(chunk)
                conn.execute(f'create table bench_copy."{table}" (like raw."{table}")')
                started = time.perf_counter()
                with conn.cursor() as cur:
                    with cur.copy(f'copy bench_copy."{table}" from stdin (format csv)') as copy:
                        view = data.getbuffer()
                        for offset in range(0, len(view), 1 << 20):
                            copy.write(view[offset:offset + (1 << 20)])
                    rows += cur.rowcount
                seconds += time.perf_counter() - started
        finally:
            conn.execute("drop schema if exists bench_copy cascade")
    return rows, seconds


def run_scale(workdir: Path, scale: int, years: tuple[int, ...], seed: int,
              deadline_s: float) -> dict:
    import psycopg

    from lumbung import airflow_watch as watch
    from lumbung.runner import DAG_ORDER

    base = workdir / f"scale{scale}"
    gen_s = _landing(base, scale, years, seed)
    print(f"scale {scale}: landing generated in {gen_s:.0f} s", flush=True)
    server = None
    if os.environ.get("LUMBUNG_WAREHOUSE_URL"):
        from lumbung.config import PgUrl

        url = watch.fresh_database(PgUrl.parse(os.environ["LUMBUNG_WAREHOUSE_URL"]),
                                   f"lumbung_bench_sched_{scale}")
    else:
        os.environ["LUMBUNG_STATE_DIR"] = str(base / "warehouse")
        os.environ["LUMBUNG_PG_PORT"] = str(free_port())
        from lumbung.config import Paths
        from lumbung.warehouse import embedded_server, warehouse_url

        paths = Paths.from_env()
        url = watch.fresh_database(warehouse_url(paths), "lumbung")  # starts the server
        server = embedded_server(paths)
    ports = {k: str(free_port()) for k in ("LUMBUNG_AIRFLOW_PORT", "LUMBUNG_AIRFLOW_LOG_PORT",
                                            "LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT")}
    env = {**os.environ, **ports, "LUMBUNG_WAREHOUSE_URL": url.url(),
           "LUMBUNG_STATE_DIR": str(base / "state"), "LUMBUNG_LANDING_DIR": str(base / "landing"),
           "LUMBUNG_AUTO_GENERATE": "0"}
    env.pop("LUMBUNG_DBT_SERVER", None)
    out = base / "airflow.out"
    sampler = None
    try:
        process, meta = watch.start(env, url, out, REPO)
        sampler = Sampler(process.pid, _postmaster_pid(base / "warehouse"))
        sampler.start()
        try:
            airflow = {**env, **watch.airflow_environ(env, url)}
            watch.unpause_everything(airflow, meta, process, out, DAG_ORDER)
            unpaused = time.time()
            print(f"scale {scale}: every DAG unpaused; waiting for the pipeline to settle",
                  flush=True)
            settled_runs = watch.wait_settled(meta, process, out, {d: 1 for d in DAG_ORDER},
                                              deadline_s)
            settled = time.time() - 20  # wait_settled waits 20 quiet seconds
            tasks = meta.execute(
                "select dag_id, task_id, extract(epoch from end_date - start_date) "
                "from task_instance where task_id like 'land%' and state = 'success'"
            ).fetchall()
            timeline = _timeline(meta, unpaused)
            retried = watch.bad_tasks(meta)
        finally:
            killed, listening = watch.stop(process, [int(p) for p in ports.values()])
            sampler.stopped.set()
            meta.close()
        with psycopg.connect(url.url()) as conn:
            last_publication, publications = conn.execute(
                "select extract(epoch from max(published_at)), count(*) "
                "from audit.publications").fetchone()
            received, loaded, quarantined, batches = conn.execute(
                "select sum(rows_received), sum(rows_loaded), sum(rows_quarantined), count(*) "
                "from audit.load_batches").fetchone()
            by_source = {s: (int(n), int(r)) for s, n, r in conn.execute(
                "select source, count(*), coalesce(sum(rows_received), 0) "
                "from audit.load_batches group by source order by source")}
        copy_rows, copy_s = _copy_baseline(url)
    finally:
        if server is not None:
            server.stop()
    land_s = sum(float(t[2]) for t in tasks)
    land_by_dag: dict[str, float] = defaultdict(float)
    for dag_id, _task, seconds in tasks:
        land_by_dag[dag_id] += float(seconds)
    from lumbung.runner import GENERATED

    landing_by_source = {
        d: {"batches": by_source.get(d, (0, 0))[0], "rows": by_source.get(d, (0, 0))[1],
            "land_s": s}
        for d, s in land_by_dag.items() if d in GENERATED}
    return {
        "scale": scale, "years": list(years), "generate_s": gen_s,
        "to_last_publication_s": float(last_publication) - unpaused,
        "to_settled_s": settled - unpaused, "dag_runs": len(settled_runs),
        "publications": publications, "batches": batches,
        "rows_received": int(received or 0), "rows_loaded": int(loaded or 0),
        "rows_quarantined": int(quarantined or 0),
        "land_tasks": len(tasks), "land_task_s": land_s,
        "land_rows_per_s": int(received or 0) / land_s if land_s else None,
        "landing_by_source": landing_by_source, "timeline": timeline,
        # a DAG that lands nothing ends green: a bench whose landing lacks a source says so
        "sources_without_batches": sorted(d for d in GENERATED if not by_source.get(d)),
        "copy_rows": copy_rows, "copy_s": copy_s,
        "copy_rows_per_s": copy_rows / copy_s if copy_s else None,
        "peak_rss_mb": dict(sorted(sampler.peak.items())), "peak_total_rss_mb": sampler.total,
        "failed_or_retried_tasks": [list(map(str, t)) for t in retried],
        "stopped_cleanly": not killed and not listening,
    }


def _timeline(meta, unpaused: float) -> list[tuple]:
    """Every DAG run with its queued, start and end times relative to ``unpaused`` and its
    longest task: where the wall time went."""

    def num(value) -> float:
        return float("nan") if value is None else float(value)

    rows = meta.execute(
        "select r.dag_id, extract(epoch from r.queued_at) - %(t)s, "
        "extract(epoch from r.start_date) - %(t)s, extract(epoch from r.end_date) - %(t)s, "
        "(select t.task_id from task_instance t where t.run_id = r.run_id "
        " and t.dag_id = r.dag_id order by t.end_date - t.start_date desc nulls last limit 1), "
        "(select extract(epoch from max(t.end_date - t.start_date)) from task_instance t "
        " where t.run_id = r.run_id and t.dag_id = r.dag_id) "
        "from dag_run r order by r.start_date", {"t": unpaused}).fetchall()
    return [(d, num(q), num(s), num(e), task or "-", num(longest))
            for d, q, s, e, task, longest in rows]


def report(results: list[dict]) -> None:
    for r in results:
        target = TARGET_S.get(r["scale"])
        verdict = "" if target is None else (
            f" (target < {target / 60:.0f} min: "
            f"{'met' if r['to_last_publication_s'] < target else 'NOT met'})")
        print(f"\nscale {r['scale']}, years {r['years'][0]}-{r['years'][-1]}: "
              f"generated in {r['generate_s']:.0f} s")
        print(f"  unpause -> last publication {r['to_last_publication_s']:.0f} s{verdict}; "
              f"settled after {r['to_settled_s']:.0f} s; {r['dag_runs']} DAG runs, "
              f"{r['publications']} publications")
        print(f"  {r['batches']:,} batches, {r['rows_received']:,} rows received, "
              f"{r['rows_loaded']:,} loaded, {r['rows_quarantined']:,} quarantined")
        ratio = (r["land_rows_per_s"] / r["copy_rows_per_s"]
                 if r["land_rows_per_s"] and r["copy_rows_per_s"] else float("nan"))
        print(f"  landing {r['land_rows_per_s'] or 0:,.0f} rows/s over {r['land_tasks']} land "
              f"tasks ({r['land_task_s']:.0f} s summed); plain COPY "
              f"{r['copy_rows_per_s'] or 0:,.0f} rows/s; ratio {ratio:.2f}")
        print("  landing by source (batches, rows, summed land-task seconds, rows/s, "
              "share of COPY's rows/s, land-task seconds per batch):")
        for source, f in sorted(r["landing_by_source"].items()):
            rate = f["rows"] / f["land_s"] if f["land_s"] else 0.0
            share = rate / r["copy_rows_per_s"] if r["copy_rows_per_s"] else float("nan")
            per_batch = f["land_s"] / f["batches"] if f["batches"] else float("nan")
            print(f"    {source:<8} {f['batches']:>7,} {f['rows']:>11,} {f['land_s']:>7.0f} s "
                  f"{rate:>11,.0f} {share:>6.2f} {per_batch:>7.3f} s")
        print("  DAG runs, seconds after the unpause (queued -> started -> ended), and their "
              "longest task:")
        for row in r["timeline"]:
            print("    {:<24} {:>6.0f} {:>6.0f} {:>6.0f}  {} {:.0f} s".format(*row))
        if r["sources_without_batches"]:
            print(f"  NO batch landed for: {', '.join(r['sources_without_batches'])}")
        print(f"  failed or retried tasks: {len(r['failed_or_retried_tasks'])}; stopped "
              f"cleanly on SIGTERM: {r['stopped_cleanly']}")
        print(f"  peak RSS (MB), biggest process of each kind; all together (sum of "
              f"proportional set sizes) {r['peak_total_rss_mb']:.0f}:")
        for role, mb in r["peak_rss_mb"].items():
            print(f"    {role:<32} {mb:8.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", nargs="+", type=int, default=[1],
                        help="province multiples (default 1; 10 for 26,510 villages)")
    parser.add_argument("--years", nargs="+", type=int, default=[2021, 2022, 2023, 2024])
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--deadline", type=float, default=3 * 3600,
                        help="seconds a scale may take to settle before the bench gives up")
    parser.add_argument("--workdir", type=Path,
                        help="work folder (default: a temporary one, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lumbung-bench-sched-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # as root the embedded server's service user must reach its data
    results = []
    try:
        for scale in args.scales:
            results.append(run_scale(workdir, scale, tuple(args.years), args.seed,
                                     args.deadline))
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results)
    met = all(r["to_last_publication_s"] < TARGET_S.get(r["scale"], float("inf"))
              and not r["failed_or_retried_tasks"] and r["stopped_cleanly"]
              and not r["sources_without_batches"] for r in results)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
