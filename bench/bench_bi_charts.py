"""Chart query time of the Superset dashboards against the same SQL run directly.

Run against a Superset that `make bi` (or `lumbung bi`) is serving over built marts:

    .venv/bin/python bench/bench_bi_charts.py --url http://127.0.0.1:8088 --json /tmp/bi.json

For each dashboard it opens the page once in headless Chromium to learn the query every
chart sends (the chart-data request body), then replays each query through Superset's API:
cold (``force``: the cache is bypassed, the warehouse is queried) and warm (from Superset's
cache), ``--rounds`` times each. Of every cold request it keeps two times:

- ``cold``: the whole chart-data request, as the browser waits for it;
- ``query``: the chart's warehouse query as Superset ran it (its ``execute_sql`` step: the
  SQL sent on Superset's connection and every row fetched), which Superset times itself and
  Lumbung's hooks return in the ``Server-Timing`` header (bi/superset_hooks.py).

Beside them, in the same run, the SQL Superset generated for the chart (``result_type:
query``: every query of the chart, as a table with totals sends two) runs directly on the
warehouse as lumbung_bi with psql: ``sql`` is that SQL alone, timed by psql itself
(``\\timing``) in one open session, the counterpart of ``query``; ``direct`` is one psql
process per run, which also starts, connects and authenticates. psql is the warehouse's own
(the embedded PostgreSQL's, else the newest under /usr/lib/postgresql), never Debian's
/usr/bin/psql: that is a Perl wrapper choosing a cluster, and its start-up alone took longer
than most of the charts' SQL.

``sql`` and ``query`` are taken in alternation, one psql run then one Superset request per
round, so that both find the machine in the same state. A query repeated back to back in a
loop finds its backend running and its pages in the CPU's caches; Superset's queries arrive
tens of milliseconds apart, after a backend has slept, and a pause of that length before
each run makes psql's own time of the same SQL up to twice as long. The back-to-back
figure is reported too (``sql_back_to_back_s``), not judged.

Reported per chart: medians and the ratios query/sql (the target) and cold/direct (what
Superset's web layer adds: its fixed cost per request is most of it on small results); per
dashboard its slowest chart. Targets (issue 16): every chart's query within 1.5x of its
direct SQL, and no chart slower than 2 s (cold, whole request). The exit status judges
both.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from lumbung import bi  # noqa: E402
from lumbung.config import Paths  # noqa: E402
from lumbung.warehouse import bi_url, warehouse_url  # noqa: E402


def harvest(url: str, password: str, slug: str) -> tuple[list[dict], dict]:
    """The chart-data request bodies the dashboard sends, and the session's cookies."""
    from playwright.sync_api import sync_playwright

    bodies: list[dict] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                     args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(180_000)
        if not bi.log_in_browser(page, url, password):  # as tests/test_bi.py logs in
            raise SystemExit(f"admin could not log in to Superset at {url} in 3 tries")
        page.on("request", lambda r: bodies.append(r.post_data_json)
                if "/api/v1/chart/data" in r.url and r.method == "POST" else None)
        page.goto(f"{url}/superset/dashboard/{slug}/")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(3000)
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        browser.close()
    return [b for b in bodies if b], cookies


TARGET_QUERY_RATIO = 1.5
TARGET_CHART_S = 2.0


def timed(session: requests.Session, url: str, body: dict,
          force: bool) -> tuple[float, float | None]:
    """Seconds of one chart-data request, and of its warehouse queries as Superset timed
    them (the ``execute_sql`` entries of ``Server-Timing``; None: it queried nothing)."""
    payload = {**body, "force": force}
    started = time.perf_counter()
    answer = session.post(f"{url}/api/v1/chart/data", json=payload, timeout=300)
    seconds = time.perf_counter() - started
    answer.raise_for_status()
    return seconds, query_seconds(answer.headers.get("Server-Timing", ""))


def query_seconds(header: str) -> float | None:
    """The summed ``execute_sql`` durations of a Server-Timing header, in seconds."""
    found = [float(ms) for ms in re.findall(r"execute_sql;dur=([0-9.]+)", header)]
    return sum(found) / 1000 if found else None


def direct(psql: str, conninfo: str, queries: list[str]) -> float:
    """Seconds of one psql process running the chart's queries."""
    started = time.perf_counter()
    subprocess.run([psql, conninfo, "-q", "-X", "-o", "/dev/null",
                    *(arg for query in queries for arg in ("-c", query))], check=True)
    return time.perf_counter() - started


