#!/usr/bin/env bash
# Instructions per echo round trip, counted by valgrind --tool=callgrind.
#
#   bench/callgrind.sh [--build DIR] [--no-compile] [--count N] [--size BYTES] [--only CFG,...]
#                      [--no-doc]
#
# For each configuration (plain posix afpacket xdp dpdk rdma, set up as in bench/run.sh) the
# server runs natively and the client (demi-echo, or plain-echo for plain) runs under callgrind
# for N and for 2N messages (default N=2000, 64 B, no warmup). Everything both runs share
# (start-up, connect, teardown) cancels in
#     instructions per round trip = (I(2N) - I(N)) / N
# where I is the client process's total instruction count. The pair is run twice; when the two
# estimates differ by more than 10 % the count measures waiting, not work, and is not reported
# as a cost. callgrind counts user-space
# instructions only: the kernel's work (all of TCP for plain and posix) is not in the number,
# so posix minus plain is the cost of libdemi's layer over the same kernel sockets. The client
# runs with DEMI_SPIN_US=0 so a wait sleeps in the device instead of counting spin-loop
# iterations (a libOS that cannot sleep, such as dpdk, still counts its polling).
#
# Writes bench/results/callgrind-<UTC time>.csv, bench/results/latest-callgrind.csv and the
# table between <!-- callgrind:begin --> and <!-- callgrind:end --> in docs/benchmarks.md.
set -u

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=2000
SIZE=64
ALL_CONFIGS="plain posix afpacket xdp dpdk rdma"  # cfg_<name> of lib.sh each

bench_script_opt() {
    case $1 in
    --count) N=${2:?--count needs a number}; BENCH_SHIFT=2 ;;
    --size) SIZE=${2:?--size needs a number}; BENCH_SHIFT=2 ;;
    *) return 1 ;;
    esac
}
bench_parse "$@"
bench_range --count "$N" 10 100000
bench_range --size "$SIZE" 1 1048576 bytes
bench_check_only $ALL_CONFIGS
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (Debian: valgrind)" >&2; exit 1; }

CLIENT_LIMIT=900        # seconds for one client under callgrind (about 50 times slower)
SERVER_LIMIT=3600
START_LIMIT=20

bench_build
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$HERE/results"
CSV=$HERE/results/callgrind-$RUN_ID.csv
TMP=$(mktemp -d "/tmp/bench-cg.$$.XXXXXX")
bench_init
echo "config,size,n,instr_n,instr_2n,per_round_trip_1,per_round_trip_2,instr_per_round_trip,status,client_command" \
    >"$CSV"
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# csv_field TEXT: TEXT as one CSV field.
csv_field() { printf '"%s"' "${1//\"/\"\"}"; }

# count_client CFG MESSAGES TAG: runs the client under callgrind and sets COUNT to its instruction
# total. Returns 1 (reason in SETUP_ERR) when the client fails or callgrind wrote no total.
count_client() {
    local cfg=$1 n=$2 out=$TMP/cg.$1.$2.$3 log=$TMP/cg.$1.$2.$3.log
    local prefix=("${CLI[@]:0:${#CLI[@]}-1}") prog=${CLI[-1]}
    COUNT=
    timeout -k 5 "$CLIENT_LIMIT" "${prefix[@]}" DEMI_SPIN_US=0 valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$prog" client "${EXTRA[@]}" --addr "$ADDR" --size "$SIZE" --count "$n" --timeout 60 >"$log" 2>&1
    local rc=$?
    if [ "$rc" != 0 ]; then
        SETUP_ERR="client under callgrind failed (exit $rc): $(log_reason "$log")"
        return 1
    fi
    COUNT=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
    [ -n "$COUNT" ] || { SETUP_ERR="callgrind wrote no total"; return 1; }
}

