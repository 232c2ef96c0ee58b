#!/usr/bin/env bash
# make docker-test: build the image, then drive running containers with curl over loopback.
# It checks the image (size, non-root user, port, health check, exec-form entrypoint), a
# whole conversation through the gateway with a local HTTP server, bearer tokens, the
# token generated when listening on 0.0.0.0, the HEALTHCHECK, and a clean stop on SIGTERM
# (a waiting recv answers, exit code 0).
#
# Containers use --network host and listen on 127.0.0.1 only; the one that listens on the
# image's default 0.0.0.0:8080 runs with --network none, so nothing can reach it. Every wait
# is bounded, and every container and helper process is removed on exit, pass or fail.
#
#   tests/docker/docker-test.sh
#
# SOCKGATE_IMAGE=name:tag tags the image otherwise (default sockgate:latest);
# SOCKGATE_SKIP_TESTS="test_a test_b" leaves those test binaries out of the build stage.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${SOCKGATE_IMAGE:-sockgate:latest}
BASE=debian:bookworm-slim
MAX_BYTES=$((150 * 1000 * 1000))
DOCKER_READY=../shared/tools/docker-ready.sh
TAG=sockgate-dt-$$
TOKEN=dt-token-$$-$RANDOM$RANDOM

tmp=$(mktemp -d)
containers=()
helper_pids=()
passed=0
failed=0
t_start=$(date +%s)

cleanup() {
    local c p
    for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    for p in "${helper_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${helper_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'docker-test: %s\n' "$*" >&2; }
die() {
    say "FATAL: $*"
    echo "docker-test: $passed passed, $((failed + 1)) failed"
    exit 1
}
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [ -z "${2:-}" ] || printf '     %s\n' "$2"; }
# expect DESCRIPTION ACTUAL PATTERN: a shell pattern match, the actual value shown on failure.
expect() {
    # shellcheck disable=SC2053
    if [[ $2 == $3 ]]; then ok "$1"; else bad "$1" "got: ${2:0:300}"; fi
}
# expect_eq DESCRIPTION ACTUAL EXPECTED: the same, for a literal value (JSON lists hold [ ]).
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got: ${2:0:300}"; fi
}

need() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    say "installing $pkg"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >/dev/null 2>&1 || {
        apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "$pkg" >/dev/null
    } || die "cannot install $pkg"
}
need curl curl
need python3 python3-minimal

# A free TCP port on loopback (the kernel picks it; it is free again when this returns).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# HTTP to the gateway under test: prints the body, and the status on the last line.
api() {
    local method=$1 path=$2 body=${3-} auth=${4-yes}
    local args=(-sS --max-time 30 -X "$method" -o "$tmp/body" -w '%{http_code}')
    [ "$auth" = yes ] && args+=(-H "Authorization: Bearer $TOKEN")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    local code
    rm -f "$tmp/body"
    code=$(curl "${args[@]}" "http://127.0.0.1:$PORT$path" 2>"$tmp/curl.err") || code=000
    cat "$tmp/body" 2>/dev/null || true
    printf '\n%s\n' "$code"
}
# Splits api's output: status and body.
status_of() { printf '%s\n' "$1" | tail -n 1; }
body_of() { printf '%s\n' "$1" | sed '$d' | sed '/^$/d'; }
# Element N (1-based) of a JSON list of strings.
elem() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[int(sys.argv[2]) - 1])' "$1" "$2" 2>/dev/null; }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds or time runs out.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
healthz_up() { curl -sf --max-time 2 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; }
health_is() { [ "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null)" = "$2" ]; }
logs_have() { docker logs "$1" 2>&1 | grep -q -- "$2"; }
is_stopped() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = false ]; }
# run_container NAME ARGS...: docker run -d, remembered for the cleanup.
run_container() {
    local name=$1
    shift
    containers+=("$name")
    docker run -d --name "$name" "$@" >/dev/null
}
# stop_clean NAME: SIGTERM (docker stop, 10 s grace), then the exit code must be 0.
stop_clean() {
    local name=$1 t0 t1 code
    t0=$(date +%s)
    docker stop -t 10 "$name" >/dev/null || true
    t1=$(date +%s)
    code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
    expect "$name: SIGTERM stops it with exit code 0 (in $((t1 - t0)) s)" "$code" 0
    if logs_have "$name" stopped; then ok "$name: logs its stop"; else bad "$name: logs its stop"; fi
}

# --- Docker and the base image -----------------------------------------------------------
if ! docker info >/dev/null 2>&1 || ! docker image inspect "$BASE" >/dev/null 2>&1; then
    [ -x "$DOCKER_READY" ] || die "no Docker daemon or no $BASE, and no $DOCKER_READY"
    say "preparing Docker with $DOCKER_READY"
    "$DOCKER_READY" || die "$DOCKER_READY failed"
fi

