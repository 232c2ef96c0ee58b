#!/bin/sh
# Writes the configuration of a router in front of several sockgate gateways (SPEC §12):
# HAProxy 2.6 or nginx 1.22, as Debian 12 ships them. The files in deploy/haproxy,
# deploy/nginx and deploy/kubernetes are this script's output (tests/api checks that they
# still are), and the scale-out test renders its own on free loopback ports.
#
#   deploy/router-conf.sh haproxy|nginx [OPTIONS] NAME=HOST:PORT...
#
# One NAME=HOST:PORT per gateway: NAME is the gateway's --node. Options:
#   --listen ADDR:PORT      where the router listens (default 127.0.0.1:8080)
#   --max-wait SECONDS      the gateways' --max-wait (default 30)
#   --heartbeat SECONDS     the gateways' --heartbeat (default 15)
#   --max-conn-per-client N connections one client address may hold (default 4096)
#   --resolve               HAProxy: resolve HOSTs at run time with the DNS servers of
#                           /etc/resolv.conf, and start even while a gateway has no
#                           address yet (Kubernetes, where pods come and go)
#   --run-dir DIR           nginx: pid file and temporary files in DIR, errors to stderr,
#                           in the foreground (to run it unprivileged, as the tests do)
#
# What every configuration does:
#   /sockets/NAME.<rest> goes to gateway NAME, and so does any request with ?node=NAME;
#   POST /sockets and everything else is spread over the gateways that answer;
#   a request for a gateway that is down is answered 503 ["<command>","UNAVAILABLE: ..."],
#   never by another gateway; an unknown node is 421 ["<command>","MISDIRECTED: ..."];
#   GET /healthz is answered by the router itself (for probes), /healthz?node=NAME by NAME;
#   waits and event streams stay open longer than --max-wait and the heartbeat;
#   event streams are passed on unbuffered; WebSocket upgrades are passed through.
set -eu

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
kind=$1; shift
case $kind in haproxy|nginx) ;; *) usage ;; esac

listen=127.0.0.1:8080 max_wait=30 heartbeat=15 per_client=4096 resolve="" run_dir=""
nodes=""
while [ $# -gt 0 ]; do
    case $1 in
    --listen) listen=$2; shift 2 ;;
    --max-wait) max_wait=$2; shift 2 ;;
    --heartbeat) heartbeat=$2; shift 2 ;;
    --max-conn-per-client) per_client=$2; shift 2 ;;
    --resolve) resolve=1; shift ;;
    --run-dir) run_dir=$2; shift 2 ;;
    -*) usage ;;
    *=*)
        name=${1%%=*}
        # The name appears in generated rules and JSON answers: the gateway's own
        # --node alphabet only (letters, digits, '-', '_', '.').
        case $name in ''|*[!A-Za-z0-9._-]*)
            echo "router-conf: bad node name '$name'" >&2; exit 2 ;;
        esac
        nodes="$nodes $1"; shift ;;
    *) usage ;;
    esac
done
[ -n "$nodes" ] || { echo "router-conf: name at least one NAME=HOST:PORT" >&2; exit 2; }
for n in "$max_wait" "$heartbeat" "$per_client"; do
    case $n in ''|*[!0-9]*) echo "router-conf: '$n' is not a whole number" >&2; exit 2 ;; esac
done

# Waits answer within --max-wait and idle streams carry a comment every heartbeat; the
# router gives both 30 s more than the longer of the two before it calls a gateway dead.
longest=$max_wait
[ "$heartbeat" -le "$longest" ] || longest=$heartbeat
timeout=$((longest + 30))

names() { for n in $nodes; do printf '%s ' "${n%%=*}"; done; }

