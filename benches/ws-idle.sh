#!/usr/bin/env bash
# Idle WebSocket connection density: the resident memory each idle connection costs the server,
# for Dragoman's GET /v1/ws and, in the same run on the same machine with the same clients, the
# npm packages ws and Socket.IO (benches/ws-peers). See BENCHMARKS.md.
#
#   bash benches/ws-idle.sh
#
# Settings (environment): COUNTS ("10000 50000"), SERVERS ("dragoman ws socketio"), SETTLE (5,
# seconds between the last connection and the reading). Each server is started fresh, its RSS
# read (/proc/PID/status VmRSS) once it answers, then ws-idle opens COUNT connections from
# source addresses spread over 127.0.0.0/8 (one per 250 connections) and answers pings; after
# SETTLE seconds the RSS is read again. Per connection = (after - before) / connections held.
# Needs node and npm (not CI: npm is for this benchmark only) and root, or a hard file limit
# above 2 x COUNT, for the file limits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
COUNTS=${COUNTS:-"10000 50000"}
SERVERS=${SERVERS:-"dragoman ws socketio"}
SETTLE=${SETTLE:-5}

cargo build --release -q -p dragoman --bin dragoman -p dragoman-bench --bin ws-idle
(cd benches/ws-peers && npm ci --no-audit --no-fund --silent)
# Each process (server, client) needs one descriptor per connection and some.
limit=$(( $(echo "$COUNTS" | tr ' ' '\n' | sort -n | tail -1) + 1000 ))
ulimit -Hn "$limit" 2>/dev/null || true
ulimit -n "$limit" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "file limit per process: $(ulimit -n); load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

WORK=$(mktemp -d)
SERVER_PID=""
CLIENT_PID=""
cleanup() {
  for pid in $CLIENT_PID $SERVER_PID; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  while :; do p=$((20000 + RANDOM % 40000)); port_open "$p" || { echo "$p"; return; }; done
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
SECRET="a benchmark's signing secret of at least 32 bytes"

start_server() {
  local kind=$1 port=$2
  case $kind in
  dragoman)
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    PORT=$port METRICS_PORT=0 HOST=127.0.0.1 DATA_DIR="$WORK/data" JWT_SECRET="$SECRET" \
      WS_MAX_CONNECTIONS=1000000 LOG_LEVEL=warn LOG_FORMAT=json \
      "$TARGET/release/dragoman" serve >"$WORK/server.log" 2>&1 &
    ;;
  *) node benches/ws-peers/idle-server.js "$kind" "$port" >"$WORK/server.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 200); do port_open "$port" && return 0; sleep 0.05; done
  cat "$WORK/server.log" >&2
  exit 1
}

printf '| server | connections asked | held | RSS before (MiB) | RSS after (MiB) | per connection (bytes) |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: |\n'
for count in $COUNTS; do
  if [ $((count + 200)) -gt "$(ulimit -n)" ]; then
    printf '| (all) | %d | not run: the file limit is %d and cannot be raised here | | | |\n' \
      "$count" "$(ulimit -n)"
    continue
  fi
  for kind in $SERVERS; do
    port=$(free_port)
    start_server "$kind" "$port"
    sleep 1
    before=$(rss_kb "$SERVER_PID")
    protocol=$kind
    rm -f "$WORK/client.out" "$WORK/client.err"
    JWT_SECRET="$SECRET" "$TARGET/release/ws-idle" "$protocol" "127.0.0.1:$port" "$count" \
      >"$WORK/client.out" 2>"$WORK/client.err" &
    CLIENT_PID=$!
    until grep -q '^connected' "$WORK/client.out" 2>/dev/null; do
      kill -0 "$CLIENT_PID" 2>/dev/null || { cat "$WORK/client.err" >&2; exit 1; }
      sleep 0.2
    done
    sleep "$SETTLE"
    after=$(rss_kb "$SERVER_PID")
    held=$(awk '{print $2}' "$WORK/client.out")
    failed=$(awk '{print $4}' "$WORK/client.out")
    [ "$failed" = 0 ] || { echo "$kind: $failed connections failed:" >&2; head -5 "$WORK/client.err" >&2; }
    printf '| %s | %d | %d | %.1f | %.1f | %d |\n' "$kind" "$count" "$held" \
      "$(echo "$before / 1024" | bc -l)" "$(echo "$after / 1024" | bc -l)" \
      $(( (after - before) * 1024 / (held > 0 ? held : 1) ))
    kill "$CLIENT_PID" "$SERVER_PID" 2>/dev/null || true
    wait "$CLIENT_PID" "$SERVER_PID" 2>/dev/null || true
    CLIENT_PID="" SERVER_PID=""
  done
done
