#!/bin/bash
# Runs the README's TLS walkthrough (HTTPS through a TLS socket, SMTP with STARTTLS, then
# the gateway itself over HTTPS), exactly as written, against a fresh server, so that it
# stays true. Ports 8080, 8443, 2525 and 8444, the demo folder and build/sockgate in the
# text are swapped for free ports, a temporary folder and the binary under test.
# Usage: tests/readme/walkthrough_tls.sh [path/to/sockgate]
set -eu
bin=$(realpath "${1:-build/sockgate}")
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

# shellcheck source=tests/readme/lib.sh
. "$here/tests/readme/lib.sh"
http_port=$(free_port)
https_port=$(free_port)
smtp_port=$(free_port)

gateway_port=$(free_port)
# The second block (the gateway itself over HTTPS) runs after the first, in the same
# shell, as the README asks; its gateway is this build's.
for block in walkthrough-tls walkthrough-tls-gateway; do
    readme_block "$here/README.md" $block -e "s/\b8080\b/$http_port/g" \
        -e "s/\b8443\b/$https_port/g" -e "s/\b2525\b/$smtp_port/g" \
        -e "s/\b8444\b/$gateway_port/g" -e "s#^build/sockgate #$bin #" \
        -e "s#/tmp/sockgate-tls-demo#$work/demo#g"
done > "$work/walk.sh"
start_gateway "$bin" "$http_port" "$work/server.log"

(cd "$here" && bash -eu "$work/walk.sh") > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }

expect '["connect","ok"]'
expect '["send","ok",""]'
expect '["recv","ok","HTTP/1.0 200 ok"]'
expect '"tls":"on"'
expect '["connect","TLS: certificate signed by an unknown authority."]'
expect '["recv","ok","220 localhost ESMTP sockgate test~0D~0A"]'
expect '["recv","ok","220 Ready to start TLS~0D~0A"]'
expect '["starttls","ok"]'
expect '["recv","ok","250 secure TLSv1.3~0D~0A"]'
expect '["close","ok"]'
expect '{"status":"ok"}'
expect '["socket","AUTH: send Authorization: Bearer TOKEN or ?token=TOKEN."]'
expect 'curl: 60 (it does not trust the demo CA)'
expect '["request","INVAL: this port speaks HTTPS; use https://."]'
expect "listening on https://127.0.0.1:$gateway_port" "$work/demo/gateway.log"
finish walkthrough_tls
