#!/usr/bin/env bash
# One-shot initialisation of a Lumbung deployment (compose service airflow-init).
# Idempotent: it runs on every `docker compose up` and changes only what is missing or stale.
#   1. wait until the Airflow metadata database and the warehouse accept connections
#   2. airflow db migrate
#   3. write the SimpleAuthManager passwords file from AIRFLOW_ADMIN_USERNAME/PASSWORD
#   4. lumbung db bootstrap (schemas, audit/raw tables, gate views, BI role lumbung_bi)
set -euo pipefail

log() { printf '[airflow-init] %s\n' "$*"; }

wait_for() {
    local what=$1
    shift
    local attempts=${LUMBUNG_INIT_WAIT_ATTEMPTS:-60} output=""
    for ((i = 1; i <= attempts; i++)); do
        if output=$("$@" 2>&1); then
            log "$what is reachable"
            return 0
        fi
        log "waiting for $what ($i/$attempts)"
        sleep 5
    done
    printf '%s\n' "$output" | tail -n 5 >&2
    log "ERROR: $what is not reachable; check its address and password in .env"
    return 1
}

: "${LUMBUNG_WAREHOUSE_URL:?LUMBUNG_WAREHOUSE_URL is not set}"
: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?passwords file path is not set}"

# Refuse the placeholders of .env.example: a deployment must not run on published secrets.
placeholders=()
for name in AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN AIRFLOW__CELERY__BROKER_URL LUMBUNG_WAREHOUSE_URL \
    LUMBUNG_BI_PASSWORD AIRFLOW_ADMIN_PASSWORD; do
    if [[ "${!name:-}" == *change-me* ]]; then
        placeholders+=("$name")
    fi
done
if ((${#placeholders[@]})); then
    log "ERROR: placeholder values from .env.example are still in use (${placeholders[*]})."
    log "Replace every 'change-me-...' value in .env (see docs/deployment.md)."
    exit 1
fi

wait_for "the Airflow metadata database" airflow db check
# A missing database is fine: `lumbung db bootstrap` creates it (existing server case).
wait_for "the warehouse" python -c '
import os, sys, psycopg
try:
    psycopg.connect(os.environ["LUMBUNG_WAREHOUSE_URL"], connect_timeout=5).close()
except psycopg.OperationalError as exc:
    if "does not exist" not in str(exc) or "role" in str(exc):
        sys.exit(str(exc))
'

log "migrating the Airflow metadata database"
airflow db migrate

log "writing the UI login for user '${AIRFLOW_ADMIN_USERNAME:-admin}'"
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
tmp = path.with_name(path.name + ".tmp")
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    user = os.environ.get("AIRFLOW_ADMIN_USERNAME") or "admin"
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, fh)
    fh.write("\n")
tmp.replace(path)
PY

log "bootstrapping the warehouse"
lumbung db bootstrap

mkdir -p "${LUMBUNG_STATE_DIR:-/var/lib/lumbung/state}" "${LUMBUNG_LANDING_DIR:-/var/lib/lumbung/landing}"
log "done"
