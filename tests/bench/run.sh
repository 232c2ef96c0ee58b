#!/bin/bash
# The benchmarks of `make bench`: each figure of sockgate next to a baseline measured in
# the same run, on 127.0.0.1 only, every load bounded in count and in time. Prints one
# Markdown table (and keeps it, with every raw result, in the temporary folder until the
# end of the run). Benchmarks are not tests: no number makes this fail; only a tool that
# cannot run does.
#
#   tests/bench/run.sh BUILD_DIR        (make bench builds what it needs first)
#
# Settings (environment or make variables): BENCH_ROUNDS (3) and BENCH_RATE_ROUNDS (5 for
# part a) rounds of each interleaved measurement, whose median is reported; BENCH_SECONDS
# (2) per wrk run; BENCH_ONLY=a,c runs only those parts; SOCKGATE_BEFORE=path/to/sockgate
# adds an older build to the rounds of parts a and h (before/after figures from one run);
# BENCH_KEEP=1 keeps the temp folder.
set -u

BUILD=${1:-build}
BIN=$BUILD/bench
SOCKGATE=$BUILD/sockgate
ROUNDS=${BENCH_ROUNDS:-3}
ONLY=${BENCH_ONLY:-a,b,c,d,e,f,g,h}
SECS=${BENCH_SECONDS:-2}
BULK_BYTES=100000000          # 100 MB files for the bulk receive
CODEC_BYTES=16777216          # 16 MiB of each for the codec
SOCKETS=10000                 # idle sockets for the footprint
WAITS=1000                    # waiting recvs for the footprint
ECHO_SIZE=64                  # bytes per echo pair

TMP=$(mktemp -d /tmp/sockgate-bench.XXXXXX)
chmod 755 "$TMP"              # nginx's workers run as nobody and read files from here
PIDS=()
RESULTS=$TMP/results.tsv
: >"$RESULTS"
START=$(date +%s)

cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
fail() { say "$*"; exit 1; }

for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || fail "$tool is missing (make bench installs it)"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for b in "$SOCKGATE" "$BIN/bench_client" "$BIN/echo_server" "$BIN/mhd_baseline" "$BIN/codec_bench"; do
    [ -x "$b" ] || fail "$b is not built (run make bench)"
done

freeport() { "$BIN/bench_client" freeport; }
part() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
kv() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
# The median of the numbers on standard input, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Starts a program in the background, its output in $TMP/NAME.out; sets LAST_PID.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# Stops a program start() started, and forgets it so that cleanup never signals its id
# again (by then it could be another process's).
stop() {
    local keep=() p
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# Waits (at most 5 s) for "ready" on a helper's output.
wait_ready() {
    for _ in $(seq 50); do
        grep -q ready "$TMP/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$1 did not start: $(cat "$TMP/$1.err")"
}

# Waits (at most 5 s) for an HTTP server to answer: wait_http PORT [PATH [SCHEME]]; an
# https server's certificate is not checked (-k).
wait_http() {
    for _ in $(seq 50); do
        curl -sk -o /dev/null --max-time 1 "${3:-http}://127.0.0.1:$1${2:-/}" && return 0
        sleep 0.1
    done
    fail "nothing answers on 127.0.0.1:$1"
}

start_sockgate() {
    local name=$1
    shift
    SG_PORT=$(freeport)
    start "sockgate-$name" "$SOCKGATE" --listen "127.0.0.1:$SG_PORT" "$@"
    SG_PID=$LAST_PID
    wait_http "$SG_PORT" /healthz
}

# row LABEL MEASURED BASELINE WHAT [lower]: one table row; the ratio is measured/baseline.
row() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-higher}" >>"$RESULTS"
}

# ---- a. command rate -----------------------------------------------------------------
# wrk_run NAME PORT PID [THREADS]: one wrk run (2 threads unless told) with 50
# connections; appends "req/s cpu_us_per_req non_2xx" to NAME.rate.
wrk_run() {
    local c0 c1 out
    c0=$(cpu_ticks "$3")
    out=$(wrk -t"${4:-2}" -c50 -d"${SECS}s" "${SCHEME:-http}://127.0.0.1:$2$(url_of "$2")")
    c1=$(cpu_ticks "$3")
    echo "$out" >>"$TMP/$1.wrk"
    echo "$out" | awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" '
        /requests in/ { n = $1 }
        /Requests\/sec/ { r = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "%s %.2f %s\n", r, c * 1e6 / hz / n, bad + 0 }' >>"$TMP/$1.rate"
}

