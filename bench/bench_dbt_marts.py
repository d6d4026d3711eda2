"""Benchmark: the full dbt build of the warehouse, then the marts rebuild after one regency
resubmits a year of APBDes, as a ratio measured in the same run.

For each scale (province scale 1, and ``--scale 10`` by default) it generates every
generated source (APBDes, survey, BUMDes, OJK; and the synthetic region supplement above
scale 1) for the years (default 2022-2024), copies the vendored region master and IDM
responses, then, in a fresh warehouse per scale:

1. lands and gates every source the way the source DAGs do (timed, not in the ratio), and
   publishes the region marts;
2. **full build**: ``dbt build`` of the whole project (every seed, staging, intermediate
   and mart model with every data test), what a first deployment or a ``--full-refresh``
   costs; its marts are then audited and published the way the marts DAG does, which makes
   it the build the next one starts from (``audit.mart_builds``);
3. lands one regency's corrected resubmission for the last year (the generator's
   ``_rev1``) and gates it (which releases it to dbt; the APBDes DAG runs no dbt);
4. **rebuild**: the ``smart_village_marts`` DAG's build (``lumbung.pipelines.marts``), which
   the resubmission triggers: ``lumbung.rebuild_plan`` selects the APBDes staging with its
   tests and everything it feeds (the finance, BUMDes and Smart Village models, and the
   quality mart), and the incremental APBDes models read only that regency-year. Its audit
   and publication are timed apart.

Both builds run as production does: dbt unit tests (fixed inputs, no data) are left out
(``LUMBUNG_DBT_UNIT_TESTS`` unset; ``make test`` runs them), and each dbt build runs in a
fork of a dbt server (``lumbung.dbt_server``: dbt imported once), as in ``lumbung run`` and
``docker-compose.yml``; ``--no-dbt-server`` runs each in a new process instead, as a worker
without the server does. With the server, the rebuild's dbt build is then run again by
turns through the server and in a new process (paired, not in the ratio): what the server
saves per build, which two separate runs of a shared machine cannot show.

Steps 2-4 run as ``--repeat`` rounds (default 3): the full build again with
``--full-refresh`` (the same work), then the same regency-year resubmitted again as the
next revision (other bytes, the same lines), so each rebuild does the same work. The ratio
is the median of the rounds' ratios: each rebuild against the full build just before it
(paired), since this shared machine's speed swings by a factor of two between spells and a
ratio of the fastest of each could pair a fast spell with a slow one.

It prints seconds, the ratio rebuild / full (target: at most 0.20), and from dbt's
``run_results.json`` where each build spent its time. The exit status judges rebuild / full.

Without ``LUMBUNG_WAREHOUSE_URL`` each scale gets its own embedded PostgreSQL in the work
folder, stopped at the end. A script, not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path

from benchlib import scratch_warehouse

GENERATED = ("region", "apbdes", "survey", "bumdes", "ojk")
TARGET_RATIO = 0.20
REPO = Path(__file__).resolve().parents[1]


def _generate(out: Path, scale: int, years: tuple[int, ...], seed: int) -> float:
    from lumbung.generate import GenerateConfig, generate

    started = time.perf_counter()
    generate(GenerateConfig(out=out, years=years, seed=seed, scale=scale, sources=GENERATED))
    return time.perf_counter() - started


def _region_folder(generated: Path, landing: Path, scale: int) -> str:
    """The vendored region master, plus the generator's synthetic supplement above scale 1;
    the vendored IDM responses too (real data, years 2021-2024)."""
    shutil.copytree(REPO / "data" / "landing" / "region", landing / "region")
    shutil.copytree(REPO / "data" / "landing" / "idm", landing / "idm")
    if (generated / "region").is_dir():
        shutil.copytree(generated / "region", landing / "region", dirs_exist_ok=True)
        return "vendored + generated synthetic supplement"
    if scale == 1:
        return "vendored"
    _add_synthetic_edition(landing / "region", scale)
    return "vendored + synthetic edition"


def _add_synthetic_edition(region: Path, scale: int) -> None:
    """Append the generator's synthetic districts and desa to the latest edition's files, so
    the gate and dim_village know them (a stand-in until the generator delivers its own)."""
    from lumbung.generate import region_villages, scaled

    latest = sorted(region.glob("edition=*"))[-1]
    synthetic = [v for v in scaled(region_villages(), scale) if v.synthetic]
    (districts_csv,) = latest.glob("*districts*.csv")
    (villages_csv,) = latest.glob("*villages*.csv")
    with districts_csv.open(encoding="utf-8") as fh:
        district_fields = next(csv.reader(fh))
    with villages_csv.open(encoding="utf-8") as fh:
        village_fields = next(csv.reader(fh))
    with districts_csv.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=district_fields, restval="")
        for code in sorted({v.district_code for v in synthetic}):
            writer.writerow({"code": f"{code[:2]}.{code[2:4]}.{code[4:]}", "code_10": code,
                             "name": f"Sintetis {code[4:]}",
                             "parent_code": f"{code[:2]}.{code[2:4]}"})
    with villages_csv.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=village_fields, restval="")
        for v in synthetic:
            writer.writerow({"code": v.code_dotted, "code_10": v.code, "name": v.name,
                             "type": "desa", "parent_code": v.code_dotted[:8],
                             "regency_code": v.code_dotted[:5]})


def _copy_first_submissions(generated: Path, landing: Path) -> Path:
    """Every generated source file but the APBDes resubmission; returns the resubmission."""
    revisions = []
    for source in GENERATED[1:]:
        for path in sorted((generated / source).rglob("*")):
            if not path.is_file():
                continue
            if source == "apbdes" and "_rev" in path.name:
                revisions.append(path)
                continue
            target = landing / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return revisions[0]


def _repacked(source: Path, target: Path, day: int) -> None:
    """The same zip members with other timestamps: other bytes, so it lands as a new file
    (the same resubmission again, for a repeated measurement)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            fresh = zipfile.ZipInfo(info.filename, date_time=(2030, 1, day, 0, 0, 0))
            fresh.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fresh, src.read(info.filename))


