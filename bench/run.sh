#!/usr/bin/env bash
# The libdemi latency benchmark: one command, one run, every configuration.
#
#   bench/run.sh [--build DIR] [--no-compile] [--runs N] [--quick] [--only CFG,...]
#                [--note TEXT] [--no-doc]
#
# --build DIR (default build; set up and compiled unless --no-compile), --runs N (1-20, default
# 3), --quick (a tenth of the messages), --only a comma list of the configurations below,
# --note TEXT (printed with the results), --no-doc (keep only the raw results and print the
# summary; docs/, latest-summary.csv and the chart are left alone).
#
# Measures the demi-echo RTT (p50/p99/p99.9) of 64 B, 1 KiB and 64 KiB messages and the
# single-connection ping-pong throughput of 1 MiB messages over, in this order:
#   plain       Linux TCP through plain kernel sockets (bench/plain-echo, blocking), loopback
#   plain-spin  the same with --spin (busy-polling, as libdemi does), loopback
#   plain-veth  plain-echo from one network namespace to another over a veth pair: the
#               Linux-to-Linux figure beside afpacket and xdp
#   posix       DEMI_LIBOS=posix, loopback
#   afpacket    DEMI_LIBOS=afpacket, server and client in two network namespaces joined by a veth pair
#   xdp         DEMI_LIBOS=xdp, likewise
#   dpdk        DEMI_LIBOS=dpdk over net_memif between two processes
#   rdma        DEMI_LIBOS=rdma over libfabric's tcp provider, loopback
#   fi_pingpong libfabric's own fi_pingpong -p tcp -e msg on loopback (mean RTT only)
#   rdma-shm    DEMI_LIBOS=rdma datagram queues (demi-echo --proto udp) over libfabric's shm
#               provider, one host (up to 65507 B: the larger sizes are n/a)
#   fi_pingpong-shm  fi_pingpong -p shm -e rdm (mean RTT only)
# A row is a cfg_<name> function in bench/lib.sh (its server and client commands and its
# description) and its name in ALL_CONFIGS below; a row that is not a demi-echo run has its own
# row_<name> function here (as fi_pingpong). A configuration this build or machine cannot run
# is recorded as "n/a (reason)", never estimated. Each measurement is repeated --runs times (default 3) and the medians reported.
#
# Writes bench/results/<UTC time>.jsonl (every run, raw), bench/results/latest-summary.csv,
# the table between <!-- bench:begin --> and <!-- bench:end --> in docs/benchmarks.md, and
# docs/img/latency.png. Needs root (or CAP_NET_ADMIN) for the namespace configurations.
# Every process is bounded by timeout(1) and every loop by a count; servers, namespaces and
# sockets it made are removed on exit, also on Ctrl-C.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=3
QUICK=0
NOTE=
# The rows, in order: a cfg_<name> in lib.sh each (row_<name> below when it is no demi-echo row).
ALL_CONFIGS="plain plain-spin plain-veth posix afpacket xdp dpdk rdma fi_pingpong rdma-shm fi_pingpong-shm"

bench_script_opt() {
    case $1 in
    --runs) RUNS=${2:?--runs needs a number}; BENCH_SHIFT=2 ;;
    --quick) QUICK=1 ;;
    --note) NOTE=${2:?--note needs a text}; BENCH_SHIFT=2 ;;
    *) return 1 ;;
    esac
}
bench_parse "$@"
bench_range --runs "$RUNS" 1 20
bench_check_only $ALL_CONFIGS

# What is measured: message size, measured messages, unmeasured warmup messages.
SIZES=(64 1024 65536 1048576)
SIZE_NAMES=("64 B" "1 KiB" "64 KiB" "1 MiB")
COUNTS=(20000 20000 5000 300)
WARMUPS=(1000 1000 200 20)
if [ "$QUICK" = 1 ]; then
    COUNTS=(2000 2000 500 50)
    WARMUPS=(100 100 20 5)