# run_config CFG: two independent estimates, (I(2N) - I(N)) / N each. They agree within 10 % when
# the count is a cost; when they do not (a libOS that busy-polls counts its waiting), the row
# says so instead of giving one number.
run_config() {
    local cfg=$1 i1 i2 j1 j2 a b per status cmd
    if ! config_setup "$cfg" || ! config_start "$cfg" "$TMP/$cfg.server.log"; then
        echo "  $cfg: n/a ($SETUP_ERR)"
        echo "$cfg,$SIZE,$N,,,,,,$(csv_field "n/a ($SETUP_ERR)")," >>"$CSV"
        config_stop
        return
    fi
    cmd=$(quote_cmd "${CLI[@]:0:${#CLI[@]}-1}" DEMI_SPIN_US=0 valgrind --tool=callgrind "${CLI[-1]}" client \
          "${EXTRA[@]}" --addr "$ADDR" --size "$SIZE" --count N)
    if count_client "$cfg" "$N" a && i1=$COUNT && count_client "$cfg" $((2 * N)) a && i2=$COUNT &&
        count_client "$cfg" "$N" b && j1=$COUNT && count_client "$cfg" $((2 * N)) b && j2=$COUNT; then
        a=$(( (i2 - i1) / N )) b=$(( (j2 - j1) / N ))
        per=$(( (a + b) / 2 ))
        status=ok
        # |a - b| > 10 % of the larger, or not positive: timing, not work
        local d=$(( a > b ? a - b : b - a )) m=$(( a > b ? a : b ))
        if [ "$a" -le 0 ] || [ "$b" -le 0 ] || [ $(( d * 10 )) -gt "$m" ]; then
            status="unstable"
        fi
        echo "  $cfg: I($N) = $i1 / $j1, I($((2 * N))) = $i2 / $j2: $a and $b per round trip ($status)"
        echo "$cfg,$SIZE,$N,$i1,$i2,$a,$b,$per,$status,$(csv_field "$cmd")" >>"$CSV"
    else
        echo "  $cfg: n/a ($SETUP_ERR)"
        echo "$cfg,$SIZE,$N,,,,,,$(csv_field "n/a ($SETUP_ERR)"),$(csv_field "$cmd")" >>"$CSV"
    fi
    config_stop
}

echo "callgrind: writing $CSV"
for cfg in $ALL_CONFIGS; do
    bench_selected "$cfg" || continue
    echo "callgrind: $cfg"
    SETUP_ERR=
    run_config "$cfg"
done
[ "$WRITE_DOC" = 1 ] || { echo "callgrind: done; results in ${CSV#"$ROOT"/}"; exit 0; }
cp "$CSV" "$HERE/results/latest-callgrind.csv"
COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
CMDLINE="bench/callgrind.sh $(quote_cmd "${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"}")"
CG_RUN="$(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$COMMIT\`, \`$CMDLINE\`, $(valgrind --version), nproc $(nproc),"
CG_RUN+=" $(uname -sr), load average $LOADAVG_START at the start"
CG_METHOD="client under callgrind for N = $N and 2N = $((2 * N)) messages of $SIZE B, no warmup (server native);"
CG_METHOD+=" instructions per round trip = (I(2N) − I(N)) / N, measured twice and averaged (a row whose two"
CG_METHOD+=" estimates differ by more than 10 % is not reported as a cost); user space of the client process only"
export CG_RUN CG_METHOD
"$PY" - "$CSV" "$ROOT/docs/benchmarks.md" "$HERE" <<'PYEOF' || exit 1
import csv, os, sys
sys.path.insert(0, sys.argv[3])
from docblock import splice
with open(sys.argv[1]) as f:
    rows = list(csv.DictReader(f))
plain = next((int(r["instr_per_round_trip"]) for r in rows if r["config"] == "plain" and r["status"] == "ok"), None)
out = ["<!-- generated by bench/callgrind.sh: edits between these markers are lost -->", "",
       f"- **Run**: {os.environ['CG_RUN']}", f"- **Method**: {os.environ['CG_METHOD']}", "",
       "| configuration | instructions per round trip | minus plain-echo | the two estimates | I(N), I(2N) (first) |",
       "|---|---|---|---|---|"]
for r in rows:
    if r["status"] not in ("ok", "unstable"):
        out.append(f"| {r['config']} | {r['status']} | — | — | — |")
        continue
    per, e1, e2 = (int(r[k]) for k in ("instr_per_round_trip", "per_round_trip_1", "per_round_trip_2"))
    counts = f"{int(r['instr_n']):,}, {int(r['instr_2n']):,}"
    if r["status"] == "unstable":
        out.append(f"| {r['config']} | not a cost: the estimates disagree (busy-polling counts its waiting) | — "
                   f"| {e1:,} and {e2:,} | {counts} |")
        continue
    diff = f"{per - plain:+,}" if plain is not None and r["config"] != "plain" else "—"
    out.append(f"| {r['config']} | {per:,} | {diff} | {e1:,} and {e2:,} | {counts} |")
out += ["", "Client commands (N as above; the servers are those of bench/run.sh):", "", "```sh"]
out += [r["client_command"] for r in rows if r["client_command"]]
out += ["```"]
splice(sys.argv[2], "callgrind", "\n".join(out))
print(f"callgrind: wrote the table into {sys.argv[2]}")
PYEOF
echo "callgrind: done; results in ${CSV#"$ROOT"/}"