# --- Build ---------------------------------------------------------------------------------
say "building $IMAGE (log: build output below on failure)"
b0=$(date +%s)
skip=${SOCKGATE_SKIP_TESTS:-}
[ -z "$skip" ] || say "the build stage leaves out these tests: $skip"
if ! timeout 3600 docker build --network host --force-rm --build-arg SOCKGATE_SKIP_TESTS="$skip" \
    -t "$IMAGE" . >"$tmp/build.log" 2>&1; then
    tail -n 60 "$tmp/build.log" >&2
    cp "$tmp/build.log" "${TMPDIR:-/tmp}/sockgate-docker-build.log"
    die "docker build failed (whole log: ${TMPDIR:-/tmp}/sockgate-docker-build.log)"
fi
b1=$(date +%s)
ok "image builds, its build stage's tests pass ($((b1 - b0)) s)"
sed 's/\x1b\[[0-9;]*m//g' "$tmp/build.log" | grep -E 'SKIPPED|passed, [0-9]+ failed|^# (pass|fail) ' |
    sed 's/^/     build stage: /' || true

# --- The image itself ----------------------------------------------------------------------
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
if [ "$size" -lt "$MAX_BYTES" ]; then
    ok "image size $((size / 1000 / 1000)) MB < 150 MB"
else
    bad "image size $((size / 1000 / 1000)) MB < 150 MB"
fi
expect "image user is set and not root" "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" '[1-9]*'
expect "container runs as a non-root uid" \
    "$(docker run --rm --network none --entrypoint id "$IMAGE" -u 2>&1)" '[1-9]*'
expect "image exposes 8080/tcp" "$(docker image inspect -f '{{json .Config.ExposedPorts}}' "$IMAGE")" '*"8080/tcp"*'
expect "image has a HEALTHCHECK" "$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE")" '*sockgate-healthcheck*'
expect_eq "exec-form entrypoint" "$(docker image inspect -f '{{json .Config.Entrypoint}}' "$IMAGE")" '["sockgate"]'
expect "flags are appended (--version)" "$(docker run --rm --network none "$IMAGE" --version 2>&1)" 'sockgate *'
expect "console assets in the image" \
    "$(docker run --rm --network none --entrypoint ls "$IMAGE" /usr/share/sockgate/web 2>&1 | tr '\n' ' ')" \
    '*index.html*sockgate_wasm.js*'

# --- A local server for the conversation ---------------------------------------------------
mkdir -p "$tmp/www"
printf 'hello from docker-test %s\n' "$$" >"$tmp/www/hello.txt"
WWW_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$WWW_PORT" >"$tmp/www.log" 2>&1 &
helper_pids+=($!)
wait_for 10 curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$WWW_PORT/hello.txt" ||
    die "the local HTTP server did not start"

# --- The gateway on loopback, with a token -------------------------------------------------
PORT=$(free_port)
MAIN=$TAG-main
run_container "$MAIN" --network host --health-interval 1s --health-timeout 3s --health-retries 3 \
    -e SOCKGATE_TOKEN="$TOKEN" "$IMAGE" --listen "127.0.0.1:$PORT" ||
    die "docker run failed"
if ! wait_for 20 healthz_up; then
    docker logs "$MAIN" >&2 || true
    die "$MAIN: /healthz did not answer on 127.0.0.1:$PORT"
fi
expect_eq "GET /healthz" "$(curl -sS --max-time 5 "http://127.0.0.1:$PORT/healthz")" '{"status":"ok"}'
expect "GET / serves the console" "$(curl -sS --max-time 5 "http://127.0.0.1:$PORT/")" '*<html*'
expect "GET /sockgate_wasm.js is served" \
    "$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/sockgate_wasm.js")" 200

r=$(api GET /sockets '' no)
expect "no token: 401" "$(status_of "$r")" 401
expect "no token: AUTH error in the list" "$(body_of "$r")" '*AUTH:*'
r=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' \
    "http://127.0.0.1:$PORT/sockets") || r=000
expect "wrong token: 401" "$r" 401
r=$(api GET /sockets)
expect "with the token: 200" "$(status_of "$r")" 200

r=$(api POST /sockets '{"type":"STREAM"}')
expect "create a socket: 201" "$(status_of "$r")" 201
sid=$(elem "$(body_of "$r")" 3) || sid=""
expect "create a socket: an id" "$sid" '?*'

r=$(api POST "/sockets/$sid/connect" "{\"socketname\":\"127.0.0.1\",\"port\":$WWW_PORT}")
expect_eq "connect to the local server" "$(body_of "$r")" '["connect","ok"]'
r=$(api POST "/sockets/$sid/send" '["GET /hello.txt HTTP/1.0~0D~0AHost: localhost~0D~0A~0D~0A"]')
expect_eq "send a request" "$(body_of "$r")" '["send","ok",""]'
# recv until the server closes: at most 50 rounds, each bounded by its timeout.
data=""
for _ in $(seq 1 50); do
    r=$(api POST "/sockets/$sid/recv" '{"n":4096,"timeout":10}')
    b=$(body_of "$r")
    [ "$(elem "$b" 2)" = ok ] || break
    data+=$(elem "$b" 3)