# ---- HAProxy 2.6 ----
haproxy_conf() {
    cat <<EOF
# sockgate router, HAProxy 2.6 (written by deploy/router-conf.sh; change that, not this).
# Requests for /sockets/NAME.<id>... or with ?node=NAME go to gateway NAME, or are answered
# 503 UNAVAILABLE when it is down (option persist: never another gateway); the rest is
# spread over the gateways that are up.
global
    log stderr format short local0 notice
$( [ -z "$resolve" ] || printf '\nresolvers dns\n    parse-resolv-conf\n    hold valid 5s\n    accepted_payload_size 8192\n' )

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # Longer than the gateways' --max-wait ($max_wait s) and heartbeat ($heartbeat s).
    timeout connect 2s
    timeout client ${timeout}s
    timeout server ${timeout}s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout tunnel 1h
    # Answers the router makes itself are JSON lists, like the gateways' (SPEC §1, §5).
    http-error status 502 content-type application/json lf-string '["%[var(txn.cmd)]","UNAVAILABLE: %[var(txn.down)]."]'
    http-error status 503 content-type application/json lf-string '["%[var(txn.cmd)]","UNAVAILABLE: %[var(txn.down)]."]'
    http-error status 504 content-type application/json lf-string '["%[var(txn.cmd)]","UNAVAILABLE: %[var(txn.down)]."]'

frontend sockgate
    bind $listen
    option forwardfor
    # The router limits connections per client: behind it, every gateway sees only the
    # router's address (see the README, "Running several gateways").
    stick-table type ipv6 size 100k expire 60s store conn_cur
    tcp-request connection track-sc0 src

    # The node a request is for: the prefix of the socket id, else ?node=NAME.
    http-request set-var(txn.node) path,field(3,/),regsub('[.][^.]*\$','') if { path_reg ^/sockets/[^/]+\.s[0-9]+(/|\$) }
    http-request set-var(txn.node) url_param(node) if !{ var(txn.node) -m found } { url_param(node) -m found }

    # Element 1 of the answers the router makes, as the gateway would name the request.
    http-request set-var(txn.cmd) str(request)
    http-request set-var(txn.cmd) str(socket) if METH_POST { path_reg ^/sockets/?\$ }
    http-request set-var(txn.cmd) str(sockets) if METH_GET { path_reg ^/sockets/?\$ }
    http-request set-var(txn.cmd) str(socket) if METH_GET { path_reg ^/sockets/[^/]+/?\$ }
    http-request set-var(txn.cmd) str(close) if METH_DELETE { path_reg ^/sockets/[^/]+/?\$ }
    http-request set-var(txn.cmd) path,field(4,/),lower if { path_reg -i ^/sockets/[^/]+/[a-z]{1,20}/?\$ }
    http-request set-var(txn.cmd) str(events) if { path_reg ^/events/?\$ }
    http-request set-var(txn.cmd) str(metrics) if { path_reg ^/metrics/?\$ }
    http-request set-var(txn.cmd) str(healthz) if { path /healthz }
    http-request set-var(txn.cmd) str(openapi) if { path /openapi.json }
    http-request set-var(txn.down) str("no gateway is answering")
    http-request set-var-fmt(txn.down) "gateway %[var(txn.node)] is not answering" if { var(txn.node) -m found }

    # The router's own health, for probes; /healthz?node=NAME asks gateway NAME.
    http-request return status 200 content-type application/json string '{"status":"ok"}' if { path /healthz } !{ var(txn.node) -m found }
    http-request return status 429 content-type application/json lf-string '["%[var(txn.cmd)]","LIMIT: too many connections from this address."]' if { sc0_conn_cur gt $per_client }
    http-request return status 421 content-type application/json lf-string '["%[var(txn.cmd)]","MISDIRECTED: this router has no such node."]' if { var(txn.node) -m found } !{ var(txn.node) -m str $(names)}
EOF
    for n in $nodes; do
        name=${n%%=*}
        printf "    http-request return status 503 content-type application/json lf-string '[\"%%[var(txn.cmd)]\",\"UNAVAILABLE: gateway %s is not answering.\"]' if { var(txn.node) -m str %s } !{ srv_is_up(nodes/%s) }\n" \
            "$name" "$name" "$name"
    done
    cat <<EOF
    # A gateway that dies in the middle of an answer (502) or stops answering (504) is
    # unavailable too; the body is the http-error one above.
    http-after-response set-status 503 if { status 502 } || { status 504 }

    use_backend nodes if { var(txn.node) -m found }
    default_backend spread

# One gateway, named by the request. With option persist a down gateway is still the one
# used, so the request fails (503) instead of reaching another; the rules above answer
# before that once the health check has seen it down.
backend nodes
    option persist
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 1s fall 2 rise 1$( [ -z "$resolve" ] || printf ' resolvers dns init-addr none' )
    use-server %[var(txn.node)] if { var(txn.node) -m found }
EOF
    for n in $nodes; do
        printf '    server %s %s check\n' "${n%%=*}" "${n#*=}"
    done
    cat <<EOF

# New sockets and requests for no node in particular: any gateway that is up. A gateway
# that refuses the connection is skipped (redispatch), so new sockets avoid a dead one
# even before its health check fails.
backend spread
    balance roundrobin
    option redispatch 1
    retries 2
    default-server$( [ -z "$resolve" ] || printf ' resolvers dns init-addr none' )
EOF
    for n in $nodes; do
        printf '    server %s %s track nodes/%s\n' "${n%%=*}" "${n#*=}" "${n%%=*}"
    done
}

