"""Benchmark: the read-only API's pages against ``COPY`` of the same rows in the same run,
latency under concurrent clients, and the server's memory as pages go by.

A fresh embedded warehouse gets one published village-year mart of province size times
``--scale`` (2,651 villages x ``--years``, default 4: 10,604 rows at scale 1), published
through ``lumbung.publish`` (row-level security on, as in production). ``lumbung api`` runs
as its own process on a free port of 127.0.0.1. Then, in ``--repeat`` rounds (default 9):

1. **COPY**: ``copy (select * from the mart order by its key) to stdout`` as ``lumbung_bi``
   (the role the API reads as without a token), the baseline;
2. **JSON** and **CSV**: every page of ``/datasets/<mart>/rows?limit=1000`` followed by
   its ``Link: <...>; rel="next"`` header, over HTTP.

Both sides time the same thing: receiving the rows' bytes. COPY's client receives the
chunks and takes the row count from the server (``cursor.rowcount``); the API's client
(``--client plain``, the default) is one keep-alive ``http.client`` connection, what a
harvester's curl or wget costs, that reads each page's body and the ``Link`` header; the
JSON is parsed and the rows of both formats counted after the timing, and every side must
have got every row. ``--client httpx`` is the former client instead: httpx (about 2 ms per
request) with each JSON page parsed inside the timing (about 2.5 ms per 1,000 rows). The
concurrent clients of the latency test use the same client, one connection each.

It prints rows per second and the ratio API rows/s / COPY rows/s (median of the rounds'
paired ratios; target at least 0.5), then the p50 and p99 latency of a filtered page
(``regency_code`` and ``year``, 100 rows) under ``--clients`` concurrent clients (default
20; target p99 under 200 ms), and the server's resident memory (its worker processes
included) after the first pages and after all of them (flat when it does not grow with the
page count). The exit status judges the JSON ratio. A script, not a test: ``make test``
does not run it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

from benchlib import free_port

TARGET_RATIO = 0.5
TARGET_P99_MS = 200
VILLAGES = 2651
MART = "bench_api_village"


def _fill(url, villages: int, years: int) -> int:
    import psycopg

    from lumbung.publish import publish

    with psycopg.connect(url.url(), autocommit=True) as conn:
        conn.execute(f"drop table if exists marts_build.{MART}")
        conn.execute(f"""
            create table marts_build.{MART} (
                village_code text not null, year integer not null, village_name text not null,
                district_code text not null, regency_code text not null, population integer,
                budget numeric(18, 2), score double precision, category text,
                primary key (village_code, year))""")
        conn.execute(f"""
            insert into marts_build.{MART}
            select c, y, 'Desa ' || v, left(c, 6), left(c, 4), (v * 37) % 9000 + 300,
                   (v * 1234567.89) % 3e9, (v % 1000) / 1000.0,
                   (array['Mandiri', 'Maju', 'Berkembang', 'Tertinggal'])[v % 4 + 1]
            from generate_series(1, {villages}) as v,
                 lateral (select (1801 + v % 13)::text || lpad((v % 999999)::text, 6, '0')
                          as c) as code,
                 generate_series(2025 - {years}, 2024) as y""")
    return sum(publish(url, [MART], dag_id="bench", run_id="bench").tables.values())


def _copy(bi_url: str) -> tuple[float, int]:
    import psycopg

    started, size = time.perf_counter(), 0
    with psycopg.connect(bi_url) as conn, conn.cursor() as cur:
        with cur.copy(f"copy (select * from marts.{MART} order by village_code, year) "
                      "to stdout (format csv, header)") as copy:
            for chunk in copy:
                size += len(chunk)
        rows = cur.rowcount
    return time.perf_counter() - started, rows


def _pages_httpx(base: str, fmt: str) -> tuple[float, int]:
    """``--client httpx``: httpx, each JSON page parsed inside the timing."""
    import httpx

    rows, url = 0, f"{base}/datasets/{MART}/rows?limit=1000&format={fmt}"
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        while url:
            response = client.get(url)
            response.raise_for_status()
            if fmt == "json":
                body = response.json()
                rows += len(body["rows"])
                url = body["next"]
            else:
                rows += response.content.count(b"\n") - 1
                url = response.links.get("next", {}).get("url")
    return time.perf_counter() - started, rows


_NEXT = re.compile(r'<([^>]*)>;\s*rel="next"')


def _pages_plain(base: str, fmt: str) -> tuple[float, int]:
    """``--client plain`` (the default): one keep-alive ``http.client`` connection, as curl
    or wget fetching the pages; the timing only receives the bodies and follows the
    ``Link: rel="next"`` header, the rows are parsed and counted after it."""
    parts = urlsplit(base)
    path = f"/datasets/{MART}/rows?limit=1000&format={fmt}"
    bodies: list[bytes] = []
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        started = time.perf_counter()
        while path:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}: {body[:200]!r}")
            bodies.append(body)
            found = _NEXT.search(response.getheader("Link") or "")
            path = urlsplit(found.group(1))._replace(scheme="", netloc="").geturl() \
                if found else None
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    if fmt == "json":
        rows = sum(len(json.loads(body)["rows"]) for body in bodies)
    else:
        rows = sum(body.count(b"\n") - 1 for body in bodies)
    return seconds, rows


def _latency(base: str, clients: int, requests: int, plain: bool) -> list[float]:
    import httpx

    timings: list[float] = []
    lock = threading.Lock()
    parts = urlsplit(base)

    def client(n: int) -> None:
        if plain:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        else:
            conn = httpx.Client(timeout=60)
        with closing(conn):
            for i in range(requests):
                regency = 1801 + (n + i) % 13
                query = f"regency_code={regency}&year=2024&limit=100"
                started = time.perf_counter()
                if plain:
                    conn.request("GET", f"/datasets/{MART}/rows?{query}")
                    response = conn.getresponse()
                    response.read()
                    assert response.status == 200, response.status
                else:
                    conn.get(f"{base}/datasets/{MART}/rows?{query}").raise_for_status()
                with lock:
                    timings.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(timings)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the API's worker processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _tree(int(child))
    return found


def _rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its descendants."""
    total = 0
    for each in _tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per client")
    parser.add_argument("--client", choices=("plain", "httpx"), default="plain",
                        help="how pages are fetched (see the docstring)")
    parser.add_argument("--workers", type=int,
                        help="lumbung api --workers (default: the API's own default)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lumbung-bench-api-"))
    work.chmod(0o755)  # as root the embedded server's service user must reach its data
    os.environ.pop("LUMBUNG_WAREHOUSE_URL", None)
    os.environ["LUMBUNG_STATE_DIR"] = str(work / "state")
    os.environ["LUMBUNG_PG_PORT"] = str(free_port())
    from lumbung.config import Paths
    from lumbung.warehouse import bi_url, bootstrap, embedded_server, warehouse_url

    paths = Paths.from_env()
    server = None
    ratio = 0.0
    try:
        url = warehouse_url(paths)
        bootstrap(paths, url)
        total = _fill(url, VILLAGES * args.scale, args.years)
        port = free_port()
        command = [sys.executable, "-m", "lumbung.cli", "api", "--port", str(port)]
        if args.workers is not None:
            command += ["--workers", str(args.workers)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=os.environ)
        base = f"http://127.0.0.1:{port}"
        _wait(base, server)
        _pages = _pages_plain if args.client == "plain" else _pages_httpx
        _pages(base, "json")  # warm the pool and the caches
        rss_first = _rss_mb(server.pid)
        ratios: dict[str, list[float]] = {"json": [], "csv": []}
        rates: dict[str, list[float]] = {"copy": [], "json": [], "csv": []}
        for _ in range(args.repeat):
            copy_seconds, rows = _copy(bi_url(paths, url).url())
            assert rows == total, (rows, total)
            rates["copy"].append(rows / copy_seconds)
            for fmt in ("json", "csv"):
                seconds, served = _pages(base, fmt)
                assert served == total, (fmt, served, total)
                rates[fmt].append(served / seconds)
                ratios[fmt].append(copy_seconds / seconds)
        rss_last = _rss_mb(server.pid)
        json_ratio, csv_ratio = (statistics.median(ratios[f]) for f in ("json", "csv"))
        print(f"{total:,} rows in pages of 1,000: COPY {max(rates['copy']):,.0f} rows/s; "
              f"JSON {max(rates['json']):,.0f} rows/s (ratio {json_ratio:.2f}); "
              f"CSV {max(rates['csv']):,.0f} rows/s (ratio {csv_ratio:.2f}); "
              f"target ratio >= {TARGET_RATIO}", flush=True)
        timings = _latency(base, args.clients, args.requests, args.client == "plain")
        p50 = timings[len(timings) // 2]
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        print(f"filtered page (100 rows), {args.clients} concurrent clients, "
              f"{len(timings)} requests: p50 {p50:.0f} ms, p99 {p99:.0f} ms "
              f"(target p99 < {TARGET_P99_MS} ms)", flush=True)
        print(f"API server memory: {rss_first:.0f} MB RSS after the first pass, "
              f"{rss_last:.0f} MB after {args.repeat * 2 + 1} passes", flush=True)
        ratio = json_ratio
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        embedded_server(paths).stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ratio >= TARGET_RATIO else 1


def _wait(base: str, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("lumbung api exited before serving")
        try:
            httpx.get(f"{base}/openapi.json", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("lumbung api did not answer within 120 s")


if __name__ == "__main__":
    sys.exit(main())