done
expect "recv ends with CLOSED" "$(elem "$b" 2)" 'CLOSED:*'
expect "recv got the status line" "$data" 'HTTP/1.0 200 OK~0D~0A*'
expect "recv got the file" "$data" "*hello from docker-test $$~0A"
r=$(api POST "/sockets/$sid/close")
expect_eq "close" "$(body_of "$r")" '["close","ok"]'
r=$(api GET "/sockets/$sid")
expect "closed socket is gone: 404" "$(status_of "$r")" 404

# A service name as a port needs /etc/services in the image (netbase): "http" is port 80,
# which bind refuses by policy (403 DENIED), where an unknown name would be 400 INVAL.
r=$(api POST /sockets)
sid=$(elem "$(body_of "$r")" 3) || sid=""
r=$(api POST "/sockets/$sid/bind" '{"localhost":"127.0.0.1","port":"http"}')
expect "a service name resolves as a port (bind to \"http\": 403 DENIED)" \
    "$(status_of "$r") $(body_of "$r")" '403 *DENIED:*'
api POST "/sockets/$sid/close" >/dev/null

if wait_for 30 health_is "$MAIN" healthy; then
    ok "HEALTHCHECK reports healthy"
else
    bad "HEALTHCHECK reports healthy" \
        "$(docker inspect -f '{{json .State.Health}}' "$MAIN" 2>&1 | head -c 600)"
fi

# A blocking recv waits on a connection that stays silent; SIGTERM must answer it.
r=$(api POST /sockets)
sid=$(elem "$(body_of "$r")" 3) || sid=""
r=$(api POST "/sockets/$sid/connect" "{\"socketname\":\"127.0.0.1\",\"port\":$WWW_PORT}")
expect_eq "second socket connects" "$(body_of "$r")" '["connect","ok"]'
curl -sS --max-time 40 -o "$tmp/wait.body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -X POST --data-binary '{"n":100,"timeout":25}' -H 'Content-Type: application/json' \
    "http://127.0.0.1:$PORT/sockets/$sid/recv" >"$tmp/wait.code" 2>/dev/null &
waiter=$!
helper_pids+=("$waiter")
sleep 1
stop_clean "$MAIN"
wait "$waiter" 2>/dev/null || true
expect "the waiting recv was answered at shutdown" "$(cat "$tmp/wait.code" 2>/dev/null)" '[2-5][0-9][0-9]'
say "the waiting recv got: $(cat "$tmp/wait.code" 2>/dev/null) $(cat "$tmp/wait.body" 2>/dev/null)"
if docker logs "$MAIN" 2>&1 | grep -q -- "$TOKEN"; then
    bad "the token never appears in the logs"
else
    ok "the token never appears in the logs"
fi

# --- The image's default: 0.0.0.0:8080, a token generated and printed ----------------------
# --network none: the container has only its own loopback, so listening on every interface
# of the container reaches nothing else.
DEF=$TAG-default
run_container "$DEF" --network none --health-interval 1s --health-timeout 3s --health-retries 3 \
    "$IMAGE" || die "docker run failed"
if wait_for 20 logs_have "$DEF" '?token='; then
    ok "default listen: a generated token is printed with the console URL"
else
    bad "default listen: a generated token is printed with the console URL" "$(docker logs "$DEF" 2>&1 | head -20)"
fi
say "$DEF said: $(docker logs "$DEF" 2>&1 | grep -m1 -- '?token=' || true)"
expect "default listen is 0.0.0.0:8080" "$(docker logs "$DEF" 2>&1)" '*0.0.0.0:8080*'
if wait_for 30 health_is "$DEF" healthy; then
    ok "default listen: HEALTHCHECK reports healthy"
else
    bad "default listen: HEALTHCHECK reports healthy" \
        "$(docker inspect -f '{{json .State.Health}}' "$DEF" 2>&1 | head -c 600)"
fi
stop_clean "$DEF"

# Flags appended to the default keep its listen address: with --token, nothing is generated.
GIVEN=$TAG-given
run_container "$GIVEN" --network none "$IMAGE" --token "$TOKEN" || die "docker run failed"
if wait_for 20 logs_have "$GIVEN" '0.0.0.0:8080'; then
    ok "appended --token: still listens on 0.0.0.0:8080"
else
    bad "appended --token: still listens on 0.0.0.0:8080" "$(docker logs "$GIVEN" 2>&1 | head -20)"
fi
if logs_have "$GIVEN" '?token='; then
    bad "appended --token: no token generated"
else
    ok "appended --token: no token generated"
fi
stop_clean "$GIVEN"

echo "docker-test: $(($(date +%s) - t_start)) s in all, $((b1 - b0)) s of it building"
echo "docker-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
