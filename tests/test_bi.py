"""Superset over the test warehouse, as `make bi` runs it: the dashboards of bi/dashboards/
imported, each opened in headless Chromium (Debian's package) and every chart checked for
an error or no data; a fresh export must equal the committed YAML; bad input stops with one
sentence.

Needs .venv-bi (`make bi-setup`) and chromium (`make chromium`); `make test` does both.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from conftest import REPO, ensure_village_master, free_port

from lumbung import bi
from lumbung.dbt_runner import run_dbt
from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines.marts import publish_marts
from lumbung.publish import built_marts

BUNDLE = REPO / "bi" / "dashboards"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("LUMBUNG_BI_SCREENSHOTS",
                                  Path(tempfile.gettempdir()) / "lumbung-dashboards"))
# A regency and years no other module lands for the sources it generates: the modules share
# one warehouse, and the dashboards read whatever is published.
REGENCY = "1810"
YEARS = (2017, 2018)
SOURCES = ("idm", "survey", "apbdes", "bumdes", "ojk")
START_TIMEOUT_S = 900  # importing Superset alone takes a minute on a busy 2-core machine
CHART_TIMEOUT_MS = 600_000
# Superset 6.1 draws a markdown note in the same holder as a chart, inside
# ``.dashboard-markdown``: the charts are the holders outside one.
CHART_HOLDERS = """[...document.querySelectorAll('.dashboard-component-chart-holder')]
  .filter(h => !h.closest('.dashboard-markdown'))"""
# true once the dashboard shows ``expected`` charts and none is loading
CHARTS_DONE = """expected => {
  const holders = """ + CHART_HOLDERS + """;
  if (holders.length < expected) return false;
  return [...holders].every(h => !h.querySelector('.loading')
                                 && !h.innerText.includes('Waiting on'));
}"""
CHART_TEXTS = "() => " + CHART_HOLDERS + ".map(h => h.innerText)"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dashboards() -> dict[str, dict]:
    return {d["slug"]: d for d in map(_yaml, sorted((BUNDLE / "dashboards").glob("*.yaml")))}


def _chart_count(dashboard: dict) -> int:
    return sum(1 for item in dashboard["position"].values()
               if isinstance(item, dict) and item.get("type") == "CHART")


@pytest.fixture(scope="module")
def marts(warehouse, paths, tmp_path_factory):
    """Every mart the dashboards read, built from generated sources of one regency (their
    IDM responses include deliberate disagreements with their own scores)."""
    out = tmp_path_factory.mktemp("bi_sources")
    generate(GenerateConfig(out=out, regencies=(REGENCY,), years=YEARS, seed=7,
                            sources=SOURCES))
    ensure_village_master(warehouse)
    for source in SOURCES:
        pipeline = importlib.import_module(f"lumbung.pipelines.{source}")
        landed = pipeline.land(warehouse, out)
        assert not landed["problems"], landed["problems"]
        pipeline.gate(warehouse, landed)
    run_dbt(paths, warehouse, "build", "--select", "+path:models/marts",
            "--exclude", "resource_type:test", "resource_type:unit_test")
    # Published without the marts' audit suites: they have tests of their own, and this
    # module checks what the dashboards show of whatever is published.
    publish_marts(warehouse, built_marts(paths))
    return warehouse


@pytest.fixture(scope="module")
def superset(marts, paths):
    """`lumbung bi` serving on a free port until the module ends."""
    python = bi.python(paths)
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make bi-setup` (make test does)")
    port = free_port()
    env = {**os.environ, "LUMBUNG_BI_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "lumbung.cli", "bi"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            output.append(line)
            if "Superset on http" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    from lumbung.airflow_env import stop_tree

    try:
        if not ready.is_set():
            pytest.fail("Superset did not start:\n" + "".join(output[-40:]))
        yield {"url": f"http://127.0.0.1:{port}",
               "password": bi.superset_secrets(paths)["admin_password"], "output": output}
    finally:
        stop_tree(process)


def test_datasets_read_only_marts_and_carry_their_marts_descriptions(marts):
    tables = bi.required_marts(BUNDLE)
    assert tables
    with psycopg.connect(marts.url()) as conn:
        for path in sorted((BUNDLE / "datasets").rglob("*.yaml")):
            dataset = _yaml(path)
            assert dataset["schema"] == "marts", path.name
            assert dataset["description"], f"{path.name} has no description"
            if dataset.get("sql"):
                continue
            comment = conn.execute("select obj_description(to_regclass(%s), 'pg_class')",
                                   (f"marts.{dataset['table_name']}",)).fetchone()[0]
            assert dataset["description"].strip() == (comment or "").strip(), path.name
            physical = {c["column_name"] for c in dataset["columns"] if not c.get("expression")}
            mart = {row[0] for row in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'marts' and table_name = %s",
                (dataset["table_name"],))}
            assert physical == mart, (path.name, physical ^ mart)
            # a calculated column named like a mart column hides the real one
            calculated = {c["column_name"] for c in dataset["columns"] if c.get("expression")}
            assert not calculated & mart, (path.name, calculated & mart)


def test_every_dashboard_has_year_and_regency_filters():
    dashboards = _dashboards()
    assert set(dashboards) == {"smart-village-lampung", "apbdes", "bumdes-center",
                               "idm-audit", "data-quality"}
    for slug, dashboard in dashboards.items():
        names = {f["name"] for f in dashboard["metadata"]["native_filter_configuration"]}
        assert {"Year", "Regency"} <= names, slug


def test_bad_input_stops_with_one_sentence(marts, paths):
    bi_url = marts.with_user("lumbung_bi", "not-the-password")
    with pytest.raises(bi.BiError, match="refused the password of lumbung_bi"):
        bi.check_warehouse(bi_url, ["marts.dim_region"])
    from lumbung.warehouse import bi_url as real_bi_url

    with pytest.raises(bi.BiError, match=r"no marts\.mart_not_built_yet yet: run the pipeline"):
        bi.check_warehouse(real_bi_url(paths, marts), ["marts.mart_not_built_yet"])
    with socket_bound() as port:
        with pytest.raises(bi.BiError, match=f"port {port} .* is in use"):
            bi.check_port(port)


class socket_bound:
    """A port taken by a listening socket for the duration of the block."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def _log_in(page, url: str, password: str, attempts: int = 3) -> None:
    """Log in as admin (``lumbung.bi.log_in_browser``), or fail the test."""
    if not bi.log_in_browser(page, url, password, attempts):
        raise AssertionError(f"admin could not log in to Superset at {url} in {attempts} tries")


