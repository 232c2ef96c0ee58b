#!/bin/sh
# Runs test binaries one after another with the build folder's server binary, every one
# of them even after a failure, names the failed ones, and ends with one summary line
# ("N passed, N failed"); the status is non-zero when any failed.
set -u
build=$1; shift
export SOCKGATE_BIN="$build/sockgate"
export SOCKGATE_SHIM_DIR="$build/shim"   # LD_PRELOAD shims of the fault tests
passed=0; failed=0; failed_names=""
for t in "$@"; do
    echo "== $t"
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names="$failed_names $t"; fi
done
[ $failed -eq 0 ] || echo "failed:$failed_names"
echo "binaries: $passed passed, $failed failed"
[ $failed -eq 0 ]