class PsqlSession:
    """One open psql session as lumbung_bi, running SQL on demand and returning the
    milliseconds psql's ``\\timing`` reports for it (results go to /dev/null)."""

    MARK = "-- lumbung bench: done --"

    def __init__(self, psql: str, conninfo: str) -> None:
        self.process = subprocess.Popen(
            [psql, conninfo, "-q", "-X", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1)
        self._send("\\timing on\n\\o /dev/null\n")

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def run(self, queries: list[str]) -> float:
        """Seconds psql reports for the queries together (a chart may send several, e.g.
        a series limit)."""
        self._send("".join(query.rstrip().rstrip(";") + ";\n" for query in queries)
                   + f"\\echo '{self.MARK}'\n")
        assert self.process.stdout is not None
        times = []
        for line in self.process.stdout:
            if line.rstrip("\n") == self.MARK:
                if len(times) != len(queries):
                    raise SystemExit(f"psql timed {len(times)} of {len(queries)} queries")
                return sum(times) / 1000
            found = re.match(r"Time: ([0-9.]+) ms", line)
            if found:
                times.append(float(found.group(1)))
        raise SystemExit(f"psql ended (exit {self.process.wait()}) running: {queries}")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def find_psql() -> str | None:
    """The psql of the warehouse's PostgreSQL version: the embedded server's, else the
    newest installed; PATH's last (on Debian it is the pg_wrapper Perl script)."""
    from lumbung.embedded_pg import EmbeddedPostgresError, _bin_dir

    try:
        embedded = _bin_dir() / "psql"
    except EmbeddedPostgresError:
        embedded = None
    if embedded is not None and embedded.exists():
        return str(embedded)
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"),
                       key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(installed[-1]) if installed else shutil.which("psql")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=f"http://127.0.0.1:{bi.bi_port()}")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    paths = Paths.from_env()
    password = bi.superset_secrets(paths)["admin_password"]
    conninfo = bi_url(paths, warehouse_url(paths)).url()
    psql = find_psql()
    if psql is None:
        sys.exit("psql is needed for the direct baseline (apt-get install postgresql-client)")
    results = {}
    psql_session = PsqlSession(psql, conninfo)
    for path in sorted((REPO / "bi" / "dashboards" / "dashboards").glob("*.yaml")):
        slug = yaml.safe_load(path.read_text())["slug"]
        bodies, cookies = harvest(args.url, password, slug)
        session = requests.Session()
        session.cookies.update(cookies)
        csrf = session.get(f"{args.url}/api/v1/security/csrf_token/").json()["result"]
        session.headers.update({"X-CSRFToken": csrf, "Referer": args.url})
        charts = []
        for body in bodies:
            query_body = {**body, "result_type": "query"}
            sqls = [r["query"] for r in session.post(
                f"{args.url}/api/v1/chart/data", json=query_body, timeout=300).json()["result"]]
            psql_session.run(sqls)  # not counted: warms the session's catalog caches, as
            timed(session, args.url, body, True)  # Superset's kept connections are warm
            alone, forced = [], []
            for _ in range(args.rounds):
                alone.append(psql_session.run(sqls))
                forced.append(timed(session, args.url, body, True))
            back_to_back = [psql_session.run(sqls) for _ in range(args.rounds)]
            cold = [seconds for seconds, _ in forced]
            queried = [q for _, q in forced if q is not None]
            if len(queried) < len(forced):
                sys.exit(f"{slug}: a forced chart-data request reported no warehouse query "
                         "(no Server-Timing: is bi/superset_hooks.py's FLASK_APP_MUTATOR on?)")
            warm = [timed(session, args.url, body, False)[0] for _ in range(args.rounds)]
            base = [direct(psql, conninfo, sqls) for _ in range(args.rounds)]
            charts.append({"slice_id": body.get("form_data", {}).get("slice_id"),
                           "viz_type": body.get("form_data", {}).get("viz_type"),
                           "cold_s": statistics.median(cold), "warm_s": statistics.median(warm),
                           "query_s": statistics.median(queried),
                           "direct_s": statistics.median(base),
                           "sql_s": statistics.median(alone),
                           "sql_back_to_back_s": statistics.median(back_to_back)})
            charts[-1]["cold_over_direct"] = charts[-1]["cold_s"] / charts[-1]["direct_s"]
            charts[-1]["query_over_sql"] = charts[-1]["query_s"] / charts[-1]["sql_s"]
        slowest = max(charts, key=lambda c: c["cold_s"]) if charts else None
        results[slug] = {"charts": charts, "slowest": slowest}
        if slowest:
            worst = max(charts, key=lambda c: c["query_over_sql"])
            print(f"{slug:<24} {len(charts):>2} charts; slowest {slowest['cold_s']:.3f}s cold "
                  f"({slowest['query_s'] * 1000:.1f} ms its query; SQL alone "
                  f"{slowest['sql_s'] * 1000:.1f} ms), {slowest['warm_s']:.3f}s warm, "
                  f"direct psql {slowest['direct_s']:.3f}s; query/SQL worst "
                  f"{worst['query_over_sql']:.2f}x (chart {worst['slice_id']}), median "
                  f"{statistics.median(c['query_over_sql'] for c in charts):.2f}x; "
                  f"whole request/direct psql median "
                  f"{statistics.median(c['cold_over_direct'] for c in charts):.2f}x")
    psql_session.close()
    every = [c for r in results.values() for c in r["charts"]]
    verdict = {"charts": len(every),
               "worst_query_over_sql": max((c["query_over_sql"] for c in every), default=None),
               "slowest_chart_s": max((c["cold_s"] for c in every), default=None)}
    results["verdict"] = verdict
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not every:
        print("no chart was measured", file=sys.stderr)
        return 1
    met = (verdict["worst_query_over_sql"] <= TARGET_QUERY_RATIO
           and verdict["slowest_chart_s"] <= TARGET_CHART_S)
    print(f"{len(every)} charts: worst query/SQL {verdict['worst_query_over_sql']:.2f}x "
          f"(target {TARGET_QUERY_RATIO}x), slowest chart {verdict['slowest_chart_s']:.3f}s "
          f"(target {TARGET_CHART_S:.0f} s): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
