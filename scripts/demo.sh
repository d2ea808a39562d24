#!/bin/sh
# The README's first command: installs what is needed, builds libdemi, and
# runs demi-echo server and client on the posix libOS over loopback,
# printing the round-trip latency table for TCP and UDP.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --minimal
scripts/build.sh build
echo0=build/apps/demi-echo
port=$(( 20000 + $$ % 20000 ))

export DEMI_LIBOS=${DEMI_LIBOS:-posix}
log=$(mktemp "${TMPDIR:-/tmp}/demi-echo-server.XXXXXX")
$echo0 server --addr 127.0.0.1:$port --proto both 2>"$log" &
srv=$!
trap 'kill -INT $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -f "$log"' EXIT INT TERM
sleep 0.5
for proto in tcp udp; do
    echo "== demi-echo over $proto, DEMI_LIBOS=$DEMI_LIBOS, 10000 messages of 64 B =="
    $echo0 client --addr 127.0.0.1:$port --proto $proto --size 64 --count 10000
done
echo "== TCP, 8 connections, 100 messages of 1 MiB =="
$echo0 client --addr 127.0.0.1:$port --proto tcp --size 1048576 --count 100 --conns 8
kill -INT $srv
wait $srv || { echo "demo: the server did not shut down cleanly:" >&2; cat "$log" >&2; exit 1; }
echo "== server summary (its libdemi counters are in the full log) =="
head -3 "$log"
