#!/bin/sh
# Zero-syscall steady state (suite 'bypass'): demi-echo server and client on
# DEMI_LIBOS=dpdk, joined by net_memif (shared memory, server and client
# roles, each its own IP and MAC), both under `strace -f -c`. Runs N1 and
# then N2 echoes of 64 B over TCP (or PROTO=udp) and passes when the total
# number of system calls of each process differs by less than SLACK between
# the two runs, i.e. it does not grow with the number of messages.
# usage: memif_syscalls.sh DEMI_ECHO [N1 [N2]]   (defaults 10000 100000)
# Exit 77 (skipped) without strace; prints both runs' per-syscall counts.
set -u
echo_bin=$1
n1=${2:-10000}
n2=${3:-100000}
proto=${PROTO:-tcp}
slack=${SLACK:-1000}
command -v strace >/dev/null 2>&1 || { echo "skip: needs strace"; exit 77; }
[ -x "$echo_bin" ] || { echo "no demi-echo at $echo_bin"; exit 1; }
# AddressSanitizer's allocator maps fresh memory as its quarantine fills, so
# a sanitized build makes mmap calls that grow with the work: not measurable.
if ldd "$echo_bin" 2>/dev/null | grep -q libasan; then
    echo "skip: sanitized build (ASan's allocator makes mmap calls per allocation)"
    exit 77
fi
tmp=$(mktemp -d /tmp/demi-memif-sys.XXXXXX)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        pkill -KILL -P "$server_pid" 2>/dev/null
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# LeakSanitizer cannot run under ptrace (sanitized builds)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
eal="-l 0-1 --no-huge --no-pci -m 512 --no-shconf --no-telemetry --log-level=warning"

# run N: one server + one client run of N echoes; leaves strace summaries
# in $tmp/server-N and $tmp/client-N. Returns the client's status.
run() {
    n=$1
    sock=$tmp/memif-$n.sock
    DEMI_LIBOS=dpdk DEMI_IPV4=10.78.0.1/24 DEMI_MAC=02:00:00:00:00:01 \
        DEMI_DPDK_ARGS="$eal --vdev=net_memif0,role=server,socket=$sock,socket-abstract=no" \
        strace -f -c -o "$tmp/server-$n" "$echo_bin" server --addr 10.78.0.1:7 --proto "$proto" \
        >"$tmp/server-$n.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        [ -S "$sock" ] && break
        sleep 0.1
    done
    DEMI_LIBOS=dpdk DEMI_IPV4=10.78.0.2/24 DEMI_MAC=02:00:00:00:00:02 \
        DEMI_DPDK_ARGS="$eal --vdev=net_memif0,role=client,socket=$sock,socket-abstract=no" \
        timeout 300 strace -f -c -o "$tmp/client-$n" "$echo_bin" client --addr 10.78.0.1:7 --proto "$proto" \
        --count "$n" --size 64 --timeout 10 >"$tmp/client-$n.log" 2>&1
    rc=$?
    # SIGTERM to demi-echo itself (strace would only detach on a signal)
    pkill -TERM -P "$server_pid"
    wait "$server_pid"
    server_pid=
    grep -E "^libos|elapsed" "$tmp/client-$n.log"
    [ $rc -eq 0 ] || { echo "client failed:"; cat "$tmp/client-$n.log" "$tmp/server-$n.log"; }
    return $rc
}

total() { awk '$NF == "total" { print $4 }' "$1"; }

run "$n1" || exit 1
run "$n2" || exit 1
fail=0
for who in client server; do
    a=$(total "$tmp/$who-$n1")
    b=$(total "$tmp/$who-$n2")
    d=$((b - a))
    echo "$who: $a system calls for $n1 echoes, $b for $n2 (difference $d)"
    [ ${d#-} -lt "$slack" ] || fail=1
done
echo "--- per-call counts, client, $n1 then $n2 echoes ---"
grep -vE "^-|^%" "$tmp/client-$n1" | awk '{ print $NF, $4 }' | sort >"$tmp/a"
grep -vE "^-|^%" "$tmp/client-$n2" | awk '{ print $NF, $4 }' | sort >"$tmp/b"
join -a1 -a2 -e0 -o 0,1.2,2.2 "$tmp/a" "$tmp/b" | awk '$2 != $3' | head -20
[ $fail -eq 0 ] && echo "memif syscalls: constant" || echo "memif syscalls: GROW with the message count"
[ $fail -eq 0 ]
