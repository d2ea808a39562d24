#!/bin/sh
# Helpers of the interop tests against the Linux stack (sourced, not run): the
# namespaces (netns.sh), a libdemi demi-echo server in NS_DEMI and its stop,
# Linux (socat) echo servers in NS_LINUX, the checks, one "round" of traffic,
# and the XDP program that drops frames (loss_xdp.c).
#
#   . "$here/lib.sh"                      # here: the folder of the test script
#   interop_init LIBOS DEMI_ECHO          # skips (77) without root, ip netns or python3
#   interop_up                            # the namespaces (netns.sh's interop_setup)
#   interop_round clean 20 4194304 20 65536
#   interop_attach_loss 200 both && interop_round loss2 ...
#   interop_finish                        # prints the verdict, returns 0 when all passed
#
# LIBOS is afpacket, xdp or dpdk (dpdk: net_af_packet on the veth, no
# hugepages). Everything is cleaned up on exit: servers, socat, namespaces,
# the temporary folder. Tests may add their own steps with interop_check.

. "$here/netns.sh"

PY=/usr/bin/python3
INTEROP_FAILURES=0
INTEROP_SERVER_PID=
INTEROP_SOCAT_PIDS=

# interop_init LIBOS DEMI_ECHO: checks what the test needs (exit 77 to skip,
# 2 for bad usage) and makes INTEROP_TMP.
interop_init() {
    INTEROP_LIBOS=$1
    INTEROP_ECHO=$2
    case $INTEROP_LIBOS in afpacket|xdp|dpdk) ;; *) echo "unknown libOS '$INTEROP_LIBOS'"; exit 2 ;; esac
    interop_skip_unless_able
    [ -x "$INTEROP_ECHO" ] || { echo "no demi-echo at $INTEROP_ECHO"; exit 1; }
    [ -x $PY ] || { echo "skip: needs /usr/bin/python3"; exit 77; }
    INTEROP_TMP=$(mktemp -d "/tmp/demi-interop-$INTEROP_LIBOS.XXXXXX")
}

# Stops what the test started and deletes the namespaces (the EXIT trap).
interop_cleanup() {
    [ -n "$INTEROP_SERVER_PID" ] && kill -KILL "$INTEROP_SERVER_PID" 2>/dev/null
    [ -n "$INTEROP_SOCAT_PIDS" ] && kill $INTEROP_SOCAT_PIDS 2>/dev/null
    interop_teardown
    [ -n "${INTEROP_TMP:-}" ] && rm -rf "$INTEROP_TMP"
    return 0
}

# interop_up: the namespaces and veth pair (netns.sh), all cleaned up on exit.
interop_up() {
    interop_setup
    trap interop_cleanup EXIT
}

# interop_check NAME CMD...: runs CMD; prints ok or FAIL and counts a failure.
interop_check() {
    name=$1
    shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; INTEROP_FAILURES=$((INTEROP_FAILURES + 1)); fi
}

# inL CMD...: CMD in the Linux namespace.
inL() { ip netns exec "$NS_LINUX" "$@"; }

# Exports the DEMI_* variables of the libOS under test (in a subshell).
interop_demi_env() {
    export DEMI_LIBOS="$INTEROP_LIBOS" DEMI_IFACE="$IF_DEMI" DEMI_IPV4=10.77.0.2/24
    export DEMI_DPDK_ARGS="-l 0-1 --no-huge --no-pci -m 512 --no-shconf --no-telemetry --log-level=warning --vdev=net_af_packet0,iface=$IF_DEMI"
}

# inD CMD...: CMD in the libdemi namespace with the libOS's DEMI_* variables.
inD() { (interop_demi_env; exec ip netns exec "$NS_DEMI" "$@"); }

# interop_server_start LABEL: demi-echo server on 10.77.0.2:7000 in NS_DEMI
# (afpacket: with a pcap of its frames), up once Linux's ping gets an answer.
# Its log is $INTEROP_TMP/server-LABEL.log.
interop_server_start() {
    pcap=
    [ "$INTEROP_LIBOS" = afpacket ] && pcap=DEMI_PCAP=$INTEROP_TMP/server-$1.pcap
    # $! must be the process that becomes timeout(1), which passes SIGINT on:
    # the subshell execs ip netns exec, which execs env, which execs timeout.
    # env --default-signal: a background job of a script starts with SIGINT ignored.
    (interop_demi_env; exec ip netns exec "$NS_DEMI" env --default-signal=INT $pcap timeout 600 \
        "$INTEROP_ECHO" server --addr 10.77.0.2:7000) >"$INTEROP_TMP/server-$1.log" 2>&1 &
    INTEROP_SERVER_PID=$!
    for _ in $(seq 1 50); do
        inL ping -c 1 -W 1 -q 10.77.0.2 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not come up:"
    cat "$INTEROP_TMP/server-$1.log"
    return 1
}

