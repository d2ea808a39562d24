#!/bin/bash
# End-to-end test of demi-echo over loopback with the libOS in DEMI_LIBOS
# (default posix): server and client over TCP and UDP, many connections,
# tiny and large messages, --pipeline, --rate, --duration, the progress
# line, the JSON histogram, a client whose memory stays flat as the count
# grows, bad usage, and SIGINT shutdown. Every step is bounded in time; the
# server is stopped on exit whatever happens.
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
# a number field of the last client output's JSON object
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$TMP/out" | head -n1; }
# awk's verdict on a condition over numbers: cond 'a >= b' A B
cond() { awk -v a="$2" -v b="${3:-0}" "BEGIN { exit !($1) }"; }

# --- usage errors exit 2 without starting anything
client 2 "client without --addr"
timeout 5 "$ECHO" --help >"$TMP/out" 2>&1; [ $? -eq 2 ] && grep -q usage "$TMP/out" && ok "--help" || not_ok "--help"
timeout 5 "$ECHO" client --addr 127.0.0.1:1 --bogus >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "unknown option" || not_ok "unknown option"
client 2 "udp size over 65507" --addr 127.0.0.1:9 --proto udp --size 65508
client 2 "hostname in --addr" --addr localhost:9
client 2 "--pipeline 0" --addr 127.0.0.1:9 --pipeline 0
client 2 "--pipeline 5000" --addr 127.0.0.1:9 --pipeline 5000
client 2 "--rate 0" --addr 127.0.0.1:9 --rate 0
client 2 "--duration -1" --addr 127.0.0.1:9 --duration -1
timeout 5 "$ECHO" server --addr 127.0.0.1:0 --rate 5 >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "--rate to server" \
    || not_ok "--rate to server"
timeout 5 "$ECHO" server --addr 127.0.0.1:0 --count 3 >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "client option to server" \
    || not_ok "client option to server"

# --- server on an ephemeral port; its first stderr line names the port
. "$(dirname "$0")/echo_test_lib.sh"
if ! echo_server_start "$TMP/server.err" "$ECHO" server --addr 127.0.0.1:0; then
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

# --- several messages outstanding per connection
client 0 "tcp --pipeline 16 over 4 conns" --addr "$A" --count 20000 --conns 4 --pipeline 16 --json
has count 20000 && has pipeline 16 && has errors 0 && ok "pipeline json fields" || not_ok "pipeline json fields"
client 0 "tcp 100 KiB --pipeline 4" --addr "$A" --size 100k --count 200 --pipeline 4 --timeout 20
client 0 "udp --pipeline 8 over 3 conns" --addr "$A" --proto udp --count 6000 --conns 3 --pipeline 8
client 0 "tcp count < pipeline" --addr "$A" --count 3 --pipeline 64 --warmup 5

# --- open loop: the schedule, not the echoes, sets the pace
client 0 "tcp --rate 2000 x 1000" --addr "$A" --rate 2000 --count 1000 --conns 2 --json
el=$(field elapsed_sec)
has rate 2000.000 && cond 'a >= 0.45 && a < 30' "${el:-0}" && ok "rate: 1000 messages took $el s (schedule 0.5 s)" \
    || not_ok "rate: elapsed $el s, want about 0.5 s"

# --- --duration ends the run on time, with no count given
client 0 "tcp --duration 1" --addr "$A" --duration 1 --pipeline 4 --json
el=$(field elapsed_sec) n=$(field count)
cond 'a >= 1 && a < 10' "${el:-0}" && cond 'a > 0' "${n:-0}" && ok "duration: $n messages in $el s" \
    || not_ok "duration: $n messages in $el s"

# --- the progress line: forced with --progress, off when stderr is no tty
client 0 "--progress" --addr "$A" --duration 2.5 --progress
lines=$(grep -cE '^demi-echo: [0-9]+ s: [0-9]+ msgs, [0-9]+ msg/s, rtt us p50 .* rss [0-9.]+ MiB' "$TMP/err")
[ "$lines" -ge 2 ] && ok "progress: $lines lines" || not_ok "progress: $lines lines, expected 2"
client 0 "no progress when not a tty" --addr "$A" --duration 1.2
grep -q ' msgs, ' "$TMP/err" && not_ok "progress printed to a pipe" || ok "no progress line on a pipe"
client 0 "--quiet" --addr "$A" --duration 1.2 --progress --quiet
grep -q ' msgs, ' "$TMP/err" && not_ok "progress despite --quiet" || ok "--quiet after --progress wins"

# --- the JSON histogram holds every measured message
client 0 "json histogram" --addr "$A" --count 3000 --json
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 - "$TMP/out" <<'PYEOF' && ok "rtt_hist counts add up" || not_ok "rtt_hist counts add up"
import json, sys
r = json.load(open(sys.argv[1]))
h = r["rtt_hist"]
assert h["sub_bucket_bits"] == 7 and h["unit"] == "ns"
assert h["n"] == r["count"] == sum(c for _, c in h["buckets"]) == 3000
lows = [b for b, _ in h["buckets"]]
assert lows == sorted(lows) and lows[0] <= h["min"] <= h["max"] and h["max"] >= lows[-1]
assert abs(h["sum"] / h["n"] / 1e3 - r["rtt_us"]["mean"]) < 0.01
PYEOF
fi

# --- memory: 25 times the messages, the same resident set (no per-message samples)
client 0 "memory: 20000 messages" --addr "$A" --count 20000 --pipeline 16 --json
small=$(field max_rss_kib)
client 0 "memory: 500000 messages" --addr "$A" --count 500000 --pipeline 16 --json
big=$(field max_rss_kib)
cond 'a > 0 && b - a < 1536' "${small:-0}" "${big:-99999999}" \
    && ok "memory flat: max RSS $small KiB at 20000, $big KiB at 500000 messages" \
    || not_ok "memory grew: max RSS $small KiB at 20000, $big KiB at 500000 messages"

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
