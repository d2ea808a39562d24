/*
 * The inet libOS: ops table, init/fini, socket/bind/listen/close dispatch,
 * the poll loop and counters. Call order: init -> socket -> bind/listen/
 * connect/accept -> push/pop (finished by the stack's callbacks while poll
 * runs) -> close -> fini.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "inet/stack.h"
#include "inet_libos.h"
#include "netdev/pcap.h"

struct inet_libos inet_libos;

struct inet_queue *inet_queue_new(struct demi_queue *q, int kind)
{
    struct inet_queue *iq = calloc(1, sizeof(*iq));

    if (!iq)
        return NULL;
    iq->q = q;
    iq->kind = kind;
    TAILQ_INIT(&iq->pops);
    TAILQ_INIT(&iq->pushes);
    TAILQ_INIT(&iq->accepts);
    TAILQ_INSERT_TAIL(&inet_libos.queues, iq, link);
    q->priv = iq;
    return iq;
}

void inet_queue_free(struct inet_queue *iq)
{
    TAILQ_REMOVE(&inet_libos.queues, iq, link);
    if (iq->q)
        iq->q->priv = NULL;
    free(iq);
}

int inet_fail_all(struct op_list *list, int err)
{
    struct demi_op *op;
    int n = 0;

    while ((op = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, op, lentry);
        op_fail(op, err);
        inet_count_completion();
        n++;
    }
    return n;
}

/* pcap hook: every frame in and out, stamped with the wall clock. */
static void inet_capture(void *arg, const struct buf *frame, int outgoing)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (pcap_write(inet_libos.pcap, frame->data, frame->len, timespec_to_ns(&ts)) != 0)
        inet_libos.pcap_errors++;
}

/* Opens the netdev named by the configuration; returns 0 or errno (logged). */
static int inet_open_netdev(const struct demi_netdev_ops *nd_ops)
{
    struct netdev_params p = {0};
    const char *mac_str = config_get("DEMI_MAC");
    uint8_t mac[6];
    int err;

    p.iface = config_get("DEMI_IFACE");
    if (mac_str && *mac_str) {
        if (inet_libos_parse_mac(mac_str, mac) != 0 || (mac[0] & 1)) {
            log_err("inet: DEMI_MAC=\"%s\" is not a unicast MAC address", mac_str);
            return EINVAL;
        }
        p.mac = mac;
    }
    if (!p.iface || !*p.iface) {
        if (nd_ops == &afpacket_netdev_ops) {
            log_err("%s: set DEMI_IFACE to the interface to use", nd_ops->name);
            return EINVAL;
        }
        p.iface = NULL;
    }
    err = nd_ops->open(&p, &inet_libos.nd);
    if (err)
        log_err("%s: cannot open %s: %s", nd_ops->name, p.iface ? p.iface : "the device", strerror(err));
    return err;
}

int inet_libos_init(const struct demi_netdev_ops *nd_ops, const struct demi_args *args)
{
    struct inet_config cfg;
    const char *pcap_path;
    int64_t pop;
    int err;

    (void)args;
    if (inet_libos.initialized)
        return EEXIST;
    memset(&inet_libos, 0, sizeof(inet_libos));
    TAILQ_INIT(&inet_libos.queues);
    inet_libos.nd_ops = nd_ops;
    if (config_get_int("DEMI_TCP_POP_SIZE", &pop) != 0 || pop < 1 || pop > (64 << 20)) {
        log_err("inet: DEMI_TCP_POP_SIZE must be 1..64M");
        return EINVAL;
    }
    inet_libos.tcp_pop_size = (uint32_t)pop;
    err = inet_open_netdev(nd_ops);
    if (err)
        return err;
    err = inet_libos_read_config(&cfg, inet_libos.nd);
    if (err)
        goto err;
    inet_libos.stack = inet_stack_new(&cfg, clock_now_ns());
    if (!inet_libos.stack) {
        err = errno ? errno : ENOMEM;
        log_err("inet: cannot create the stack: %s", strerror(err));
        goto err;
    }
    err = inet_libos_static_arp(inet_libos.stack);
    if (err)
        goto err;
    pcap_path = config_get("DEMI_PCAP");
    if (pcap_path && *pcap_path) {
        inet_libos.pcap = pcap_open(pcap_path);
        if (!inet_libos.pcap) {
            err = errno;
            log_err("inet: DEMI_PCAP=%s: %s", pcap_path, strerror(err));
            goto err;
        }
        inet_libos.stack->capture = inet_capture;
        inet_libos.stack->capture_arg = NULL;
    }
    log_info("%s: %u.%u.%u.%u/%u mtu %u", nd_ops->name, ((uint8_t *)&cfg.ipv4_addr)[0],
             ((uint8_t *)&cfg.ipv4_addr)[1], ((uint8_t *)&cfg.ipv4_addr)[2], ((uint8_t *)&cfg.ipv4_addr)[3],
             cfg.ipv4_prefix_len, cfg.mtu);
    inet_libos.initialized = true;
    return 0;
err:
    inet_stack_free(inet_libos.stack);
    inet_libos.stack = NULL;
    pcap_close(inet_libos.pcap);
    inet_libos.pcap = NULL;
    nd_ops->close(inet_libos.nd);
    inet_libos.nd = NULL;
    return err;
}

