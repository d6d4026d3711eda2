"""The read-only API and row-level security per regency, end to end on the session warehouse.

The region master is published by its real pipeline (dim_region, dim_village); three probe
marts are published beside it through ``lumbung.publish``: one with regency, district and
village codes and a year, one with district codes only (its regency is their first four
digits) and one province-wide without any region. Every assertion compares with what the
admin connection reads, so other modules' marts in the shared warehouse only add cases.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import ckanapi
import httpx
import psycopg
import pytest
import schemathesis
from conftest import free_port
from hypothesis import HealthCheck, settings
from psycopg import sql

from lumbung import api_tokens, rls
from lumbung.api.access import Session, Warehouse
from lumbung.api.app import create_app
from lumbung.pipelines import village_master
from lumbung.pipelines.marts import audit, publish_marts
from lumbung.publish import BUILD_SCHEMA, publish

REGENCIES = ("1801", "1871")
PROBES = ("zz_api_village", "zz_api_district", "zz_api_province")


def _build_probes(db: psycopg.Connection, extra_column: bool = False) -> None:
    """Stand-in for a dbt build of three marts, from the published region master."""
    extra = ", note text" if extra_column else ""
    db.execute(f"drop table if exists {BUILD_SCHEMA}.zz_api_village")
    db.execute(f"create table {BUILD_SCHEMA}.zz_api_village (village_code text, year integer, "
               f"regency_code text not null, district_code text not null, score numeric{extra}, "
               "primary key (village_code, year))")
    db.execute(f"comment on table {BUILD_SCHEMA}.zz_api_village is "
               "'Probe scores per village and year. For the API tests.'")
    db.execute(f"insert into {BUILD_SCHEMA}.zz_api_village "
               "(village_code, year, regency_code, district_code, score) "
               "select v.village_code, y, v.regency_code, v.district_code, "
               "(hashtext(v.village_code || y) % 1000) / 10.0 "
               "from marts.dim_village as v cross join generate_series(2023, 2024) as y "
               "where v.is_current")
    db.execute(f"drop table if exists {BUILD_SCHEMA}.zz_api_district")
    db.execute(f"create table {BUILD_SCHEMA}.zz_api_district (district_code text primary key, "
               "villages integer not null)")
    db.execute(f"insert into {BUILD_SCHEMA}.zz_api_district select district_code, count(*) "
               "from marts.dim_village where is_current group by district_code")
    db.execute(f"drop table if exists {BUILD_SCHEMA}.zz_api_province")
    db.execute(f"create table {BUILD_SCHEMA}.zz_api_province (year integer primary key, "
               "villages integer not null)")
    db.execute(f"insert into {BUILD_SCHEMA}.zz_api_province select y, 10 * y "
               "from generate_series(2020, 2024) as y")


@pytest.fixture(scope="module")
def published(warehouse, paths, landing):
    """The region master published by its pipeline, then the probes."""
    with psycopg.connect(warehouse.url(), autocommit=True) as db:
        _publish_probes(warehouse, paths, landing, db)
        yield
        for table in PROBES:
            for schema in (BUILD_SCHEMA, "marts"):
                db.execute(f"drop table if exists {schema}.{table}")


def _publish_probes(warehouse, paths, landing, db) -> None:
    from lumbung.warehouse import bootstrap

    # Roles are the server's, not the database's: another module's bootstrap of another
    # database (test_external_warehouse) may have set other passwords.
    bootstrap(paths, warehouse)
    if db.execute("select to_regclass('marts.dim_village')").fetchone()[0] is None:
        village_master.gate(warehouse, village_master.land(warehouse, landing))
        built = village_master.transform(paths, warehouse)
        publish_marts(warehouse, audit(warehouse, built)["audited"])
    _build_probes(db)
    publish(warehouse, list(PROBES), dag_id="test_api", run_id="probes")


def _regional_marts(db) -> dict[str, sql.Composable]:
    """Every published mart with a regency, and how its rows name it."""
    found = {}
    for (table,) in db.execute("select tablename from pg_tables where schemaname = 'marts' "
                               "order by 1").fetchall():
        columns = [r[0] for r in db.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = %s", (table,)).fetchall()]
        expression = rls.regency_expression(columns)
        if expression is not None:
            found[table] = expression
    return found


def _count(conn, table: str, where: sql.Composable | None = None, params=()) -> int:
    query = sql.SQL("select count(*) from {}").format(sql.Identifier("marts", table))
    if where is not None:
        query += sql.SQL(" where ") + where
    return conn.execute(query, params).fetchone()[0]


# --- row-level security in the database -------------------------------------------------


def test_every_regency_of_dim_region_has_its_role(published, db):
    regencies = [r[0] for r in db.execute(
        "select region_code from marts.dim_region where region_level = 'regency'").fetchall()]
    assert len(regencies) == 15
    roles = {r[0] for r in db.execute(
        "select rolname from pg_roles where rolname like 'lumbung\\_bi\\_%'").fetchall()}
    assert {f"lumbung_bi_{code}" for code in regencies} <= roles


def test_regency_role_sees_exactly_its_rows_in_every_mart(published, db, paths, warehouse,
                                                          capsys):
    from lumbung.cli import main
    from lumbung.warehouse import bi_url

    regional = _regional_marts(db)
    assert set(PROBES[:2]) | {"dim_region", "dim_village"} <= set(regional)
    for code in REGENCIES:
        assert main(["db", "url", "--role", "bi", "--regency", code]) == 0
        url = capsys.readouterr().out.strip().splitlines()[-1]
        assert f"lumbung_bi_{code}:" in url
        with psycopg.connect(url, autocommit=True) as regency:
            for table, expression in regional.items():
                expected = _count(db, table, sql.SQL("{} = %s").format(expression), (code,))
                assert _count(regency, table) == expected, table
                assert expected > 0 or table.startswith("mart_"), table
                # and not one row of another regency
                assert _count(regency, table, sql.SQL("{} is distinct from %s").format(
                    expression), (code,)) == 0, table
            # a mart without regency is province-wide for everyone
            assert _count(regency, "zz_api_province") == 5
    with psycopg.connect(bi_url(paths, warehouse).url(), autocommit=True) as province:
        for table in regional:
            assert _count(province, table) == _count(db, table), table


def test_set_role_or_row_security_off_gain_nothing(published, db, paths, warehouse):
    from lumbung.warehouse import api_db_url, regency_url

    url = regency_url(paths, warehouse, "1801").url()
    with psycopg.connect(url, autocommit=True) as conn:
        for role in ("lumbung_bi", "lumbung_bi_regency", "lumbung_bi_1871", "lumbung_api",
                     "lumbung"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        conn.execute("set row_security = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts.zz_api_village")
        conn.execute("reset row_security")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("alter table marts.zz_api_village disable row level security")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from audit.api_tokens")
    # The API's own login reads nothing until it takes a caller's role.
    with psycopg.connect(api_db_url(paths, warehouse).url(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from marts.zz_api_village")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set role lumbung_bi_regency")
    # Forced: the owner is subject to the policies too (only the publisher's policy lets it in).
    forced = db.execute("select bool_and(relforcerowsecurity) from pg_class "
                        "where oid = any(%s::regclass[])",
                        ([f"marts.{t}" for t in _regional_marts(db)],)).fetchone()[0]
    assert forced


def test_policies_survive_a_publication_that_recreates_the_mart(published, db, paths,
                                                                warehouse):
    from lumbung.warehouse import regency_url

    _build_probes(db, extra_column=True)  # a contract change: the mart is recreated
    publish(warehouse, list(PROBES), dag_id="test_api", run_id="recreated")
    assert "note" in [r[0] for r in db.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'zz_api_village'").fetchall()]
    publish(warehouse, list(PROBES), dag_id="test_api", run_id="in place")  # delete + insert
    with psycopg.connect(regency_url(paths, warehouse, "1871").url()) as conn:
        codes = conn.execute("select distinct regency_code from marts.zz_api_village").fetchall()
    assert codes == [("1871",)]
    assert _count(db, "zz_api_village") == 2 * _count(
        db, "dim_village", sql.SQL("is_current"))


# --- the HTTP API ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_url(published, paths, warehouse):
    """``lumbung api`` on a free port of 127.0.0.1, in this process (a thread)."""
    import uvicorn

    from lumbung.warehouse import api_db_url

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(api_db_url(paths, warehouse).url()),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]


def test_lumbung_api_answers_from_its_worker_processes(published, paths, warehouse):
    from lumbung.warehouse import api_db_url

    port = free_port()
    env = {**os.environ, "LUMBUNG_API_DB_URL": api_db_url(paths, warehouse).url(),
           "LUMBUNG_API_WORKERS": "2"}
    command = [sys.executable, "-m", "lumbung.cli", "api", "--port", str(port)]
    for workers, words in (("0", "1 process or more"), ("many", "LUMBUNG_API_WORKERS")):
        refused = subprocess.run(
            command + (["--workers", workers] if workers == "0" else []),
            env={**env, "LUMBUNG_API_WORKERS": workers}, capture_output=True, text=True,
            timeout=120)
        assert refused.returncode != 0 and words in refused.stderr, refused.stderr
    refused = subprocess.run(command, env={**env, "LUMBUNG_API_ACCESS_LOG": "yes"},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "LUMBUNG_API_ACCESS_LOG" in refused.stderr
    server, workers = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True), []
    try:
        assert "2 worker process(es)" in server.stdout.readline()
        deadline = time.monotonic() + 180  # each worker imports the app anew
        while True:
            assert server.poll() is None, "lumbung api exited"
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/datasets/zz_api_village/rows",
                                 params={"limit": 5}, timeout=10)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "lumbung api did not answer"
                time.sleep(0.5)
        assert page.status_code == 200 and len(page.json()["rows"]) == 5
        workers = [pid for pid in _children(server.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 2
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


@contextmanager
def _token(db, regency: str):
    token_id, token = api_tokens.create(db, regency, "test")
    try:
        yield token
    finally:
        api_tokens.revoke(db, token_id)


def test_ckanapi_lists_and_reads_the_datasets(api_url, db):
    marts = [r[0] for r in db.execute("select tablename from pg_tables "
                                      "where schemaname = 'marts' order by 1").fetchall()]
    ckan = ckanapi.RemoteCKAN(api_url)
    assert ckan.action.package_list() == marts
    package = ckan.action.package_show(id="zz_api_village")
    assert package["title"] == "Probe scores per village and year"
    assert package["resources"][0]["datastore_active"] is True
    assert package["metadata_modified"]
    found = ckan.action.package_search(q="probe scores")
    assert [p["name"] for p in found["results"]] == ["zz_api_village"]
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no_such_mart")
    with pytest.raises(ckanapi.ValidationError):
        ckan.action.datastore_search(resource_id="zz_api_village", filters={"nope": 1})


def test_datastore_search_pages_through_a_mart_with_the_rows_of_sql(api_url, db):
    expected = db.execute("select village_code, year, regency_code, district_code, "
                          "score::float8 from marts.zz_api_village "
                          "where regency_code = '1871' order by village_code, year").fetchall()
    ckan = ckanapi.RemoteCKAN(api_url)
    rows, offset = [], 0
    while True:
        page = ckan.action.datastore_search(resource_id="zz_api_village", limit=37,
                                            offset=offset, filters={"regency_code": "1871"})
        assert page["total"] == len(expected)
        rows += [(r["village_code"], r["year"], r["regency_code"], r["district_code"],
                  r["score"]) for r in page["records"]]
        if len(page["records"]) < 37:
            break
        offset += 37
    assert rows == expected
    fields = [f["id"] for f in page["fields"]]
    assert fields[:5] == ["village_code", "year", "regency_code", "district_code", "score"]


def _all_rows(client: httpx.Client, url: str, params: dict, headers=None) -> list[dict]:
    rows = []
    response = client.get(url, params=params, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["rows"]
        if body["next"] is None:
            return rows
        response = client.get(body["next"], headers=headers)


def test_rows_keyset_pages_json_and_csv_equal_sql(api_url, db):
    district = db.execute("select min(district_code) from marts.zz_api_village").fetchone()[0]
    expected = db.execute("select village_code, year, score::text from marts.zz_api_village "
                          "where district_code = %s and year = 2024 order by village_code",
                          (district,)).fetchall()
    assert len(expected) > 7
    dotted = f"{district[:2]}.{district[2:4]}.{district[4:]}"
    with httpx.Client(base_url=api_url) as client:
        params = {"district_code": dotted, "year": 2024,
                  "columns": "village_code,year,score", "limit": 7}
        rows = _all_rows(client, "/datasets/zz_api_village/rows", params)
        assert [(r["village_code"], r["year"], r["score"]) for r in rows] == [
            (v, y, float(s)) for v, y, s in expected]
        assert list(rows[0]) == ["village_code", "year", "score"]
        csv_rows, url = [], "/datasets/zz_api_village/rows"
        params = {**params, "format": "csv"}
        while url:
            response = client.get(url, params=params)
            assert response.headers["content-type"].startswith("text/csv")
            lines = response.text.strip().splitlines()
            assert lines[0] == "village_code,year,score"
            csv_rows += [tuple(line.split(",")) for line in lines[1:]]
            url = response.links.get("next", {}).get("url")
            params = None
        assert csv_rows == [(v, str(y), s) for v, y, s in expected]


def test_a_harvest_following_next_links_is_served_pages_read_ahead(published, db, paths,
                                                                   warehouse):
    """A public client paging by `next` links gets each page after the second from the
    read-ahead, and every row exactly once, as SQL has them."""
    from lumbung.warehouse import api_db_url

    expected = db.execute("select village_code, year from marts.zz_api_village "
                          "order by village_code, year").fetchall()
    app = create_app(api_db_url(paths, warehouse).url(), pool_size=2)

    async def harvest(fmt: str) -> tuple[list[tuple], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lumbung.test") as c:
            rows, pages = [], 0
            url = f"/datasets/zz_api_village/rows?columns=village_code,year&limit=40&format={fmt}"
            while url:
                response = await c.get(url)
                assert response.status_code == 200, response.text
                pages += 1
                if fmt == "json":
                    body = response.json()
                    rows += [(r["village_code"], r["year"]) for r in body["rows"]]
                    url = body["next"]
                else:
                    rows += [(code, int(year)) for code, year in
                             (line.split(",") for line in response.text.splitlines()[1:])]
                    url = response.links.get("next", {}).get("url")
        return rows, pages

    app.state.warehouse.open()
    try:
        for fmt in ("json", "csv"):
            before = app.state.read_ahead.served
            rows, pages = asyncio.run(harvest(fmt))
            assert rows == expected, fmt
            assert pages >= 4 and app.state.read_ahead.served - before == pages - 2, fmt
    finally:
        app.state.warehouse.close()


def test_json_pages_of_every_published_mart_are_json_aggs(api_url, db, paths, warehouse):
    """The API writes a JSON page from COPY text (lumbung.api.rows_json): for every
    published mart, its first pages are byte for byte what json_agg of the same rows wrote,
    and their cursors lead to the same pages."""
    from lumbung.api.catalog import marts
    from lumbung.api.query import Page, decode_cursor
    from lumbung.api.rows_json import kind
    from lumbung.warehouse import bi_url

    found, copied = marts(db, "lumbung_bi"), set()
    assert {"dim_region", "dim_village", *PROBES} <= {m.name for m in found}
    with psycopg.connect(bi_url(paths, warehouse).url(), autocommit=True) as bi, \
            httpx.Client(base_url=api_url) as client:
        for mart in found:
            url, after = f"/datasets/{mart.name}/rows?limit=700", None
            for _ in range(3):
                response = client.get(url)
                assert response.status_code == 200, (mart.name, response.text)
                page = Page(mart=mart, columns=mart.column_names, limit=700, after=after)
                # written from COPY unless a type is left to json_agg (publication_info's
                # arrays); the marts of dbt's contracts all are (test_api_json)
                written = page.json_layout() is not None
                assert written is all(kind(c.type) for c in mart.columns), mart.name
                if written:
                    copied.add(mart.name)
                rows, _, more = bi.execute(*page.json_page()).fetchone()
                head = json.dumps({"dataset": mart.name, "columns": mart.column_names,
                                   "limit": 700})
                assert response.text.startswith(f'{head[:-1]}, "rows": {rows}, "next": '), \
                    mart.name
                url = response.json()["next"]
                assert (url is not None) is more, mart.name
                if url is None:
                    break
                after = decode_cursor(mart, parse_qs(urlsplit(url).query)["after"][0])["after"]
    assert {"dim_region", "dim_village", *PROBES} <= copied


def test_a_csv_page_of_one_block_is_one_body_and_a_longer_one_streams(api_url, db,
                                                                    monkeypatch):
    from lumbung.api import datasets

    monkeypatch.setattr(datasets, "CSV_BLOCK", 4096)  # the API runs in this process
    expected = db.execute("select village_code, year from marts.zz_api_village "
                          "order by village_code, year limit 2000").fetchall()
    assert len(expected) == 2000
    with httpx.Client(base_url=api_url) as client:
        for limit, streamed in ((2000, True), (20, False)):
            response = client.get("/datasets/zz_api_village/rows", params={
                "format": "csv", "limit": limit, "columns": "village_code,year"})
            assert response.status_code == 200
            assert ("content-length" not in response.headers) is streamed
            assert (response.headers.get("transfer-encoding") == "chunked") is streamed
            lines = response.text.splitlines()
            assert lines[0] == "village_code,year" and len(lines) == limit + 1
            assert [tuple(line.split(",")) for line in lines[1:]] == [
                (v, str(y)) for v, y in expected[:limit]]
            assert 'rel="next"' in response.headers["link"]


def test_a_csv_stream_left_half_way_gives_its_connection_back_idle(published, paths,
                                                                   warehouse, monkeypatch):
    """A client gone in the middle of a long CSV page: its COPY is cancelled and the
    connection goes back to the pool ready for the next request, not discarded."""
    from lumbung.api import datasets
    from lumbung.warehouse import api_db_url

    monkeypatch.setattr(datasets, "CSV_BLOCK", 4096)
    pool = Warehouse(api_db_url(paths, warehouse).url(), max_size=1)
    pool.open()

    async def left_half_way() -> None:
        current = await Session.open(pool, None)
        conn = current.conn
        page = datasets.build_page(current.mart("zz_api_village"), columns=None,
                                   limit=5000, after=None, offset=0, filters={})
        _, sent = await current.copy(page.csv_copy(), None, [page.next_key()])
        stream = datasets._chain([], datasets._csv_stream(current, sent))
        assert (await anext(stream)).startswith(b"village_code,")
        assert len(await anext(stream)) >= 4096  # mid-COPY
        await stream.aclose()
        again = await Session.open(pool, None)
        assert again.conn is conn  # the same connection, kept
        assert again.conn.execute("select 1").fetchone() == (1,)
        again.close()

    try:
        for _ in range(3):
            asyncio.run(left_half_way())
    finally:
        pool.close()


def test_a_regency_token_sees_exactly_its_rows_in_every_mart(api_url, db):
    regional = _regional_marts(db)
    with _token(db, "1871") as token, httpx.Client(base_url=api_url) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for table, expression in regional.items():
            expected = _count(db, table, sql.SQL("{} = %s").format(expression), ("1871",))
            response = client.get("/api/3/action/datastore_search", headers=headers,
                                  params={"resource_id": table, "limit": 0})
            assert response.json()["result"]["total"] == expected, table
            anonymous = client.get("/api/3/action/datastore_search",
                                   params={"resource_id": table, "limit": 0})
            assert anonymous.json()["result"]["total"] == _count(db, table), table
        rows = _all_rows(client, "/datasets/zz_api_village/rows",
                         {"limit": 500, "columns": "regency_code"}, headers)
        assert {r["regency_code"] for r in rows} == {"1871"}
        # asking for another regency's rows gives none, not an error
        other = client.get("/datasets/zz_api_village/rows", headers=headers,
                           params={"regency_code": "1801"})
        assert other.status_code == 200 and other.json()["rows"] == []


def test_forged_and_revoked_tokens_gain_nothing(api_url, db):
    with _token(db, "1801") as token:
        pass  # revoked on leaving
    with httpx.Client(base_url=api_url) as client:
        for forged in (token, "lbg_" + "A" * 43, "' or 1=1 --", token + "x"):
            response = client.get("/datasets/zz_api_village/rows",
                                   headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401
            assert "unknown or revoked" in response.json()["error"]["message"]
            ckan = client.get("/api/3/action/package_list", headers={"Authorization": forged})
            assert ckan.status_code == 401
            assert ckan.json()["error"]["__type"] == "Authorization Error"
    stored = db.execute("select token_sha256 from audit.api_tokens").fetchall()
    assert all(len(h) == 64 and not h.startswith("lbg_") for (h,) in stored)


def test_a_publication_that_changes_a_mart_is_served_at_once(api_url, db, warehouse):
    """The API's cached catalog gives way to the database's as soon as a publication
    recreates a mart with another column, for JSON, CSV and column selection."""
    url = "/datasets/zz_api_village/rows"
    with httpx.Client(base_url=api_url) as client:
        had_note = "note" in client.get(url, params={"limit": 1}).json()["columns"]
        assert client.get(url, params={"limit": 1, "format": "csv"}).status_code == 200
        try:
            _build_probes(db, extra_column=not had_note)
            publish(warehouse, list(PROBES), dag_id="test_api", run_id="columns")
            page = client.get(url, params={"limit": 1})
            assert page.status_code == 200 and len(page.json()["rows"]) == 1
            assert ("note" in page.json()["columns"]) is not had_note
            assert ("note" in page.json()["rows"][0]) is not had_note
            asked = client.get(url, params={"limit": 1, "columns": "village_code,note"})
            assert asked.status_code == (400 if had_note else 200), asked.text
            csv = client.get(url, params={"limit": 1, "format": "csv"})
            assert ("note" in csv.text.splitlines()[0]) is not had_note
        finally:
            _build_probes(db, extra_column=had_note)
            publish(warehouse, list(PROBES), dag_id="test_api", run_id="columns again")


def test_a_grant_revoked_by_hand_is_a_404_not_a_failure(api_url, db, warehouse):
    """Between publications the API trusts its cached catalog, but a mart the database
    refuses is then asked of the catalog again: no row, no 500."""
    url = "/datasets/zz_api_province/rows"
    with httpx.Client(base_url=api_url) as client:
        assert client.get(url).status_code == 200  # cached as readable
        db.execute("revoke select on marts.zz_api_province from lumbung_bi")
        try:
            for fmt in ("json", "csv"):
                gone = client.get(url, params={"format": fmt})
                assert gone.status_code == 404, gone.text
                assert "no dataset named 'zz_api_province'" in gone.json()["error"]["message"]
            client.get("/datasets/zz_api_village").raise_for_status()  # ckan's cache too
            db.execute("revoke select on marts.zz_api_village from lumbung_bi")
            ckan = client.get("/api/3/action/datastore_search",
                              params={"resource_id": "zz_api_village"})
            assert ckan.status_code == 404, ckan.text
            assert ckan.json()["error"]["__type"] == "Not Found Error"
            assert "Traceback" not in ckan.text and "psycopg" not in ckan.text
        finally:
            db.execute("grant select on marts.zz_api_village to lumbung_bi")
            db.execute("grant select on marts.zz_api_province to lumbung_bi")
        publish(warehouse, ["zz_api_province"], dag_id="test_api", run_id="grant again")
        assert client.get(url).status_code == 200
        assert client.get("/api/3/action/datastore_search",
                          params={"resource_id": "zz_api_village"}).status_code == 200


def test_etag_and_last_modified_spare_an_unchanged_download(api_url, db, warehouse):
    with httpx.Client(base_url=api_url) as client:
        url = "/datasets/zz_api_province/rows"
        first = client.get(url)
        assert first.status_code == 200 and first.headers["etag"]
        again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        since = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert since.status_code == 304
        assert client.get("/datasets/zz_api_province").status_code == 200
        publish(warehouse, ["zz_api_province"], dag_id="test_api", run_id="etag")
        changed = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]


def test_the_catalog_is_read_once_per_publication(published, paths, warehouse):
    from lumbung.warehouse import api_db_url

    pool = Warehouse(api_db_url(paths, warehouse).url(), max_size=2)
    pool.open()

    def publications() -> dict[str, int | None]:
        current = Session(pool, None)
        try:
            return {m.name: m.publication and m.publication.publication_id
                    for m in current.marts()}
        finally:
            current.close()

    try:
        first = publications()
        assert "zz_api_province" in first and pool.catalog.loads == 1
        assert publications() == first and pool.catalog.loads == 1  # the cache answered
        publish(warehouse, ["zz_api_province"], dag_id="test_api", run_id="catalog")
        after = publications()
        assert pool.catalog.loads == 2
        assert after["zz_api_province"] > first["zz_api_province"]
        assert publications() == after and pool.catalog.loads == 2
    finally:
        pool.close()


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"columns": "village_code,password"}, 400, "no column 'password'"),
    ({"regency_code": "1801' or '1'='1"}, 400, "Kemendagri code"),
    ({"village_code": "18'; drop table x--"}, 400, "Kemendagri code"),
    ({"village_code": "1; drop table marts.dim_region"}, 422, "at most 20 characters"),
    ({"limit": 10_000_000}, 422, "limit"),
    ({"offset": -1}, 422, "offset"),
    ({"year": "2024 or 1=1"}, 422, "year"),
    ({"after": "bm90IGEgY3Vyc29y"}, 400, "not a cursor"),
    ({"format": "xml"}, 422, "format"),
])
def test_bad_requests_get_a_clear_4xx(api_url, params, status, words):
    with httpx.Client(base_url=api_url) as client:
        response = client.get("/datasets/zz_api_village/rows", params=params)
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    assert words in message
    assert "Traceback" not in response.text and "psycopg" not in response.text


def test_ckan_bad_requests_answer_in_ckan_shape(api_url):
    with httpx.Client(base_url=api_url) as client:
        for params in ({"resource_id": "zz_api_village", "offset": -5},
                       {"resource_id": "zz_api_village", "limit": 10**9},
                       {"resource_id": "zz_api_village", "filters": '{"year": "two"}'},
                       {"resource_id": "zz_api_village", "sort": "year; drop table x"},
                       {"resource_id": "zz_api_village", "fields": "village_code,secret"}):
            response = client.get("/api/3/action/datastore_search", params=params)
            assert response.status_code in (400, 409), (params, response.text)
            body = response.json()
            assert body["success"] is False and body["error"]["__type"] == "Validation Error"
            assert body["error"]["message"]
        missing = client.get("/api/3/action/datastore_search", params={"resource_id": "nope"})
        assert missing.status_code == 404
        assert missing.json()["error"]["__type"] == "Not Found Error"


def test_openapi_is_served(api_url):
    with httpx.Client(base_url=api_url) as client:
        schema = client.get("/openapi.json").json()
        assert {"/datasets", "/datasets/{mart}/rows", "/api/3/action/datastore_search"} <= set(
            schema["paths"])
        assert client.get("/docs").status_code == 200


# --- property-based: the API against its own OpenAPI document -----------------------------


@pytest.fixture(scope="module")
def api_schema(published, paths, warehouse):
    """The app in this process (ASGI, no socket), its pool open for the run."""
    from lumbung.warehouse import api_db_url

    app = create_app(api_db_url(paths, warehouse).url(), pool_size=2)
    app.state.warehouse.open()
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.warehouse.close()


def _aim(case, mart: str) -> None:
    """Generated names would nearly always be unknown (404): point them at a real mart."""
    if case.path_parameters and "mart" in case.path_parameters:
        case.path_parameters["mart"] = mart
    for params in (case.query, case.body):
        if isinstance(params, dict):
            for key in ("resource_id", "id"):
                if key in params:
                    params[key] = mart


def _conformance(operation, mode, examples: int, checks):
    from hypothesis import given
    from schemathesis import GenerationMode

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def conforms(case):
        if mode is GenerationMode.POSITIVE:
            _aim(case, "zz_api_village")
        case.call_and_validate(checks=checks)

    return conforms


def test_api_answers_within_its_openapi(api_schema):
    """No 5xx, every status, content type and body as documented, for generated requests
    that follow the document and for ones that break it (bounded, derandomised)."""
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, 25), (GenerationMode.NEGATIVE, 10)):
            try:
                _conformance(operation, mode, examples, checks)()
            except Unsatisfiable:
                # nothing breaks a document without parameters (GET /datasets)
                assert mode is GenerationMode.NEGATIVE, operation.label
