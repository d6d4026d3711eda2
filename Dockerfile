# syntax=docker/dockerfile:1
#
# Lumbung image: Airflow 3 (CeleryExecutor) + dbt-postgres + Great Expectations + the
# `lumbung` package, installed exactly as pinned in uv.lock. One image serves every Airflow
# service of docker-compose.yml (api-server, scheduler, dag-processor, triggerer, worker, init).
#
# Why python:3.11-slim + uv rather than apache/airflow:3.3.2-python3.11: the official image
# ships Airflow plus ~80 providers resolved against Airflow's own constraints file, so
# installing uv.lock on top of it would mix two resolutions (and pip/uv would fight over the
# same site-packages). Building from python:3.11-slim makes uv.lock the single source of
# truth: the image runs exactly the versions the tests ran against.

ARG PYTHON_VERSION=3.11

# --- build: resolve nothing, install the locked environment -----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/lumbung/.venv

WORKDIR /opt/lumbung

# Dependencies first (cached until pyproject.toml or uv.lock change).
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra celery --no-install-project

# Then the project itself (editable, like a source checkout: LUMBUNG_HOME=/opt/lumbung).
COPY src ./src
RUN uv sync --frozen --no-dev --extra celery

# --- runtime ----------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

# curl: healthchecks; tini: PID 1 that forwards signals (Celery warm shutdown) and reaps.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl tini ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Same uid/gid convention as the official Airflow image (50000:0).
RUN useradd --uid 50000 --gid 0 --no-log-init --create-home --home-dir /home/airflow airflow

ENV LUMBUNG_HOME=/opt/lumbung \
    LUMBUNG_LANDING_DIR=/var/lib/lumbung/landing \
    LUMBUNG_STATE_DIR=/var/lib/lumbung/state \
    AIRFLOW_HOME=/opt/airflow \
    PATH=/opt/lumbung/.venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false

WORKDIR /opt/lumbung

COPY --from=build /opt/lumbung/.venv /opt/lumbung/.venv
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
COPY dags ./dags
COPY plugins ./plugins
# dbt and GX write next to their projects (partial parse, uncommitted/): owned by airflow.
COPY --chown=50000:0 dbt_project ./dbt_project
COPY --chown=50000:0 expectations ./expectations
COPY docker/airflow-init.sh ./docker/airflow-init.sh

# Mount points of the named volumes. A new named volume is filled from the image, so the
# ownership set here is what the airflow user finds, and the landing volume starts with
# the reference files shipped in data/landing (Kemendagri region master).
COPY --chown=50000:0 data/landing /var/lib/lumbung/landing
RUN chmod 0755 /opt/lumbung/docker/airflow-init.sh \
    && mkdir -p /var/lib/lumbung/state /opt/airflow/logs /opt/airflow/auth \
    && chown -R 50000:0 /var/lib/lumbung /opt/airflow \
    && chmod 0700 /opt/airflow/auth

USER 50000

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["airflow", "version"]
