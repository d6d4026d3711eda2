"""The dbt fork server: the same dbt, its output and exit status, one request's environment
not leaking into the next, requests side by side, a build ending with its client, and
dbt's saved manifest decoded once in the server and parsed again when the project changes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil
import pytest

from lumbung import dbt_server
from lumbung.dbt_runner import DbtFailed, invocation, run_dbt


def _request(paths, warehouse, *args: str, **env: str) -> tuple[int, list[str]]:
    """One request straight to the session's server: its status and output lines."""
    lines: list[str] = []
    argv, dbt_env = invocation(paths, warehouse, *args)
    status = dbt_server.run(Path(os.environ[dbt_server.ENV]), argv, {**dbt_env, **env},
                            str(paths.dbt_project), lines.append)
    return status, lines


def test_the_session_runs_dbt_through_a_server(warehouse):
    assert dbt_server.available(Path(os.environ[dbt_server.ENV]))


def test_the_server_gives_dbt_output_and_exit_status(paths, warehouse):
    status, lines = _request(paths, warehouse, "ls", "--select", "ref_indicator_catalogue",
                             "--output", "name")
    assert status == 0
    assert "ref_indicator_catalogue" in lines
    status, lines = _request(paths, warehouse, "run", "--no-such-option")
    assert status == 2
    assert any("No such option" in line for line in lines)


def test_each_request_has_its_own_environment(paths, warehouse):
    """dbt reads DBT_EXCLUDE_RESOURCE_TYPES per invocation: set in one request only, it
    hides the unit tests from that request and not from the next."""
    listing = ("ls", "--resource-type", "unit_test", "--output", "name")
    status, hidden = _request(paths, warehouse, *listing, DBT_EXCLUDE_RESOURCE_TYPES="unit_test")
    assert status == 0
    status, shown = _request(paths, warehouse, *listing, DBT_EXCLUDE_RESOURCE_TYPES="")
    assert status == 0
    unit_tests = [line for line in shown if line.startswith("test_") and " " not in line]
    assert len(unit_tests) >= 10
    assert not set(unit_tests) & set(hidden)


