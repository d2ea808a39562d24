/*
 * netdev_echo: libdemi's inet stack over one netdev (xdp or dpdk), without
 * a libOS: answers ARP and ping, and echoes UDP datagrams on one port. The
 * interop scripts run it against Linux peers to test the drivers alone.
 *
 * usage: netdev_echo xdp|dpdk <iface|-> <ipv4> <udp-port> <seconds>
 * Exits 0 after <seconds> (or on SIGTERM/SIGINT) and prints the driver's
 * counters and the echo count; exits 1 when the device does not open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <demi/stats.h>

#include "core/buf.h"
#include "core/clock.h"
#include "demi_build_config.h"
#include "inet/inet.h"
#include "inet/udp.h"
#include "netdev/netdev.h"

#define ECHO_BATCH 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

static const struct demi_netdev_ops *pick(const char *name)
{
#if DEMI_HAVE_XDP
    if (strcmp(name, "xdp") == 0)
        return &xdp_netdev_ops;
#endif
#if DEMI_HAVE_DPDK
    if (strcmp(name, "dpdk") == 0)
        return &dpdk_netdev_ops;
#endif
    return NULL;
}

/* Sends what the stack queued; frames the device refuses are dropped. */
static void flush(struct inet_stack *s, struct netdev *nd)
{
    struct buf *frames[ECHO_BATCH];
    size_t n;

    while ((n = inet_tx_drain(s, frames, ECHO_BATCH)) > 0) {
        size_t sent = nd->ops->tx_burst(nd, frames, n);
        for (size_t i = sent; i < n; i++)
            buf_unref(frames[i]);
    }
}

int main(int argc, char **argv)
{
    const struct demi_netdev_ops *ops;
    struct netdev_params p;
    struct inet_config cfg;
    struct inet_stack *s;
    struct udp_sock *u;
    struct netdev *nd;
    struct in_addr ip;
    uint64_t end, echoes = 0;
    struct demi_counter cs[64];
    int err;

    if (argc != 6 || !(ops = pick(argv[1])) || inet_aton(argv[3], &ip) == 0) {
        fprintf(stderr, "usage: %s xdp|dpdk <iface|-> <ipv4> <udp-port> <seconds>\n", argv[0]);
        return 2;
    }
    signal(SIGTERM, on_signal);
    memset(&p, 0, sizeof(p));
    p.iface = strcmp(argv[2], "-") ? argv[2] : NULL;
    err = ops->open(&p, &nd);
    if (err) {
        fprintf(stderr, "netdev_echo: open %s: %s\n", argv[1], strerror(err));
        return 1;
    }
    inet_config_defaults(&cfg);
    ops->mac(nd, cfg.mac);
    cfg.ipv4_addr = ip.s_addr;
    cfg.ipv4_prefix_len = 24;
    cfg.mtu = ops->mtu(nd);
    s = inet_stack_new(&cfg, clock_now_ns());
    if (!s || udp_open(s, &u, NULL, NULL) || udp_bind(u, 0, htons((uint16_t)atoi(argv[4])))) {
        fprintf(stderr, "netdev_echo: stack setup failed\n");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    end = clock_now_ns() + (uint64_t)atoi(argv[5]) * NS_PER_SEC;
    while (!stop) {
        struct buf *rx[ECHO_BATCH], *d;
        uint64_t now = clock_now_ns();
        uint32_t rip;
        uint16_t rport;
        size_t n;

        if (now >= end)
            break;
        n = ops->rx_burst(nd, rx, ECHO_BATCH);
        for (size_t i = 0; i < n; i++)
            inet_input(s, rx[i], now);
        inet_timers(s, now);
        while (udp_recv(u, &d, &rip, &rport) >= 0) {
            if (udp_sendto(u, &d, 1, rip, rport) == 0)
                echoes++;
        }
        flush(s, nd);
        if (n == 0 && ops->fd(nd) >= 0) {
            struct pollfd pfd = {.fd = ops->fd(nd), .events = POLLIN};
            (void)poll(&pfd, 1, 1);
        }
    }
    printf("echoes %llu\n", (unsigned long long)echoes);
    size_t nc = ops->counters ? ops->counters(nd, cs, 64) : 0;
    for (size_t i = 0; i < nc && i < 64; i++)
        printf("%s %llu\n", cs[i].name, (unsigned long long)cs[i].value);
    udp_close(u);
    inet_stack_free(s);
    ops->close(nd);
    return 0;
}