size_t inet_libos_flush_tx(void)
{
    struct netdev *nd = inet_libos.nd;
    size_t sent = 0;

    for (;;) {
        size_t n = inet_libos.tx_left_n, took;
        if (n < INET_TX_BATCH)
            n += inet_tx_drain(inet_libos.stack, inet_libos.tx_left + n, INET_TX_BATCH - n);
        if (n == 0)
            break;
        took = nd->ops->tx_burst(nd, inet_libos.tx_left, n);
        inet_libos.tx_batches++;
        sent += took;
        if (took < n)
            memmove(inet_libos.tx_left, inet_libos.tx_left + took, (n - took) * sizeof(struct buf *));
        inet_libos.tx_left_n = n - took;
        if (took < n) {
            inet_libos.tx_stalls++;     /* device full: retry at the next poll */
            break;
        }
    }
    inet_libos.tx_frames += sent;
    return sent;
}

void inet_libos_fini(void)
{
    struct inet_queue *iq;

    if (!inet_libos.initialized)
        return;
    /* core closed every queue; drop whatever a caller left without touching ops */
    while ((iq = TAILQ_FIRST(&inet_libos.queues)) != NULL) {
        iq->q = NULL;
        inet_queue_free(iq);
    }
    inet_libos_flush_tx();                /* last FINs and RSTs */
    for (size_t i = 0; i < inet_libos.tx_left_n; i++)
        buf_unref(inet_libos.tx_left[i]);
    inet_libos.tx_left_n = 0;
    inet_stack_free(inet_libos.stack);
    inet_libos.stack = NULL;
    if (pcap_close(inet_libos.pcap) != 0)
        log_warn("inet: writing the pcap file failed");
    inet_libos.pcap = NULL;
    inet_libos.nd->ops->close(inet_libos.nd);
    inet_libos.nd = NULL;
    inet_libos.initialized = false;
}

int inet_libos_socket(struct demi_queue *q, int domain, int type, int protocol)
{
    struct inet_queue *iq;
    int err;

    if (domain != AF_INET)
        return EAFNOSUPPORT;
    iq = inet_queue_new(q, q->kind);
    if (!iq)
        return ENOMEM;
    err = q->kind == QK_TCP ? inet_tcp_socket(iq) : inet_udp_socket(iq);
    if (err)
        inet_queue_free(iq);
    return err;
}

int inet_libos_bind(struct demi_queue *q, const struct sockaddr_in *addr)
{
    struct inet_queue *iq = q->priv;

    if (addr->sin_family != AF_INET)
        return EAFNOSUPPORT;
    return iq->kind == QK_TCP ? inet_tcp_bind(iq, addr) : inet_udp_bind(iq, addr);
}

int inet_libos_listen(struct demi_queue *q, int backlog)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_listen(iq, backlog) : EOPNOTSUPP;
}

int inet_libos_accept(struct demi_queue *q, struct demi_op *op)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_accept(iq, op) : EOPNOTSUPP;
}

int inet_libos_connect(struct demi_queue *q, struct demi_op *op)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_connect(iq, op) : inet_udp_connect(iq, op);
}

int inet_libos_push(struct demi_queue *q, struct demi_op *op)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_push(iq, op) : inet_udp_push(iq, op);
}

int inet_libos_pop(struct demi_queue *q, struct demi_op *op)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_pop(iq, op) : inet_udp_pop(iq, op);
}

/* Fails the queue's pending ops with ECANCELED and releases its socket.
 * Always returns 0. */
int inet_libos_close(struct demi_queue *q)
{
    struct inet_queue *iq = q->priv;

    if (!iq)
        return 0;
    if (iq->kind == QK_TCP)
        inet_tcp_close(iq);
    else
        inet_udp_close(iq);
    inet_queue_free(iq);
    return 0;
}

