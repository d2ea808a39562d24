# Sourced by the xdp/dpdk test scripts: a veth pair between two network
# namespaces named with the PID, removed on exit. Needs root (exit 77 if not).
#   NS_LINUX / IF_LINUX: the Linux peer, 10.77.0.1/24, offloads off
#   NS_DEMI  / IF_DEMI:  the libdemi side, no address (libdemi is 10.77.0.2)
# bypass_netns_up creates them; the EXIT trap deletes them.
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (network namespaces, XDP)"
    exit 77
fi
BYPASS_ID=${BYPASS_ID:-$$}
NS_LINUX=bpL$BYPASS_ID
NS_DEMI=bpD$BYPASS_ID
IF_LINUX=vbl$BYPASS_ID
IF_DEMI=vbd$BYPASS_ID
LINUX_IP=10.77.0.1
DEMI_IP=10.77.0.2
BYPASS_PIDS=""

bypass_cleanup() {
    for p in $BYPASS_PIDS; do kill "$p" 2>/dev/null; done
    for p in $BYPASS_PIDS; do wait "$p" 2>/dev/null; done
    for ns in "$NS_LINUX" "$NS_DEMI"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}
trap bypass_cleanup EXIT

bypass_netns_up() {
    ip netns add "$NS_LINUX" && ip netns add "$NS_DEMI" || return 1
    ip link add "$IF_LINUX" type veth peer name "$IF_DEMI" || return 1
    ip link set "$IF_LINUX" netns "$NS_LINUX"
    ip link set "$IF_DEMI" netns "$NS_DEMI"
    ip -n "$NS_LINUX" link set lo up
    ip -n "$NS_DEMI" link set lo up
    ip -n "$NS_LINUX" addr add "$LINUX_IP/24" dev "$IF_LINUX"
    ip netns exec "$NS_LINUX" sysctl -qw "net.ipv6.conf.$IF_LINUX.disable_ipv6=1"
    ip netns exec "$NS_DEMI" sysctl -qw "net.ipv6.conf.$IF_DEMI.disable_ipv6=1"
    ip netns exec "$NS_LINUX" ethtool -K "$IF_LINUX" tx off tso off gso off >/dev/null
    ip -n "$NS_LINUX" link set "$IF_LINUX" up
    ip -n "$NS_DEMI" link set "$IF_DEMI" up
}

# Waits up to $2 seconds for file $1 to contain "ready".
bypass_wait_ready() {
    for _ in $(seq 1 $(( $2 * 10 ))); do
        grep -q ready "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
