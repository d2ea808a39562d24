# Shared by bench/run.sh and bench/callgrind.sh (sourced, not run): the configurations,
# their servers and network namespaces, and cleanup. The caller sets ROOT, ECHO (demi-echo),
# PLAIN (plain-echo), TMP (a private directory) and START_LIMIT / SERVER_LIMIT (seconds), then
# calls bench_init. Every process started here is bounded by timeout(1) and stopped by pid.

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

# config_setup CFG: sets SRV and CLI (the server and client commands up to the subcommand;
# both start with env and end with the program), EXTRA (options after the subcommand),
# SERVER_ADDR and ADDR (the client's; AUTO: the port the server prints), and creates what the
# configuration needs. Returns 1 with the reason in SETUP_ERR.
config_setup() {
    local cfg=$1 eal sock memif
    SETUP_ERR= EXTRA=() SERVER_ADDR=127.0.0.1:0 ADDR=AUTO
    case $cfg in
    plain | plain-spin)
        SRV=(env "$PLAIN") CLI=(env "$PLAIN")
        [ "$cfg" = plain-spin ] && EXTRA=(--spin)
        ;;
    posix)
        SRV=(env DEMI_LIBOS=posix "$ECHO") CLI=("${SRV[@]}")
        ;;
    plain-veth)  # Linux to Linux across the same kind of veth pair, kernel addresses
        ns_setup pv || return 1
        ip -n "$NS_S" addr add 10.77.0.2/24 dev "$IF_S" && ip -n "$NS_C" addr add 10.77.0.1/24 dev "$IF_C" ||
            { SETUP_ERR="could not address the veth pair"; return 1; }
        SERVER_ADDR=10.77.0.2:7 ADDR=10.77.0.2:7
        SRV=(ip netns exec "$NS_S" env "$PLAIN") CLI=(ip netns exec "$NS_C" env "$PLAIN")
        ;;
    afpacket | xdp)  # libdemi server in one namespace, libdemi client in the other
        ns_setup "${cfg:0:2}" || return 1
        SERVER_ADDR=10.77.0.2:7 ADDR=10.77.0.2:7
        SRV=(ip netns exec "$NS_S" env DEMI_LIBOS="$cfg" DEMI_IFACE="$IF_S" DEMI_IPV4=10.77.0.2/24 "$ECHO")
        CLI=(ip netns exec "$NS_C" env DEMI_LIBOS="$cfg" DEMI_IFACE="$IF_C" DEMI_IPV4=10.77.0.1/24 "$ECHO")
        ;;
    dpdk)  # two processes joined by net_memif
        sock=$TMP/memif.sock
        eal="--no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning"
        memif="net_memif0,socket=$sock,socket-abstract=no"
        SERVER_ADDR=10.78.0.2:7 ADDR=10.78.0.2:7
        SRV=(env DEMI_LIBOS=dpdk DEMI_IPV4=10.78.0.2/24
             DEMI_DPDK_ARGS="-l 0 $eal --file-prefix=bench$$s --vdev=$memif,role=server,mac=02:00:00:00:78:02"
             "$ECHO")
        CLI=(env DEMI_LIBOS=dpdk DEMI_IPV4=10.78.0.1/24
             DEMI_DPDK_ARGS="-l 1 $eal --file-prefix=bench$$c --vdev=$memif,role=client,mac=02:00:00:00:78:01"
             "$ECHO")
        ;;
    rdma)
        SRV=(env DEMI_LIBOS=rdma DEMI_RDMA_PROVIDER=tcp "$ECHO") CLI=("${SRV[@]}")
        ;;
    *)
        SETUP_ERR="unknown configuration $cfg"
        return 1
        ;;
    esac
    return 0
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
