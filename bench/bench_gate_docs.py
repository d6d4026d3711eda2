"""Benchmark: a source gate that renders the data docs once per run, against one that
renders them after every checkpoint run, as a ratio measured in the same run.

It generates the Smart Village survey of the whole province (one export per regency and
year) for ``--years`` (default 2021-2024), then, in a fresh warehouse, lands and gates one
year at a time with ``lumbung.quality.gate.validate_batch`` per file, by turns:

- **per run** (the baseline): each checkpoint run renders its validation, the suite page
  and the data docs index, which is what a Great Expectations ``UpdateDataDocsAction``
  does and what the gate did before;
- **once**: the same calls inside ``one_docs_build``, as the source DAGs' gate now runs
  them: one render of the year's validations and one index at the end.

The index reads every stored validation, so each year costs more than the one before;
"once" always runs second of a pair, on the larger store, which favours the baseline. The
ratio is the median over the pairs of years (target: at most 0.7). Without
``LUMBUNG_WAREHOUSE_URL`` it starts its own embedded PostgreSQL in the work folder and stops
it at the end. A script, not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import scratch_warehouse

TARGET_RATIO = 0.7


def _gate_year(url, landing: Path, once: bool) -> dict:
    """Land one year's exports and gate them one file at a time; seconds of the gate."""
    from contextlib import nullcontext

    from lumbung.pipelines import survey
    from lumbung.quality.gate import one_docs_build, validate_batch

    landed = survey.land(url, landing)
    ids = [b["batch_id"] for b in landed["batches"] if b["status"] == "loaded"]
    started = time.perf_counter()
    with one_docs_build(url.url()) if once else nullcontext():
        for batch_id in ids:
            validate_batch(url.url(), batch_id)
    return {"batches": len(ids), "seconds": round(time.perf_counter() - started, 2)}


def run(workdir: Path, years: list[int], seed: int) -> dict:
    import great_expectations  # noqa: F401  (seconds to import: not in the first round)

    from lumbung.generate import GenerateConfig, generate

    _, url, server = scratch_warehouse(workdir / "state")
    try:
        rounds = []
        for i, year in enumerate(years):
            landing = workdir / f"landing-{year}"
            generate(GenerateConfig(out=landing, years=(year,), seed=seed, sources=("survey",)))
            once = i % 2 == 1
            figures = {"year": year, "mode": "once" if once else "per run",
                       **_gate_year(url, landing, once)}
            print(json.dumps(figures), file=sys.stderr)
            rounds.append(figures)
    finally:
        if server is not None:
            server.stop()
    pairs = [(rounds[i], rounds[i + 1]) for i in range(0, len(rounds) - 1, 2)]
    ratios = [round(b["seconds"] / a["seconds"], 3) for a, b in pairs]
    return {"rounds": rounds, "ratios": ratios, "median_ratio": statistics.median(ratios)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the gate's data docs: rendered once per gate run against "
        "after every checkpoint run, as a ratio measured in the same run.")
    parser.add_argument("--years", nargs="+", type=int, default=[2021, 2022, 2023, 2024],
                        help="survey years, gated by turns per run / once (default "
                        "2021-2024: two pairs)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a temporary one, "
                        "removed afterwards)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if len(args.years) < 2:
        parser.error("give at least two years: one per mode")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lumbung-bench-gate-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # as root the embedded server runs as its own user
    try:
        report = run(workdir, args.years, args.seed)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    for r in report["rounds"]:
        print(f"{r['year']}  {r['mode']:8}  {r['batches']:3} batches  {r['seconds']:7.1f} s")
    print(f"once / per run: {report['ratios']} (median {report['median_ratio']}, "
          f"target <= {TARGET_RATIO})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if report["median_ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
