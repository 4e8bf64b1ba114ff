#!/usr/bin/env bash
# GET /v1/me through Dragoman's whole stack (auth, request id, logging, metrics, store) against a
# bare axum handler answering the same JSON, under wrk, in the same run on the same machine; then
# the cost of a login's password work. See BENCHMARKS.md.
#
#   bash benches/me.sh
#
# Settings (environment):
#   THREADS=1 CONNECTIONS=32 DURATION=15s   wrk's settings, the same for every run
#   ROUNDS=2                                 rounds of (dragoman, bare), alternating
#   WARMUP=3s                                an unreported wrk run against each server first
#   BREAKDOWN=1                              also, in each round: Dragoman's GET /health (the
#                                            envelope without auth or store), and both routes on a
#                                            second Dragoman with LOG_LEVEL=warn (no request log)
#   LOGIN_ATTEMPTS=20                        attempts timed by login-cost
#   NICE=-10                                 the priority of the servers, wrk and the cost
#                                            probes (default -10 as root, else unchanged; NICE=
#                                            for none): see "Priority" below
#
# Besides wrk's requests/s and latency, each row gives the server's own CPU time per request (user
# plus system, all threads, from /proc): on a shared machine it moves less with the neighbours'
# load than requests/s do, and it is the server's cost alone, without wrk's.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-15s}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-3s}
BREAKDOWN=${BREAKDOWN:-0}
LOGIN_ATTEMPTS=${LOGIN_ATTEMPTS:-20}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${NICE+set}" ]; then
    if [ "$(id -u)" -eq 0 ]; then NICE=-10; else NICE=""; fi
fi

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'me.sh: %s\n' "$*" >&2; exit 1; }

# --- wrk -----------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk from apt"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get install -y wrk >/dev/null 2>&1 || {
        $SUDO apt-get update >/dev/null
        $SUDO apt-get install -y wrk >/dev/null
    }
    command -v wrk >/dev/null 2>&1 || die "wrk could not be installed"
fi

# --- build ---------------------------------------------------------------------------------------
say "building (release): dragoman, bare-me, login-cost, token-cost"
cargo build --release -p dragoman -p dragoman-bench
DRAGOMAN=$TARGET_DIR/release/dragoman
BARE=$TARGET_DIR/release/bare-me
LOGIN_COST=$TARGET_DIR/release/login-cost
TOKEN_COST=$TARGET_DIR/release/token-cost
for bin in "$DRAGOMAN" "$BARE" "$LOGIN_COST" "$TOKEN_COST"; do
    [ -x "$bin" ] || die "$bin was not built"
done

# --- priority ------------------------------------------------------------------------------------
# On a shared machine a neighbour's compile takes CPU from whichever peer happens to be running.
# Both peers, wrk and the cost probes therefore run at the same raised priority. With the kernel's
# autogroup scheduling (the default on Debian), CPU is shared between sessions before niceness
# counts, so each process gets a session of its own (setsid) whose autogroup nice is NICE; without
# autogroup, plain nice.
PRIORITY=none
if [ -n "$NICE" ]; then
    if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] &&
        setsid -w sh -c 'echo "$1" >/proc/self/autogroup' sh "$NICE" 2>/dev/null; then
        PRIORITY=autogroup
    elif nice -n "$NICE" true 2>/dev/null; then
        PRIORITY=nice
    fi
fi

prio() { # CMD...: runs CMD in the foreground at the benchmark's priority
    case $PRIORITY in
    autogroup) setsid -w sh -c 'echo "$1" >/proc/self/autogroup; shift; exec "$@"' sh "$NICE" "$@" ;;
    nice) nice -n "$NICE" "$@" ;;
    *) "$@" ;;
    esac
}

# --- processes and temporary files, removed on exit ----------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dragoman-bench.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

launch() { # PIDFILE CMD...: starts CMD in the background at the benchmark's priority; its process
    # id is written to PIDFILE (setsid may fork, so $! is not always the server)
    local pidfile=$1
    shift
    case $PRIORITY in
    autogroup)
        setsid sh -c 'echo $$ >"$1"; echo "$2" >/proc/self/autogroup; shift 2; exec "$@"' \
            sh "$pidfile" "$NICE" "$@" &
        ;;
    nice) sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" nice -n "$NICE" "$@" & ;;
    *) sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" "$@" & ;;
    esac
    PIDS+=("$!")
    for _ in $(seq 1 100); do
        if [ -s "$pidfile" ]; then
            PIDS+=("$(cat "$pidfile")")
            return 0
        fi
        sleep 0.05
    done
    die "$* did not start"
}

