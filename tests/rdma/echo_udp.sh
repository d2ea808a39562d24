#!/bin/sh
# demi-echo on the rdma libOS over loopback, TCP and UDP on one port, then
# UDP over libfabric's shm provider: every echoed byte is checked by the
# client. Usage: tests/rdma/echo_udp.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
ECHO="$BUILD/apps/demi-echo"
TMP=$(mktemp -d "/tmp/rdma-echo.$$.XXXXXX")
SERVER_PID=
fail=0

[ -x "$ECHO" ] || { echo "no $ECHO (build first)"; exit 1; }
stop() {
    [ -n "$SERVER_PID" ] && kill -INT "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}
trap 'stop; rm -rf "$TMP"' EXIT INT TERM
export DEMI_LIBOS=rdma DEMI_RDMA_PROVIDER=tcp DEMI_LOG=warn

# start DGRAM_PROVIDER: a server on 127.0.0.1:0; sets PORT.
start() {
    DEMI_RDMA_DGRAM_PROVIDER=$1 "$ECHO" server --addr 127.0.0.1:0 >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*serving tcp+udp on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/server.log")
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "FAIL server did not start ($1)"; cat "$TMP/server.log"
    return 1
}

run() {  # run DGRAM_PROVIDER ARGS...
    prov=$1
    shift
    if DEMI_RDMA_DGRAM_PROVIDER=$prov timeout 120 "$ECHO" client --addr "127.0.0.1:$PORT" "$@" --timeout 20 \
        >"$TMP/out" 2>&1; then
        echo "ok   [$prov] $*"
    else
        echo "FAIL [$prov] $*"
        tail -5 "$TMP/out"
        fail=1
    fi
}

for prov in "udp;ofi_rxd" shm; do
    start "$prov" || { fail=1; continue; }
    [ "$prov" = "udp;ofi_rxd" ] && run "$prov" --proto tcp --size 64 --count 500
    run "$prov" --proto udp --size 1 --count 500
    run "$prov" --proto udp --size 64 --count 1000
    run "$prov" --proto udp --size 1k --count 500
    run "$prov" --proto udp --size 65507 --count 100
    run "$prov" --proto udp --size 100 --count 1000 --conns 20
    stop
done
exit $fail
