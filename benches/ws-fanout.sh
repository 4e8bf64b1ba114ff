#!/usr/bin/env bash
# WebSocket fan-out: events published on Redis delivered to N clients across two server
# instances. For Dragoman and, in the same run on the same machine with the same client and
# publisher, Socket.IO with @socket.io/redis-adapter and plain ws with a Redis subscriber
# (benches/ws-peers). See BENCHMARKS.md.
#
#   bash benches/ws-fanout.sh
#
# Settings (environment): COUNTS ("1000 5000"), SERVERS ("dragoman socketio ws"), RATES ("20 4":
# events a second, one for each count, so that both counts deliver about 20,000 messages a second
# in all), DURATION (15), IDLE (5: seconds of idle CPU reading before publishing), REDIS_URL
# (redis://127.0.0.1:6379), PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres),
# DRAGOMAN_BIN (the release build of this tree; another build to compare), NO_BUILD (1: use the
# release binaries already built, e.g. while another cargo command holds the target directory).
# For each server kind and count, two server processes share the local Redis under a key prefix
# of this run's own (Dragoman's two instances also share a PostgreSQL database that this script
# creates and drops, as a fleet shares its database). ws-fanout then opens COUNT connections,
# alternately to each instance, publishes `rate` events a second for DURATION seconds on Redis, each for
# every client, and reports delivered messages, the servers' CPU time (utime + stime of both
# processes from /proc/PID/stat, read before the first publish and after the last delivery) per
# delivered message, and publish-to-receipt latency percentiles. The servers' idle CPU rate is
# read over IDLE seconds before publishing; "net of idle" takes that rate times the measured
# window off the CPU time (Dragoman's instances run their matching timer and presence renewals
# whether events flow or not).
# Needs node and npm (not CI: npm is for this benchmark only) and psql.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
COUNTS=${COUNTS:-"1000 5000"}
SERVERS=${SERVERS:-"dragoman socketio ws"}
RATES=(${RATES:-20 4})
DURATION=${DURATION:-15}
export IDLE=${IDLE:-5}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DRAGOMAN_BIN=${DRAGOMAN_BIN:-$TARGET/release/dragoman}
export CLK_TCK
CLK_TCK=$(getconf CLK_TCK)

if [ "${NO_BUILD:-0}" != 1 ]; then
  cargo build --release -q -p dragoman --bin dragoman -p dragoman-bench --bin ws-fanout
fi
(cd benches/ws-peers && npm ci --no-audit --no-fund --silent)
limit=$(( $(echo "$COUNTS" | tr ' ' '\n' | sort -n | tail -1) + 1000 ))
ulimit -Hn "$limit" 2>/dev/null || true
ulimit -n "$limit" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "file limit per process: $(ulimit -n); load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

WORK=$(mktemp -d)
RUN="fanout-$$-$RANDOM"
DB="dragoman_${RUN//-/_}"
PIDS=""
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
DB_URL="${PG_ADMIN_URL%/*}/$DB"
stop_servers() {
  for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
  for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
  PIDS=""
}
cleanup() {
  stop_servers
  psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$RUN*" | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  while :; do p=$((20000 + RANDOM % 40000)); port_open "$p" || { echo "$p"; return; }; done
}
SECRET="a benchmark's signing secret of at least 32 bytes"

# start_server KIND PORT INSTANCE KEY: starts one instance and waits until it listens.
start_server() {
  local kind=$1 port=$2 n=$3 key=$4
  case $kind in
  dragoman)
    mkdir -p "$WORK/data$n"
    PORT=$port METRICS_PORT=0 HOST=127.0.0.1 DATA_DIR="$WORK/data$n" JWT_SECRET="$SECRET" \
      DATABASE_URL="$DB_URL" MIGRATE=true REDIS_URL="$REDIS_URL" REDIS_PREFIX="$key" \
      WS_MAX_CONNECTIONS=1000000 LOG_LEVEL=warn LOG_FORMAT=json \
      "$DRAGOMAN_BIN" serve >"$WORK/server$n.log" 2>&1 &
    ;;
  *) node benches/ws-peers/fanout-server.js "$kind" "$port" "$REDIS_URL" "$key" \
       >"$WORK/server$n.log" 2>&1 & ;;
  esac
  local pid=$!
  PIDS="$PIDS $pid"
  for _ in $(seq 1 300); do port_open "$port" && return 0; sleep 0.05; done
  cat "$WORK/server$n.log" >&2
  exit 1
}

field() { tr ' ' '\n' <"$WORK/client.out" | awk -F= -v k="$1" '$1 == k {print $2}'; }

printf '| server | clients | events | delivered / expected | server CPU (ms) | of which system (ms) | per delivered message (µs) | idle CPU (ms/s) | per message net of idle (µs) | p50 (ms) | p99 (ms) | max (ms) |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
round=0
i=0
for count in $COUNTS; do
  rate=${RATES[$i]:-${RATES[-1]}}
  i=$((i + 1))
  for kind in $SERVERS; do
    round=$((round + 1))
    key="$RUN-$round:"
    [ "$kind" = socketio ] && key="$RUN-$round:socket.io"
    [ "$kind" = ws ] && key="$RUN-$round:events"
    ports=""
    for n in 1 2; do
      port=$(free_port)
      start_server "$kind" "$port" "$n" "$key"
      ports="$ports${ports:+,}127.0.0.1:$port"
    done
    sleep 1
    if ! REDIS_URL="$REDIS_URL" KEY="$key" JWT_SECRET="$SECRET" SERVER_PIDS="$PIDS" \
      "$TARGET/release/ws-fanout" "$kind" "$ports" "$count" "$rate" "$DURATION" \
      >"$WORK/client.out" 2>"$WORK/client.err"; then
      cat "$WORK/client.err" >&2
      exit 1
    fi
    grep -v '^connected' "$WORK/client.err" >&2 || true
    delivered=$(field delivered)
    cpu=$(field cpu_us)
    idle_us=$(( $(field idle_cpu_us_per_s) * $(field window_ms) / 1000 ))
    printf '| %s | %d | %d | %d / %d | %.0f | %.0f | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f |\n' \
      "$kind" "$(field connected)" "$(field published)" "$delivered" "$(field expected)" \
      "$(echo "$cpu / 1000" | bc -l)" "$(echo "$(field system_cpu_us) / 1000" | bc -l)" "$(echo "$cpu / ($delivered + ($delivered == 0))" | bc -l)" \
      "$(echo "$(field idle_cpu_us_per_s) / 1000" | bc -l)" \
      "$(echo "($cpu - $idle_us) / ($delivered + ($delivered == 0))" | bc -l)" \
      "$(echo "$(field p50_us) / 1000" | bc -l)" "$(echo "$(field p99_us) / 1000" | bc -l)" \
      "$(echo "$(field max_us) / 1000" | bc -l)"
    stop_servers
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
