#!/bin/sh
# demi-echo over the rdma libOS (libfabric tcp provider) across two network
# namespaces joined by a veth pair: server in one, client in the other, with
# messages from 1 B to 64 MiB checked byte for byte by the client, then
# datagrams (udp;ofi_rxd) from 1 B to 65507 B.
# Usage: tests/rdma/netns_echo.sh [BUILD_DIR]   (root; CAP_NET_ADMIN)
# Exit status 0 when every size echoed; 77 (skip) without the rights.
set -u
BUILD=${1:-build}
ECHO="$BUILD/apps/demi-echo"
TAG=$$
NA=demi-rdmaA$TAG NB=demi-rdmaB$TAG VA=rva$TAG VB=rvb$TAG
NET=10.$((TAG % 200 + 20)).$((TAG / 200 % 250)).
PORT=7471
SERVER_PID=

[ -x "$ECHO" ] || { echo "no $ECHO (build first)"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root for network namespaces: skipped"; exit 77; }

cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    for ns in "$NA" "$NB"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
}
trap cleanup EXIT INT TERM

ip netns add "$NA" && ip netns add "$NB" || exit 77
ip link add "$VA" type veth peer name "$VB" || exit 77
ip link set "$VA" netns "$NA"
ip link set "$VB" netns "$NB"
ip -n "$NA" link set lo up
ip -n "$NB" link set lo up
ip -n "$NA" addr add "${NET}1/24" dev "$VA"
ip -n "$NB" addr add "${NET}2/24" dev "$VB"
ip -n "$NA" link set "$VA" up
ip -n "$NB" link set "$VB" up

export DEMI_LIBOS=rdma DEMI_RDMA_PROVIDER=tcp DEMI_LOG=${DEMI_LOG:-warn}
ip netns exec "$NA" env FI_TCP_IFACE="$VA" FI_UDP_IFACE="$VA" "$ECHO" server --addr "${NET}1:$PORT" --proto both &
SERVER_PID=$!
sleep 1

fail=0
for spec in tcp:1:2000 tcp:64:2000 tcp:4k:2000 tcp:64k:500 tcp:1m:100 tcp:16m:10 tcp:64m:4 \
            udp:1:1000 udp:64:1000 udp:1k:1000 udp:65507:200; do
    proto=${spec%%:*} rest=${spec#*:}
    size=${rest%%:*} count=${rest##*:}
    out=$(ip netns exec "$NB" env FI_TCP_IFACE="$VB" FI_UDP_IFACE="$VB" timeout 120 "$ECHO" client \
          --addr "${NET}1:$PORT" --proto "$proto" --size "$size" --count "$count" --timeout 30 2>&1)
    rc=$?
    rtt=$(printf '%s\n' "$out" | awk '/^rtt/ {getline; print "p50 " $2 " us, mean " $7 " us"}')
    tput=$(printf '%s\n' "$out" | awk '/^throughput/ {getline; print $2 " MB/s"}')
    if [ $rc -eq 0 ]; then
        echo "ok   $proto size $size x $count: $rtt, $tput"
    else
        echo "FAIL $proto size $size x $count (status $rc)"
        printf '%s\n' "$out" | tail -5
        fail=1
    fi
done
exit $fail