# A port nothing listens on (a refused connection), from a range the kernel does not hand out.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

wait_for() { # URL NAME LOGFILE
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    tail -n 20 "$3" >&2 || true
    die "$2 did not answer at $1 within 30 s"
}

# start_dragoman NAME LOG_LEVEL: starts a Dragoman with its own data directory, waits for
# /health, signs a client up; sets PORT_<NAME>, PID_<NAME> and TOKEN_<NAME>.
start_dragoman() {
    local name=$1 level=$2 port dir log body token
    port=$(free_port)
    dir=$WORK/data-$name
    log=$WORK/dragoman-$name.log
    mkdir -p "$dir"
    say "starting dragoman ($name, LOG_LEVEL=$level) on 127.0.0.1:$port; log lines to $log"
    launch "$WORK/dragoman-$name.pid" \
        env -u RUST_LOG -u DATABASE_URL -u REDIS_URL -u S3_BUCKET -u JWT_SECRET \
        HOST=127.0.0.1 PORT="$port" METRICS_PORT=0 DATA_DIR="$dir" LOG_FORMAT=json LOG_LEVEL="$level" \
        "$DRAGOMAN" >"$log" 2>"$WORK/dragoman-$name.err"
    printf -v "PID_$name" '%s' "$(cat "$WORK/dragoman-$name.pid")"
    wait_for "http://127.0.0.1:$port/health" "dragoman ($name)" "$WORK/dragoman-$name.err"
    body=$(curl -fsS -X POST "http://127.0.0.1:$port/v1/auth/signup" \
        -H 'content-type: application/json' \
        -d '{"email":"bench-client@example.org","password":"correct horse battery staple","display_name":"Bench Client","role":"client"}') ||
        die "sign-up on dragoman ($name) failed"
    token=$(printf '%s' "$body" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$token" ] || die "no access_token in the sign-up response: $body"
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/me" ||
        die "GET /v1/me with the new token failed on dragoman ($name)"
    printf -v "PORT_$name" '%s' "$port"
    printf -v "TOKEN_$name" '%s' "$token"
}

start_dragoman info info
if [ "$BREAKDOWN" = 1 ]; then
    start_dragoman warn warn
fi
TOKEN=$TOKEN_info

PORT_BARE=$(free_port)
say "starting bare-me on 127.0.0.1:$PORT_BARE"
launch "$WORK/bare.pid" "$BARE" "$PORT_BARE" >"$WORK/bare.log" 2>&1
PID_BARE=$(cat "$WORK/bare.pid")
wait_for "http://127.0.0.1:$PORT_BARE/v1/me" "bare-me" "$WORK/bare.log"

# --- wrk runs ------------------------------------------------------------------------------------
# Every run: the same wrk settings and the same request headers, the bearer token included (bare
# axum ignores it).
WRK=(prio wrk "-t$THREADS" "-c$CONNECTIONS" --latency)
RESULTS=$WORK/results.tsv
: >"$RESULTS"

to_ms() { # wrk's "123.45us" / "1.23ms" / "1.02s" -> milliseconds
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "nan" }
    }'
}

