# syntax=docker/dockerfile:1
#
# Superset for Lumbung (service `superset` of docker-compose.yml): the Lumbung image plus
# Superset in an environment of its own, exactly as pinned in bi/uv.lock (it cannot share
# Airflow's). `lumbung bi` configures it, imports bi/dashboards/ and serves.

ARG LUMBUNG_IMAGE=lumbung:latest
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/lumbung/.venv-bi
WORKDIR /opt/lumbung/bi
COPY bi/pyproject.toml bi/uv.lock ./
RUN uv sync --frozen

FROM ${LUMBUNG_IMAGE}
COPY --from=build /opt/lumbung/.venv-bi /opt/lumbung/.venv-bi
COPY bi ./bi
ENV LUMBUNG_BI_HOST=0.0.0.0 \
    LUMBUNG_BI_PORT=8088
CMD ["lumbung", "bi"]