int inet_libos_setsockopt(struct demi_queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    struct inet_queue *iq = q->priv;

    if (iq->kind == QK_TCP)
        return inet_tcp_setsockopt(iq, level, optname, optval, optlen);
    if (level == SOL_SOCKET && (optname == SO_REUSEADDR || optname == SO_BROADCAST))
        return 0;   /* a UDP port is reusable after close; broadcasts are always allowed */
    return ENOPROTOOPT;
}

int inet_libos_getsockopt(struct demi_queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    struct inet_queue *iq = q->priv;

    if (iq->kind == QK_TCP)
        return inet_tcp_getsockopt(iq, level, optname, optval, optlen);
    return ENOPROTOOPT;
}

int inet_libos_getpeername(struct demi_queue *q, struct sockaddr_in *out)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_getname(iq, out, true) : inet_udp_getname(iq, out, true);
}

int inet_libos_getsockname(struct demi_queue *q, struct sockaddr_in *out)
{
    struct inet_queue *iq = q->priv;

    return iq->kind == QK_TCP ? inet_tcp_getname(iq, out, false) : inet_udp_getname(iq, out, false);
}

/* Sleeps in poll() on the device until a frame arrives or wait_ns passes. */
static void inet_block(int64_t wait_ns)
{
    int fd = inet_libos.nd->ops->fd(inet_libos.nd);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};

    if (fd < 0 || wait_ns <= 0)
        return;
    if (inet_libos.tx_left_n)
        pfd.events |= POLLOUT;
    inet_libos.blocks++;
    ppoll(&pfd, 1, &ts, NULL);
}

/* One round: every ready frame into the stack (bursts), the stack's timers,
 * then its frames out in batches. When block_ns > 0 and nothing happened,
 * sleeps on the device until a frame or the stack's next deadline. Returns
 * the number of frames and completions processed. */
int inet_libos_poll(int64_t block_ns)
{
    struct netdev *nd = inet_libos.nd;
    struct inet_stack *s = inet_libos.stack;
    struct buf *bufs[INET_RX_BURST];
    uint64_t done0 = inet_libos.completions, now = clock_now_ns();
    size_t rx = 0, tx;

    inet_libos.polls++;
    for (int r = 0; r < INET_RX_BURSTS_PER_POLL; r++) {
        size_t n = nd->ops->rx_burst(nd, bufs, INET_RX_BURST);
        for (size_t i = 0; i < n; i++)
            inet_input(s, bufs[i], now);
        rx += n;
        if (n < INET_RX_BURST)
            break;
    }
    inet_timers(s, now);
    tx = inet_libos_flush_tx();
    inet_libos.rx_frames += rx;
    if (rx == 0 && tx == 0 && inet_libos.completions == done0 && block_ns > 0) {
        uint64_t deadline = inet_next_deadline(s);
        int64_t wait = block_ns;
        if (deadline != UINT64_MAX) {
            uint64_t now2 = clock_now_ns();
            int64_t until = deadline > now2 ? (int64_t)(deadline - now2) : 0;
            if (until < wait)
                wait = until;
        }
        inet_block(wait);
    }
    return (int)(rx + (inet_libos.completions - done0));
}

size_t inet_libos_counters(struct demi_queue *q, demi_counter_t *out, size_t cap)
{
    size_t n = 0;

    if (q) {
        struct inet_queue *iq = q->priv;
        return iq && iq->kind == QK_TCP ? inet_tcp_queue_counters(iq, out, cap) : 0;
    }
    const struct {
        const char *name;
        uint64_t v;
    } c[] = {
        {"inet.polls", inet_libos.polls},       {"inet.rx_frames", inet_libos.rx_frames},
        {"inet.tx_frames", inet_libos.tx_frames}, {"inet.tx_batches", inet_libos.tx_batches},
        {"inet.tx_stalls", inet_libos.tx_stalls}, {"inet.blocks", inet_libos.blocks},
        {"inet.completions", inet_libos.completions}, {"inet.pcap_errors", inet_libos.pcap_errors},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++, n++)
        if (n < cap) {
            out[n].name = c[i].name;
            out[n].value = c[i].v;
        }
    n += inet_counters(inet_libos.stack, n < cap ? out + n : NULL, n < cap ? cap - n : 0);
    if (inet_libos.nd->ops->counters)
        n += inet_libos.nd->ops->counters(inet_libos.nd, n < cap ? out + n : NULL, n < cap ? cap - n : 0);
    return n;
}

static int afpacket_init(const struct demi_args *args)
{
    return inet_libos_init(&afpacket_netdev_ops, args);
}

const struct demi_libos_ops afpacket_libos_ops = {
    .name = "afpacket",
    .yield_when_idle = true,    /* the AF_PACKET fd blocks in ppoll() anyway */
    .init = afpacket_init,
    INET_LIBOS_COMMON_OPS,
};