cpu_ticks() { # PID -> user + system clock ticks of the process, all threads
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
TICKS_PER_SEC=$(getconf CLK_TCK)

run() { # ROUND LABEL URL TOKEN SERVER_PID
    local round=$1 label=$2 url=$3 token=$4 pid=$5 out rps requests p50 p99 non2xx errors \
        before after cpu_us
    out=$WORK/wrk-$round-${label//[^a-zA-Z0-9]/_}.txt
    say "round $round: $label ($DURATION)"
    before=$(cpu_ticks "$pid")
    "${WRK[@]}" -d "$DURATION" -H "Authorization: Bearer $token" "$url" >"$out"
    after=$(cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    requests=$(awk '/ requests in / { print $1 }' "$out")
    cpu_us=$(awk -v t=$((after - before)) -v hz="$TICKS_PER_SEC" -v n="$requests" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errors=$(awk '/Socket errors:/ { print }' "$out")
    if [ -n "$non2xx" ] || [ -n "$errors" ] || [ -z "$rps" ]; then
        cat "$out" >&2
        die "$label: wrk saw failed requests"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$rps" "$p50" "$p99" "$cpu_us" >>"$RESULTS"
}

ME_INFO="http://127.0.0.1:$PORT_info/v1/me"
ME_BARE="http://127.0.0.1:$PORT_BARE/v1/me"

say "warm-up: $WARMUP against each server (not reported)"
"${WRK[@]}" -d "$WARMUP" -H "Authorization: Bearer $TOKEN" "$ME_INFO" >/dev/null
"${WRK[@]}" -d "$WARMUP" -H "Authorization: Bearer $TOKEN" "$ME_BARE" >/dev/null
if [ "$BREAKDOWN" = 1 ]; then
    "${WRK[@]}" -d "$WARMUP" -H "Authorization: Bearer $TOKEN_warn" \
        "http://127.0.0.1:$PORT_warn/v1/me" >/dev/null
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
    run "$round" "dragoman /v1/me" "$ME_INFO" "$TOKEN" "$PID_info"
    run "$round" "bare axum /v1/me" "$ME_BARE" "$TOKEN" "$PID_BARE"
    if [ "$BREAKDOWN" = 1 ]; then
        run "$round" "dragoman /health" "http://127.0.0.1:$PORT_info/health" "$TOKEN" "$PID_info"
        run "$round" "dragoman warn /v1/me" "http://127.0.0.1:$PORT_warn/v1/me" "$TOKEN_warn" \
            "$PID_warn"
        run "$round" "dragoman warn /health" "http://127.0.0.1:$PORT_warn/health" \
            "$TOKEN_warn" "$PID_warn"
    fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

LOG_LINES=$(wc -l <"$WORK/dragoman-info.log")

# --- login cost ----------------------------------------------------------------------------------
say "login cost: $LOGIN_ATTEMPTS attempts of each, one at a time"
LOGIN_OUT=$(prio "$LOGIN_COST" "$LOGIN_ATTEMPTS")
TOKEN_OUT=$(prio "$TOKEN_COST")

# --- summary -------------------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "GET /v1/me: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, on $(nproc) cores ($CPU);"
echo "load average $LOAD_BEFORE before the runs, $LOAD_AFTER after; priority: $PRIORITY${NICE:+ $NICE}"
echo
printf '| %-5s | %-21s | %10s | %7s | %7s | %13s |\n' \
    "round" "server" "requests/s" "p50 ms" "p99 ms" "server CPU µs"
printf '| %-5s | %-21s | %10s | %7s | %7s | %13s |\n' "---" "---" "---:" "---:" "---:" "---:"
awk -F'\t' '{ printf "| %-5s | %-21s | %10.0f | %7.2f | %7.2f | %13.1f |\n", $1, $2, $3, $4, $5, $6 }' \
    "$RESULTS"
echo "(server CPU µs: the server's user + system CPU time per request)"
echo
awk -F'\t' '
    { sum[$2] += $3; cpu[$2] += $6; n[$2]++; rps[$1 SUBSEP $2] = $3; if ($1 > rounds) rounds = $1
      if (!($2 in seen)) { seen[$2] = 1; order[++labels] = $2 } }
    END {
        D = "dragoman /v1/me"; B = "bare axum /v1/me"
        b = sum[B] / n[B]; bc = cpu[B] / n[B]
        per = ""
        for (r = 1; r <= rounds; r++)
            per = per sprintf("%s%.2f", (r > 1 ? ", " : ""), rps[r SUBSEP D] / rps[r SUBSEP B])
        printf "dragoman / bare axum, requests/s: %.2f (per round: %s); goal: at least 0.90\n", (sum[D] / n[D]) / b, per
        printf "server CPU per request: dragoman %.1f µs, bare axum %.1f µs (%.1fx)\n", cpu[D] / n[D], bc, (cpu[D] / n[D]) / bc
        for (i = 1; i <= labels; i++) {
            k = order[i]
            if (k == D || k == B) continue
            printf "%s: %.2f of bare axum requests/s, %.1f µs server CPU per request\n", k, (sum[k] / n[k]) / b, cpu[k] / n[k]
        }
    }' "$RESULTS"
echo "request log: $LOG_LINES JSON lines written by the dragoman at LOG_LEVEL=info"
echo
echo "$LOGIN_OUT"
echo "$TOKEN_OUT"