# ---- nginx 1.22 ----
# The commands, for element 1 of the answers nginx makes (a map cannot lower-case).
commands="bind listen accept acceptfast connect send sendto recv recvfrom getpeername \
getsockname ioctl close starttls ws"

nginx_http() {
    cat <<EOF
# sockgate router, nginx 1.22 (written by deploy/router-conf.sh; change that, not this).
# http-level directives: include it in nginx.conf's http block (Debian: drop it into
# /etc/nginx/conf.d/). Requests for /sockets/NAME.<id>... or with ?node=NAME go to the
# upstream of gateway NAME, which has that one server, so a down gateway is answered 503
# UNAVAILABLE and never by another; the rest is spread over every gateway.

# The node a request is for: the prefix of the socket id, else ?node=NAME.
map \$uri \$sockgate_id_node {
    "~^/sockets/(?<sockgate_prefix>[^/]+)\.s[0-9]+(/.*)?\$" \$sockgate_prefix;
    default "";
}
map "\$sockgate_id_node|\$arg_node" \$sockgate_node {
    "~^(?<sockgate_by_id>[^|]+)\|" \$sockgate_by_id;
    "~^\|(?<sockgate_by_arg>.+)\$" \$sockgate_by_arg;
    default "";
}
map \$sockgate_node \$sockgate_upstream {
    "" sockgate_all;
EOF
    for n in $nodes; do printf '    "%s" sockgate_node_%s;\n' "${n%%=*}" "${n%%=*}"; done
    cat <<EOF
    default "";
}
map \$sockgate_node \$sockgate_down {
    "" "no gateway is answering";
    default "gateway \$sockgate_node is not answering";
}

# Element 1 of the answers nginx makes, as the gateway would name the request.
map "\$request_method \$uri" \$sockgate_cmd {
    "~^POST /sockets/?\$" socket;
    "~^(GET|HEAD) /sockets/?\$" sockets;
    "~^(GET|HEAD) /sockets/[^/]+/?\$" socket;
    "~^DELETE /sockets/[^/]+/?\$" close;
EOF
    for c in $commands; do printf '    "~*^[A-Z]+ /sockets/[^/]+/%s/?$" %s;\n' "$c" "$c"; done
    cat <<EOF
    "~^[A-Z]+ /events/?\$" events;
    "~^[A-Z]+ /metrics/?\$" metrics;
    "~^[A-Z]+ /healthz\$" healthz;
    "~^[A-Z]+ /openapi\.json\$" openapi;
    default request;
}

# WebSocket upgrades pass through; other requests keep the upstream connection alive.
map \$http_upgrade \$sockgate_connection {
    default upgrade;
    "" "";
}

# Behind the router every gateway sees only its address: limit clients here instead.
limit_conn_zone \$binary_remote_addr zone=sockgate_per_client:10m;

EOF
    for n in $nodes; do
        printf 'upstream sockgate_node_%s {\n    server %s;\n    keepalive 16;\n}\n' \
            "${n%%=*}" "${n#*=}"
    done
    printf '# New sockets: any gateway; one that fails is left alone for 5 s.\nupstream sockgate_all {\n'
    for n in $nodes; do printf '    server %s max_fails=1 fail_timeout=5s;\n' "${n#*=}"; done
    cat <<EOF
    keepalive 16;
}

