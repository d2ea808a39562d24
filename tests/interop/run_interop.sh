#!/bin/sh
# Interop test (suite 'interop'): demi-echo on DEMI_LIBOS=afpacket in one
# namespace, the Linux stack in the other, joined by a veth pair.
#   Linux ping gets replies; a Linux UDP client gets every datagram back;
#   Linux TCP clients (1 large and 100 concurrent connections) get their
#   bytes back exactly; demi-echo's client on afpacket talks to a Linux
#   (socat) echo server; then the same with 2 % of frames dropped in each
#   direction by an XDP program on both veths.
# usage: run_interop.sh DEMI_ECHO [quick]
# Exit 77 (skipped) without root or ip netns; namespaces are always deleted.
set -u
here=$(cd "$(dirname "$0")" && pwd)
echo_bin=$1
mode=${2:-full}
. "$here/netns.sh"
interop_skip_unless_able
[ -x "$echo_bin" ] || { echo "no demi-echo at $echo_bin"; exit 1; }
PY=/usr/bin/python3
[ -x $PY ] || { echo "skip: needs /usr/bin/python3"; exit 77; }
interop_setup
tmp=$(mktemp -d /tmp/demi-interop.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    [ -n "${socat_pids:-}" ] && kill $socat_pids 2>/dev/null
    interop_teardown
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() {   # check NAME CMD...: runs CMD, counts a failure
    name=$1; shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
demi_env="DEMI_LIBOS=afpacket DEMI_IFACE=$IF_DEMI DEMI_IPV4=10.77.0.2/24"
inL() { ip netns exec "$NS_LINUX" "$@"; }
inD() { ip netns exec "$NS_DEMI" "$@"; }

# bg_in NS PIDFILE CMD...: starts CMD in namespace NS in the background and
# records its own pid (not a wrapper's) so it can be signalled.
bg_in() {
    ns=$1; pidfile=$2; shift 2
    rm -f "$pidfile"
    ip netns exec "$ns" sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" &
    for i in $(seq 1 50); do [ -s "$pidfile" ] && break; sleep 0.02; done
}

start_server() {
    bg_in "$NS_DEMI" "$tmp/server.pid" env $demi_env DEMI_PCAP="$tmp/server-$1.pcap" timeout 600 "$echo_bin" server \
        --addr 10.77.0.2:7000 >"$tmp/server-$1.log" 2>&1
    server_pid=$(cat "$tmp/server.pid")
    # wait until it answers ARP/ping
    for i in $(seq 1 50); do
        inL ping -c 1 -W 1 -q 10.77.0.2 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not come up:"; cat "$tmp/server-$1.log"
    return 1
}

stop_server() {
    kill -INT "$server_pid" 2>/dev/null    # timeout(1) passes it on to demi-echo
    for i in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
    echo "--- server counters ($1) ---"
    grep -E "^demi-echo|(drop|bad|retrans|rto|fast_recover|queue_full|no_socket|tx_echo|rx_kernel)" \
        "$tmp/server-$1.log" | grep -v " 0$" | head -40
}

ping_test() {
    out=$(inL ping -c 20 -i 0.05 -W 1 10.77.0.2)
    echo "$out" | tail -2
    recv=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    [ "${recv:-0}" -ge "$1" ]
}

round() {   # round LABEL PING_MIN TCP_BIG TCP_CONNS TCP_EACH
    label=$1
    check "$label: server up" start_server "$label" || return
    check "$label: ping" ping_test "$2"
    check "$label: udp echo" inL timeout 120 $PY "$here/udp_client.py" 10.77.0.2 7000 300
    check "$label: tcp 1 connection x $3 bytes" inL timeout 300 $PY "$here/tcp_client.py" 10.77.0.2 7000 1 "$3" 120
    check "$label: tcp $4 connections x $5 bytes" inL timeout 300 $PY "$here/tcp_client.py" 10.77.0.2 7000 "$4" "$5" 120
    stop_server "$label"
    # demi-echo's client on afpacket against Linux echo servers (socat)
    bg_in "$NS_LINUX" "$tmp/socat1.pid" socat TCP-LISTEN:7001,fork,reuseaddr,backlog=128 PIPE
    bg_in "$NS_LINUX" "$tmp/socat2.pid" socat UDP-RECVFROM:7002,fork PIPE
    socat_pids="$(cat "$tmp/socat1.pid") $(cat "$tmp/socat2.pid")"
    sleep 0.3
    check "$label: demi-echo client tcp -> Linux" inD env $demi_env timeout 120 "$echo_bin" client \
        --addr 10.77.0.1:7001 --proto tcp --size 16k --count 2000 --conns 8 --timeout 10
    if [ "$label" = clean ]; then
        check "$label: demi-echo client udp -> Linux" inD env $demi_env timeout 120 "$echo_bin" client \
            --addr 10.77.0.1:7002 --proto udp --size 1000 --count 2000 --timeout 5
    fi
    kill $socat_pids 2>/dev/null
    for p in $socat_pids; do wait "$p" 2>/dev/null; done
    socat_pids=
}

if [ "$mode" = quick ]; then
    round clean 20 4194304 20 65536
else
    round clean 20 67108864 100 1048576
fi

# the same with 2 % loss each way, when an XDP program can be built and attached
if command -v clang >/dev/null 2>&1 && [ -e /usr/include/bpf/bpf_helpers.h ] && \
   clang -O2 -g -target bpf -DLOSS_BP=200 -I"/usr/include/$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")" \
       -c "$here/loss_xdp.c" -o "$tmp/loss.o" 2>"$tmp/clang.log" && \
   inL ip link set dev "$IF_LINUX" xdpgeneric obj "$tmp/loss.o" sec xdp 2>"$tmp/xdp.log" && \
   inD ip link set dev "$IF_DEMI" xdpgeneric obj "$tmp/loss.o" sec xdp 2>>"$tmp/xdp.log"; then
    if [ "$mode" = quick ]; then
        round loss2 10 4194304 20 65536
    else
        round loss2 10 16777216 100 262144
    fi
else
    echo "note: no XDP loss round (clang/libbpf headers/xdp attach unavailable)"; cat "$tmp/clang.log" "$tmp/xdp.log" 2>/dev/null
fi

[ $failures -eq 0 ] && echo "interop: all passed" || echo "interop: $failures failed"
[ $failures -eq 0 ]
