#!/bin/sh
# The layering, checked (make test runs this; ARCHITECTURE.md explains it). Data flows
# one way: server/ may include engine/ and server/ headers; engine/ only its own; web/'s C
# (the JSL parser) only its own. engine/ and web/ name no HTTP or JSON library. The build
# enforces the same with each folder's include path; this check says which line broke it.
# With a build folder as argument it also checks that libengine.a holds only engine
# objects. `--self-test` plants a wrong include in a scratch copy and expects a failure.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)

# check ROOT: prints each include that crosses a layer the wrong way; fails if any.
check() {
    root=$1 bad=0
    for layer in engine server web; do
        case $layer in
            engine) allowed="engine" ;;
            server) allowed="server engine" ;;
            web) allowed="web" ;;
        esac
        for f in "$root/$layer"/*.c "$root/$layer"/*.h; do
            [ -f "$f" ] || continue
            for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
                home=""
                for d in engine server web; do
                    [ -f "$root/$d/$inc" ] && home=$d
                done
                ok=0
                for a in $allowed; do [ "$home" = "$a" ] && ok=1; done
                if [ $ok = 0 ]; then
                    echo "layers: ${f#$root/} includes \"$inc\" (${home:-not in engine/, server/ or web/}); $layer/ may include only: $allowed"
                    bad=1
                fi
            done
            if [ "$layer" != server ] &&
                grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(microhttpd|cjson/)' "$f" >/dev/null; then
                echo "layers: ${f#$root/} includes an HTTP or JSON library; only server/ may"
                bad=1
            fi
        done
    done
    return $bad
}

if [ "${1:-}" = --self-test ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp -R "$here/engine" "$here/server" "$here/web" "$tmp/"
    check "$tmp" >/dev/null || { echo "layers self-test: the clean tree fails"; exit 1; }
    printf '#include "server.h"\n' >>"$tmp/engine/addr.c"
    check "$tmp" >/dev/null && { echo "layers self-test: an engine file including server.h passed"; exit 1; }
    echo "layers self-test: a wrong include is caught"
    exit 0
fi

check "$here" || exit 1
if [ -n "${1:-}" ] && [ -f "$1/libengine.a" ]; then
    for o in $(ar t "$1/libengine.a"); do
        [ -f "$here/engine/${o%.o}.c" ] || { echo "layers: libengine.a holds $o, not an engine object"; exit 1; }
    done
fi
echo "layers: engine <- server, web alone: ok"
