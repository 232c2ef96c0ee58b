#!/bin/sh
# Installs the Debian packages a make target needs, and only those that are missing, so
# that `make run` and `make test` work on a fresh Debian 12 machine. Each argument names
# a group of packages; see the case below. Needs root (or sudo) only when something is
# missing.
set -eu

pkgs_for() {
    case "$1" in
    build) echo "make gcc libc6-dev pkg-config netbase libmicrohttpd-dev libcjson-dev libc-ares-dev libgnutls28-dev libwslay-dev" ;;
    test)  echo "libcmocka-dev clang libclang-rt-14-dev redis-server nginx-light curl openssl ca-certificates websockify novnc tigervnc-standalone-server" ;;
    wasm)  echo "emscripten nodejs" ;;
    browser) echo "chromium npm" ;;
    # Routers and validators for tests/api: HAProxy 2.6 (nginx is in test), promtool
    # (only the prometheus package has it), docker-compose (to validate deploy/compose.yaml)
    # and the Kubernetes API's models (tests/api/k8s_strict.py: no unknown fields).
    api) echo "haproxy prometheus docker-compose python3-kubernetes" ;;
    bench) echo "wrk valgrind websockify" ;;
    *) echo "ensure-deps: unknown group $1" >&2; exit 2 ;;
    esac
}

missing=""
for group in "$@"; do
    for p in $(pkgs_for "$group"); do
        # A Node.js from elsewhere (NodeSource's nodejs carries npm and conflicts with
        # Debian's npm package) is as good as Debian's: accept the command.
        if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
            continue
        fi
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
            missing="$missing $p"
        fi
    done
done
[ -z "$missing" ] && exit 0

echo "ensure-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# An apt cache that has never been updated knows no packages; update once on failure.
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null
    $SUDO apt-get install -y --no-install-recommends $missing >/dev/null
}
