# Shared by bench/run.sh and bench/callgrind.sh (sourced, not run): their common options and
# build step, the configurations (one cfg_<name> function each), their servers and network
# namespaces, and cleanup. Every process started here is bounded by timeout(1) and stopped
# by pid.
#
# A script sources this file (which sets HERE, the bench folder, ROOT, the tree, and the
# defaults BUILD=$ROOT/build, COMPILE=1, ONLY=, WRITE_DOC=1), defines bench_script_opt for its own options and calls bench_parse "$@",
# then bench_build; it sets START_LIMIT / SERVER_LIMIT (seconds) and TMP (a private
# directory) and calls bench_init.
#
# Adding a configuration: write cfg_<name> below (a '-' in the name is '_' in the function)
# and add the name to the ALL_CONFIGS of bench/run.sh (and of callgrind.sh if it applies).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$ROOT/build
COMPILE=1
ONLY=
WRITE_DOC=1
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# The calling script's header comment (up to `set -u`), as its usage text.
bench_usage() {
    sed -n '2,/^set -u/p' "$0" | sed '/^set -u/d; s/^# \{0,1\}//'
}

# bench_opt ARGS...: takes one option both scripts have (--build DIR, --no-compile, --only
# LIST, --no-doc, --help); sets BENCH_SHIFT to the words it used. Returns 1 for any other.
bench_opt() {
    BENCH_SHIFT=1
    case $1 in
    --build) BUILD=$(cd "$ROOT" && realpath -m "${2:?--build needs a directory}"); BENCH_SHIFT=2 ;;
    --no-compile) COMPILE=0 ;;
    --only) ONLY=${2:?--only needs a list}; BENCH_SHIFT=2 ;;
    --no-doc) WRITE_DOC=0 ;;
    -h | --help) bench_usage; exit 0 ;;
    *) return 1 ;;
    esac
}

# bench_parse ARGS...: the whole command line (kept in BENCH_ARGS): bench_opt's options, then
# the script's own bench_script_opt ARGS... (sets BENCH_SHIFT, returns 1 for one it does not know).
bench_parse() {
    BENCH_ARGS=("$@")
    while [ $# -gt 0 ]; do
        if ! bench_opt "$@" && ! bench_script_opt "$@"; then
            echo "${0##*/}: unknown argument '$1'" >&2
            bench_usage >&2
            exit 2
        fi
        shift "$BENCH_SHIFT"
    done
}

# bench_range OPTION VALUE MIN MAX [WHAT]: exits 2 unless VALUE is a whole number in [MIN, MAX].
bench_range() {
    case $2 in
    '' | *[!0-9]*) ;;
    *) [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] && return 0 ;;
    esac
    echo "${0##*/}: $1 wants ${5:-a number} from $3 to $4" >&2
    exit 2
}

# bench_check_only KNOWN...: exits 2 when --only names a configuration not in KNOWN.
bench_check_only() {
    local c known=" $* "
    for c in ${ONLY//,/ }; do
        case $known in
        *" $c "*) ;;
        *) echo "${0##*/}: unknown configuration '$c' (known: $*)" >&2; exit 2 ;;
        esac
    done
}

# bench_selected CFG: true when CFG is to run (no --only, or named in it).
bench_selected() {
    [ -z "$ONLY" ] && return 0
    case ",$ONLY," in *",$1,"*) return 0 ;; esac
    return 1
}