# prepare_getsockname PORT: a socket bound to a free loopback port, for the GET. Its id
# (never the same twice, SPEC §2) makes the URL of that server; url_of PORT tells it.
prepare_getsockname() {
    local id
    id=$(curl -s -X POST "http://127.0.0.1:$1/sockets" | cut -d'"' -f6)
    curl -s -X POST "http://127.0.0.1:$1/sockets/$id/bind" -d '{"localhost":"127.0.0.1","port":0}' >/dev/null
    eval "URL_$1=/sockets/$id/getsockname"
    curl -s "http://127.0.0.1:$1$(url_of "$1")" >"$TMP/getsockname.json"
    grep -q '"ok"' "$TMP/getsockname.json" ||
        fail "getsockname did not answer ok: $(cat "$TMP/getsockname.json")"
}

part_a() {
    local rounds=${BENCH_RATE_ROUNDS:-5} servers who name port pid
    say "a. command rate: wrk -t2 -c50, $rounds x $SECS s against each server, interleaved"
    start_sockgate a
    prepare_getsockname "$SG_PORT"
    servers="sockgate:$SG_PORT:$SG_PID"
    # SOCKGATE_BEFORE=path/to/an/older/sockgate measures it in the same rounds.
    if [ -n "${SOCKGATE_BEFORE:-}" ]; then
        local before_port
        before_port=$(freeport)
        start sockgate-before "$SOCKGATE_BEFORE" --listen "127.0.0.1:$before_port"
        wait_http "$before_port" /healthz
        prepare_getsockname "$before_port"
        servers="$servers before:$before_port:$LAST_PID"
    fi
    BI_PORT=$(freeport)
    start mhd-internal "$BIN/mhd_baseline" "$BI_PORT"
    BI_PID=$LAST_PID
    BE_PORT=$(freeport)
    start mhd-external "$BIN/mhd_baseline" "$BE_PORT" --external
    BE_PID=$LAST_PID
    wait_ready mhd-internal
    wait_ready mhd-external
    servers="internal:$BI_PORT:$BI_PID $servers external:$BE_PORT:$BE_PID"
    for who in $servers; do
        port=$(echo "$who" | cut -d: -f2)
        wrk -t2 -c50 -d1s "http://127.0.0.1:$port$(url_of "$port")" >/dev/null # warm-up
    done
    # Two setups, each in interleaved rounds: make bench's own (wrk -t2 -c50) and the one
    # of issue 15 (wrk -t1 -c50), which leaves the server a core of its own.
    for _ in $(seq "$rounds"); do
        for who in $servers; do
            IFS=: read -r name port pid <<<"$who"
            wrk_run "$name" "$port" "$pid"
        done
        for who in "internal:$BI_PORT:$BI_PID" "sockgate:$SG_PORT:$SG_PID"; do
            IFS=: read -r name port pid <<<"$who"
            wrk_run "$name-t1" "$port" "$pid" 1
        done
    done
    for who in $servers; do
        local bad
        bad=$(awk '{ s += $3 } END { print s + 0 }' "$TMP/${who%%:*}.rate")
        [ "$bad" = 0 ] || say "warning: ${who%%:*} answered $bad non-2xx responses under wrk"
    done
    row "a. GET getsockname, req/s" "$(rate_of sockgate)" "$(rate_of internal)" \
        "sockgate (defaults, access log on) vs a minimal MHD server answering a fixed list, on MHD's internal epoll thread"
    row "a. same, vs one-thread MHD loop" "$(rate_of sockgate)" "$(rate_of external)" \
        "the same minimal server run as sockgate runs MHD: MHD_run from a one-thread epoll loop"
    row "a. same, wrk -t1 -c50, req/s" "$(rate_of sockgate-t1)" "$(rate_of internal-t1)" \
        "one wrk thread, so the server has a core to itself: vs the internal-thread MHD server"
    row "a. server CPU per request, us" "$(cpu_of sockgate)" "$(cpu_of internal)" \
        "utime+stime of the server process / requests, during the runs above" lower
    if [ -n "${SOCKGATE_BEFORE:-}" ]; then
        row "a. before: GET getsockname, req/s" "$(rate_of before)" "$(rate_of internal)" \
            "$SOCKGATE_BEFORE in the same rounds vs the same baseline"
        row "a. before: server CPU per request, us" "$(cpu_of before)" "$(cpu_of internal)" \
            "$SOCKGATE_BEFORE in the same rounds vs the same baseline" lower
    fi
    for who in $servers; do stop "$(echo "$who" | cut -d: -f3)"; done
}
# The baselines answer a fixed list whatever the path: any socket's URL will do.
url_of() { eval "echo \${URL_$1:-/sockets/s1/getsockname}"; }
rate_of() { awk '{ print $1 }' "$TMP/$1.rate" | median; }
cpu_of() { awk '{ print $2 }' "$TMP/$1.rate" | median; }