fi
CLIENT_LIMIT=120        # seconds for one client run (each message also has demi-echo's --timeout 5)
SERVER_LIMIT=900        # seconds a server may live
START_LIMIT=20          # seconds for a server to say it is serving (rte_eal_init is slow)

# --- build ------------------------------------------------------------------
bench_build

# --- state and cleanup ------------------------------------------------------
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$HERE/results" "$ROOT/docs/img"
RAW=$HERE/results/$RUN_ID.jsonl
TMP=$(mktemp -d "/tmp/bench.$$.XXXXXX")
bench_init
: >"$RAW"

# --- raw records (one JSON object per line) ---------------------------------
emit() { printf '%s\n' "$1" >>"$RAW"; }
emit_na() {  # emit_na CFG REASON
    emit "{\"config\":\"$1\",\"na\":$(json_str "$2")}"
    echo "  $1: n/a ($2)"
}
emit_cmd() {  # emit_cmd CFG ROLE COMMAND-TEXT
    emit "{\"config\":\"$1\",\"role\":\"$2\",\"command\":$(json_str "$3")}"
}
emit_run() {  # emit_run CFG SIZE REP KEY JSON-VALUE: one measurement's result or error
    emit "{\"config\":\"$1\",\"size\":$2,\"rep\":$3,\"$4\":$5}"
}

# --- one configuration ----------------------------------------------------------
# measure CFG CLIENT-COMMAND...: runs every size RUNS times with the client command (which
# ends before "client"), after one short probe. Records each run.
measure() {
    local cfg=$1
    shift
    local log=$TMP/$cfg.client.err out rc rep i
    if ! out=$(timeout 30 "$@" client "${EXTRA[@]}" --addr "$ADDR" --count 20 --size 64 --timeout 5 2>"$log"); then
        emit_na "$cfg" "probe client failed: $(log_reason "$log")"
        return 1
    fi
    emit_cmd "$cfg" client \
        "$(quote_cmd "$@" client "${EXTRA[@]}" --addr "$ADDR" --size SIZE --count N --warmup W --json)"
    for rep in $(seq "$RUNS"); do
        for i in "${!SIZES[@]}"; do
            out=$(timeout "$CLIENT_LIMIT" "$@" client "${EXTRA[@]}" --addr "$ADDR" --size "${SIZES[i]}" \
                  --count "${COUNTS[i]}" --warmup "${WARMUPS[i]}" --json 2>"$log")
            rc=$?
            case $out in
            '{'*'"errors":0'*) ;;
            *) [ "$rc" = 0 ] && rc=1 ;;
            esac
            if [ "$rc" = 0 ]; then
                emit_run "$cfg" "${SIZES[i]}" "$rep" result "$out"
            else
                [ "$rc" = 124 ] && echo "timed out after ${CLIENT_LIMIT} s" >>"$log"
                emit_run "$cfg" "${SIZES[i]}" "$rep" error "$(json_str "exit $rc: $(log_reason "$log")")"
                echo "  $cfg size ${SIZES[i]} run $rep: failed (exit $rc: $(log_reason "$log"))"
            fi
        done
        echo "  $cfg: run $rep of $RUNS done"
    done
}

# row_echo CFG: the demi-echo (or plain-echo) row: sets up the configuration, starts its
# server, measures, and tears it down.
row_echo() {
    local cfg=$1
    config_setup "$cfg"
    local ok=$?
    emit "{\"config\":\"$cfg\",\"desc\":$(json_str "$CFG_DESC")}"
    if [ "$ok" = 0 ] && emit_cmd "$cfg" server "$(config_server_cmd)" &&
        config_start "$cfg" "$TMP/$cfg.server.log"; then
        measure "$cfg" "${CLI[@]}"
    else
        emit_na "$cfg" "$SETUP_ERR"
    fi
    config_stop
}