@pytest.mark.e2e
def test_dashboards_render_every_chart_with_data(superset):
    if CHROMIUM is None:
        pytest.fail("the browser test needs Chromium: run `make chromium` as root, or "
                    "`sudo apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--use-gl=swiftshader",
                                           "--enable-unsafe-swiftshader"])
        # tall enough for a whole dashboard: a full-page screenshot resizes the page, and
        # Superset then redraws its grid, which the screenshot catches blank
        page = browser.new_page(viewport={"width": 1600, "height": 3200})
        page.set_default_timeout(180_000)
        _log_in(page, superset["url"], superset["password"])
        for slug, dashboard in _dashboards().items():
            answers: list[tuple[str, int, dict, str]] = []

            def record(response, answers=answers) -> None:
                if "/api/v1/chart/data" in response.url or "/explore_json/" in response.url:
                    try:
                        body = response.json()
                    except Exception:  # an error page, not JSON: its status says enough
                        body = {}
                    answers.append((response.url, response.status, body,
                                    response.headers.get("server-timing", "")))

            page.on("response", record)
            page.goto(f"{superset['url']}/superset/dashboard/{slug}/")
            expected = _chart_count(dashboard)
            # Every chart drawn: none still waiting on its query (the year filter's default
            # makes each chart query twice).
            page.wait_for_function(CHARTS_DONE, arg=expected, timeout=CHART_TIMEOUT_MS)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(2000)  # let deck.gl and ECharts paint
            page.screenshot(path=str(SCREENSHOTS / f"{slug}.png"))
            shown = page.evaluate(CHART_TEXTS)
            for text in shown:
                if "No results" in text or "Unexpected error" in text or "Error" in text[:200]:
                    problems.append(f"{slug}: a chart shows {text[:200]!r}")
            page.remove_listener("response", record)
            if len(shown) != expected:
                problems.append(f"{slug}: {len(shown)} of {expected} charts on the page")
            for url, status, body, timing in answers:
                results = body.get("result") if isinstance(body.get("result"), list) else [body]
                queried = [r for r in results if r.get("is_cached") is False]
                if status == 200 and queried and "execute_sql;dur=" not in timing:
                    # bench_bi_charts reads each chart's query time from this header
                    problems.append(f"{slug}: {url} queried the warehouse but sent no "
                                    f"Server-Timing of it ({timing!r})")
                for result in results:
                    if status != 200 or result.get("error") or result.get("errors"):
                        problems.append(f"{slug}: {url} -> {status} "
                                        f"{result.get('error') or result.get('errors')}")
                    elif not (result.get("rowcount") or result.get("data")):
                        problems.append(f"{slug}: {url} returned no data")
            errors = page.locator("[data-test='chart-error'], .alert-danger").count()
            if errors:
                problems.append(f"{slug}: {errors} chart(s) show an error")
        browser.close()
    assert not problems, "\n".join(problems) + f"\nscreenshots in {SCREENSHOTS}"


@pytest.mark.e2e
def test_fresh_export_equals_the_committed_dashboards(superset, tmp_path):
    """Code and imported dashboards cannot drift: export what Superset has, compare."""
    done = subprocess.run([sys.executable, "-m", "lumbung.cli", "bi", "export", "--out",
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    committed = {str(p.relative_to(BUNDLE)) for p in BUNDLE.rglob("*.yaml")}
    exported = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.yaml")}
    assert exported == committed
    for name in sorted(committed):
        assert _yaml(tmp_path / name) == _yaml(BUNDLE / name), (
            f"{name} differs from a fresh export: run `make bi-export` after editing "
            "dashboards in Superset, or fix the YAML")
