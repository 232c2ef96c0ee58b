# Part h of `make bench` (sourced by tests/bench/run.sh, whose helpers it uses): streaming
# 100 MB of text and of random binary from nginx on loopback, in interleaved rounds,
#   (a) read directly (the baseline),
#   (b) through Debian's websockify,
#   (c) through sockgate's bridge: /sockets/<id>/ws, and /websockify as a drop-in,
#   (d) through sockgate's recv with raw bytes (Accept: application/octet-stream),
#   (r) through splice_relay, the fastest one hop between two connections can be here
#       (no framing, no event loop), for scale,
# each with the same lean client (bench_client stream-*: a bare frame reader that checks
# every byte against the file, reading with the same blocking 1 MiB recv as the direct
# read), and (b), (c) once more with node's WebSocket, a browser-like client. One warm-up
# round is not counted; each counted round runs the variants in a rotated order, so that
# none always follows the same neighbour. Every run counts its bytes; the table reports
# the median speeds, the spread of the per-round ratios (a round's bridge against the same
# round's direct read and websockify), how many rounds delivered everything, and the CPU
# time per 100 MB of every process on the way (client, nginx, the gateway in between),
# which a busy machine disturbs far less than it disturbs speeds.
#
# STREAM_ROUNDS (5) rounds; STREAM_BYTES (100000000) per file. SOCKGATE_BEFORE=path/to/an
# older sockgate adds its bridge to the same rounds (before/after figures from one run).

# CPU time in ns of every thread of the given processes, their reaped children included
# (websockify serves each connection from a child of its own).
st_cpu_ns() {
    local t=0 p f a k kids hz
    hz=$(getconf CLK_TCK)
    for p in "$@"; do
        for f in /proc/"$p"/task/*/schedstat; do
            read -r a _ <"$f" 2>/dev/null && t=$((t + a))
        done
        a=$(awk '{ print $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0)
        t=$((t + a * 1000000000 / hz))
        for f in /proc/"$p"/task/*/children; do
            kids=()
            read -ra kids <"$f" 2>/dev/null
            for k in "${kids[@]}"; do
                read -r a _ <"/proc/$k/schedstat" 2>/dev/null && t=$((t + a))
            done
        done
    done
    echo "$t"
}

