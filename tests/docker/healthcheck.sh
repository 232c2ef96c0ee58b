#!/bin/bash
# The image's HEALTHCHECK: GET /healthz over bash's /dev/tcp, since debian:bookworm-slim
# has no curl. It asks the address sockgate really listens on: a --listen flag on the
# command line of the container's process (PID 1, or its child under --init), else
# SOCKGATE_LISTEN, else the built-in default. A wildcard address is asked on loopback.
# Exit 0 when /healthz answers 200, 1 otherwise.
listen=${SOCKGATE_LISTEN:-127.0.0.1:8080}
args=()
mapfile -d '' -t args </proc/1/cmdline 2>/dev/null
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
    --listen) listen=${args[i + 1]:-$listen} ;;
    --listen=*) listen=${args[i]#--listen=} ;;
    esac
done
host=${listen%:*}
port=${listen##*:}
host=${host#[}
host=${host%]}
case $host in
'' | '*' | 0.0.0.0 | localhost) host=127.0.0.1 ;;
:: | ::0) host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case $status in
"HTTP/1."?" 200"*) exit 0 ;;
*) exit 1 ;;
esac
