"""The production topology: docker-compose.yml, Dockerfile, .env.example, docker/.

No Docker engine is needed: the compose file is parsed as YAML and held to the rules of
docs/deployment.md. Where the Compose v2 CLI is installed, ``docker compose config`` also
validates the files against the Compose specification (that one test skips otherwise).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
EXTERNAL_WAREHOUSE_FILE = REPO / "docker" / "compose.external-warehouse.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
INIT_SCRIPT = REPO / "docker" / "airflow-init.sh"

DATABASES = {"warehouse", "airflow-metadata"}
AIRFLOW_LONG_RUNNING = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
AIRFLOW_SERVICES = AIRFLOW_LONG_RUNNING | {"airflow-init"}
LONG_RUNNING = DATABASES | {"redis", "dbt-server", "api", "superset"} | AIRFLOW_LONG_RUNNING
REQUIRED_SERVICES = LONG_RUNNING | {"airflow-init"}

# Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, ... and bare $VAR.
VAR_RE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
# A secret must come from .env with no default in the compose file: ${VAR} or ${VAR:?msg}.
SECRET_REF_RE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}$")
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$|AUTH$|CREDENTIAL")
NOT_A_SECRET_RE = re.compile(r"_(FILE|PATH|USERS)$")
URL_USERINFO_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<userinfo>[^/]*)@")


class _ComposeLoader(yaml.SafeLoader):
    """SafeLoader that also reads Compose's merge tags (!reset, !override)."""


def _compose_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return {"__tag__": suffix, "value": value}


_ComposeLoader.add_multi_constructor("!", _compose_tag)