part_h() {
    local rounds=${STREAM_ROUNDS:-5} bytes=${STREAM_BYTES:-100000000} f v total r
    say "h. streaming: ${bytes} bytes of text and binary from nginx, $rounds interleaved rounds"
    mkdir -p "$TMP/www" "$TMP/nginx"
    chmod 755 "$TMP/www"
    "$BIN/bench_client" gen text "$TMP/www/text.txt" "$bytes" || fail "cannot write test data"
    "$BIN/bench_client" gen binary "$TMP/www/binary.bin" "$bytes" || fail "cannot write test data"
    chmod 644 "$TMP/www/"*
    NGINX_PORT=$(freeport)
    write_nginx_conf
    start nginx-h "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf"
    local nginx_pid=$LAST_PID
    wait_http "$NGINX_PORT" /text.txt
    local nginx_worker
    nginx_worker=$(pgrep -P "$nginx_pid" | head -1)
    local wsfy_port
    wsfy_port=$(freeport)
    start websockify-h websockify "127.0.0.1:$wsfy_port" "127.0.0.1:$NGINX_PORT"
    local wsfy_pid=$LAST_PID
    SG_PORT=$(freeport)
    start sockgate-h "$SOCKGATE" --listen "127.0.0.1:$SG_PORT" --quiet \
        --websockify-target "127.0.0.1:$NGINX_PORT"
    local sg_pid=$LAST_PID
    wait_http "$SG_PORT" /healthz
    local before_port="" before_pid=""
    if [ -n "${SOCKGATE_BEFORE:-}" ]; then
        before_port=$(freeport)
        start sockgate-h-before "$SOCKGATE_BEFORE" --listen "127.0.0.1:$before_port" --quiet
        before_pid=$LAST_PID
        wait_http "$before_port" /healthz
    fi
    local relay_port
    relay_port=$(freeport)
    start relay-h "$BIN/splice_relay" "$relay_port" "$NGINX_PORT"
    local relay_pid=$LAST_PID
    wait_ready relay-h
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$wsfy_port/" && break; sleep 0.1; done
    local node_ok=0
    node --experimental-websocket -e 'new WebSocket("ws://127.0.0.1:1").onerror = () => {}' \
        2>/dev/null && node_ok=1
    [ "$node_ok" = 1 ] || say "warning: node has no WebSocket; the browser-like rows are left out"

    # One run of a variant in round $r (0: the warm-up, not counted): its output to
    # $TMP/st-<name>-<file>.out; a record "round name file MB/s complete client_ms
    # nginx_ms gateway_ms" to $TMP/st.rec (client_ms from bench_client itself; node's runs
    # have none). GATEWAY_PID is the process in between, empty for the direct read.
    st_run() {
        local name=$1 file=$2 gw=$3
        shift 3
        local n0 g0 n1 g1 mbs ok cms
        n0=$(st_cpu_ns "$nginx_worker")
        # shellcheck disable=SC2086 # no gateway: no argument
        g0=$(st_cpu_ns $gw)
        if ! "$@" >"$TMP/st-run.out" 2>"$TMP/st-run.err"; then
            say "warning: $name on $file failed: $(head -c 300 "$TMP/st-run.err")"
        fi
        n1=$(st_cpu_ns "$nginx_worker")
        # shellcheck disable=SC2086
        g1=$(st_cpu_ns $gw)
        cp "$TMP/st-run.out" "$TMP/st-$name-$file.out"
        [ "$r" = 0 ] && return
        mbs=$(kv "$TMP/st-run.out" mb_per_s)
        [ -n "$mbs" ] && echo "$mbs" >>"$TMP/st-$name-$file.mbs"
        # Every byte, and (for a WebSocket) a Close at the end, or the round came up short.
        ok=$(kv "$TMP/st-run.out" body_ok)
        [ "$ok" = 1 ] && echo 1 >>"$TMP/st-$name.ok" || echo 0 >>"$TMP/st-$name.ok"
        cms=$(kv "$TMP/st-run.out" cpu_ms)
        echo "$r $name $file ${mbs:-0} ${ok:-0} ${cms:-na} $(((n1 - n0) / 1000)) $(((g1 - g0) / 1000))" |
            awk '{ printf "%s %s %s %s %s %s %.1f %.1f\n", $1, $2, $3, $4, $5, $6, $7 / 1000, $8 / 1000 }' \
                >>"$TMP/st.rec"
    }
    st_variant() {
        local v=$1 f=$2
        case $v in
        direct) st_run direct "$f" "" "$BIN/bench_client" stream-tcp "$NGINX_PORT" "/$f" "$TMP/www/$f" ;;
        websockify) st_run websockify "$f" "$wsfy_pid" \
            "$BIN/bench_client" stream-ws "$wsfy_port" / "/$f" "$TMP/www/$f" ;;
        relay) st_run relay "$f" "$relay_pid" \
            "$BIN/bench_client" stream-tcp "$relay_port" "/$f" "$TMP/www/$f" ;;
        raw) st_run raw "$f" "$sg_pid" \
            "$BIN/bench_client" stream-raw "$SG_PORT" "$NGINX_PORT" "/$f" "$TMP/www/$f" ;;
        bridge) st_run bridge "$f" "$sg_pid" \
            "$BIN/bench_client" stream-gw "$SG_PORT" "$NGINX_PORT" "/$f" "$TMP/www/$f" ;;
        before) st_run before "$f" "$before_pid" \
            "$BIN/bench_client" stream-gw "$before_port" "$NGINX_PORT" "/$f" "$TMP/www/$f" ;;
        dropin) st_run dropin "$f" "$sg_pid" \
            "$BIN/bench_client" stream-ws "$SG_PORT" /websockify "/$f" "$TMP/www/$f" ;;
        node-websockify) st_run node-websockify "$f" "$wsfy_pid" node --experimental-websocket \
            "$(dirname "$0")/ws_node_client.js" "ws://127.0.0.1:$wsfy_port/" "/$f" "$total" ;;
        node-bridge) st_run node-bridge "$f" "$sg_pid" node --experimental-websocket \
            "$(dirname "$0")/ws_node_client.js" --gateway "$SG_PORT" "$NGINX_PORT" "/$f" "$total" ;;
        esac
    }

    local variants=(direct websockify relay raw bridge dropin)
    [ -n "$before_pid" ] && variants+=(before)
    [ "$node_ok" = 1 ] && variants+=(node-websockify node-bridge)
    local nv=${#variants[@]} i
    declare -A totals
    for r in $(seq 0 "$rounds"); do
        for f in text.txt binary.bin; do
            # Round r starts at variant r: the warm-up (0) with the direct read, whose byte
            # count node's runs check against.
            for i in $(seq 0 $((nv - 1))); do
                v=${variants[$(((i + r) % nv))]}
                total=${totals[$f]:-0}
                st_variant "$v" "$f"
                [ "$r$v" = 0direct ] && totals[$f]=$(kv "$TMP/st-direct-$f.out" bytes)
            done
        done
    done

    st_median() { median <"$TMP/st-$1-$2.mbs" 2>/dev/null || echo n/a; }
    # Per-round ratios of variant A to variant B on one file: "min-max (median m)".
    st_spread() {
        awk -v a="$1" -v b="$2" -v f="$3" '
            $3 == f && $2 == a { x[$1] = $4 }
            $3 == f && $2 == b { y[$1] = $4 }
            END {
                n = 0
                for (k in x) if ((k in y) && y[k] > 0 && x[k] > 0) q[++n] = x[k] / y[k]
                if (n == 0) { print "n/a"; exit }
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                    if (q[j] < q[i]) { t = q[i]; q[i] = q[j]; q[j] = t }
                printf "%.2f-%.2f over %d rounds (median %.2f)", q[1], q[n], n, q[int((n + 1) / 2)]
            }' "$TMP/st.rec"
    }
    for f in text.txt binary.bin; do
        local k=${f%%.*}
        row "h. $k, bridge /sockets/<id>/ws, MB/s" "$(st_median bridge "$f")" "$(st_median direct "$f")" \
            "lean client through sockgate's bridge vs recv() of the same response straight from nginx (goal >= 0.9); per-round ratios $(st_spread bridge direct "$f")"
        row "h. $k, bare splice relay (one hop, for scale), MB/s" "$(st_median relay "$f")" \
            "$(st_median direct "$f")" "splice_relay (socket to pipe to socket, blocking, no framing, no loop) vs the direct read: what any one hop costs here; per-round ratios $(st_spread relay direct "$f")"
        row "h. $k, bridge vs the bare splice relay, MB/s" "$(st_median bridge "$f")" \
            "$(st_median relay "$f")" "what WebSocket framing and the shared event loop cost on top of the hop; per-round ratios $(st_spread bridge relay "$f")"
        row "h. $k, bridge vs websockify, MB/s" "$(st_median bridge "$f")" "$(st_median websockify "$f")" \
            "the same lean client through sockgate's bridge vs through Debian's websockify (goal >= 1.2); per-round ratios $(st_spread bridge websockify "$f")"
        row "h. $k, recv with raw bytes, MB/s" "$(st_median raw "$f")" "$(st_median direct "$f")" \
            "POST recv n=1 MiB with Accept: application/octet-stream, in a loop, vs the direct read"
        row "h. $k, /websockify drop-in vs websockify, MB/s" "$(st_median dropin "$f")" \
            "$(st_median websockify "$f")" "sockgate --websockify-target vs websockify, same client"
        if [ -n "$before_pid" ]; then
            row "h. $k, bridge vs the build before, MB/s" "$(st_median bridge "$f")" \
                "$(st_median before "$f")" "$SOCKGATE_BEFORE's bridge in the same rounds; per-round ratios $(st_spread bridge before "$f")"
        fi
        if [ "$node_ok" = 1 ]; then
            row "h. $k, node WebSocket: bridge vs websockify, MB/s" "$(st_median node-bridge "$f")" \
                "$(st_median node-websockify "$f")" "node's built-in WebSocket (a browser's API) as the client"
        fi
    done
    # CPU time per 100 MB over every counted run of both files: field 6 the client, 7 nginx,
    # 8 the gateway; "path" is their sum.
    st_cpu() {
        awk -v v="$1" -v what="$2" -v bytes="$bytes" '
            $2 == v && $6 != "na" {
                n++
                c = what == "client" ? $6 : what == "nginx" ? $7 : what == "gateway" ? $8 : $6 + $7 + $8
                s += c * 1e8 / bytes
            }
            END { if (n) printf "%.1f", s / n; else print "n/a" }' "$TMP/st.rec"
    }
    row "h. CPU ms per 100 MB, the gateway: bridge (sockgate) vs bare splice relay" \
        "$(st_cpu bridge gateway)" "$(st_cpu relay gateway)" \
        "CPU time (user + system, from /proc) of the process in between, per 100 MB file; what framing and the event loop add to a hop" lower
    if [ -n "$before_pid" ]; then
        row "h. CPU ms per 100 MB, the gateway: bridge vs the build before" \
            "$(st_cpu bridge gateway)" "$(st_cpu before gateway)" "$SOCKGATE_BEFORE in the same rounds" lower
        row "h. CPU ms per 100 MB, whole path: bridge vs the build before" \
            "$(st_cpu bridge path)" "$(st_cpu before path)" "client + nginx + gateway, the same rounds" lower
    fi
    row "h. CPU ms per 100 MB, the gateway: bridge (sockgate) vs websockify" \
        "$(st_cpu bridge gateway)" "$(st_cpu websockify gateway)" \
        "the same, against websockify (its per-connection child included)" lower
    row "h. CPU ms per 100 MB, the client: through the bridge vs direct" \
        "$(st_cpu bridge client)" "$(st_cpu direct client)" \
        "the lean client's own CPU time: the frame reader costs what the plain read costs" lower
    row "h. CPU ms per 100 MB, nginx: through the bridge vs direct" \
        "$(st_cpu bridge nginx)" "$(st_cpu direct nginx)" \
        "nginx's worker; loopback TCP's receive work runs in the sender's context, so it shifts between processes" lower
    row "h. CPU ms per 100 MB, whole path: bridge vs direct" \
        "$(st_cpu bridge path)" "$(st_cpu direct path)" \
        "client + nginx + gateway: the bridge's second loopback hop on two cores" lower
    # Complete deliveries: rounds in which every byte came (and, for a bridge, the Close).
    st_count() { awk '{ n += $1 } END { print n + 0 }' "$TMP/st-$1.ok" 2>/dev/null || echo 0; }
    st_total() { wc -l <"$TMP/st-$1.ok" 2>/dev/null || echo 0; }
    for v in bridge dropin raw websockify; do
        row "h. complete transfers, $v" "$(st_count "$v")" "$(st_total "$v")" \
            "runs that delivered every byte (checked against the file) / runs"
    done
    if [ "$node_ok" = 1 ]; then
        for v in node-bridge node-websockify; do
            row "h. complete transfers, $v" "$(st_count "$v")" "$(st_total "$v")" \
                "runs whose byte count matched the direct read / runs"
        done
    fi
    stop "$relay_pid"
    [ -n "$before_pid" ] && stop "$before_pid"
    stop "$sg_pid"
    stop "$wsfy_pid"
    stop "$nginx_pid"
    rm -f "$TMP/www/"*
}
