#!/bin/bash
# Renders pgbouncer.ini and userlist.txt from the environment into /run/pgbouncer (a task-local
# volume: the root file system is read-only) and runs PgBouncer in the foreground.
#
# Required: PGBOUNCER_DB_HOST, PGBOUNCER_DB_NAME, PGBOUNCER_DB_USER, PGBOUNCER_DB_PASSWORD
# (the ECS task injects them from the database secret). The rest have the defaults below.
# PGBOUNCER_RENDER_ONLY=1 writes the files and exits (the infra tests use it).
set -euo pipefail

TEMPLATE=${PGBOUNCER_TEMPLATE:-/etc/pgbouncer/pgbouncer.ini.template}
RUNTIME_DIR=${PGBOUNCER_RUNTIME_DIR:-/run/pgbouncer}

fail() {
  echo "pgbouncer-entrypoint: $*" >&2
  exit 2
}

for required in PGBOUNCER_DB_HOST PGBOUNCER_DB_NAME PGBOUNCER_DB_USER PGBOUNCER_DB_PASSWORD; do
  [[ -n "${!required:-}" ]] || fail "$required is not set"
done

declare -A settings=(
  [DB_HOST]="$PGBOUNCER_DB_HOST"
  [DB_PORT]="${PGBOUNCER_DB_PORT:-5432}"
  [DB_NAME]="$PGBOUNCER_DB_NAME"
  [LISTEN_ADDR]="${PGBOUNCER_LISTEN_ADDR:-127.0.0.1}"
  [LISTEN_PORT]="${PGBOUNCER_LISTEN_PORT:-6432}"
  [MAX_CLIENT_CONN]="${PGBOUNCER_MAX_CLIENT_CONN:-500}"
  [DEFAULT_POOL_SIZE]="${PGBOUNCER_DEFAULT_POOL_SIZE:-16}"
  [MIN_POOL_SIZE]="${PGBOUNCER_MIN_POOL_SIZE:-2}"
  [RESERVE_POOL_SIZE]="${PGBOUNCER_RESERVE_POOL_SIZE:-4}"
  [MAX_DB_CONNECTIONS]="${PGBOUNCER_MAX_DB_CONNECTIONS:-20}"
  [SERVER_TLS_SSLMODE]="${PGBOUNCER_SERVER_TLS_SSLMODE:-verify-full}"
  [SERVER_TLS_CA_FILE]="${PGBOUNCER_SERVER_TLS_CA_FILE:-/etc/pgbouncer/rds-global-bundle.pem}"
  [RUNTIME_DIR]="$RUNTIME_DIR"
)

if [[ "${PGBOUNCER_POOL_MODE:-transaction}" != "transaction" ]]; then
  fail "PGBOUNCER_POOL_MODE=${PGBOUNCER_POOL_MODE} is not supported: this configuration is for transaction pooling"
fi

for numeric in DB_PORT LISTEN_PORT MAX_CLIENT_CONN DEFAULT_POOL_SIZE MIN_POOL_SIZE RESERVE_POOL_SIZE MAX_DB_CONNECTIONS; do
  [[ "${settings[$numeric]}" =~ ^[0-9]+$ ]] || fail "PGBOUNCER_${numeric}=${settings[$numeric]} is not a number"
done
for word in DB_HOST DB_NAME LISTEN_ADDR SERVER_TLS_SSLMODE SERVER_TLS_CA_FILE RUNTIME_DIR; do
  [[ "${settings[$word]}" =~ ^[A-Za-z0-9./_-]+$ ]] || fail "PGBOUNCER_${word} has characters not allowed in pgbouncer.ini"
done
if (( settings[DEFAULT_POOL_SIZE] + settings[RESERVE_POOL_SIZE] > settings[MAX_DB_CONNECTIONS] )); then
  fail "default_pool_size + reserve_pool_size exceeds max_db_connections"
fi

umask 077
mkdir -p "$RUNTIME_DIR"

config=$(<"$TEMPLATE")
for key in "${!settings[@]}"; do
  config=${config//@${key}@/${settings[$key]}}
done
if [[ "$config" =~ @[A-Z_]+@ ]]; then
  fail "unrendered placeholder in pgbouncer.ini: ${BASH_REMATCH[0]}"
fi
printf '%s\n' "$config" >"$RUNTIME_DIR/pgbouncer.ini"

# userlist.txt: "user" "password", with any double quote doubled.
user=${PGBOUNCER_DB_USER//\"/\"\"}
password=${PGBOUNCER_DB_PASSWORD//\"/\"\"}
printf '"%s" "%s"\n' "$user" "$password" >"$RUNTIME_DIR/userlist.txt"

if [[ "${PGBOUNCER_RENDER_ONLY:-0}" == "1" ]]; then
  exit 0
fi

echo "pgbouncer-entrypoint: pooling ${settings[DB_NAME]} on ${settings[LISTEN_ADDR]}:${settings[LISTEN_PORT]}, at most ${settings[MAX_DB_CONNECTIONS]} server connections" >&2
exec pgbouncer "$RUNTIME_DIR/pgbouncer.ini"
