#!/usr/bin/env bash
# End-to-end check of plain-echo over loopback: TCP and UDP, small and large
# messages, several connections, --json, and bad options. Usage: $0 PLAIN_ECHO
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

timeout 50 "$PE" server --addr 127.0.0.1:0 --proto both 2>"$LOG" &
SRV=$!
port=
for _ in $(seq 50); do
    port=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOG")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "FAIL server did not start"; cat "$LOG"; exit 1; }
A=127.0.0.1:$port

check "tcp 64 B" timeout 20 "$PE" client --addr "$A" --count 2000 --warmup 100
check "tcp 1 MiB x 20" timeout 20 "$PE" client --addr "$A" --size 1m --count 20
check "tcp 4 conns" timeout 20 "$PE" client --addr "$A" --size 1k --count 2000 --conns 4
check "udp 1 KiB" timeout 20 "$PE" client --addr "$A" --proto udp --size 1k --count 500
json=$(timeout 20 "$PE" client --addr "$A" --size 64k --count 100 --json)
if printf '%s' "$json" | grep -q '"libos":"plain".*"count":100.*"rtt_us":{"min".*"p999".*"errors":0'; then
    echo "ok   --json"
else
    echo "FAIL --json: $json"; fails=$((fails + 1))
fi
for bad in "client" "client --addr $A --size 0" "client --addr $A --conns 5000" "server --addr x" \
           "client --addr $A --proto udp --size 70000" "bogus"; do
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
