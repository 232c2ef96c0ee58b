# shellcheck shell=bash
# What the README walkthrough scripts share (sourced): a free port, the README block
# between two markers with its ports swapped, and a fresh gateway to run it against.

free_port() {
    # Probe upward from a random port for one nobody answers on (bash's /dev/tcp). Below
    # Linux's ephemeral range (32768 and up), so that no outgoing connection of this or
    # any other test holds it as its source port when the walkthrough binds it.
    p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000 ))
    while (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null; do p=$((p + 1)); done
    echo $p
}

# readme_block README MARKER SED-SCRIPT...: the shell block between
# <!-- MARKER:begin --> and <!-- MARKER:end -->, rewritten by the sed expressions.
readme_block() {
    local readme=$1 marker=$2
    shift 2
    sed -n "/<!-- $marker:begin -->/,/<!-- $marker:end -->/p" "$readme" \
        | sed -e '/^<!--/d' -e '/^```/d' | sed "$@"
}

# start_gateway BIN PORT LOG: starts the server quietly and waits (5 s at most) for
# /healthz; sets pid.
start_gateway() {
    "$1" --listen "127.0.0.1:$2" --quiet 2>"$3" &
    pid=$!
    for _ in $(seq 1 100); do
        curl -s "localhost:$2/healthz" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
}

# expect TEXT [FILE]: the walkthrough's output ($work/out.txt), or FILE, must hold TEXT;
# counts into passed and failed.
passed=0
failed=0
expect() {
    if grep -qF -- "$1" "${2:-$work/out.txt}"; then
        echo "ok: $1"
        passed=$((passed + 1))
    else
        echo "MISSING: $1"
        failed=$((failed + 1))
    fi
}

# finish NAME: prints the output when something was missing (and fails), else stops
# the gateway and prints "NAME: N passed, 0 failed".
finish() {
    if [ "$failed" -ne 0 ]; then
        echo "--- walkthrough output"; cat "$work/out.txt"; exit 1
    fi
    kill -TERM "$pid"; wait "$pid"
    echo "$1: $passed passed, $failed failed"
}
