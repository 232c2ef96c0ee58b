#!/bin/bash
# Runs the README's TLS walkthrough (HTTPS through a TLS socket, SMTP with STARTTLS),
# exactly as written, against a fresh server, so that it stays true. Ports 8080, 8443 and
# 2525 and the demo folder in the text are swapped for free ports and a temporary folder.
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

readme_block "$here/README.md" walkthrough-tls -e "s/\b8080\b/$http_port/g" \
    -e "s/\b8443\b/$https_port/g" -e "s/\b2525\b/$smtp_port/g" \
    -e "s#/tmp/sockgate-tls-demo#$work/demo#g" > "$work/walk.sh"
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
finish walkthrough_tls
