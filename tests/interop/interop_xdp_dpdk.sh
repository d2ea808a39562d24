#!/bin/sh
# Interop test of the xdp and dpdk libOSes (suite 'bypass'): demi-echo on
# DEMI_LIBOS=xdp (AF_XDP on the veth) or DEMI_LIBOS=dpdk (net_af_packet on
# the veth, no hugepages) in one namespace, the Linux stack in the other.
#   Linux ping gets replies; a Linux UDP client gets every datagram back;
#   Linux TCP clients (1 large and many concurrent connections) get their
#   bytes back exactly (SHA-256); demi-echo's client talks to Linux (socat)
#   echo servers; then the same with 2 % of the frames arriving at Linux
#   dropped by an XDP program on the Linux-side veth (loss_xdp.c), and for
#   dpdk also on the libdemi-side veth (for xdp that veth runs libdemi's own
#   XDP program). Finally (xdp) the XDP program must be gone after SIGINT.
# usage: interop_xdp_dpdk.sh xdp|dpdk DEMI_ECHO [quick|full]
# Exit 77 (skipped) without root or ip netns; namespaces are always deleted.
# Reuses netns.sh, udp_client.py, tcp_client.py and loss_xdp.c of the
# afpacket interop test.
set -u
here=$(cd "$(dirname "$0")" && pwd)
libos=$1
echo_bin=$2
mode=${3:-quick}
. "$here/netns.sh"
interop_skip_unless_able
[ -x "$echo_bin" ] || { echo "no demi-echo at $echo_bin"; exit 1; }
PY=/usr/bin/python3
[ -x $PY ] || { echo "skip: needs /usr/bin/python3"; exit 77; }
case $libos in xdp|dpdk) ;; *) echo "usage: $0 xdp|dpdk DEMI_ECHO [quick|full]"; exit 2 ;; esac
interop_setup
tmp=$(mktemp -d /tmp/demi-interop-$libos.XXXXXX)
server_pid=
socat_pids=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [ -n "$socat_pids" ] && kill $socat_pids 2>/dev/null
    interop_teardown
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() {   # check NAME CMD...: runs CMD, counts a failure
    name=$1; shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
dpdk_args="-l 0-1 --no-huge --no-pci -m 512 --no-shconf --no-telemetry --log-level=warning --vdev=net_af_packet0,iface=$IF_DEMI"
inL() { ip netns exec "$NS_LINUX" "$@"; }
# demi CMD...: runs CMD in the libdemi namespace on the libOS under test
demi() {
    ip netns exec "$NS_DEMI" env DEMI_LIBOS="$libos" DEMI_IFACE="$IF_DEMI" DEMI_IPV4=10.77.0.2/24 \
        DEMI_DPDK_ARGS="$dpdk_args" "$@"
}

start_server() {
    # env --default-signal: a background job of a script starts with SIGINT ignored
    # not through demi(): $! must be the process that becomes timeout(1), which
    # passes SIGINT on (ip netns exec and env exec themselves)
    ip netns exec "$NS_DEMI" env --default-signal=INT DEMI_LIBOS="$libos" DEMI_IFACE="$IF_DEMI" \
        DEMI_IPV4=10.77.0.2/24 DEMI_DPDK_ARGS="$dpdk_args" timeout 600 "$echo_bin" server --addr 10.77.0.2:7000 \
        >"$tmp/server-$1.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
        inL ping -c 1 -W 1 -q 10.77.0.2 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not come up:"; cat "$tmp/server-$1.log"
    return 1
}

# Stops the server with SIGINT; it must be gone within 10 s (else KILL, failure).
stop_server() {
    kill -INT "$server_pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "FAIL: $libos $1: server still running 10 s after SIGINT"
        failures=$((failures + 1))
        pkill -KILL -P "$server_pid"
        kill -KILL "$server_pid" 2>/dev/null
    fi
    wait "$server_pid" 2>/dev/null
    server_pid=
    echo "--- server counters ($1) ---"
    grep -E "(xdp|dpdk)\.(rx_frames|tx_frames|tx_direct|tx_copied|zerocopy|pool_free)|drop|retrans|bad" \
        "$tmp/server-$1.log" | grep -v " 0$" | head -30
}

ping_test() {
    out=$(inL ping -c 20 -i 0.05 -W 1 10.77.0.2)
    echo "$out" | tail -2
    recv=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    [ "${recv:-0}" -ge "$1" ]
}

# The XDP program libdemi attached must be gone once the server stopped.
no_xdp_left() {
    ! ip -n "$NS_DEMI" link show "$IF_DEMI" | grep -q "prog/xdp"
}

round() {   # round LABEL PING_MIN TCP_BIG TCP_CONNS TCP_EACH
    label=$1
    check "$libos $label: server up" start_server "$label" || return
    check "$libos $label: ping" ping_test "$2"
    check "$libos $label: udp echo" inL timeout 120 $PY "$here/udp_client.py" 10.77.0.2 7000 300
    check "$libos $label: tcp 1 connection x $3 bytes" inL timeout 300 $PY "$here/tcp_client.py" 10.77.0.2 7000 1 "$3" 120
    check "$libos $label: tcp $4 connections x $5 bytes" \
        inL timeout 300 $PY "$here/tcp_client.py" 10.77.0.2 7000 "$4" "$5" 120
    stop_server "$label"
    [ "$libos" = xdp ] && [ "$label" = clean ] && check "$libos: no XDP program left after SIGINT" no_xdp_left
    inL socat TCP-LISTEN:7001,fork,reuseaddr,backlog=128 PIPE >/dev/null 2>&1 &
    p1=$!
    inL socat UDP-RECVFROM:7002,fork PIPE >/dev/null 2>&1 &
    p2=$!
    socat_pids="$p1 $p2"
    sleep 0.3
    check "$libos $label: demi-echo client tcp -> Linux" demi timeout 120 "$echo_bin" client \
        --addr 10.77.0.1:7001 --proto tcp --size 16k --count 2000 --conns 8 --timeout 10
    if [ "$label" = clean ]; then
        check "$libos $label: demi-echo client udp -> Linux" demi timeout 120 "$echo_bin" client \
            --addr 10.77.0.1:7002 --proto udp --size 1000 --count 2000 --timeout 5
    fi
    kill $socat_pids 2>/dev/null
    wait $socat_pids 2>/dev/null
    socat_pids=
}

if [ "$mode" = quick ]; then
    round clean 20 4194304 20 65536
else
    round clean 20 67108864 100 1048576
fi

# 2 % loss of the frames arriving at Linux (and for dpdk also of those
# arriving at libdemi), when an XDP program can be built and attached.
attach_loss() {
    clang -O2 -g -target bpf -DLOSS_BP=200 \
        -I"/usr/include/$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")" \
        -c "$here/loss_xdp.c" -o "$tmp/loss.o" 2>"$tmp/clang.log" || return 1
    inL ip link set dev "$IF_LINUX" xdpgeneric obj "$tmp/loss.o" sec xdp 2>"$tmp/xdp.log" || return 1
    [ "$libos" = xdp ] && return 0
    ip netns exec "$NS_DEMI" ip link set dev "$IF_DEMI" xdpgeneric obj "$tmp/loss.o" sec xdp 2>>"$tmp/xdp.log"
}
if command -v clang >/dev/null 2>&1 && [ -e /usr/include/bpf/bpf_helpers.h ] && attach_loss; then
    if [ "$mode" = quick ]; then
        round loss2 10 4194304 20 65536
    else
        round loss2 10 16777216 100 262144
    fi
else
    echo "note: no XDP loss round (clang/libbpf headers/xdp attach unavailable)"
    cat "$tmp/clang.log" "$tmp/xdp.log" 2>/dev/null
fi

[ $failures -eq 0 ] && echo "interop $libos: all passed" || echo "interop $libos: $failures failed"
[ $failures -eq 0 ]