def _land_and_gate(url, landing: Path, sources: tuple[str, ...]) -> float:
    import importlib

    started = time.perf_counter()
    for source in sources:
        pipeline = importlib.import_module(f"lumbung.pipelines.{source}")
        gated = pipeline.gate(url, pipeline.land(url, landing))
        failures = gated.get("failures") or gated.get("problems")
        if failures:
            raise SystemExit(f"{source} gate failures: " + "; ".join(failures[:3]))
    return time.perf_counter() - started


def _timed(paths, step, keep: Path | None = None) -> dict:
    """Run one dbt step; seconds, and dbt's own execution time per kind of node (dbt's
    ``run_results.json`` is also copied to ``keep`` when given)."""
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    run_results = paths.dbt_target / "run_results.json"
    if keep is not None:
        shutil.copy(run_results, keep)
    results = json.loads(run_results.read_text())
    by_kind: dict[str, float] = defaultdict(float)
    slowest = []
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        by_kind[kind] += r["execution_time"]
        slowest.append((r["execution_time"], r["unique_id"].split(".")[-1]
                        if kind != "test" else r["unique_id"].split(".")[2]))
    slowest.sort(reverse=True)
    return {"seconds": seconds, "nodes": len(results["results"]), "by_kind": dict(by_kind),
            "slowest": slowest[:5]}


def _server_against_new_process(paths, url, repeat: int) -> dict[str, list[float]] | None:
    """The rebuild's dbt build again on the same warehouse, through the dbt server and in a
    new process by turns (paired: a slow spell of a shared machine hits both), ``repeat``
    times each; seconds per way. None when the server did not start."""
    from lumbung import dbt_server, rebuild_plan
    from lumbung.publish import build

    server = os.environ.get(dbt_server.ENV)
    if not server:
        return None
    args = rebuild_plan.RebuildPlan("bench", dict.fromkeys(rebuild_plan.SOURCE_SELECT, "x"),
                                  ("apbdes",), "paired").selection()
    seconds: dict[str, list[float]] = {"server": [], "new_process": []}
    try:
        for _ in range(repeat):
            for way, runs in seconds.items():
                if way == "server":
                    os.environ[dbt_server.ENV] = server
                else:
                    os.environ.pop(dbt_server.ENV)
                started = time.perf_counter()
                build(paths, url, *args, manifest=False)
                runs.append(time.perf_counter() - started)
    finally:
        os.environ[dbt_server.ENV] = server
    return seconds


def _marts_content(url) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url.url()) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name not in ('mart_data_quality', 'publication_info') order by 1")]
        return {t: conn.execute(f"select md5(string_agg(t::text, '|' order by t::text)) "
                                f"from marts.{t} as t").fetchone()[0] for t in tables}


def _same_as_whole_rebuild(paths, url) -> bool:
    """Check (not timed): the published marts after the selective rebuild equal those of a
    whole rebuild of the same data (mart_data_quality aside: it counts the runs; and
    publication_info: it says when and by which publication each mart was published)."""
    from lumbung.pipelines import marts
    from lumbung.publish import built_marts

    selective = _marts_content(url)
    marts.transform(paths, url, "bench", "check", everything=True)
    tables = built_marts(paths)
    marts.audit(url, tables)
    marts.publish_marts(url, tables, "bench", "check")
    whole = _marts_content(url)
    differ = sorted(t for t in whole if whole[t] != selective.get(t))
    if differ:
        print(f"selective rebuild differs from a whole rebuild in: {', '.join(differ)}",
              file=sys.stderr)
    return not differ


