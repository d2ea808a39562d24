#!/bin/sh
# Two network namespaces joined by a veth pair (ENVIRONMENT.md), with names
# unique to this run. Source it, then call interop_setup; interop_teardown
# runs on exit. Sets NS_LINUX, NS_DEMI, IF_LINUX, IF_DEMI.
#   10.77.0.1/24 on IF_LINUX (the Linux stack, in NS_LINUX)
#   IF_DEMI in NS_DEMI has no address: libdemi owns it as 10.77.0.2
# Exit code 77 (skip) when not root or without `ip netns`.

interop_skip_unless_able() {
    if [ "$(id -u)" != 0 ]; then echo "skip: needs root"; exit 77; fi
    command -v ip >/dev/null 2>&1 || { echo "skip: no ip(8)"; exit 77; }
    ip netns list >/dev/null 2>&1 || { echo "skip: ip netns unavailable"; exit 77; }
}

interop_teardown() {
    # Kill whatever still runs in the namespaces first (e.g. a socat child
    # whose peer vanished): it would hold the test's output open.
    for ns in "$NS_LINUX" "$NS_DEMI"; do
        [ -n "$ns" ] || continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}

interop_setup() {
    id=$$
    NS_LINUX="demiL$id"; NS_DEMI="demiD$id"; IF_LINUX="vL$id"; IF_DEMI="vD$id"
    trap interop_teardown EXIT
    trap 'exit 1' INT TERM
    ip netns add "$NS_LINUX" || { echo "skip: cannot create a namespace"; exit 77; }
    ip netns add "$NS_DEMI" || exit 1
    ip link add "$IF_LINUX" type veth peer name "$IF_DEMI" || exit 1
    ip link set "$IF_LINUX" netns "$NS_LINUX" && ip link set "$IF_DEMI" netns "$NS_DEMI" || exit 1
    ip -n "$NS_LINUX" link set lo up && ip -n "$NS_DEMI" link set lo up
    ip -n "$NS_LINUX" addr add 10.77.0.1/24 dev "$IF_LINUX"
    ip netns exec "$NS_LINUX" sysctl -qw "net.ipv6.conf.$IF_LINUX.disable_ipv6=1"
    ip netns exec "$NS_DEMI" sysctl -qw "net.ipv6.conf.$IF_DEMI.disable_ipv6=1"
    ip netns exec "$NS_LINUX" ethtool -K "$IF_LINUX" tx off tso off gso off >/dev/null 2>&1
    ip -n "$NS_LINUX" link set "$IF_LINUX" up && ip -n "$NS_DEMI" link set "$IF_DEMI" up || exit 1
}
