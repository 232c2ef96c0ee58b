# shellcheck shell=bash
# Part g of tests/bench/run.sh (sourced by it): the HTTPS listener against the plain one.
# The same gateway binary runs twice, once with --tls-cert/--tls-key, and the same
# clients drive both: wrk (which speaks TLS) for the command rate, and bench_client
# bulk-gw (BENCH_TLS=1 makes it speak HTTPS) for 100 MB of text through recv. The
# minimal libmicrohttpd server with and without its own TLS (MHD_USE_TLS) shows what TLS
# costs libmicrohttpd itself on this machine, and nginx answering the same fixed list over
# HTTP and HTTPS what it costs a server built for it: on two cores shared with the client,
# whose own TLS work counts too, nginx's ratio is about the best the listener's can be.

# write_nginx_rate_conf PLAIN_PORT TLS_PORT: one nginx process (no master: its CPU is
# the one pid's) answering the fixed getsockname list on both ports.
write_nginx_rate_conf() {
    mkdir -p "$TMP/nginx-rate"
    cat >"$TMP/nginx-rate/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $TMP/nginx-rate/nginx.pid;
error_log $TMP/nginx-rate/error.log;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$1; return 200 '["getsockname","ok","127.0.0.1","40000"]'; }
    server {
        listen 127.0.0.1:$2 ssl;
        ssl_certificate $TMP/tls.pem;
        ssl_certificate_key $TMP/tls.key;
        return 200 '["getsockname","ok","127.0.0.1","40000"]';
    }
}
EOF
}