server {
    listen $listen;
    default_type application/json;
    limit_conn sockgate_per_client $per_client;
    limit_conn_status 429;
    # Bodies go to the gateway as they come; its --max-body answers what is too large.
    client_max_body_size 64m;
    proxy_request_buffering off;
    # Answers, waits and event streams pass through as they come (SSE unbuffered).
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Host \$http_host;
    proxy_set_header Connection \$sockgate_connection;
    proxy_set_header Upgrade \$http_upgrade;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    # Longer than the gateways' --max-wait ($max_wait s) and heartbeat ($heartbeat s).
    proxy_connect_timeout 2s;
    proxy_read_timeout ${timeout}s;
    proxy_send_timeout ${timeout}s;
    # Only sockgate_all has a next server: a new socket goes to another gateway when one
    # refuses the connection (the request was not sent, so this is safe for POST).
    proxy_next_upstream error timeout;

    # Answers nginx makes itself are JSON lists, like the gateways' (SPEC §1, §5).
    error_page 502 503 504 = @sockgate_unavailable;
    error_page 413 = @sockgate_too_large;
    error_page 429 = @sockgate_limit;

    # The router's own health, for probes; /healthz?node=NAME asks gateway NAME.
    location = /healthz {
        if (\$sockgate_node = "") {
            return 200 '{"status":"ok"}';
        }
        if (\$sockgate_upstream = "") {
            return 421 '["healthz","MISDIRECTED: this router has no such node."]';
        }
        proxy_pass http://\$sockgate_upstream;
    }
    location / {
        if (\$sockgate_upstream = "") {
            return 421 '["\$sockgate_cmd","MISDIRECTED: this router has no such node."]';
        }
        proxy_pass http://\$sockgate_upstream;
    }
    # A WebSocket bridge may stay quiet for long.
    location ~ ^/(sockets/[^/]+/ws|websockify)\$ {
        if (\$sockgate_upstream = "") {
            return 421 '["\$sockgate_cmd","MISDIRECTED: this router has no such node."]';
        }
        proxy_pass http://\$sockgate_upstream;
        proxy_read_timeout 1h;
        proxy_send_timeout 1h;
    }
    location @sockgate_unavailable {
        return 503 '["\$sockgate_cmd","UNAVAILABLE: \$sockgate_down."]';
    }
    location @sockgate_too_large {
        return 413 '["\$sockgate_cmd","LIMIT: the request body is too large."]';
    }
    location @sockgate_limit {
        return 429 '["\$sockgate_cmd","LIMIT: too many connections from this address."]';
    }
}
EOF
}

# nginx on its own: the http part above inside a whole configuration that keeps its pid
# and temporary files in --run-dir and runs in the foreground.
nginx_standalone() {
    cat <<EOF
# sockgate router, nginx 1.22, standalone (written by deploy/router-conf.sh --run-dir).
daemon off;
worker_processes 1;
pid $run_dir/nginx.pid;
error_log stderr notice;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $run_dir/client_body;
    proxy_temp_path $run_dir/proxy;
    fastcgi_temp_path $run_dir/fastcgi;
    uwsgi_temp_path $run_dir/uwsgi;
    scgi_temp_path $run_dir/scgi;

EOF
    nginx_http | sed 's/^\(.\)/    \1/'
    echo "}"
}

case $kind in
haproxy) haproxy_conf ;;
nginx) if [ -n "$run_dir" ]; then nginx_standalone; else nginx_http; fi ;;
esac
