# Part h of `make bench` (sourced by tests/bench/run.sh, whose helpers it uses): streaming
# 100 MB of text and of random binary from nginx on loopback, in interleaved rounds,
#   (a) read directly (the baseline),
#   (b) through Debian's websockify,
#   (c) through sockgate's bridge: /sockets/<id>/ws, and /websockify as a drop-in,
#   (d) through sockgate's recv with raw bytes (Accept: application/octet-stream),
#   (r) through splice_relay, the fastest one hop between two connections can be here
#       (no framing, no event loop), for scale,
# each with the same lean client (bench_client stream-*: a bare frame reader that checks
# every byte against the file), and (b), (c) once more with node's WebSocket, a
# browser-like client. Every round of every variant counts its bytes; the table reports
# the median speeds and how many rounds delivered everything.
#
# STREAM_ROUNDS (5) rounds; STREAM_BYTES (100000000) per file.

part_h() {
    local rounds=${STREAM_ROUNDS:-5} bytes=${STREAM_BYTES:-100000000} f v out total
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
    local wsfy_port
    wsfy_port=$(freeport)
    start websockify-h websockify "127.0.0.1:$wsfy_port" "127.0.0.1:$NGINX_PORT"
    local wsfy_pid=$LAST_PID
    SG_PORT=$(freeport)
    start sockgate-h "$SOCKGATE" --listen "127.0.0.1:$SG_PORT" --quiet \
        --websockify-target "127.0.0.1:$NGINX_PORT"
    local sg_pid=$LAST_PID
    wait_http "$SG_PORT" /healthz
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

    # One run: its output to $TMP/st-<name>-<file>.out, its speed and verdict appended.
    st_run() {
        local name=$1 file=$2
        shift 2
        if "$@" >"$TMP/st-run.out" 2>"$TMP/st-run.err"; then
            kv "$TMP/st-run.out" mb_per_s >>"$TMP/st-$name-$file.mbs"
        else
            say "warning: $name on $file failed: $(head -c 300 "$TMP/st-run.err")"
        fi
        # Every byte, and (for a WebSocket) a Close at the end, or the round came up short.
        local ok
        ok=$(kv "$TMP/st-run.out" body_ok)
        [ "$ok" = 1 ] && echo 1 >>"$TMP/st-$name.ok" || echo 0 >>"$TMP/st-$name.ok"
        cp "$TMP/st-run.out" "$TMP/st-$name-$file.out"
    }

    for _ in $(seq "$rounds"); do
        for f in text.txt binary.bin; do
            st_run direct "$f" "$BIN/bench_client" stream-tcp "$NGINX_PORT" "/$f" "$TMP/www/$f"
            total=$(kv "$TMP/st-direct-$f.out" bytes)
            st_run websockify "$f" "$BIN/bench_client" stream-ws "$wsfy_port" / "/$f" "$TMP/www/$f"
            st_run relay "$f" "$BIN/bench_client" stream-tcp "$relay_port" "/$f" "$TMP/www/$f"
            st_run raw "$f" "$BIN/bench_client" stream-raw "$SG_PORT" "$NGINX_PORT" "/$f" "$TMP/www/$f"
            st_run bridge "$f" "$BIN/bench_client" stream-gw "$SG_PORT" "$NGINX_PORT" "/$f" "$TMP/www/$f"
            st_run dropin "$f" "$BIN/bench_client" stream-ws "$SG_PORT" /websockify "/$f" "$TMP/www/$f"
            if [ "$node_ok" = 1 ]; then
                st_run node-websockify "$f" node --experimental-websocket \
                    "$(dirname "$0")/ws_node_client.js" "ws://127.0.0.1:$wsfy_port/" "/$f" "$total"
                st_run node-bridge "$f" node --experimental-websocket \
                    "$(dirname "$0")/ws_node_client.js" --gateway "$SG_PORT" "$NGINX_PORT" "/$f" "$total"
            fi
        done
    done

    st_median() { median <"$TMP/st-$1-$2.mbs" 2>/dev/null || echo n/a; }
    for f in text.txt binary.bin; do
        local k=${f%%.*}
        row "h. $k, bridge /sockets/<id>/ws, MB/s" "$(st_median bridge "$f")" "$(st_median direct "$f")" \
            "lean client through sockgate's bridge vs recv() of the same response straight from nginx (goal >= 0.9)"
        row "h. $k, bare splice relay (one hop, for scale), MB/s" "$(st_median relay "$f")" \
            "$(st_median direct "$f")" "splice_relay (socket to pipe to socket, blocking, no framing, no loop) vs the direct read: what any one hop costs here"
        row "h. $k, bridge vs the bare splice relay, MB/s" "$(st_median bridge "$f")" \
            "$(st_median relay "$f")" "what WebSocket framing and the shared event loop cost on top of the hop"
        row "h. $k, bridge vs websockify, MB/s" "$(st_median bridge "$f")" "$(st_median websockify "$f")" \
            "the same lean client through sockgate's bridge vs through Debian's websockify (goal >= 1.2)"
        row "h. $k, recv with raw bytes, MB/s" "$(st_median raw "$f")" "$(st_median direct "$f")" \
            "POST recv n=1 MiB with Accept: application/octet-stream, in a loop, vs the direct read"
        row "h. $k, /websockify drop-in vs websockify, MB/s" "$(st_median dropin "$f")" \
            "$(st_median websockify "$f")" "sockgate --websockify-target vs websockify, same client"
        if [ "$node_ok" = 1 ]; then
            row "h. $k, node WebSocket: bridge vs websockify, MB/s" "$(st_median node-bridge "$f")" \
                "$(st_median node-websockify "$f")" "node's built-in WebSocket (a browser's API) as the client"
        fi
    done
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
    stop "$sg_pid"
    stop "$wsfy_pid"
    stop "$nginx_pid"
    rm -f "$TMP/www/"*
}