def _volume(url) -> dict:
    import psycopg

    with psycopg.connect(url.url()) as conn:
        lines = conn.execute(
            "select (select count(*) from staging.stg_apbdes__budget_lines)"
            " + (select count(*) from staging.stg_apbdes__realisation_lines)").fetchone()[0]
        rows = conn.execute("select count(*) from marts_build.mart_smart_village").fetchone()[0]
    return {"staging_lines": lines, "mart_rows": rows}


def run_scale(workdir: Path, scale: int, years: tuple[int, ...], seed: int,
              repeat: int, dbt_server: bool = True) -> dict:
    from lumbung import dbt_server as server_module
    from lumbung import rebuild_plan
    from lumbung.dbt_runner import run_dbt
    from lumbung.pipelines import marts, village_master
    from lumbung.publish import built_marts

    base = workdir / f"scale{scale}"
    generated, landing = base / "generated", base / "landing"
    gen_s = _generate(generated, scale, years, seed)
    region_from = _region_folder(generated, landing, scale)
    revision = _copy_first_submissions(generated, landing)
    paths, url, server = scratch_warehouse(base / "state")
    stack = contextlib.ExitStack()
    try:
        if dbt_server:  # as `lumbung run` and docker-compose.yml build
            stack.enter_context(server_module.running(paths.state))
        village_master.gate(url, village_master.land(url, landing))
        village_master.refresh_marts(paths, url)
        land_s = _land_and_gate(url, landing, ("idm", "survey", "bumdes", "ojk", "apbdes"))
        fulls, rebuilds, resubmit_land_s, rebuild_publish_s = [], [], [], []
        target = landing / revision.relative_to(generated)
        for i in range(repeat):
            # Round i: a full build (the first from nothing, the next ones --full-refresh:
            # the same work again), then a resubmission and its rebuild, each right after
            # the other, so that a slow spell of a shared machine hits both of a pair.
            fulls.append(_timed(paths, lambda i=i: run_dbt(
                paths, url, "build", *(("--full-refresh",) if i else ())),
                base / f"full{i + 1}.json"))
            if i == 0:
                volume = _volume(url)
                # what the marts DAG records after a whole build: audited, published, the
                # reference of the rebuilds (a later full build changes no input of theirs)
                rebuild_plan.record_build(url, rebuild_plan.plan(paths, url, everything=True),
                                          "bench", "full")
                tables = built_marts(paths)
                started = time.perf_counter()
                marts.audit(url, tables)
                marts.publish_marts(url, tables, "bench", "full")
                full_publish_s = time.perf_counter() - started
            # the same regency-year resubmitted again (other bytes): the same rebuild again
            if i == 0:
                shutil.copy(revision, target)
            else:
                again = re.sub(r"_rev[0-9]+", f"_rev{i + 1}", target.name)
                _repacked(revision, target.with_name(again), i)
            resubmit_land_s.append(_land_and_gate(url, landing, ("apbdes",)))
            run_id = f"rebuild{i + 1}"
            rebuilds.append(_timed(paths, lambda r=run_id: marts.transform(paths, url, "bench", r),
                                   base / f"rebuild{i + 1}.json"))
            tables = built_marts(paths)
            started = time.perf_counter()
            marts.audit(url, tables)
            marts.publish_marts(url, tables, "bench", run_id)
            rebuild_publish_s.append(time.perf_counter() - started)
        paired = _server_against_new_process(paths, url, repeat) if dbt_server else None
        same = _same_as_whole_rebuild(paths, url)
    finally:
        stack.close()
        if server is not None:
            server.stop()
    return {"scale": scale, "years": years, "generate_s": gen_s, "region": region_from,
            "land_gate_s": land_s, "resubmit_land_gate_s": min(resubmit_land_s),
            "resubmission": revision.name, "fulls": fulls,
            "rebuilds": rebuilds, "full_audit_publish_s": full_publish_s,
            "rebuild_audit_publish_s": min(rebuild_publish_s), "rebuilt_marts": tables,
            "same_as_whole_rebuild": same, "dbt_server": dbt_server,
            "server_against_new_process": paired, **volume}


def _seconds(runs: list[dict]) -> list[float]:
    return [run["seconds"] for run in runs]


def _rebuilds(r: dict) -> list[float]:
    """Seconds of each round's rebuild (the APBDes staging included)."""
    return _seconds(r["rebuilds"])


def _ratios(r: dict) -> list[float]:
    """rebuild / full of each round (a full build and the rebuild right after it)."""
    return [rebuild / full for rebuild, full in
            zip(_rebuilds(r), _seconds(r["fulls"]), strict=True)]


def _ratio(r: dict) -> float:
    return statistics.median(_ratios(r))