part_g() {
    local rounds=${BENCH_RATE_ROUNDS:-5} who name port pid servers plain_port tls_port
    local plain_pid tls_pid
    say "g. HTTPS listener vs HTTP: wrk -t2 -c50 ($rounds x $SECS s) and 100 MB text via recv ($ROUNDS rounds)"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/tls.key" -out "$TMP/tls.pem" \
        -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        >/dev/null 2>&1 || fail "openssl could not make a certificate"
    start_sockgate g
    plain_port=$SG_PORT
    plain_pid=$SG_PID
    tls_port=$(freeport)
    start sockgate-g-tls "$SOCKGATE" --listen "127.0.0.1:$tls_port" --tls-cert "$TMP/tls.pem" \
        --tls-key "$TMP/tls.key"
    tls_pid=$LAST_PID
    wait_http "$tls_port" /healthz https
    prepare_getsockname "$plain_port"
    local id
    id=$(curl -sk -X POST "https://127.0.0.1:$tls_port/sockets" | cut -d'"' -f6)
    curl -sk -X POST "https://127.0.0.1:$tls_port/sockets/$id/bind" \
        -d '{"localhost":"127.0.0.1","port":0}' >/dev/null
    eval "URL_$tls_port=/sockets/$id/getsockname"
    local mp mt
    mp=$(freeport)
    start mhd-g-plain "$BIN/mhd_baseline" "$mp" --external
    wait_ready mhd-g-plain
    servers="g-http:$plain_port:$plain_pid:http g-mhd-http:$mp:$LAST_PID:http"
    mt=$(freeport)
    start mhd-g-tls "$BIN/mhd_baseline" "$mt" --external --tls "$TMP/tls.pem" "$TMP/tls.key"
    wait_ready mhd-g-tls
    servers="$servers g-https:$tls_port:$tls_pid:https g-mhd-https:$mt:$LAST_PID:https"
    local np nt
    np=$(freeport)
    nt=$(freeport)
    write_nginx_rate_conf "$np" "$nt"
    start nginx-g-rate "$NGINX" -p "$TMP/nginx-rate" -e "$TMP/nginx-rate/error.log" \
        -c "$TMP/nginx-rate/nginx.conf"
    wait_http "$nt" / https
    servers="$servers g-nginx-http:$np:$LAST_PID:http g-nginx-https:$nt:$LAST_PID:https"
    for who in $servers; do
        IFS=: read -r name port pid SCHEME <<<"$who"
        wrk -t2 -c50 -d1s "$SCHEME://127.0.0.1:$port$(url_of "$port")" >/dev/null # warm-up
    done
    for _ in $(seq "$rounds"); do
        for who in $servers; do
            IFS=: read -r name port pid SCHEME <<<"$who"
            wrk_run "$name" "$port" "$pid"
        done
    done
    SCHEME=http
    row "g. HTTPS GET getsockname, req/s" "$(rate_of g-https)" "$(rate_of g-http)" \
        "sockgate --tls-cert/--tls-key vs the same sockgate over HTTP (wrk -t2 -c50 keep-alive)"
    row "g. HTTPS server CPU per request, us" "$(cpu_of g-https)" "$(cpu_of g-http)" \
        "utime+stime of the server process / requests, during the runs above" lower
    row "g. MHD's own TLS, req/s" "$(rate_of g-mhd-https)" "$(rate_of g-mhd-http)" \
        "yardstick: the minimal MHD server with MHD_USE_TLS vs without (one-thread loop)"
    row "g. MHD's own TLS, CPU per request, us" "$(cpu_of g-mhd-https)" "$(cpu_of g-mhd-http)" \
        "the same yardstick in server CPU per request" lower
    row "g. nginx's TLS, req/s" "$(rate_of g-nginx-https)" "$(rate_of g-nginx-http)" \
        "yardstick: nginx (one process) with the same fixed answer over HTTPS vs HTTP"
    row "g. nginx's TLS, CPU per request, us" "$(cpu_of g-nginx-https)" \
        "$(cpu_of g-nginx-http)" "the same yardstick in server CPU per request" lower
    local stopped=""
    for who in $servers; do
        IFS=: read -r name port pid SCHEME <<<"$who"
        case " $stopped " in *" $pid "*) continue ;; esac
        [ "$pid" = "$plain_pid" ] || [ "$pid" = "$tls_pid" ] || stop "$pid"
        stopped="$stopped $pid"
    done
    SCHEME=http

    # libmicrohttpd's own TLS through an upgrade (what the WebSocket bridge would ride on):
    # 20 MB written into the upgraded connection, read for at most 5 s.
    local up_plain up_tls
    up_plain=$(freeport)
    start mhd-g-up "$BIN/mhd_baseline" "$up_plain" --external --upgrade 20000000
    wait_ready mhd-g-up
    local up_plain_pid=$LAST_PID
    up_tls=$(freeport)
    start mhd-g-up-tls "$BIN/mhd_baseline" "$up_tls" --external --tls "$TMP/tls.pem" \
        "$TMP/tls.key" --upgrade 20000000
    wait_ready mhd-g-up-tls
    local up_tls_pid=$LAST_PID
    node "$(dirname "$0")/upgrade_read.js" http "$up_plain" 20000000 5 >"$TMP/g-up-http.out" ||
        fail "upgrade_read failed"
    node "$(dirname "$0")/upgrade_read.js" https "$up_tls" 20000000 5 >"$TMP/g-up-https.out" ||
        fail "upgrade_read over TLS failed"
    row "g. MHD's own TLS, an upgraded connection, MB/s" "$(kv "$TMP/g-up-https.out" mb_per_s)" \
        "$(kv "$TMP/g-up-http.out" mb_per_s)" \
        "why the listener ends TLS itself: MHD_USE_TLS vs plain, 20 MB through a 101 upgrade (5 s at most), node reader"
    stop "$up_plain_pid"
    stop "$up_tls_pid"

    mkdir -p "$TMP/www" "$TMP/nginx"
    chmod 755 "$TMP/www"
    "$BIN/bench_client" gen text "$TMP/www/text.txt" "$BULK_BYTES" || fail "cannot write test data"
    chmod 644 "$TMP/www/"*
    NGINX_PORT=$(freeport)
    write_nginx_conf
    start nginx-g "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf"
    local nginx_pid=$LAST_PID
    wait_http "$NGINX_PORT" /text.txt
    for _ in $(seq "$ROUNDS"); do
        "$BIN/bench_client" bulk-gw "$plain_port" "$NGINX_PORT" /text.txt ascii~hex 1048576 \
            >"$TMP/g-bulk-http.out" || fail "bulk-gw over HTTP failed"
        kv "$TMP/g-bulk-http.out" mb_per_s >>"$TMP/g-bulk-http.mbs"
        BENCH_TLS=1 "$BIN/bench_client" bulk-gw "$tls_port" "$NGINX_PORT" /text.txt ascii~hex \
            1048576 >"$TMP/g-bulk-https.out" || fail "bulk-gw over HTTPS failed"
        kv "$TMP/g-bulk-https.out" mb_per_s >>"$TMP/g-bulk-https.mbs"
        [ "$(kv "$TMP/g-bulk-https.out" bytes)" = "$(kv "$TMP/g-bulk-http.out" bytes)" ] ||
            say "warning: the HTTPS bulk receive counted other bytes than the HTTP one"
    done
    row "g. HTTPS 100 MB text via recv, MB/s" "$(median <"$TMP/g-bulk-https.mbs")" \
        "$(median <"$TMP/g-bulk-http.mbs")" \
        "recv n=1 MiB loop over HTTPS vs the same over HTTP (ascii~hex, decoded by the client)"

    # The WebSocket bridge over wss:// against ws://, with node's WebSocket (a browser's
    # API) as the client of both; every byte counted against a direct read.
    "$BIN/bench_client" stream-tcp "$NGINX_PORT" /text.txt "$TMP/www/text.txt" \
        >"$TMP/g-direct.out" || fail "the direct read failed"
    local total
    total=$(kv "$TMP/g-direct.out" bytes)
    for _ in $(seq "$ROUNDS"); do
        node --experimental-websocket "$(dirname "$0")/ws_node_client.js" --gateway \
            "$plain_port" "$NGINX_PORT" /text.txt "$total" >"$TMP/g-ws.out" 2>/dev/null ||
            fail "the bridge over ws:// failed"
        BENCH_TLS=1 NODE_EXTRA_CA_CERTS="$TMP/tls.pem" node --experimental-websocket \
            "$(dirname "$0")/ws_node_client.js" --gateway "$tls_port" "$NGINX_PORT" /text.txt \
            "$total" >"$TMP/g-wss.out" 2>/dev/null || fail "the bridge over wss:// failed"
        kv "$TMP/g-ws.out" mb_per_s >>"$TMP/g-ws.mbs"
        kv "$TMP/g-wss.out" mb_per_s >>"$TMP/g-wss.mbs"
        [ "$(kv "$TMP/g-wss.out" body_ok)" = 1 ] || say "warning: wss:// delivered other bytes"
    done
    row "g. wss:// bridge, 100 MB text, node WebSocket, MB/s" "$(median <"$TMP/g-wss.mbs")" \
        "$(median <"$TMP/g-ws.mbs")" \
        "the WebSocket bridge through the HTTPS listener vs through the HTTP one"
    stop "$nginx_pid"
    stop "$plain_pid"
    stop "$tls_pid"
    rm -f "$TMP/www/"*
}