# libfabric's own ping-pong on the same provider: one server and one client per measurement.
# fi_pingpong_rows CFG PROVIDER EP_TYPE DESCRIPTION
fi_pingpong_rows() {
    local cfg=$1 prov=$2 ep=$3
    emit "{\"config\":\"$cfg\",\"desc\":$(json_str "$4")}"
    if ! command -v fi_pingpong >/dev/null; then
        emit_na "$cfg" "fi_pingpong not installed (Debian: libfabric-bin)"
        return
    fi
    local port=$((20000 + $$ % 20000)) log=$TMP/fpp.log slog=$TMP/fpp.server.log rep i out line
    emit_cmd "$cfg" server "fi_pingpong -p $prov -e $ep -I N -S SIZE -B $port"
    emit_cmd "$cfg" client "fi_pingpong -p $prov -e $ep -I N -S SIZE -P $port 127.0.0.1"
    for rep in $(seq "$RUNS"); do
        for i in "${!SIZES[@]}"; do
            timeout 60 fi_pingpong -p "$prov" -e "$ep" -I "${COUNTS[i]}" -S "${SIZES[i]}" -B "$port" >"$slog" 2>&1 &
            SERVER_PID=$!
            for _ in $(seq 50); do
                ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
                sleep 0.1
            done
            out=$(timeout 60 fi_pingpong -p "$prov" -e "$ep" -I "${COUNTS[i]}" -S "${SIZES[i]}" -P "$port" 127.0.0.1 \
                  2>"$log")
            # "bytes #sent #ack total time MB/sec usec/xfer Mxfers/sec": one xfer is one way
            line=$(printf '%s\n' "$out" | awk '$1 != "bytes" && NF >= 8 && $7 ~ /^[0-9.]+$/ { print $7; exit }')
            stop_server
            if [ -z "$line" ]; then
                [ "$rep" = 1 ] && [ "$i" = 0 ] && { emit_na "$cfg" "fi_pingpong failed: $(log_reason "$log")"; return; }
                emit_run "$cfg" "${SIZES[i]}" "$rep" error "$(json_str "$(log_reason "$log")")"
                continue
            fi
            emit_run "$cfg" "${SIZES[i]}" "$rep" result \
                "{\"libos\":\"fi_pingpong\",\"size\":${SIZES[i]},\"count\":${COUNTS[i]},\"usec_per_xfer\":$line}"
        done
        echo "  $cfg: run $rep of $RUNS done"
    done
}

row_fi_pingpong() {
    fi_pingpong_rows fi_pingpong tcp msg "libfabric fi_pingpong -p tcp -e msg, loopback (mean RTT only)"
}

row_fi_pingpong_shm() {
    fi_pingpong_rows fi_pingpong-shm shm rdm "libfabric fi_pingpong -p shm -e rdm, one host (mean RTT only)"
}

