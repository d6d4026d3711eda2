"""Benchmark: the IDM DAG's land and gate tasks over many small files, without Airflow.

It generates the IDM landing of ``--scale`` (the vendored real responses, and a generated
response for every other desa-year of the scaled region, years 2021-2024 by default) into
``--workdir`` once and keeps it for the next runs. Then, in a fresh embedded warehouse, it
runs what the DAG runs: ``lumbung.pipelines.idm.land``, the result through
``batches.for_xcom``, and ``idm.gate``; and, as a baseline in the same run (the machine is
noisy), a plain ``COPY ... FROM STDIN`` of the same raw rows into same-shaped tables.

Reported: seconds and files per second of land and gate, each as a ratio to the baseline
COPY, the batches by status, and the peak resident memory of this process (flat when it
does not grow with the scale). The synthetic villages are not added to the region master:
the IDM gate does not read it. ``--port`` and ``--state`` place the server (default a free
port, under the work folder); it is stopped at the end. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import sys
import time
from pathlib import Path

from benchlib import scratch_warehouse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _landing(landing: Path, scale: int, years: tuple[int, ...], seed: int) -> float | None:
    """Generate the IDM landing unless a previous run left it; generation seconds or None."""
    from lumbung.generate import GenerateConfig, generate

    done = landing / ".generated"
    if done.exists():
        return None
    shutil.rmtree(landing, ignore_errors=True)
    started = time.perf_counter()
    shutil.copytree(REPO / "data" / "landing" / "idm", landing / "idm")
    generate(GenerateConfig(out=landing, years=years, seed=seed, scale=scale, sources=("idm",)))
    done.touch()
    return time.perf_counter() - started


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(workdir: Path, state: Path, port: int | None, scale: int, years: tuple[int, ...],
        seed: int) -> dict:
    import bench_scheduler

    from lumbung.pipelines import batches, idm

    landing = workdir / f"scale{scale}" / "landing"
    gen_s = _landing(landing, scale, years, seed)
    files = sum(1 for _ in (landing / "idm").rglob("*.json"))
    print(f"scale {scale}: {files} IDM files"
          + (f", generated in {gen_s:.0f} s" if gen_s is not None else " (kept)"), flush=True)
    shutil.rmtree(state, ignore_errors=True)
    _, url, server = scratch_warehouse(state, port)
    try:
        import great_expectations  # noqa: F401  (seconds to import: not the gate's)

        started = time.perf_counter()
        landed = idm.land(url, landing)
        land_s = time.perf_counter() - started
        land_mb = _peak_mb()
        print(f"land: {land_s:.1f} s, {files / land_s:.0f} files/s, peak {land_mb:.0f} MB",
              flush=True)
        xcom = batches.for_xcom(landed)
        del landed
        started = time.perf_counter()
        gated = idm.gate(url, xcom)
        gate_s = time.perf_counter() - started
        print(f"gate: {gate_s:.1f} s, {files / gate_s:.0f} files/s", flush=True)
        rows, copy_s = bench_scheduler._copy_baseline(url)
        import psycopg

        with psycopg.connect(url.url()) as conn:
            statuses = dict(conn.execute(
                "select status, count(*) from audit.load_batches where source = 'idm' "
                "group by status order by 1").fetchall())
            quarantined = conn.execute(
                "select count(*) from audit.quarantine as q inner join audit.load_batches "
                "as b on q.batch_id = b.batch_id where b.source = 'idm'").fetchone()[0]
    finally:
        if server is not None:
            server.stop()
    return {
        "scale": scale, "files": files, "raw_rows": rows, "quarantined_rows": quarantined,
        "statuses": statuses, "land_s": round(land_s, 1), "gate_s": round(gate_s, 1),
        "copy_s": round(copy_s, 2), "land_files_per_s": round(files / land_s),
        "gate_files_per_s": round(files / gate_s),
        "land_per_copy": round(land_s / copy_s, 1), "gate_per_copy": round(gate_s / copy_s, 1),
        "peak_mb_after_land": round(land_mb), "peak_mb": round(_peak_mb()),
        "failures": len(gated["failures"]), "warnings": gated["warnings"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--years", nargs="+", type=int, default=[2021, 2022, 2023, 2024])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench-idm",
                        help="where the generated landing is kept between runs")
    parser.add_argument("--state", type=Path, help="the warehouse's state folder (emptied)")
    parser.add_argument("--port", type=int, help="the embedded server's port")
    parser.add_argument("--log", default="WARNING", help="log level of the pipeline")
    args = parser.parse_args()
    logging.basicConfig(level=args.log, format="%(asctime)s %(name)s %(message)s")
    state = args.state or args.workdir / f"state{args.scale}"
    result = run(args.workdir, state, args.port, args.scale, tuple(args.years), args.seed)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
