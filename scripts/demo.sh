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
$echo0 server --addr 127.0.0.1:$port --proto both &
srv=$!
trap 'kill -INT $srv 2>/dev/null || true; wait $srv 2>/dev/null || true' EXIT INT TERM
sleep 0.5
for proto in tcp udp; do
    echo "== demi-echo over $proto, DEMI_LIBOS=$DEMI_LIBOS, 10000 messages of 64 B =="
    $echo0 client --addr 127.0.0.1:$port --proto $proto --size 64 --count 10000
done
echo "== TCP, 8 connections, 100 messages of 1 MiB =="
$echo0 client --addr 127.0.0.1:$port --proto tcp --size 1048576 --count 100 --conns 8