# ---- b. echo round trip ---------------------------------------------------------------
start_echo() {
    ECHO_PORT=$(freeport)
    start echo "$BIN/echo_server" "$ECHO_PORT"
    ECHO_PID=$LAST_PID
    wait_ready echo
}

part_b() {
    say "b. echo: send + recv pairs of $ECHO_SIZE bytes, 1 and 50 clients, ${ROUNDS} x 1 s each"
    start_echo
    start_sockgate b
    for c in 1 50; do
        for _ in $(seq "$ROUNDS"); do
            "$BIN/bench_client" echo-tcp "$ECHO_PORT" "$c" 1 200000 "$ECHO_SIZE" >"$TMP/echo-tcp-$c.out" ||
                fail "echo-tcp failed"
            kv "$TMP/echo-tcp-$c.out" us_per_pair >>"$TMP/echo-tcp-$c.us"
            "$BIN/bench_client" echo-gw "$SG_PORT" "$ECHO_PORT" "$c" 1 200000 "$ECHO_SIZE" \
                >"$TMP/echo-gw-$c.out" || fail "echo-gw failed"
            kv "$TMP/echo-gw-$c.out" us_per_pair >>"$TMP/echo-gw-$c.us"
        done
        row "b. echo pair, $c client$([ "$c" = 1 ] || echo s), us" \
            "$(median <"$TMP/echo-gw-$c.us")" "$(median <"$TMP/echo-tcp-$c.us")" \
            "POST send + POST recv via sockgate vs write + read on a plain TCP socket (mean per pair)" lower
    done
    stop "$SG_PID"
    stop "$ECHO_PID"
}

# ---- c. bulk receive ------------------------------------------------------------------
write_nginx_conf() {
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    types { text/plain txt; application/octet-stream bin; }
    server { listen 127.0.0.1:$NGINX_PORT; root $TMP/www; }
}
EOF
}

