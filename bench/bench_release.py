"""Benchmark: writing a whole open data release against ``COPY`` of the same marts, measured
in the same run, and the writer's peak memory as the marts grow.

For each scale (default 1 and 10) it fills ``marts`` of a fresh warehouse with ``--marts``
village-year tables (default 6) of province size times the scale (2,651 villages x
``--years``, default 4 years: 10,604 rows each at scale 1), each with the column types the
real marts use (Kemendagri codes and names, year, counts, numeric amounts and scores,
booleans, a date, a timestamp, an array) and a description on every column, and records a
publication. Then, in ``--repeat`` rounds (default 9):

1. **COPY**: ``copy (select * from marts.<mart>) to stdout (format csv, header)`` of every
   mart, streamed into a file, as the baseline of what the database can hand out;
2. **release**: ``lumbung.opendata.release.write_release`` into a new folder (CSV,
   Parquet, datapackage.json, catalog.jsonld, BPS metadata), in a forked child process
   that reports its peak resident memory above its own baseline and pyarrow's peak
   allocation.

It prints seconds, rows per second, the ratio COPY seconds / release seconds (the release's
speed as a share of COPY's; target at least 0.5, the median of the rounds' paired ratios),
and the peak memory at each scale. It is bounded when it stops growing with the scale: it
grows only while a mart is smaller than a Parquet row group (8 MB of CSV, held before it is
written), e.g. ``--scales 1 10 20 40``. The exit status judges the ratio at the largest
scale.

With ``--existing`` it measures the configured warehouse's published marts instead
(``LUMBUNG_WAREHOUSE_URL`` or the embedded server of ``LUMBUNG_STATE_DIR``, e.g. after
``LUMBUNG_GENERATE_YEARS="2021 2022 2023 2024" lumbung run``), leaving them untouched.
A script, not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import free_port

TARGET_RATIO = 0.5
VILLAGES = 2651


def _fill(url, marts: int, villages: int, years: int) -> int:
    """``marts`` documented village-year tables of ``villages`` x ``years`` rows each; one
    publication recorded."""
    import psycopg

    with psycopg.connect(url.url(), autocommit=True) as conn:
        for n in range(marts):
            table = f"marts.bench_mart_{n}"
            conn.execute(f"drop table if exists {table}")
            conn.execute(f"""
                create table {table} (
                    village_code text not null, year integer not null,
                    village_name text not null, district_code text not null,
                    regency_code text not null, population integer,
                    budget numeric(18, 2), realised numeric(18, 2), absorption numeric,
                    score double precision, category text, has_agent boolean,
                    date date not null, computed_at timestamp with time zone not null,
                    batch_ids bigint[], data_origin text not null,
                    primary key (village_code, year))""")
            conn.execute(f"comment on table {table} is 'Benchmark mart {n}: one row per "
                         "village and year.'")
            for (column,) in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'marts' and table_name = %s",
                    (f"bench_mart_{n}",)).fetchall():
                conn.execute(f"comment on column {table}.{column} is 'The {column}.'")
            conn.execute(f"""
                insert into {table}
                select lpad((1801000000 + v)::text, 10, '0'), y, 'Desa ' || v,
                       left(lpad((1801000000 + v)::text, 10, '0'), 6),
                       left(lpad((1801000000 + v)::text, 10, '0'), 4),
                       (v * 37) % 9000 + 300, (v * 1234567.89) % 3e9, (v * 987654.32) % 2e9,
                       ((v % 97) / 97.0)::numeric, (v % 1000) / 1000.0,
                       (array['Mandiri', 'Maju', 'Berkembang', 'Tertinggal'])[v % 4 + 1],
                       v % 3 = 0, make_date(y, 1, 1), now(), array[v, v + 1],
                       case when v % 5 = 0 then 'real' else 'generated' end
                from generate_series(1, {villages}) as v,
                     generate_series(2021, {2020 + years}) as y""")
            conn.execute(f"analyze {table}")
        return conn.execute(
            "insert into audit.publications (dag_id, run_id, tables) "
            "values ('bench', 'bench', '{}') returning publication_id").fetchone()[0]


def _copy_all(url, out: Path) -> tuple[float, int]:
    import psycopg

    started, rows = time.perf_counter(), 0
    with psycopg.connect(url.url()) as conn:
        conn.execute("set transaction isolation level repeatable read, read only")
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'")]
        for table in tables:
            with conn.cursor() as cur, open(out / f"{table}.csv", "wb") as fh:
                with cur.copy(f'copy (select * from marts."{table}") to stdout '
                              "(format csv, header)") as copy:
                    for chunk in copy:
                        fh.write(chunk)
                rows += cur.rowcount
    return time.perf_counter() - started, rows


def _release_child(paths, url, out: Path, queue) -> None:
    import pyarrow as pa

    from lumbung.opendata.release import write_release

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    release = write_release(paths, url, out=out)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, sum(release.rows.values()), (peak - baseline) / 1024,
               pa.default_memory_pool().max_memory() / 2**20))


def _release(paths, url, out: Path) -> tuple[float, int, float, float]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_release_child, args=(paths, url, out, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def measure(paths, url, work: Path, repeat: int) -> dict:
    # imported here so the forked children time the writing, not the imports
    import lumbung.opendata.parquet
    import lumbung.opendata.release  # noqa: F401
    ratios, copies, releases, memory = [], [], [], []
    for round_ in range(repeat):
        copy_dir = work / f"copy-{round_}"
        copy_dir.mkdir()
        copy_seconds, rows = _copy_all(url, copy_dir)
        seconds, released, rss_mb, arrow_mb = _release(paths, url, work / f"release-{round_}")
        assert released == rows, (released, rows)
        ratios.append(copy_seconds / seconds)
        copies.append(copy_seconds)
        releases.append(seconds)
        memory.append((rss_mb, arrow_mb))
        shutil.rmtree(copy_dir)
        size = sum(f.stat().st_size for f in (work / f"release-{round_}").iterdir())
        shutil.rmtree(work / f"release-{round_}")
    return {"rows": rows, "ratio": statistics.median(ratios), "copy": min(copies),
            "release": min(releases), "rss_mb": max(m[0] for m in memory),
            "arrow_mb": max(m[1] for m in memory), "release_mb": size / 2**20}


def _report(label: str, result: dict) -> None:
    print(f"{label}: {result['rows']:,} rows; COPY {result['copy']:.2f} s "
          f"({result['rows'] / result['copy']:,.0f} rows/s); release {result['release']:.2f} s "
          f"({result['rows'] / result['release']:,.0f} rows/s, {result['release_mb']:.1f} MB "
          f"of files); COPY/release ratio {result['ratio']:.2f} (target >= {TARGET_RATIO}); "
          f"peak memory +{result['rss_mb']:.0f} MB RSS, pyarrow {result['arrow_mb']:.0f} MB",
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--marts", type=int, default=6)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=9,
                        help="rounds of COPY then release; the median ratio is judged")
    parser.add_argument("--existing", action="store_true",
                        help="measure the configured warehouse's published marts")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lumbung-bench-release-"))
    work.chmod(0o755)  # as root the embedded server's service user must reach its data
    ratio = 0.0
    try:
        if args.existing:
            from lumbung.config import Paths
            from lumbung.warehouse import warehouse_url

            paths = Paths.from_env()
            result = measure(paths, warehouse_url(paths), work, args.repeat)
            _report("published marts", result)
            ratio = result["ratio"]
        else:
            os.environ.pop("LUMBUNG_WAREHOUSE_URL", None)
            os.environ["LUMBUNG_STATE_DIR"] = str(work / "state")
            os.environ["LUMBUNG_PG_PORT"] = str(free_port())
            from lumbung.config import Paths
            from lumbung.warehouse import bootstrap, embedded_server, warehouse_url

            paths = Paths.from_env()
            url = warehouse_url(paths)
            bootstrap(paths, url)
            try:
                for scale in args.scales:
                    _fill(url, args.marts, VILLAGES * scale, args.years)
                    result = measure(paths, url, work, args.repeat)
                    _report(f"scale {scale} ({args.marts} marts)", result)
                    ratio = result["ratio"]
            finally:
                embedded_server(paths).stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
