#!/bin/bash
# Instruction counts per request under callgrind, which counts the same on a busy machine
# as on an idle one: sockgate and the minimal libmicrohttpd server (one-thread loop, so
# both run all their work on one thread) each answer PROFILE_REQUESTS requests of
# GET /sockets/s1/getsockname over 50 keep-alive connections; collection is on only while
# the load runs. Prints instructions per request for both, then sockgate's costliest
# functions (self and inclusive). Kernel time is not counted: see run.sh for wall-clock.
#
#   tests/bench/profile.sh BUILD_DIR        (make bench-profile builds what it needs)
#   PROFILE_SOCKGATE=path/to/sockgate       profiles another build (an older one, say)
set -u

BUILD=${1:-build}
BIN=$BUILD/bench
N=${PROFILE_REQUESTS:-20000}
TMP=$(mktemp -d /tmp/sockgate-profile.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "profile: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v valgrind >/dev/null || { echo "profile: valgrind is missing" >&2; exit 1; }

# profile NAME PORT CMD...: runs CMD under callgrind and loads it with N requests.
profile() {
    local name=$1 port=$2
    shift 2
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/$name.cg" \
        "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break
        sleep 0.2
    done
    # The baseline answers a fixed list whatever the path; sockgate's ids differ every run.
    url=/sockets/s1/getsockname
    if [ "$name" = sockgate ]; then
        id=$(curl -s -X POST "http://127.0.0.1:$port/sockets" | cut -d'"' -f6)
        curl -s -X POST "http://127.0.0.1:$port/sockets/$id/bind" -d '{"port":0}' >/dev/null
        url=/sockets/$id/getsockname
    fi
    "$BIN/bench_client" rate "$port" "$url" 50 200 60 >/dev/null  # warm-up
    callgrind_control -i on "$pid" >/dev/null 2>&1
    "$BIN/bench_client" rate "$port" "$url" 50 "$N" 100 >"$TMP/$name.rate"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    local reqs
    reqs=$(awk -F= '$1 == "requests" { print $2 }' "$TMP/$name.rate")
    callgrind_annotate "$TMP/$name.cg" 2>/dev/null >"$TMP/$name.self"
    callgrind_annotate --inclusive=yes "$TMP/$name.cg" 2>/dev/null >"$TMP/$name.incl"
    local total memset
    total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$TMP/$name.self")
    memset=$(awk '/memset/ { gsub(",", "", $1); s += $1 } END { print s + 0 }' "$TMP/$name.self")
    printf '%-9s %6d requests  %8.0f instructions/request  (%6.0f without memset)\n' \
        "$name" "$reqs" "$(echo "$total / $reqs" | bc -l)" "$(echo "($total - $memset) / $reqs" | bc -l)"
}

SG_PORT=$("$BIN/bench_client" freeport)
profile sockgate "$SG_PORT" "${PROFILE_SOCKGATE:-$BUILD/sockgate}" --listen "127.0.0.1:$SG_PORT"
BL_PORT=$("$BIN/bench_client" freeport)
profile baseline "$BL_PORT" "$BIN/mhd_baseline" "$BL_PORT" --external
echo
echo "memset: libmicrohttpd clears each connection's memory pool between requests with"
echo "rep stosb, which callgrind counts per byte; it is the same in both and cheap in time."
echo
echo "sockgate, costliest functions (self):"
sed -n '/^Ir/,$p' "$TMP/sockgate.self" | grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS' | head -25
echo
echo "sockgate, inclusive, its own code:"
grep -E '/(server|engine)/' "$TMP/sockgate.incl" | grep -E '^ *[0-9,]+ \(' | head -25
