#!/usr/bin/env bash
# End-to-end check of plain-echo over loopback: TCP and UDP, small and large
# messages, several connections, --duration, --json with its histogram,
# merging runs with histmerge.py, and bad options. Usage: $0 PLAIN_ECHO
set -u
PE=$1
LOG=$(mktemp /tmp/plain-echo-test.$$.XXXXXX)
fails=0
SRV=

cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    rm -f "$LOG"
}
trap cleanup EXIT

check() {  # check NAME COMMAND...: the command must succeed
    local name=$1; shift
    if "$@" >"$LOG.out" 2>&1; then
        echo "ok   $name"
    else
        echo "FAIL $name"; sed 's/^/    /' "$LOG.out"; fails=$((fails + 1))
    fi
    rm -f "$LOG.out"
}

. "$(dirname "$0")/../apps/echo_test_lib.sh"
echo_server_start "$LOG" timeout 50 "$PE" server --addr 127.0.0.1:0 --proto both
SRV=$SERVER_PID port=$PORT
[ -n "$port" ] || { echo "FAIL server did not start"; cat "$LOG"; exit 1; }
A=127.0.0.1:$port

check "tcp 64 B" timeout 20 "$PE" client --addr "$A" --count 2000 --warmup 100
check "tcp 1 MiB x 20" timeout 20 "$PE" client --addr "$A" --size 1m --count 20
check "tcp 4 conns" timeout 20 "$PE" client --addr "$A" --size 1k --count 2000 --conns 4
check "udp 1 KiB" timeout 20 "$PE" client --addr "$A" --proto udp --size 1k --count 500
check "tcp --duration 1 over 2 conns" timeout 20 "$PE" client --addr "$A" --duration 1 --conns 2
json=$(timeout 20 "$PE" client --addr "$A" --size 64k --count 100 --json)
if printf '%s' "$json" | grep -q '"libos":"plain".*"count":100.*"rtt_us":{"min".*"p999".*"errors":0.*"rtt_hist":{'; then
    echo "ok   --json"
else
    echo "FAIL --json: $json"; fails=$((fails + 1))
fi
# two runs merged: every message counted once, percentiles as one run's for one file
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
if [ -x "$PY" ]; then
    timeout 20 "$PE" client --addr "$A" --count 1500 --json >"$LOG.a" && timeout 20 "$PE" client --addr "$A" \
        --count 2500 --conns 2 --json >"$LOG.b"
    if "$PY" "$HERE/histmerge.py" "$LOG.a" "$LOG.b" >"$LOG.m" && "$PY" "$HERE/histmerge.py" "$LOG.a" >"$LOG.1" &&
        "$PY" - "$LOG.a" "$LOG.m" "$LOG.1" <<'PYEOF'
import json, sys
a, m, one = (json.load(open(p)) for p in sys.argv[1:])
assert m["runs"] == 2 and m["count"] == 4000 == m["rtt_hist"]["n"], m["count"]
assert sum(c for _, c in m["rtt_hist"]["buckets"]) == 4000
for k in ("min", "p50", "p90", "p99", "p999", "max", "mean"):  # one file: exactly what plain-echo printed
    assert abs(one["rtt_us"][k] - a["rtt_us"][k]) < 0.0015, (k, one["rtt_us"][k], a["rtt_us"][k])
assert m["rtt_us"]["min"] <= a["rtt_us"]["min"] and m["rtt_us"]["max"] >= a["rtt_us"]["max"]
PYEOF
    then
        echo "ok   histmerge: two runs merged, one run reproduced"
    else
        echo "FAIL histmerge"; cat "$LOG.m" 2>/dev/null; fails=$((fails + 1))
    fi
    rm -f "$LOG.a" "$LOG.b" "$LOG.m" "$LOG.1"
else
    echo "ok   histmerge # SKIP no /usr/bin/python3"
fi
for bad in "client" "client --addr $A --size 0" "client --addr $A --conns 5000" "server --addr x" \
           "client --addr $A --proto udp --size 70000" "bogus" "client --addr $A --rate 10" \
           "client --addr $A --pipeline 2" "client --addr $A --duration 0"; do
    # shellcheck disable=SC2086
    timeout 5 "$PE" $bad >/dev/null 2>&1
    if [ $? -eq 2 ]; then echo "ok   rejects: $bad"; else echo "FAIL accepts: $bad"; fails=$((fails + 1)); fi
done
# nothing listens on the port once the server is gone: a clear failure, not a hang
kill "$SRV"; wait "$SRV"; src=$?; SRV=
if [ "$src" = 0 ] && ! grep -q Sanitizer "$LOG"; then
    echo "ok   server exits cleanly on SIGTERM"
else
    echo "FAIL server exit $src"; cat "$LOG"; fails=$((fails + 1))
fi
if timeout 10 "$PE" client --addr "$A" --count 10 >/dev/null 2>&1; then
    echo "FAIL client succeeded without a server"; fails=$((fails + 1))
else
    echo "ok   no server: fails"
fi
if grep -q "server stopped: tcp [1-9]" "$LOG"; then
    echo "ok   server summary"
else
    echo "FAIL no summary"; fails=$((fails + 1))
fi
exit $((fails > 0))
