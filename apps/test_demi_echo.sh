#!/bin/bash
# End-to-end test of demi-echo over loopback with the libOS in DEMI_LIBOS
# (default posix): server and client over TCP and UDP, many connections,
# tiny and large messages, bad usage, and SIGINT shutdown. Every step is
# bounded in time; the server is stopped on exit whatever happens.
# usage: test_demi_echo.sh path/to/demi-echo
set -u
ECHO=${1:?usage: $0 path/to/demi-echo}
TMP=$(mktemp -d /tmp/demi-echo-test.$$.XXXXXX)
SERVER_PID=
pass=0
fail=0

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; [ -f "$TMP/out" ] && sed 's/^/#   /' "$TMP/out" "$TMP/err" 2>/dev/null | tail -20; }

# runs the client with the given arguments; expects exit code $1
client() {
    local want=$1 name=$2
    shift 2
    timeout 60 "$ECHO" client "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else not_ok "$name: exit $rc, expected $want"; fi
}

# json field check on the last client output: "key":value
has() { grep -q "\"$1\":$2" "$TMP/out"; }

# --- usage errors exit 2 without starting anything
client 2 "client without --addr"
timeout 5 "$ECHO" --help >"$TMP/out" 2>&1; [ $? -eq 2 ] && grep -q usage "$TMP/out" && ok "--help" || not_ok "--help"
timeout 5 "$ECHO" client --addr 127.0.0.1:1 --bogus >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "unknown option" || not_ok "unknown option"
client 2 "udp size over 65507" --addr 127.0.0.1:9 --proto udp --size 65508
client 2 "hostname in --addr" --addr localhost:9
timeout 5 "$ECHO" server --addr 127.0.0.1:0 --count 3 >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "client option to server" \
    || not_ok "client option to server"

# --- server on an ephemeral port; its first stderr line names the port
"$ECHO" server --addr 127.0.0.1:0 2>"$TMP/server.err" &
SERVER_PID=$!
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*serving tcp+udp on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/server.err")
    [ -n "$PORT" ] && break
    sleep 0.05
done
if [ -z "$PORT" ]; then
    not_ok "server start"; cat "$TMP/server.err"; echo "$pass passed, $((fail)) failed"; exit 1
fi
ok "server listening on port $PORT"
A=127.0.0.1:$PORT

client 0 "tcp 64 B x 2000" --addr "$A" --count 2000 --json
has proto '"tcp"' && has errors 0 && has count 2000 && ok "tcp json fields" || not_ok "tcp json fields"
client 0 "udp 64 B x 2000" --addr "$A" --proto udp --count 2000 --json
has proto '"udp"' && has errors 0 && has count 2000 && ok "udp json fields" || not_ok "udp json fields"
client 0 "tcp 1 B x 2000 over 50 conns" --addr "$A" --size 1 --count 2000 --conns 50 --warmup 100
grep -q "p99.9" "$TMP/out" && ok "table printed" || not_ok "table printed"
client 0 "udp 1 B x 1000 over 20 conns" --addr "$A" --proto udp --size 1 --count 1000 --conns 20
client 0 "udp 65507 B x 50" --addr "$A" --proto udp --size 65507 --count 50
client 0 "tcp 3 MiB + 1 x 6 over 2 conns" --addr "$A" --size 3145729 --count 6 --conns 2 --timeout 20
client 0 "tcp count < conns" --addr "$A" --count 3 --conns 5

# --- a client killed mid-run does not disturb the server
timeout 30 "$ECHO" client --addr "$A" --count 100000000 --conns 20 >/dev/null 2>&1 &
KPID=$!
sleep 0.3
kill -KILL "$KPID" 2>/dev/null
wait "$KPID" 2>/dev/null
client 0 "serving on after a client was killed" --addr "$A" --count 1000 --conns 4

# --- a server that corrupts one byte: the mismatch is found and reported
PY=/usr/bin/python3
if [ -x "$PY" ]; then
    cat >"$TMP/bad_echo.py" <<'PYEOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True)
s.settimeout(20)
c, _ = s.accept(); c.settimeout(20)
total = 0
while True:
    d = bytearray(c.recv(65536))
    if not d: break
    if total <= 1000 < total + len(d): d[1000 - total] ^= 1
    total += len(d)
    c.sendall(d)
PYEOF
    "$PY" "$TMP/bad_echo.py" >"$TMP/bad_port" &
    BAD=$!
    for _ in $(seq 100); do [ -s "$TMP/bad_port" ] && break; sleep 0.05; done
    client 1 "corrupting server" --addr "127.0.0.1:$(cat "$TMP/bad_port")" --size 300 --count 10 --json
    grep -q "mismatch at byte 100 of 300" "$TMP/err" && has errors 1 && ok "mismatch reported" \
        || not_ok "mismatch reported"
    kill "$BAD" 2>/dev/null
    wait "$BAD" 2>/dev/null
else
    echo "ok - corrupting server # SKIP no /usr/bin/python3"
fi

# --- a server that is not there: clear error, non-zero exit
client 1 "connect refused" --addr 127.0.0.1:1 --count 1 --timeout 2
grep -q "Connection refused" "$TMP/err" && ok "refusal reported" || not_ok "refusal reported"

# --- SIGINT: clean exit 0 with a summary and the counters
kill -INT "$SERVER_PID"
rc=124
for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID"; rc=$?; break; fi
    sleep 0.05
done
SERVER_PID=
[ "$rc" -eq 0 ] && ok "server exits 0 on SIGINT" || not_ok "server exit on SIGINT: $rc"
grep -q "server stopped" "$TMP/server.err" && grep -q "libdemi counters" "$TMP/server.err" \
    && ok "shutdown summary" || { not_ok "shutdown summary"; cat "$TMP/server.err"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