def _load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_ComposeLoader)  # noqa: S506 - SafeLoader subclass


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: not NAME=value: {line!r}"
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), f".env.example: bad name {name!r}"
        assert name not in values, f".env.example declares {name} twice"
        values[name] = value
    return values


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _strings(node: Any) -> list[str]:
    """Every string value in a YAML tree (values only: keys are not interpolated)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _variables(text: str) -> set[str]:
    text = text.replace("$$", "")  # $$ is a literal dollar for the container
    return {m.group("braced") or m.group("bare") for m in VAR_RE.finditer(text)}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _healthcheck_test(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(str(t) for t in test)


def _url_password(value: str) -> str | None:
    """The password part of a URL (``scheme://user:password@host``), ${...} kept whole."""
    refs = re.findall(r"\$\{[^}]*\}", value)
    masked = value
    for i, ref in enumerate(refs):
        masked = masked.replace(ref, f"\0{i}\0", 1)
    match = URL_USERINFO_RE.match(masked)
    if not match or ":" not in match.group("userinfo"):
        return None
    password = match.group("userinfo").split(":", 1)[1]
    for i, ref in enumerate(refs):
        password = password.replace(f"\0{i}\0", ref)
    return password


def _volume_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            sources.append(volume["source"])
        else:
            sources.append(volume.split(":", 1)[0])
    return sources


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _copies() -> list[tuple[list[str], str, dict[str, str]]]:
    """(sources, destination, flags) of every COPY of the Dockerfile."""
    copies = []
    for keyword, rest in _dockerfile_instructions():
        if keyword != "COPY":
            continue
        parts = shlex.split(rest)
        flags = dict(p[2:].partition("=")[::2] for p in parts if p.startswith("--"))
        args = [p for p in parts if not p.startswith("--")]
        copies.append((args[:-1], args[-1], flags))
    return copies


# --- services and their lifecycle ---------------------------------------------------------


def test_required_services_exist(services):
    missing = REQUIRED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_every_long_running_service_has_a_healthcheck(services):
    for name in sorted(LONG_RUNNING):
        healthcheck = services[name].get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert _healthcheck_test(services[name]).strip(), f"{name}: empty healthcheck test"
        assert services[name].get("restart") in {"always", "unless-stopped"}, name


def test_healthchecks_probe_the_right_thing(services):
    assert "pg_isready" in _healthcheck_test(services["warehouse"])
    assert "pg_isready" in _healthcheck_test(services["airflow-metadata"])
    assert "redis-cli ping" in _healthcheck_test(services["redis"])
    assert "/api/v2/monitor/health" in _healthcheck_test(services["airflow-apiserver"])
    # The scheduler's health server (:8974) only runs when enabled.
    assert ":8974/health" in _healthcheck_test(services["airflow-scheduler"])
    assert _env(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "DagProcessorJob" in _healthcheck_test(services["airflow-dag-processor"])
    assert "TriggererJob" in _healthcheck_test(services["airflow-triggerer"])
    assert "inspect ping" in _healthcheck_test(services["airflow-worker"])
    assert "LUMBUNG_DBT_SERVER" in _healthcheck_test(services["dbt-server"])
    assert "http://localhost:8000/openapi.json" in _healthcheck_test(services["api"])


def test_the_api_reads_as_its_own_role_after_bootstrap(services):
    """lumbung api on 8000 inside, logged in as lumbung_api (never the warehouse owner),
    started once airflow-init has bootstrapped its roles; its password reaches bootstrap."""
    api = services["api"]
    command = _command(api)
    assert command[:2] == ["lumbung", "api"]
    assert command[command.index("--port") + 1] == "8000"
    env = _env(api)
    assert env["LUMBUNG_API_DB_URL"].startswith("postgresql://lumbung_api:")
    assert "LUMBUNG_WAREHOUSE_URL" not in env and "LUMBUNG_WAREHOUSE_PASSWORD" not in str(env)
    assert api["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "LUMBUNG_API_DB_PASSWORD" in _env(services["airflow-init"])


def test_the_worker_builds_with_the_dbt_server(services):
    """The worker's dbt invocations go to the dbt-server's socket, on a volume both mount;
    the worker waits for the server, so compose stops the worker (its builds) first."""
    server = services["dbt-server"]
    command = _command(server)
    socket_path = command[command.index("--socket") + 1]
    assert command[:2] == ["lumbung", "dbt-server"]
    assert _env(services["airflow-worker"])["LUMBUNG_DBT_SERVER"] == socket_path
    assert _env(server)["LUMBUNG_DBT_SERVER"] == socket_path  # its healthcheck reads it
    assert services["airflow-worker"]["depends_on"]["dbt-server"]["condition"] == "service_healthy"
    state = next(v.split(":")[1] for v in server["volumes"] if v.startswith("lumbung-state:"))
    assert socket_path.startswith(state + "/")
    assert f"lumbung-state:{state}" in services["airflow-worker"]["volumes"]


def test_init_is_a_one_shot_that_migrates_and_bootstraps(services):
    init = services["airflow-init"]
    assert init.get("restart", "no") == "no"
    assert "healthcheck" not in init
    command = _command(init)
    assert command == ["/opt/lumbung/docker/airflow-init.sh"]
    script = INIT_SCRIPT.read_text()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    for step in ("airflow db migrate", "lumbung db bootstrap",
                 "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"):
        assert step in script, f"airflow-init.sh does not do {step!r}"
    assert any(
        "docker/airflow-init.sh" in sources and dest.endswith("docker/airflow-init.sh")
        for sources, dest, _ in _copies()
    ), "the Dockerfile does not copy docker/airflow-init.sh into the image"


def test_init_waits_for_both_databases_and_the_broker(services):
    depends_on = services["airflow-init"]["depends_on"]
    for name in (*sorted(DATABASES), "redis"):
        assert depends_on[name]["condition"] == "service_healthy", name


def test_airflow_services_wait_for_init_and_healthy_databases(services):
    for name in sorted(AIRFLOW_LONG_RUNNING):
        depends_on = services[name].get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on must use conditions"
        assert depends_on["airflow-init"]["condition"] == "service_completed_successfully", name
        for dependency in (*sorted(DATABASES), "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)
    worker_deps = services["airflow-worker"]["depends_on"]
    assert worker_deps["airflow-apiserver"]["condition"] == "service_healthy"


def test_executor_is_celery_with_a_worker(services):
    for name in sorted(AIRFLOW_SERVICES):
        env = _env(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert re.match(r"redis://:\$\{REDIS_PASSWORD[:?}].*@redis:6379/\d+$",
                        env["AIRFLOW__CELERY__BROKER_URL"]), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert "@airflow-metadata:5432/" in env["AIRFLOW__CELERY__RESULT_BACKEND"], name
    command = _command(services["airflow-worker"])
    assert "celery worker" in " ".join(command), command
    commands = {name: " ".join(_command(services[name])) for name in AIRFLOW_LONG_RUNNING}
    assert commands["airflow-apiserver"] == "airflow api-server"
    assert commands["airflow-scheduler"] == "airflow scheduler"
    assert commands["airflow-dag-processor"] == "airflow dag-processor"
    assert commands["airflow-triggerer"] == "airflow triggerer"


def test_airflow_3_settings(services):
    for name in sorted(AIRFLOW_SERVICES):
        env = _env(services[name])
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        ), name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/lumbung/dags", name
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/lumbung/plugins", name
        for secret in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
                       "AIRFLOW__API__SECRET_KEY"):
            assert SECRET_REF_RE.match(env[secret]), (name, secret)
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert "@airflow-metadata:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager"), name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].endswith(":admin"), name
        # Lumbung's own settings
        assert env["LUMBUNG_HOME"] == "/opt/lumbung", name
        assert env["AIRFLOW_CONN_LUMBUNG_WAREHOUSE"] == env["LUMBUNG_WAREHOUSE_URL"], name
        assert env["LUMBUNG_WAREHOUSE_URL"].startswith("postgresql://"), name
        assert SECRET_REF_RE.match(env["LUMBUNG_BI_PASSWORD"]), name
        volumes = dict(v.split(":", 1) for v in services[name]["volumes"])
        assert volumes["lumbung-landing"] == env["LUMBUNG_LANDING_DIR"], name
        assert volumes["lumbung-state"] == env["LUMBUNG_STATE_DIR"], name
        assert volumes["airflow-logs"] == "/opt/airflow/logs", name
    # The UI login: the api-server reads the passwords file that airflow-init writes.
    for name in ("airflow-init", "airflow-apiserver"):
        env = _env(services[name])
        auth_dir = os.path.dirname(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        assert f"airflow-auth:{auth_dir}" in services[name]["volumes"], name
    assert SECRET_REF_RE.match(_env(services["airflow-init"])["AIRFLOW_ADMIN_PASSWORD"])


def test_warehouse_and_metadata_are_separate_databases(compose, services):
    warehouse, metadata = services["warehouse"], services["airflow-metadata"]
    for service in (warehouse, metadata):
        assert re.match(r"postgres:1[78]\b", service["image"]), service["image"]
    warehouse_volumes = set(_volume_sources(warehouse))
    metadata_volumes = set(_volume_sources(metadata))
    assert warehouse_volumes and metadata_volumes
    assert not warehouse_volumes & metadata_volumes, "the two databases share a volume"
    for volume in warehouse_volumes | metadata_volumes:
        assert volume in compose["volumes"], f"{volume} is not a named volume"
    env = _env(services["airflow-scheduler"])
    assert "@warehouse" not in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "airflow-metadata" not in env["LUMBUNG_WAREHOUSE_URL"]
    assert "${LUMBUNG_WAREHOUSE_HOST:-warehouse}" in env["LUMBUNG_WAREHOUSE_URL"]


def test_all_volumes_are_named(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source in _volume_sources(service):
            assert source in declared, f"{name}: {source} is a bind mount, not a named volume"


def test_only_the_ui_the_api_superset_and_the_warehouse_are_published(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"airflow-apiserver", "api", "warehouse", "superset"}
    for name in sorted(published):
        for port in services[name]["ports"]:
            # host address from .env, loopback unless the operator opens it deliberately
            assert re.match(r"^\$\{[A-Z_]+_BIND:-127\.0\.0\.1\}:", str(port)), (name, port)


# --- secrets and .env.example -------------------------------------------------------------


def test_no_literal_secrets(services):
    for name, service in services.items():
        for key, value in _env(service).items():
            if SECRET_KEY_RE.search(key) and not NOT_A_SECRET_RE.search(key):
                assert SECRET_REF_RE.match(value), f"{name}: {key} is not a ${{...}} reference"
        for value in _strings(service):
            password = _url_password(value)
            assert password is None or SECRET_REF_RE.match(password), (
                f"{name}: literal password in {value!r}"
            )
        command = _command(service)
        for flag in ("--requirepass", "--password"):
            if flag in command:
                assert SECRET_REF_RE.match(command[command.index(flag) + 1]), (name, flag)


def test_the_secret_checks_catch_literals():
    assert _url_password("postgresql://u:hunter2@db:5432/x") == "hunter2"
    assert _url_password("redis://:${REDIS_PASSWORD:?x}@redis:6379/0") == "${REDIS_PASSWORD:?x}"
    assert _url_password("postgresql://${U:-a}:${P:?b}@${H:-c}:5432/d") == "${P:?b}"
    assert _url_password("http://airflow-apiserver:8080/execution/") is None
    assert SECRET_REF_RE.match("${AIRFLOW_JWT_SECRET:?set it}")
    assert not SECRET_REF_RE.match("${AIRFLOW_JWT_SECRET:-insecure-default}")
    assert not SECRET_REF_RE.match("hunter2")
    assert _variables("a $${HOSTNAME} ${B:-x} $C") == {"B", "C"}


def test_every_variable_is_declared_in_env_example(compose, env_example):
    used = set().union(*(_variables(s) for s in _strings(compose)))
    assert used, "no ${VAR} found: the parser is broken"
    missing = used - env_example.keys()
    assert not missing, f"used in docker-compose.yml, missing from .env.example: {sorted(missing)}"
    stale = env_example.keys() - used
    assert not stale, f"declared in .env.example, unused by docker-compose.yml: {sorted(stale)}"


def test_required_variables_have_placeholder_values(compose, env_example):
    required = {
        m.group(1)
        for s in _strings(compose)
        for m in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", s.replace("$$", ""))
    }
    assert {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET"} <= required
    for name in sorted(required):
        assert env_example[name], f".env.example gives {name} no value"
    for name, value in env_example.items():
        if SECRET_KEY_RE.search(name):
            assert value.startswith("change-me"), f".env.example: {name} must be a placeholder"
    # ... and airflow-init refuses to run on them.
    assert "*change-me*" in INIT_SCRIPT.read_text()


def test_env_file_stays_out_of_git_and_the_image():
    assert "/.env" in (REPO / ".gitignore").read_text().split()
    ignored = DOCKERIGNORE.read_text().split()
    assert ".env" in ignored
    assert ".git" in ignored and ".venv" in ignored


# --- the image ----------------------------------------------------------------------------


def test_airflow_services_are_built_from_the_dockerfile(services):
    assert DOCKERFILE.is_file()
    for name in sorted(AIRFLOW_SERVICES):
        build = services[name].get("build")
        assert isinstance(build, dict), f"{name} is not built from the Dockerfile"
        context = REPO / build.get("context", ".")
        assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
        assert services[name]["image"] == services["airflow-scheduler"]["image"], name


def test_dockerfile_installs_the_locked_project():
    instructions = _dockerfile_instructions()
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert re.search(r"uv sync --frozen\b.*--extra celery", runs), "no locked uv sync"
    assert "--no-dev" in runs
    envs = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "LUMBUNG_HOME=/opt/lumbung" in envs
    assert "PATH=/opt/lumbung/.venv/bin:" in envs
    assert any(kw == "USER" and rest not in {"root", "0"} for kw, rest in instructions)


def test_dockerfile_copies_the_project_into_lumbung_home():
    copied = {
        source.rstrip("/"): dest
        for sources, dest, flags in _copies()
        if "from" not in flags
        for source in sources
    }
    for path in ("uv.lock", "pyproject.toml", "src", "dags", "plugins", "dbt_project",
                 "expectations"):
        assert path in copied, f"the Dockerfile does not COPY {path}"
        assert copied[path].startswith(("/opt/lumbung", "./")), (path, copied[path])
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        assert source not in ignored, f"COPY {source}: excluded by .dockerignore"


# --- using an existing PostgreSQL ---------------------------------------------------------


def test_external_warehouse_override_drops_every_wait_on_the_bundled_one(services):
    override = _load(EXTERNAL_WAREHOUSE_FILE)["services"]
    assert override["warehouse"]["profiles"], "the bundled warehouse must leave the default set"
    waiting = {name for name, s in services.items() if "warehouse" in (s.get("depends_on") or {})}
    assert waiting >= AIRFLOW_SERVICES
    for name in sorted(waiting):
        reset = override[name]["depends_on"]["warehouse"]
        assert reset == {"__tag__": "reset", "value": "null"} or reset.get("__tag__") == "reset"


# --- the Compose specification itself -------------------------------------------------------


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True,
                               timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [docker, "compose"] if probe.returncode == 0 else None


def test_docker_compose_config_validates(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("the Docker Compose v2 plugin is not installed (docker compose version)")
    # Only .env.example feeds interpolation: nothing from this process's environment.
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "DOCKER_CONFIG"}}
    base = [*cli, "--project-directory", str(REPO), "--env-file", str(ENV_EXAMPLE),
            "-f", str(COMPOSE_FILE)]

    def config(*args: str) -> str:
        result = subprocess.run([*args, "config", "--services"], capture_output=True,
                                text=True, env=env, cwd=tmp_path, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert set(config(*base).split()) == REQUIRED_SERVICES
    external = set(config(*base, "-f", str(EXTERNAL_WAREHOUSE_FILE)).split())
    assert external == REQUIRED_SERVICES - {"warehouse"}

    # A missing secret stops compose before anything starts.
    lacking = tmp_path / "lacking.env"
    lacking.write_text("".join(
        line + "\n" for line in ENV_EXAMPLE.read_text().splitlines()
        if not line.startswith("AIRFLOW_JWT_SECRET=")
    ))
    result = subprocess.run(
        [*cli, "--project-directory", str(REPO), "--env-file", str(lacking), "-f",
         str(COMPOSE_FILE), "config", "-q"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "AIRFLOW_JWT_SECRET" in result.stderr
