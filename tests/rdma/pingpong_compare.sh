#!/bin/sh
# Cost of libdemi's rdma layer: demi-echo on DEMI_LIBOS=rdma against
# libfabric's own fi_pingpong on the same provider (tcp, FI_EP_MSG),
# measured in the same run on loopback. Prints one line per size:
# fi_pingpong's round trip (2 x its usec/xfer) and demi-echo's mean and p50
# round trip. Usage: tests/rdma/pingpong_compare.sh [BUILD_DIR] [ITERS]
set -u
BUILD=${1:-build}
ITERS=${2:-5000}
ECHO="$BUILD/apps/demi-echo"
PORT=$((20000 + $$ % 20000))
SERVER_PID=

command -v fi_pingpong >/dev/null || { echo "fi_pingpong (libfabric-bin) missing: skipped"; exit 77; }
[ -x "$ECHO" ] || { echo "no $ECHO (build first)"; exit 1; }
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; }
trap cleanup EXIT INT TERM

export DEMI_LIBOS=rdma DEMI_RDMA_PROVIDER=tcp DEMI_LOG=warn
"$ECHO" server --addr "127.0.0.1:$PORT" --proto tcp >/dev/null 2>&1 &
SERVER_PID=$!
sleep 0.5
printf '%-10s %18s %18s %18s\n' size fi_pingpong_rtt_us demi_rtt_mean_us demi_rtt_p50_us
for size in 64 1024 4096 65536 1048576; do
    n=$ITERS
    [ "$size" -ge 1048576 ] && n=$((ITERS / 20 + 1))
    fpp_port=$((PORT + 1))
    fi_pingpong -p tcp -e msg -I "$n" -S "$size" -B "$fpp_port" >/dev/null 2>&1 &
    fpid=$!
    sleep 0.3
    fpp=$(fi_pingpong -p tcp -e msg -I "$n" -S "$size" -P "$fpp_port" 127.0.0.1 2>/dev/null |
          awk 'NR==2 {print $7 * 2}')
    wait "$fpid" 2>/dev/null
    demi=$(timeout 120 "$ECHO" client --addr "127.0.0.1:$PORT" --size "$size" --count "$n" --warmup 50 2>/dev/null |
           awk '/^rtt/ {getline; print $7, $2}')
    printf '%-10s %18s %18s %18s\n' "$size" "${fpp:-?}" "${demi% *}" "${demi#* }"
done
