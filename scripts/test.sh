#!/bin/sh
# The README's second command: installs what is needed, builds libdemi
# twice (warnings as errors; and with AddressSanitizer + UBSan), runs the
# whole test suite in both, and ends with "N passed, N failed, N skipped".
# Tests that need root (network namespaces) skip themselves otherwise.
# Usage: scripts/test.sh [--no-asan] [meson test args...]
set -eu
cd "$(dirname "$0")/.."
asan=1
if [ "${1:-}" = "--no-asan" ]; then asan=0; shift; fi

scripts/install-deps.sh
# The plain build runs the full-size interop tests, the sanitized one the quick ones.
scripts/build.sh build -Dwerror=true -Dinterop=full
builds="build"
if [ $asan -eq 1 ]; then
    scripts/build.sh build-asan -Dwerror=true -Dinterop=quick -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debug
    builds="build build-asan"
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
start=$(date +%s)
for b in $builds; do
    echo "=== meson test in $b ==="
    meson test -C "$b" --print-errorlogs --num-processes 2 "$@" || status=1
done

echo "test.sh: suites ran in $(( $(date +%s) - start )) s"
# One closing summary over every build.
/usr/bin/env python3 - $builds <<'PY'
import json, sys
p = f = s = 0
for b in sys.argv[1:]:
    try:
        lines = open(f"{b}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        f += 1
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
print(f"{p} passed, {f} failed, {s} skipped")
PY
exit $status
