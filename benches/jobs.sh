#!/usr/bin/env bash
# The job queue beside BullMQ: N no-op jobs added in bulk, then drained by one worker process, on
# one private Redis, in the same run, on the same machine; rounds alternate between the two. See
# BENCHMARKS.md.
#
#   bash benches/jobs.sh
#
# Settings (environment):
#   N=100000            jobs per phase
#   ROUNDS=3            rounds of (bullmq, dragoman)
#   CHUNK=1000          jobs per bulk add call (addBulk / enqueue_many), the same for both
#   CONCURRENCY=100     the worker's concurrency, the same for both
#   PORT=6399           the private redis-server's port (own directory, no persistence)
#   NICE=-10            Redis's and both clients' priority (default -10 as root, else unchanged;
#                       NICE= for none), as in benches/me.sh: a session each with that autogroup
#                       nice, so that neighbours' compiles take less from whichever peer runs
#
# Each implementation has its own Redis database (BullMQ 1, Dragoman 2) and key prefix, flushed
# before each round. Redis CPU per job is the change of INFO cpu's used_cpu_sys + used_cpu_user
# across a phase, divided by N: Redis's own work for the queue, whoever's client drives it.
# Needs node and npm (not in CI): `npm ci` runs in benches/bullmq on first use.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
export CHUNK=${CHUNK:-1000}
export CONCURRENCY=${CONCURRENCY:-100}
PORT=${PORT:-6399}

command -v redis-server >/dev/null || { echo "redis-server is needed" >&2; exit 1; }
command -v node >/dev/null || { echo "node is needed (BullMQ)" >&2; exit 1; }
if [ ! -d benches/bullmq/node_modules ]; then
  (cd benches/bullmq && npm ci --no-audit --no-fund --silent)
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --quiet -p dragoman-bench-queue
BENCH="$CARGO_TARGET_DIR/release/queue-bench"

if [ -z "${NICE+set}" ]; then
  if [ "$(id -u)" -eq 0 ]; then NICE=-10; else NICE=""; fi
fi
PRIORITY=none
if [ -n "$NICE" ]; then
  if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] &&
    setsid -w sh -c 'echo "$1" >/proc/self/autogroup' sh "$NICE" 2>/dev/null; then
    PRIORITY=autogroup
  elif nice -n "$NICE" true 2>/dev/null; then
    PRIORITY=nice
  fi
fi
prio() { # CMD...: runs CMD at the benchmark's priority (in the foreground unless backgrounded)
  case $PRIORITY in
  autogroup) setsid -w sh -c 'echo "$1" >/proc/self/autogroup; shift; exec "$@"' sh "$NICE" "$@" ;;
  nice) nice -n "$NICE" "$@" ;;
  *) "$@" ;;
  esac
}

DIR=$(mktemp -d)
# Not daemonized: a daemon starts a session of its own and would lose the priority.
prio redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no \
  --maxmemory-policy noeviction --logfile "$DIR/redis.log" &
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; wait; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "redis $(redis-server --version | awk '{print $3}') on port $PORT; N=$N CHUNK=$CHUNK" \
  "CONCURRENCY=$CONCURRENCY; $(nproc) CPUs; priority: $PRIORITY${NICE:+ $NICE};" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

cpu() {
  redis-cli -p "$PORT" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_sys:|^used_cpu_user:/ { s += $2 } END { printf "%.6f", s }'
}

# phase IMPL PHASE COMMAND...: runs the phase, prints "IMPL PHASE jobs/s redis-us-per-job".
phase() {
  local impl=$1 name=$2
  shift 2
  local before after out
  before=$(cpu)
  out=$(prio "$@")
  after=$(cpu)
  local rate
  rate=$(echo "$out" | sed -n 's/.*"rate":\([0-9.e+-]*\).*/\1/p')
  awk -v i="$impl" -v p="$name" -v r="$rate" -v b="$before" -v a="$after" -v n="$N" \
    'BEGIN { printf "%-9s %-6s %10.0f jobs/s %8.2f us of Redis CPU per job\n", i, p, r, (a - b) * 1e6 / n }'
}

for round in $(seq "$ROUNDS"); do
  echo "round $round"
  redis-cli -p "$PORT" -n 1 flushdb >/dev/null
  phase bullmq add env REDIS_URL="redis://127.0.0.1:$PORT/1" node benches/bullmq/bench.mjs add "$N"
  phase bullmq drain env REDIS_URL="redis://127.0.0.1:$PORT/1" node benches/bullmq/bench.mjs drain "$N"
  redis-cli -p "$PORT" -n 2 flushdb >/dev/null
  phase dragoman add env REDIS_URL="redis://127.0.0.1:$PORT/2" "$BENCH" add "$N"
  phase dragoman drain env REDIS_URL="redis://127.0.0.1:$PORT/2" "$BENCH" drain "$N"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"
