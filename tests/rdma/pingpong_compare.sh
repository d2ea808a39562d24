#!/bin/sh
# Cost of libdemi's rdma layer over libfabric's own fi_pingpong on the same
# provider (tcp, FI_EP_MSG), on loopback, measured in the same run and
# interleaved (fi_pingpong, then libdemi, size by size, ROUNDS times) so that
# a busy machine disturbs both alike. Three libdemi figures:
#   pp    tests/rdma/rdma_pingpong: one buffer, length checked only (what
#         fi_pingpong does): libdemi's own cost;
#   echo  demi-echo (what bench/run.sh measures): fills and checks every byte
#         of every message, which fi_pingpong does not (fi_pingpong -c does);
#   fpp-c fi_pingpong -c, which fills and checks too (both ends).
# Prints one line per size and round: mean round-trip times in microseconds
# (fi_pingpong's is 2 x its usec/xfer) and the load average.
# Usage: tests/rdma/pingpong_compare.sh [BUILD_DIR] [ITERS] [ROUNDS]
set -u
BUILD=${1:-build}
ITERS=${2:-5000}
ROUNDS=${3:-3}
ECHO="$BUILD/apps/demi-echo"
PP="$BUILD/tests/rdma/rdma_pingpong"
PORT=$((20000 + $$ % 20000))
PIDS=

command -v fi_pingpong >/dev/null || { echo "fi_pingpong (libfabric-bin) missing: skipped"; exit 77; }
[ -x "$ECHO" ] && [ -x "$PP" ] || { echo "no $ECHO or $PP (build first)"; exit 1; }
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

export DEMI_LIBOS=rdma DEMI_RDMA_PROVIDER=tcp DEMI_LOG=warn
"$ECHO" server --addr "127.0.0.1:$PORT" --proto tcp >/dev/null 2>&1 &
PIDS="$PIDS $!"
"$PP" server $((PORT + 10)) >/dev/null 2>&1 &
PIDS="$PIDS $!"
sleep 0.5

# fpp SIZE N [-c]: fi_pingpong's round trip in us
fpp() {
    fport=$((PORT + 20))
    timeout 120 fi_pingpong -p tcp -e msg -I "$2" -S "$1" -B "$fport" ${3:-} >/dev/null 2>&1 &
    fpid=$!
    sleep 0.3
    timeout 120 fi_pingpong -p tcp -e msg -I "$2" -S "$1" -P "$fport" ${3:-} 127.0.0.1 2>/dev/null |
        awk 'NR==2 {print $7 * 2}'
    wait "$fpid" 2>/dev/null
}

printf '%-8s %5s %10s %10s %10s %10s  %s\n' size round fpp pp echo fpp-c load
for size in 64 1024 65536 1048576; do
    n=$ITERS
    [ "$size" -ge 65536 ] && n=$((ITERS / 5 + 1))
    [ "$size" -ge 1048576 ] && n=$((ITERS / 25 + 1))
    for r in $(seq "$ROUNDS"); do
        f=$(fpp "$size" "$n")
        p=$(timeout 120 "$PP" client 127.0.0.1 $((PORT + 10)) "$size" "$n" 2>/dev/null | awk '{print $3}')
        e=$(timeout 120 "$ECHO" client --addr "127.0.0.1:$PORT" --size "$size" --count "$n" --warmup $((n / 10)) \
            2>/dev/null | awk '/^rtt/ {getline; print $7}')
        fc=$(fpp "$size" "$n" -c)
        printf '%-8s %5s %10s %10s %10s %10s  %s\n' "$size" "$r" "${f:-?}" "${p:-?}" "${e:-?}" "${fc:-?}" \
            "$(cut -d' ' -f1 /proc/loadavg)"
    done
done
