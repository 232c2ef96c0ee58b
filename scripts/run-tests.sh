#!/bin/sh
# Runs test binaries one after another with the build folder's server binary, every one
# of them even after a failure, names the failed ones, and ends with one summary line
# ("N passed, N failed"); the status is non-zero when any failed.
set -u
build=$1; shift
export SOCKGATE_BIN="$build/sockgate"
export SOCKGATE_SHIM_DIR="$build/shim"   # LD_PRELOAD shims of the fault tests
passed=0; failed=0; skipped=0; failed_names=""; skipped_names=""
for t in "$@"; do
    echo "== $t"
    "$t"
    rc=$?
    if [ $rc -eq 0 ]; then passed=$((passed + 1))
    elif [ $rc -eq 77 ]; then skipped=$((skipped + 1)); skipped_names="$skipped_names $t"
    else failed=$((failed + 1)); failed_names="$failed_names $t"; fi
done
[ $failed -eq 0 ] || echo "failed:$failed_names"
[ $skipped -eq 0 ] || echo "skipped (exit 77):$skipped_names"
echo "binaries: $passed passed, $failed failed$([ $skipped -eq 0 ] || echo ", $skipped skipped")"
[ $failed -eq 0 ]