# interop_server_stop LABEL: SIGINT; the server must be gone within 10 s (else
# KILL and a failure). Prints its non-zero counters.
interop_server_stop() {
    kill -INT "$INTEROP_SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$INTEROP_SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$INTEROP_SERVER_PID" 2>/dev/null; then
        echo "FAIL: $INTEROP_LIBOS $1: server still running 10 s after SIGINT"
        INTEROP_FAILURES=$((INTEROP_FAILURES + 1))
        kill -KILL "$INTEROP_SERVER_PID" 2>/dev/null
    fi
    wait "$INTEROP_SERVER_PID" 2>/dev/null
    INTEROP_SERVER_PID=
    echo "--- server counters ($1) ---"
    grep -E "^demi-echo|(xdp|dpdk)\.(rx_frames|tx_frames|tx_direct|tx_copied|zerocopy|pool_free)|drop|bad|retrans|rto|fast_recover|queue_full|no_socket|tx_echo|rx_kernel" \
        "$INTEROP_TMP/server-$1.log" | grep -v " 0$" | head -40
}

# interop_socat_start: Linux echo servers in NS_LINUX, tcp on 7001 and udp on 7002.
interop_socat_start() {
    inL socat TCP-LISTEN:7001,fork,reuseaddr,backlog=128 PIPE >/dev/null 2>&1 &
    p1=$!
    inL socat UDP-RECVFROM:7002,fork PIPE >/dev/null 2>&1 &
    INTEROP_SOCAT_PIDS="$p1 $!"
    sleep 0.3
}

interop_socat_stop() {
    kill $INTEROP_SOCAT_PIDS 2>/dev/null
    for p in $INTEROP_SOCAT_PIDS; do wait "$p" 2>/dev/null; done
    INTEROP_SOCAT_PIDS=
}

# interop_ping MIN: at least MIN of 20 pings from Linux answered.
interop_ping() {
    out=$(inL ping -c 20 -i 0.05 -W 1 10.77.0.2)
    echo "$out" | tail -2
    recv=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    [ "${recv:-0}" -ge "$1" ]
}

# The XDP program libdemi attached (xdp) must be gone once the server stopped.
interop_no_xdp_left() {
    ! ip -n "$NS_DEMI" link show "$IF_DEMI" | grep -q "prog/xdp"
}

# interop_round LABEL PING_MIN TCP_BIG TCP_CONNS TCP_EACH: the libdemi server
# against Linux clients (ping, UDP, one large TCP transfer, many concurrent
# connections), then demi-echo's client against Linux echo servers (UDP
# only in the round labelled clean).
interop_round() {
    label=$1
    l=$INTEROP_LIBOS
    interop_check "$l $label: server up" interop_server_start "$label" || return
    interop_check "$l $label: ping" interop_ping "$2"
    interop_check "$l $label: udp echo" inL timeout 120 $PY "$here/udp_client.py" 10.77.0.2 7000 300
    interop_check "$l $label: tcp 1 connection x $3 bytes" \
        inL timeout 300 $PY "$here/tcp_client.py" 10.77.0.2 7000 1 "$3" 120
    interop_check "$l $label: tcp $4 connections x $5 bytes" \
        inL timeout 300 $PY "$here/tcp_client.py" 10.77.0.2 7000 "$4" "$5" 120
    interop_server_stop "$label"
    [ "$l" = xdp ] && [ "$label" = clean ] && interop_check "$l: no XDP program left after SIGINT" interop_no_xdp_left
    interop_socat_start
    interop_check "$l $label: demi-echo client tcp -> Linux" inD timeout 120 "$INTEROP_ECHO" client \
        --addr 10.77.0.1:7001 --proto tcp --size 16k --count 2000 --conns 8 --timeout 10
    if [ "$label" = clean ]; then
        interop_check "$l $label: demi-echo client udp -> Linux" inD timeout 120 "$INTEROP_ECHO" client \
            --addr 10.77.0.1:7002 --proto udp --size 1000 --count 2000 --timeout 5
    fi
    interop_socat_stop
}

# interop_attach_loss BASIS_POINTS linux|both: an XDP program dropping that
# share of the frames arriving at Linux (both: and at libdemi's veth too).
# Returns 1 (with the reason printed) when it cannot be built or attached.
interop_attach_loss() {
    if ! command -v clang >/dev/null 2>&1 || [ ! -e /usr/include/bpf/bpf_helpers.h ]; then
        echo "note: no XDP loss program (clang or libbpf headers missing)"
        return 1
    fi
    triplet=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
    if ! clang -O2 -g -target bpf -DLOSS_BP="$1" -I"/usr/include/$triplet" -c "$here/loss_xdp.c" \
            -o "$INTEROP_TMP/loss.o" 2>"$INTEROP_TMP/clang.log" ||
        ! inL ip link set dev "$IF_LINUX" xdpgeneric obj "$INTEROP_TMP/loss.o" sec xdp 2>"$INTEROP_TMP/xdp.log" ||
        { [ "$2" = both ] &&
          ! ip netns exec "$NS_DEMI" ip link set dev "$IF_DEMI" xdpgeneric obj "$INTEROP_TMP/loss.o" sec xdp \
              2>>"$INTEROP_TMP/xdp.log"; }; then
        echo "note: the XDP loss program could not be built or attached"
        cat "$INTEROP_TMP/clang.log" "$INTEROP_TMP/xdp.log" 2>/dev/null
        return 1
    fi
}

# interop_finish: prints the verdict; returns 0 when every check passed.
interop_finish() {
    if [ "$INTEROP_FAILURES" -eq 0 ]; then
        echo "interop $INTEROP_LIBOS: all passed"
    else
        echo "interop $INTEROP_LIBOS: $INTEROP_FAILURES failed"
    fi
    [ "$INTEROP_FAILURES" -eq 0 ]
}
