#!/bin/sh
# The layering, checked (make test runs this; ARCHITECTURE.md explains it). Data flows
# one way: server/ may include engine/ and server/ headers; engine/ only its own; web/'s C
# (the JSL parser) only its own. engine/ and web/ name no HTTP or JSON library. The build
# enforces the same with each folder's include path, except for a path that climbs out
# ("../engine/engine.h", which the compiler finds next to the file): this check catches
# both, and says which line broke it.
# With a build folder as argument it also checks that libengine.a holds only engine
# objects. `--self-test` plants wrong includes, one at a time, in a scratch copy and expects
# each to fail the check.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)

# header_home ROOT FILE INC: the layer (engine, server, web) whose folder holds the header
# that FILE's `#include "INC"` names, or nothing. As the compiler does, INC is looked for
# next to FILE first: a relative path ("../engine/engine.h") is judged by the folder it
# reaches, not by its last name; only then in each layer's folder (an include the layer's
# path would not find still names the layer it reaches for).
header_home() {
    root=$1 file=$2 inc=$3
    for cand in "$(dirname "$file")/$inc" "$root/engine/$inc" "$root/server/$inc" "$root/web/$inc"; do
        [ -f "$cand" ] || continue
        dir=$(cd "$(dirname "$cand")" && pwd -P)
        for d in engine server web; do
            [ "$dir" = "$(cd "$root/$d" && pwd -P)" ] && { echo $d; return; }
        done
        return
    done
}

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
                home=$(header_home "$root" "$f" "$inc")
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
    # Each wrong include alone in a fresh copy: by name, and by a path that climbs out of
    # the folder (which the compiler finds next to the file, whatever the include path).
    for plant in 'engine/addr.c:server.h' 'engine/addr.c:../server/server.h' \
                 'web/jsl_tree.c:../engine/engine.h' 'web/jsl_tree.c:../server/render.h' \
                 'server/path.c:../web/jsl_parser.h' 'web/jsl_tree.c:codec.h'; do
        rm -rf "$tmp/try" && mkdir "$tmp/try" && cp -R "$tmp/engine" "$tmp/server" "$tmp/web" "$tmp/try/"
        printf '#include "%s"\n' "${plant#*:}" >>"$tmp/try/${plant%%:*}"
        check "$tmp/try" >/dev/null &&
            { echo "layers self-test: ${plant%%:*} including \"${plant#*:}\" passed"; exit 1; }
    done
    echo "layers self-test: every wrong include planted is caught"
    exit 0
fi

check "$here" || exit 1
if [ -n "${1:-}" ] && [ -f "$1/libengine.a" ]; then
    for o in $(ar t "$1/libengine.a"); do
        [ -f "$here/engine/${o%.o}.c" ] || { echo "layers: libengine.a holds $o, not an engine object"; exit 1; }
    done
fi
echo "layers: engine <- server, web alone: ok"