part_c() {
    local f enc
    say "c. bulk: 100 MB text and binary from nginx, recv n=1 MiB, ${ROUNDS} rounds"
    mkdir -p "$TMP/www" "$TMP/nginx"
    chmod 755 "$TMP/www"
    "$BIN/bench_client" gen text "$TMP/www/text.txt" "$BULK_BYTES" || fail "cannot write test data"
    "$BIN/bench_client" gen binary "$TMP/www/binary.bin" "$BULK_BYTES" || fail "cannot write test data"
    chmod 644 "$TMP/www/"*
    NGINX_PORT=$(freeport)
    write_nginx_conf
    start nginx "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf"
    NGINX_PID=$LAST_PID
    wait_http "$NGINX_PORT" /text.txt
    start_sockgate c
    for _ in $(seq "$ROUNDS"); do
        for f in text.txt binary.bin; do
            "$BIN/bench_client" bulk-tcp "$NGINX_PORT" "/$f" 1048576 >"$TMP/bulk-tcp-$f.out" ||
                fail "bulk-tcp failed"
            kv "$TMP/bulk-tcp-$f.out" mb_per_s >>"$TMP/bulk-tcp-$f.mbs"
            for enc in ascii~hex base64; do
                "$BIN/bench_client" bulk-gw "$SG_PORT" "$NGINX_PORT" "/$f" "$enc" 1048576 \
                    >"$TMP/bulk-gw-$f-$enc.out" || fail "bulk-gw failed"
                kv "$TMP/bulk-gw-$f-$enc.out" mb_per_s >>"$TMP/bulk-gw-$f-$enc.mbs"
                [ "$(kv "$TMP/bulk-gw-$f-$enc.out" bytes)" = "$(kv "$TMP/bulk-tcp-$f.out" bytes)" ] ||
                    say "warning: $f in $enc: byte counts differ from the direct read"
            done
        done
    done
    for f in text.txt binary.bin; do
        for enc in ascii~hex base64; do
            row "c. ${f%%.*} 100 MB, $enc, MB/s" "$(median <"$TMP/bulk-gw-$f-$enc.mbs")" \
                "$(median <"$TMP/bulk-tcp-$f.mbs")" \
                "recv n=1 MiB loop via sockgate, decoded by the client, vs recv() of 1 MiB on a plain socket"
        done
    done
    stop "$SG_PID"
    stop "$NGINX_PID"
    rm -f "$TMP/www/"*
}

# ---- d. footprint ----------------------------------------------------------------------
part_d() {
    say "d. footprint: $SOCKETS idle sockets, then $WAITS waiting recvs"
    start_echo
    start_sockgate d
    BF_PORT=$(freeport)
    start mhd-footprint "$BIN/mhd_baseline" "$BF_PORT"
    BF_PID=$LAST_PID
    wait_ready mhd-footprint
    "$BIN/bench_client" footprint "$SG_PORT" "$SG_PID" "$ECHO_PORT" "$SOCKETS" "$WAITS" \
        "$BF_PORT" "$BF_PID" >"$TMP/footprint.out" || fail "footprint failed"
    local F=$TMP/footprint.out
    row "d. RSS per idle socket, bytes" "$(kv "$F" bytes_per_socket)" "$(kv "$F" base_bytes_per_conn)" \
        "VmRSS growth over $SOCKETS connected, idle sockets vs, for scale, the minimal MHD server's per open keep-alive connection ($WAITS, each after one request)" lower
    row "d. RSS per waiting recv, bytes" "$(kv "$F" bytes_per_wait)" "$(kv "$F" base_bytes_per_conn)" \
        "VmRSS growth over $WAITS recvs waiting, each on its own keep-alive HTTP connection (after one request), vs the same baseline; 8 KiB heads served (--max-header-size 8192, the default)" lower
    row "d. server threads" "$(kv "$F" threads)" "$(kv "$F" base_threads)" \
        "threads of sockgate vs the minimal MHD server (internal epoll thread)" lower
    stop "$SG_PID"
    # The trade --max-header-size offers: smaller heads, less memory per connection.
    start_sockgate d-small-heads --max-header-size 4096
    "$BIN/bench_client" footprint "$SG_PORT" "$SG_PID" "$ECHO_PORT" "$WAITS" "$WAITS" \
        "$BF_PORT" "$BF_PID" >"$TMP/footprint-4k.out" || fail "footprint (4 KiB heads) failed"
    row "d. RSS per waiting recv, 4 KiB heads, bytes" "$(kv "$TMP/footprint-4k.out" bytes_per_wait)" \
        "$(kv "$F" bytes_per_wait)" \
        "as above with --max-header-size 4096, vs the default's 8 KiB heads (the row above)" lower
    stop "$SG_PID"
    stop "$BF_PID"
    stop "$ECHO_PID"
}

