#!/bin/sh
# Installs the Debian packages libdemi needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [--minimal]
#   --minimal  only what building and the posix demo need
set -eu

MINIMAL="build-essential pkg-config meson ninja-build libcmocka-dev libjson-c-dev libssl-dev"
FULL="$MINIMAL clang llvm iproute2 iputils-ping ethtool tcpdump socat python3-scapy
      libbpf-dev libxdp-dev xdp-tools bpftool dpdk libdpdk-dev libfabric-dev libfabric-bin
      valgrind strace gnuplot-nox redis-server redis-tools sockperf iperf3"

pkgs=$FULL
[ "${1:-}" = "--minimal" ] && pkgs=$MINIMAL

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: run as root (or install sudo) to install: $pkgs" >&2; exit 1; fi
fi

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
