#!/bin/bash
# Runs the README's curl walkthrough, exactly as written, against a fresh server, so the
# README stays true. Ports 8080 and 9000 in the text are swapped for free ones.
# Usage: tests/readme/walkthrough.sh [path/to/sockgate]
set -eu
bin=${1:-build/sockgate}
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() {
    # Probe upward from a random port for one nobody answers on (bash's /dev/tcp). Below
    # Linux's ephemeral range (32768 and up), so that no outgoing connection of this or
    # any other test holds it as its source port when the walkthrough binds it.
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000 ))
    while (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null; do p=$((p + 1)); done
    echo $p
}
http_port=$(free_port)
app_port=$(free_port)
[ "$app_port" != "$http_port" ] || app_port=$((app_port + 1))

sed -n '/<!-- walkthrough:begin -->/,/<!-- walkthrough:end -->/p' "$here/README.md" \
    | sed -e '/^<!--/d' -e '/^```/d' \
    | sed -e "s/\b8080\b/$http_port/g" -e "s/\b9000\b/$app_port/g" \
          -e "s#/tmp/sockgate-client.txt#$work/client.txt#g" > "$work/walk.sh"

"$bin" --listen 127.0.0.1:$http_port --quiet 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
    curl -s "localhost:$http_port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
done

bash -eu "$work/walk.sh" > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }

fail=0
expect() {
    if grep -qF -- "$1" "$work/out.txt"; then echo "ok: $1"; else echo "MISSING: $1"; fail=1; fi
}
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
expect '{"sockets":['
if [ $fail -ne 0 ]; then
    echo "--- walkthrough output"; cat "$work/out.txt"; exit 1
fi
kill -TERM $pid; wait $pid
echo "walkthrough: 11 passed, 0 failed"