# libdemi's rdma datagram queues over the shm provider: demi-echo --proto udp, sizes a datagram carries.
row_rdma_shm() {
    local cfg=rdma-shm log=$TMP/rdma-shm.client.err slog=$TMP/rdma-shm.server.log rep i out rc port
    local env=(env DEMI_LIBOS=rdma DEMI_RDMA_DGRAM_PROVIDER=shm)
    emit "{\"config\":\"$cfg\",\"desc\":$(json_str "libdemi rdma datagram queues (demi-echo --proto udp), \
libfabric shm provider, one host")}"
    emit_cmd "$cfg" server "$(quote_cmd "${env[@]}" "$ECHO" server --addr 127.0.0.1:0 --proto udp)"
    timeout -s INT -k 5 "$SERVER_LIMIT" "${env[@]}" "$ECHO" server --addr 127.0.0.1:0 --proto udp >"$slog" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq $((START_LIMIT * 10))); do
        grep -q serving "$slog" 2>/dev/null && break
        sleep 0.1
    done
    port=$(sed -n 's/.*serving .* on [0-9.]*:\([0-9]*\).*/\1/p' "$slog" | head -n1)
    if [ -z "$port" ]; then
        stop_server
        emit_na "$cfg" "server did not start: $(log_reason "$slog")"
        return
    fi
    emit_cmd "$cfg" client "$(quote_cmd "${env[@]}" "$ECHO" client --proto udp --addr 127.0.0.1:PORT --size SIZE \
        --count N --warmup W --json)"
    for rep in $(seq "$RUNS"); do
        for i in "${!SIZES[@]}"; do
            if [ "${SIZES[i]}" -gt 65507 ]; then
                emit_run "$cfg" "${SIZES[i]}" "$rep" skip "$(json_str "a datagram carries at most 65507 bytes")"
                continue
            fi
            out=$(timeout "$CLIENT_LIMIT" "${env[@]}" "$ECHO" client --proto udp --addr "127.0.0.1:$port" \
                  --size "${SIZES[i]}" --count "${COUNTS[i]}" --warmup "${WARMUPS[i]}" --json 2>"$log")
            rc=$?
            case $out in '{'*'"errors":0'*) ;; *) [ "$rc" = 0 ] && rc=1 ;; esac
            if [ "$rc" = 0 ]; then
                emit_run "$cfg" "${SIZES[i]}" "$rep" result "$out"
            else
                emit_run "$cfg" "${SIZES[i]}" "$rep" error "$(json_str "exit $rc: $(log_reason "$log")")"
                echo "  $cfg size ${SIZES[i]} run $rep: failed (exit $rc: $(log_reason "$log"))"
            fi
        done
        echo "  $cfg: run $rep of $RUNS done"
    done
    stop_server
}

# --- the run ------------------------------------------------------------------------
{
    printf '{"facts":{"run_id":"%s","date_utc":"%s","nproc":%s,' "$RUN_ID" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)"
    printf '"kernel":%s,' "$(json_str "$(uname -sr)")"
    printf '"cpu":%s,' "$(json_str "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)")"
    printf '"mem":%s,' "$(json_str "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)")"
    printf '"loadavg_start":%s,' "$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")"
    printf '"commit":%s,' "$(json_str "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)")"
    printf '"runs":%s,"quick":%s,' "$RUNS" "$QUICK"
    counts=
    for i in "${!SIZES[@]}"; do
        counts+="${SIZE_NAMES[i]} x ${COUNTS[i]} (+${WARMUPS[i]} warmup); "
    done
    printf '"counts":%s,' "$(json_str "$counts")"
    printf '"command":%s,' "$(json_str "bench/run.sh $(quote_cmd "${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"}")")"
    printf '"note":%s}}\n' "$(json_str "$NOTE")"
} >>"$RAW"

echo "bench: writing $RAW"
for cfg in $ALL_CONFIGS; do
    bench_selected "$cfg" || continue
    echo "bench: $cfg"
    if declare -F "row_${cfg//-/_}" >/dev/null; then
        "row_${cfg//-/_}"
    else
        row_echo "$cfg"
    fi
done
emit "{\"facts_end\":{\"loadavg_end\":$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")}}"

SUMMARY_ARGS=(--raw "$RAW" --dat "$TMP/latency.dat")
[ "$WRITE_DOC" = 1 ] && SUMMARY_ARGS+=(--csv "$HERE/results/latest-summary.csv" --doc "$ROOT/docs/benchmarks.md")
"$PY" "$HERE/summarize.py" "${SUMMARY_ARGS[@]}" || exit 1
if [ "$WRITE_DOC" = 1 ]; then
    if command -v gnuplot >/dev/null; then
        gnuplot -e "datafile='$TMP/latency.dat'; outfile='$ROOT/docs/img/latency.png'" "$HERE/latency.gp" &&
            echo "bench: drew docs/img/latency.png"
    else
        echo "bench: gnuplot not installed (Debian: gnuplot-nox): no chart" >&2
    fi
fi
echo "bench: done; raw results in ${RAW#"$ROOT"/}"