# bench_build: sets up and compiles BUILD (unless --no-compile), sets ECHO and PLAIN, and
# exits 1 when either is missing or demi-echo has no --json.
bench_build() {
    local me=${0##*/} p
    if [ "$COMPILE" = 1 ]; then
        if [ ! -f "$BUILD/build.ninja" ]; then
            meson setup "$BUILD" "$ROOT" >/dev/null || { echo "$me: meson setup $BUILD failed" >&2; exit 1; }
        fi
        meson compile -C "$BUILD" apps/demi-echo bench/plain-echo >/dev/null ||
            { echo "$me: meson compile -C $BUILD failed" >&2; exit 1; }
    fi
    ECHO=$BUILD/apps/demi-echo
    PLAIN=$BUILD/bench/plain-echo
    for p in "$ECHO" "$PLAIN"; do
        [ -x "$p" ] || { echo "$me: $p is missing (build first, or drop --no-compile)" >&2; exit 1; }
    done
    if timeout 5 "$ECHO" client --addr 127.0.0.1:9 --json --count 1 --timeout 0.1 2>&1 | grep -q 'no json-c'; then
        echo "$me: demi-echo was built without json-c: install libjson-c-dev and rebuild" >&2
        exit 1
    fi
}

bench_init() {
    SERVER_PID=
    NETNS=()
    EXTRA=()
    SRV=()
    CLI=()
    trap bench_cleanup EXIT
    trap 'echo "${0##*/}: interrupted" >&2; exit 130' INT TERM
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -INT "$SERVER_PID" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

ns_teardown() {
    local ns
    for ns in "${NETNS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    NETNS=()
}

bench_cleanup() {
    stop_server
    ns_teardown
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

json_str() {  # prints $1 as a JSON string
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/ }
    s=${s//$'\n'/ }
    printf '"%s"' "$s"
}

quote_cmd() {  # prints the arguments as one shell-quoted command line, tree paths relative
    local out= a
    for a in "$@"; do
        a=${a//"$ROOT"\//}
        case $a in
        *[!A-Za-z0-9_./:=,+-]*) out+="'${a//\'/\'\\\'\'}' " ;;
        *) out+="$a " ;;
        esac
    done
    printf '%s' "${out% }"
}

# The most telling line of a log: libdemi's or the program's own error, else its last line.
log_reason() {
    local r
    r=$(grep -m1 -E 'libdemi error|error|Error|failed|not supported|cannot' "$1" 2>/dev/null)
    [ -n "$r" ] || r=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n1)
    [ -n "$r" ] || r="no output"
    printf '%s' "${r:0:200}"
}

# ns_setup TAG: two namespaces joined by a veth pair with no kernel IP address (libdemi owns
# both ends). Sets NS_S/NS_C and IF_S/IF_C. Returns 1 with the reason in SETUP_ERR.
ns_setup() {
    local tag=$1
    NS_S=demi-bench-$$-$tag-s NS_C=demi-bench-$$-$tag-c
    IF_S=bs$$$tag IF_C=bc$$$tag
    IF_S=${IF_S:0:15} IF_C=${IF_C:0:15}
    if [ "$(id -u)" != 0 ]; then
        SETUP_ERR="needs root for network namespaces"
        return 1
    fi
    ip netns add "$NS_S" && NETNS+=("$NS_S") && ip netns add "$NS_C" && NETNS+=("$NS_C") &&
        ip link add "$IF_S" type veth peer name "$IF_C" &&
        ip link set "$IF_S" netns "$NS_S" && ip link set "$IF_C" netns "$NS_C" ||
        { SETUP_ERR="could not create namespaces and a veth pair"; ns_teardown; return 1; }
    local ns ifc
    for ns in "$NS_S:$IF_S" "$NS_C:$IF_C"; do
        ifc=${ns#*:} ns=${ns%%:*}
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1"
        ip netns exec "$ns" ethtool -K "$ifc" tx off tso off gso off gro off >/dev/null 2>&1
        ip -n "$ns" link set "$ifc" up || { SETUP_ERR="could not bring up $ifc"; ns_teardown; return 1; }
    done
    return 0
}

# --- the configurations ---------------------------------------------------------------------
# cfg_<name> sets SRV and CLI (the server and client commands up to the subcommand; both start
# with env and end with the program), CFG_DESC (a line for the results table), and where it
# differs from the defaults EXTRA (options after the subcommand), SERVER_ADDR and ADDR (the
# client's; AUTO: the port the server prints), and creates what it needs (namespaces: with
# ns_setup, so config_stop removes them). Returns 1 with the reason in SETUP_ERR.

cfg_plain() {
    CFG_DESC="Linux TCP, plain kernel sockets (plain-echo, blocking), loopback"
    SRV=(env "$PLAIN") CLI=(env "$PLAIN")
}

cfg_plain_spin() {
    CFG_DESC="Linux TCP, plain kernel sockets, busy-polling (plain-echo --spin), loopback"
    SRV=(env "$PLAIN") CLI=(env "$PLAIN") EXTRA=(--spin)
}

cfg_plain_veth() {  # Linux to Linux across the same kind of veth pair, kernel addresses
    CFG_DESC="Linux TCP to Linux TCP (plain-echo), veth between two namespaces"
    ns_setup pv || return 1
    ip -n "$NS_S" addr add 10.77.0.2/24 dev "$IF_S" && ip -n "$NS_C" addr add 10.77.0.1/24 dev "$IF_C" ||
        { SETUP_ERR="could not address the veth pair"; return 1; }
    SERVER_ADDR=10.77.0.2:7 ADDR=10.77.0.2:7
    SRV=(ip netns exec "$NS_S" env "$PLAIN") CLI=(ip netns exec "$NS_C" env "$PLAIN")
}

cfg_posix() {
    CFG_DESC="libdemi posix libOS, loopback"
    SRV=(env DEMI_LIBOS=posix "$ECHO") CLI=("${SRV[@]}")
}

# cfg_inet_veth LIBOS: a libdemi server in one namespace, a libdemi client in the other.
cfg_inet_veth() {
    ns_setup "${1:0:2}" || return 1
    SERVER_ADDR=10.77.0.2:7 ADDR=10.77.0.2:7
    SRV=(ip netns exec "$NS_S" env DEMI_LIBOS="$1" DEMI_IFACE="$IF_S" DEMI_IPV4=10.77.0.2/24 "$ECHO")
    CLI=(ip netns exec "$NS_C" env DEMI_LIBOS="$1" DEMI_IFACE="$IF_C" DEMI_IPV4=10.77.0.1/24 "$ECHO")
}

cfg_afpacket() {
    CFG_DESC="libdemi afpacket, veth between two namespaces"
    cfg_inet_veth afpacket
}

cfg_xdp() {
    CFG_DESC="libdemi xdp, veth between two namespaces"
    cfg_inet_veth xdp
}

cfg_dpdk() {  # two processes joined by net_memif
    CFG_DESC="libdemi dpdk, net_memif between two processes"
    local sock=$TMP/memif.sock eal="--no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning"
    local memif="net_memif0,socket=$sock,socket-abstract=no"
    SERVER_ADDR=10.78.0.2:7 ADDR=10.78.0.2:7
    SRV=(env DEMI_LIBOS=dpdk DEMI_IPV4=10.78.0.2/24
         DEMI_DPDK_ARGS="-l 0 $eal --file-prefix=bench$$s --vdev=$memif,role=server,mac=02:00:00:00:78:02"
         "$ECHO")
    CLI=(env DEMI_LIBOS=dpdk DEMI_IPV4=10.78.0.1/24
         DEMI_DPDK_ARGS="-l 1 $eal --file-prefix=bench$$c --vdev=$memif,role=client,mac=02:00:00:00:78:01"
         "$ECHO")
}

cfg_rdma() {
    CFG_DESC="libdemi rdma, libfabric tcp provider, loopback"
    SRV=(env DEMI_LIBOS=rdma DEMI_RDMA_PROVIDER=tcp "$ECHO") CLI=("${SRV[@]}")
}

# config_setup CFG: resets the defaults and runs cfg_CFG. Returns 1 with the reason in SETUP_ERR.
config_setup() {
    local fn=cfg_${1//-/_}
    SETUP_ERR= CFG_DESC=$1 EXTRA=() SRV=() CLI=() SERVER_ADDR=127.0.0.1:0 ADDR=AUTO
    if ! declare -F "$fn" >/dev/null; then
        SETUP_ERR="unknown configuration $1"
        return 1
    fi
    "$fn"
}

# config_start CFG LOG: starts the configuration's server (output in LOG) and waits until it
# says "serving"; resolves ADDR. Returns 1 with the reason in SETUP_ERR.
config_start() {
    local cfg=$1 log=$2 i port
    timeout -s INT -k 5 "$SERVER_LIMIT" "${SRV[@]}" server "${EXTRA[@]}" --addr "$SERVER_ADDR" --proto tcp \
        >"$log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq $((START_LIMIT * 10))); do
        grep -q 'serving' "$log" 2>/dev/null && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$i" -ge $((START_LIMIT * 10)) ]; then
            kill -0 "$SERVER_PID" 2>/dev/null && echo "did not start within ${START_LIMIT} s" >>"$log"
            stop_server
            SETUP_ERR="server did not start: $(log_reason "$log")"
            return 1
        fi
        sleep 0.1
    done
    if [ "$ADDR" = AUTO ]; then
        port=$(sed -n 's/.*serving .* on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -n1)
        if [ -z "$port" ]; then
            stop_server
            SETUP_ERR="server printed no port: $(log_reason "$log")"
            return 1
        fi
        ADDR=127.0.0.1:$port
    fi
    return 0
}

# The server command as run (for the record).
config_server_cmd() {
    quote_cmd "${SRV[@]}" server "${EXTRA[@]}" --addr "$SERVER_ADDR" --proto tcp
}

config_stop() {
    stop_server
    ns_teardown
    EXTRA=()
}
