#!/bin/bash
# Runs the README's curl walkthrough, exactly as written, against a fresh server, so the
# README stays true. Ports 8080 and 9000 in the text are swapped for free ones.
# Usage: tests/readme/walkthrough.sh [path/to/sockgate]
set -eu
bin=${1:-build/sockgate}
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

# shellcheck source=tests/readme/lib.sh
. "$here/tests/readme/lib.sh"
http_port=$(free_port)
app_port=$(free_port)
[ "$app_port" != "$http_port" ] || app_port=$((app_port + 1))

readme_block "$here/README.md" walkthrough -e "s/\b8080\b/$http_port/g" -e "s/\b9000\b/$app_port/g" \
    -e "s#/tmp/sockgate-#$work/#g" > "$work/walk.sh"
start_gateway "$bin" "$http_port" "$work/server.log"

bash -eu "$work/walk.sh" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }

expect '["connect","ok"]'
expect '["send","ok",""]'
expect '["recv","ok","HTTP/1.1 200 OK~0D~0A'
expect '{~22status~22:~22ok~22}'
expect '["close","ok"]'
expect '["recvfrom","ok","hello~00world","127.0.0.1","'
expect '["bind","ok"]'
expect '["listen","ok"]'
expect '["recv","ok","GET /hello HTTP/1.1~0D~0A'
expect 'hello from sockgate'
expect 'the same 20000 bytes'
expect '{"sockets":['
finish walkthrough
