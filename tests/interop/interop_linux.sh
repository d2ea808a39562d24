#!/bin/sh
# Interop test of an inet libOS against the Linux stack (suites 'interop' and,
# for xdp and dpdk, 'bypass'): demi-echo on DEMI_LIBOS=afpacket, xdp (AF_XDP
# on the veth) or dpdk (net_af_packet on the veth, no hugepages) in one
# network namespace, Linux in the other, joined by a veth pair.
#   Linux ping gets replies; a Linux UDP client gets every datagram back;
#   Linux TCP clients (one large transfer, many concurrent connections) get
#   their bytes back exactly (SHA-256); demi-echo's client talks to Linux
#   (socat) echo servers; then the same with 2 % of the frames dropped by an
#   XDP program (loss_xdp.c) on the Linux-side veth and, for afpacket and
#   dpdk, on the libdemi-side veth too (for xdp that veth runs libdemi's own
#   XDP program, which must be gone after SIGINT).
# quick: 4 MiB and 20 connections of 64 KiB each round; full: 64 MiB and 100
# connections of 1 MiB (16 MiB and 100 x 256 KiB through the loss).
# usage: interop_linux.sh afpacket|xdp|dpdk DEMI_ECHO [quick|full]
# Exit 77 (skipped) without root or ip netns; namespaces are always deleted.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 afpacket|xdp|dpdk DEMI_ECHO [quick|full]"; exit 2; }
mode=${3:-quick}
case $mode in quick|full) ;; *) echo "usage: $0 afpacket|xdp|dpdk DEMI_ECHO [quick|full]"; exit 2 ;; esac
. "$here/lib.sh"
interop_init "$1" "$2"
interop_up

if [ "$mode" = quick ]; then
    interop_round clean 20 4194304 20 65536
else
    interop_round clean 20 67108864 100 1048576
fi

loss_on=both
[ "$INTEROP_LIBOS" = xdp ] && loss_on=linux
if interop_attach_loss 200 $loss_on; then
    if [ "$mode" = quick ]; then
        interop_round loss2 10 4194304 20 65536
    else
        interop_round loss2 10 16777216 100 262144
    fi
fi
interop_finish