def test_requests_run_side_by_side(paths, warehouse):
    outcomes: dict[str, tuple[int, list[str]]] = {}

    def ask(model: str) -> None:
        outcomes[model] = _request(paths, warehouse, "ls", "--select", model, "--output", "name")

    models = ("ref_indicator_catalogue", "stg_audit__load_batches")
    threads = [threading.Thread(target=ask, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for model in models:
        status, lines = outcomes[model]
        assert status == 0 and model in lines


@pytest.mark.parametrize("where", ["server", "new process"])
def test_a_failed_dbt_invocation_raises_with_its_errors(paths, warehouse, where, monkeypatch):
    if where == "new process":
        monkeypatch.delenv(dbt_server.ENV)
    with pytest.raises(DbtFailed, match=r"(?s)dbt run failed \(exit 2\).*no-such-option"):
        run_dbt(paths, warehouse, "run", "--no-such-option")
    with pytest.raises(DbtFailed, match=r"(?s)dbt show failed \(exit 2\).*Database Error"):
        run_dbt(paths, warehouse, "show", "--inline", "select no_such_column")


def test_without_an_answering_server_dbt_runs_in_a_new_process(paths, warehouse, tmp_path,
                                                               monkeypatch, caplog):
    monkeypatch.setenv(dbt_server.ENV, str(tmp_path / "nobody.sock"))
    lines = run_dbt(paths, warehouse, "ls", "--select", "ref_indicator_catalogue",
                    "--output", "name")
    assert "ref_indicator_catalogue" in lines
    assert "dbt runs in a new process" in caplog.text


def test_a_build_ends_when_its_client_goes_away(paths, warehouse, tmp_path):
    path = Path(tempfile.mkdtemp(prefix="lumbung-dbt-test-")) / "s.sock"  # sun_path is short
    server_log = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "lumbung.dbt_server", "--socket", str(path)],
                              stderr=server_log.open("w"))
    try:
        assert dbt_server.wait_ready(path, server)
        argv = ["show", "--inline", "select pg_sleep(20)", "--project-dir",
                str(paths.dbt_project), "--profiles-dir", str(paths.dbt_project),
                "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)]
        lines = dbt_server.invoke(path, argv, {**os.environ, **warehouse.dbt_env()},
                                  str(paths.dbt_project))
        next(lines)  # dbt started in a child of the server
        children = psutil.Process(server.pid).children()
        assert children
        lines.close()  # the client leaves
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
        assert server.poll() is None  # the server serves on
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not path.exists()
    assert "dbt show (pid" in server_log.read_text()
    assert "its client left, ending it" in server_log.read_text()


def test_forks_take_the_saved_manifest_the_server_decoded(paths, warehouse, tmp_path):
    """dbt's saved manifest is decoded in the server and each fork takes it while its file
    is the same; a changed project is parsed again by dbt and its manifest decoded anew."""
    project = tmp_path / "project"
    shutil.copytree(paths.dbt_project, project)
    path = Path(tempfile.mkdtemp(prefix="lumbung-dbt-test-")) / "s.sock"
    server_log = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "lumbung.dbt_server", "--socket", str(path)],
                              stderr=server_log.open("w"))
    env = {**os.environ, **warehouse.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    saved = project / "target" / "partial_parse.msgpack"

    def listing() -> set[str]:
        lines: list[str] = []
        argv = ["ls", "--resource-type", "model", "--output", "name", "--quiet",
                "--project-dir", str(project), "--profiles-dir", str(project),
                "--target-path", "target", "--log-path", str(tmp_path / "logs")]
        assert dbt_server.run(path, argv, env, str(project), lines.append) == 0, lines
        return set(lines)

    def reused() -> list[bool]:
        return ["saved manifest decoded by the server" in line
                for line in server_log.read_text().splitlines() if "dbt ls (pid" in line]

    try:
        assert dbt_server.wait_ready(path, server)
        models = listing()  # parses the project: nothing saved yet
        assert "mart_smart_village" in models and saved.exists()
        parsed = saved.stat().st_mtime_ns
        assert listing() == models and listing() == models
        assert saved.stat().st_mtime_ns == parsed  # dbt found nothing changed
        (project / "models" / "marts" / "mart_added_here.sql").write_text("select 1 as one\n")
        assert listing() == models | {"mart_added_here"}  # dbt parsed the change
        assert saved.stat().st_mtime_ns != parsed
        assert listing() == models | {"mart_added_here"}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert reused() == [False, True, True, True, True]


def test_a_thread_keeps_its_database_session_from_node_to_node(paths, warehouse):
    """dbt opens a connection per node; lumbung.dbt_main keeps the thread's session: one
    thread, a seed and its tests, one session opened for them all."""
    status, lines = _request(paths, warehouse, "build", "--select", "ref_indicator_catalogue",
                             "--threads", "1", "--debug")
    assert status == 0, lines[-20:]
    tests = [line for line in lines if "Began running node test." in line]
    opened = [line for line in lines if "Opening a new connection" in line]
    assert len(tests) >= 3
    assert 1 <= len(opened) <= 2  # dbt's own connection to read the catalog, the thread's


def test_long_state_folders_get_a_short_socket(tmp_path):
    deep = tmp_path / ("x" * 120)
    path = dbt_server.socket_path(deep)
    assert len(str(path)) <= 100
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))
    finally:
        shutil.rmtree(path.parent)
    assert dbt_server.socket_path(Path("/srv/state")) == Path("/srv/state/dbt/server.sock")


def test_a_run_uses_the_server_already_answering_for_its_state(tmp_path, monkeypatch):
    """`lumbung run` starts a server for its state folder, or uses the one started there by
    hand (a second one refuses the socket); the server goes with the block that started it."""
    monkeypatch.delenv(dbt_server.ENV, raising=False)  # the session's
    state = tmp_path / "state"
    with dbt_server.running(state) as started:
        assert started == dbt_server.socket_path(state)
        assert os.environ[dbt_server.ENV] == str(started)
        monkeypatch.delenv(dbt_server.ENV)
        with dbt_server.running(state) as reused:
            assert reused == started
        with pytest.raises(RuntimeError, match="already answers"):
            dbt_server.serve(started)
        assert dbt_server.available(started)
    assert not started.exists()
    assert dbt_server.ENV not in os.environ


def test_a_server_starting_is_named_only_once_ready(tmp_path, monkeypatch):
    """`lumbung run` starts the server first and waits for it only before the DAGs run, so
    importing dbt overlaps the warehouse's start."""
    monkeypatch.delenv(dbt_server.ENV, raising=False)  # the session's
    state = tmp_path / "state"
    with dbt_server.starting(state) as ready:
        assert dbt_server.ENV not in os.environ  # not yet: dbt may still be importing
        path = ready()
        assert path == dbt_server.socket_path(state) and dbt_server.available(path)
        assert os.environ[dbt_server.ENV] == str(path)
        assert ready() == path  # waits once
    assert dbt_server.ENV not in os.environ
    assert not path.exists()