# ---- e. codec ---------------------------------------------------------------------------
part_e() {
    local k d wasm_ok=0
    say "e. codec: ascii~hex of 16 MiB of text and of binary, native vs wasm under node"
    "$BIN/bench_client" gen text "$TMP/codec-text" "$CODEC_BYTES"
    "$BIN/bench_client" gen binary "$TMP/codec-binary" "$CODEC_BYTES"
    "$BIN/codec_bench" "$TMP/codec-text" "$TMP/codec-binary" "$CODEC_BYTES" >"$TMP/codec-native.out" ||
        fail "codec_bench failed"
    if command -v node >/dev/null && [ -f "$BUILD/web/sockgate_wasm.js" ]; then
        node "$(dirname "$0")/codec_wasm.js" "$BUILD/web" "$TMP/codec-text" "$TMP/codec-binary" \
            "$CODEC_BYTES" >"$TMP/codec-wasm.out" 2>"$TMP/codec-wasm.err" && wasm_ok=1
    fi
    [ "$wasm_ok" = 1 ] ||
        say "warning: the wasm codec could not run: $(cat "$TMP/codec-wasm.err" 2>/dev/null)"
    for k in text binary; do
        for d in encode decode; do
            row "e. $d $k, GB/s" "$(kv "$TMP/codec-native.out" "${k}_${d}_gbps")" \
                "$([ "$wasm_ok" = 1 ] && kv "$TMP/codec-wasm.out" "${k}_${d}_gbps" || echo n/a)" \
                "native C (the server's object) vs the console's wasm build under node $(node --version 2>/dev/null)"
        done
    done
}

# ---- f. fairness -------------------------------------------------------------------------
part_f() {
    local mode
    say "f. fairness: /healthz latency while one socket's repeating recv is flooded"
    start_sockgate f
    for _ in $(seq "$ROUNDS"); do
        for mode in 0 1; do
            "$BIN/bench_client" healthz-flood "$SG_PORT" 200 "$mode" >"$TMP/fair-$mode.out" ||
                fail "healthz-flood failed"
            kv "$TMP/fair-$mode.out" p50_ms >>"$TMP/fair-$mode.p50"
            kv "$TMP/fair-$mode.out" p99_ms >>"$TMP/fair-$mode.p99"
            kv "$TMP/fair-$mode.out" max_ms >>"$TMP/fair-$mode.max"
        done
    done
    for q in p50 p99 max; do
        row "f. /healthz $q under a flood, ms" "$(median <"$TMP/fair-1.$q")" "$(median <"$TMP/fair-0.$q")" \
            "200 sequential /healthz while a peer floods one socket whose repeating background recv (n=65536) publishes every arrival, vs the same with no flood" lower
    done
    stop "$SG_PID"
}

# g. the HTTPS listener (its own file).
# shellcheck source=tests/bench/part_tls.sh
. "$(dirname "$0")/part_tls.sh"

# h. streaming: the WebSocket bridge against a direct read and websockify.
. "$(dirname "$0")/stream.sh"

for p in a b c d e f g h; do
    if part "$p"; then "part_$p"; fi
done

# ---- the table ---------------------------------------------------------------------------
ELAPSED=$(($(date +%s) - START))
{
    echo
    echo "sockgate benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${ELAPSED} s"
    echo
    echo "| figure | sockgate | baseline | ratio | what is compared |"
    echo "|---|--:|--:|--:|---|"
    awk -F'\t' '
        function group(v,    s, out) {
            s = sprintf("%.0f", v)
            out = ""
            while (length(s) > 3) {
                out = "," substr(s, length(s) - 2) out
                s = substr(s, 1, length(s) - 3)
            }
            return s out
        }
        function fmt(v) {
            if (v == "" || v == "n/a") return "n/a"
            if (v + 0 >= 1000) return group(v)
            if (v + 0 >= 100) return sprintf("%.0f", v)
            if (v + 0 >= 10) return sprintf("%.1f", v)
            return sprintf("%.2f", v)
        }
        {
            ratio = ($3 + 0 > 0 && $2 != "n/a" && $3 != "n/a") ? sprintf("%.2f", $2 / $3) : "n/a"
            better = $5 == "lower" ? " (lower is better)" : ""
            printf "| %s%s | %s | %s | %s | %s |\n", $1, better, fmt($2), fmt($3), ratio, $4
        }' "$RESULTS"
    echo
    echo "ratio = sockgate / baseline; medians of interleaved rounds (${BENCH_RATE_ROUNDS:-5} in a, $ROUNDS in b, c and f, ${STREAM_ROUNDS:-5} in h); loopback only."
} | tee "$TMP/table.md"