def _print(report: list[dict]) -> None:
    print()
    print("dbt: full build vs the marts rebuild after one regency resubmits a year of APBDes")
    print("(medians of the rounds: a full build, then a resubmission and its rebuild; "
          "every round below); dbt "
          + ("in forks of a dbt server" if all(r["dbt_server"] for r in report)
             else "in a new process per build"))
    print(f"{'scale':>5} {'years':>9} {'staging lines':>14} {'index rows':>10} {'full s':>7} "
          f"{'rebuild s':>9} {'ratio':>6}")
    for r in report:
        full = statistics.median(_seconds(r["fulls"]))
        rebuild = statistics.median(_rebuilds(r))
        years = f"{min(r['years'])}-{max(r['years'])}"
        print(f"{r['scale']:>5} {years:>9} {r['staging_lines']:>14,} {r['mart_rows']:>10,} "
              f"{full:>7.1f} {rebuild:>9.1f} {_ratio(r):>6.2f}")
    for r in report:
        print(f"\nscale {r['scale']}: generated in {r['generate_s']:.0f}s; region master "
              f"{r['region']}; sources landed and gated in {r['land_gate_s']:.0f}s; "
              f"resubmission {r['resubmission']} landed and gated in "
              f"{r['resubmit_land_gate_s']:.0f}s")
        for name in ("fulls", "rebuilds"):
            runs = r[name]
            last = runs[-1]
            kinds = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(last["by_kind"].items()))
            slow = ", ".join(f"{n} {s:.1f}s" for s, n in last["slowest"])
            every = " ".join(f"{s:.1f}" for s in _seconds(runs))
            print(f"  {name:<15} {every} s wall; {last['nodes']} nodes; last run's dbt node "
                  f"time: {kinds}")
            print(f"  {'':<15} slowest: {slow}")
        print("  rebuild / full of each round: "
              + " ".join(f"{x:.2f}" for x in _ratios(r)))
        print(f"  audit + publish (GX, not in the ratio): after the full build "
              f"{r['full_audit_publish_s']:.1f}s, after a rebuild "
              f"{r['rebuild_audit_publish_s']:.1f}s ({', '.join(r['rebuilt_marts'])})")
        paired = r.get("server_against_new_process")
        if paired:
            ways = "; ".join(f"{way.replace('_', ' ')} " + " ".join(f"{x:.1f}" for x in runs)
                             + " s" for way, runs in paired.items())
            saved = statistics.median(paired["new_process"]) - statistics.median(paired["server"])
            print(f"  the rebuild's dbt build again, by turns (paired): {ways}; the server "
                  f"saves {saved:.1f} s (medians)")
        print(f"  published marts after the rebuild equal a whole rebuild's: "
              f"{'yes' if r['same_as_whole_rebuild'] else 'NO'}")
    print(f"\ntarget: rebuild / full <= {TARGET_RATIO:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark dbt: a full build of the warehouse at province scale (and a "
        "synthetic multiple of it), then the marts DAG's rebuild after one regency resubmits "
        "a year of APBDes, as a ratio of the full build measured in the same run.",
    )
    parser.add_argument("--scales", nargs="+", type=int, default=[1, 10],
                        help="village multipliers to run (default: 1 10)")
    parser.add_argument("--years", nargs="+", type=int, default=[2022, 2023, 2024],
                        help="fiscal years (default: 2022 2023 2024)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds per scale (a full build, then a resubmission and its "
                        "rebuild); the median of their ratios counts (default 3)")
    parser.add_argument("--workdir", type=Path,
                        help="folder for generated files and the embedded servers "
                        "(default: a temporary folder, removed afterwards)")
    parser.add_argument("--no-dbt-server", dest="dbt_server", action="store_false",
                        help="run each dbt build in a new process, not in a fork of a dbt "
                        "server as `lumbung run` and docker-compose.yml do")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    os.environ["LUMBUNG_DBT_UNIT_TESTS"] = "0"  # as in production (see above)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lumbung-bench-marts-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # as root the embedded server runs as its own user
    report = []
    try:
        for scale in args.scales:
            report.append(run_scale(workdir, scale, tuple(args.years), args.seed,
                                    args.repeat, args.dbt_server))
            print(f"scale {scale} done: full {_seconds(report[-1]['fulls'])}s, rebuild "
                  f"{_seconds(report[-1]['rebuilds'])}s", file=sys.stderr)
    finally:
        if report:
            _print(report)
            if args.json:
                args.json.write_text(json.dumps(report, indent=1, default=str))
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    worst = max((_ratio(r) for r in report), default=1)
    return 0 if worst <= TARGET_RATIO and all(r["same_as_whole_rebuild"] for r in report) else 1


if __name__ == "__main__":
    sys.exit(main())
