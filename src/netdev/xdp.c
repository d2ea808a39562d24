/*
 * xdp: an AF_XDP socket (libxdp's xsk API) as a netdev.
 *
 * One UMEM of DEMI_XDP_UMEM_FRAMES frames: the first half is posted to the
 * fill ring for the kernel to receive into, the second half is a stack of
 * free frames for sending. libxdp loads its default XDP program, which
 * redirects queue DEMI_XDP_QUEUE of the interface to this socket; it is
 * removed by close (xsk_socket__delete) and, if the process dies of a
 * signal, by xdp_detach.c.
 *
 * rx_burst copies each received frame into a libdemi heap buffer (with
 * headroom, so the stack can turn it around in place) and gives the UMEM
 * frame straight back to the fill ring, so a buffer the application keeps
 * never starves the device. tx_burst first reclaims completed frames, copies
 * the batch into free frames, submits it with one ring update and kicks the
 * kernel with one sendto only when the ring asks for a wakeup (always in
 * copy mode, rarely in zero-copy mode).
 *
 * Call order: open -> { rx_burst, tx_burst }* -> close.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include <demi/stats.h>

#include "core/config.h"
#include "core/log.h"
#include "netdev.h"
#include "xdp_detach.h"

#define XDP_ETH_HDR_LEN 14
#define XDP_BATCH_MAX 64

struct xdp_counters {
    uint64_t rx_frames, rx_bytes, rx_nomem, tx_frames, tx_bytes, tx_oversize, tx_no_frame, tx_kicks,
        tx_kick_errors, rx_wakeups;
};

struct xdp_dev {
    struct netdev nd;               /* first member */
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp;
    struct xsk_ring_cons rx;
    struct xsk_ring_prod tx;
    void *area;                     /* the UMEM memory */
    size_t area_size;
    uint32_t frame_size;
    uint32_t n_frames;
    uint64_t *tx_free;              /* stack of free send-frame addresses */
    uint32_t tx_free_n;
    uint32_t tx_outstanding;        /* submitted, not yet completed */
    int ifindex;
    int zerocopy;
    uint16_t mtu;
    uint8_t mac[6];
    struct xdp_counters c;
};

/* Reads an integer variable and checks lo <= value <= hi; returns 0 or EINVAL. */
static int xdp_cfg_int(const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    if (config_get_int(name, out) != 0)
        return EINVAL;
    if (*out < lo || *out > hi) {
        log_err("xdp: %s=%lld is outside [%lld, %lld]", name, (long long)*out, (long long)lo, (long long)hi);
        return EINVAL;
    }
    return 0;
}

/* libbpf/libxdp messages go to the debug log: they are noisy and harmless
 * here ("No bpffs found ... Falling back to loading single prog"). */
static int xdp_lib_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    if (log_level_current < LOG_LEVEL_DEBUG)
        return 0;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    log_debug("xdp: %s", msg);
    return 0;
}

static int xdp_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    return xdp_lib_print((enum libbpf_print_level)level, fmt, ap);
}

/* Reads the interface's MAC address and MTU; returns 0 or an errno. */
static int xdp_iface_info(const char *iface, uint8_t mac[6], uint16_t *mtu)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int err = 0;

    if (s < 0)
        return errno;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, iface, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0) {
        err = errno;
        goto out;
    }
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(s, SIOCGIFMTU, &ifr) != 0) {
        err = errno;
        goto out;
    }
    *mtu = ifr.ifr_mtu > 65535 ? 65535 : (uint16_t)ifr.ifr_mtu;
out:
    close(s);
    return err;
}

/* Creates the UMEM and the socket with the given bind flags; returns 0 or
 * a positive errno (both are released again on failure). */
static int xdp_create_socket(struct xdp_dev *d, const char *iface, uint32_t queue, uint32_t ring,
                             uint32_t xdp_flags, uint16_t bind_flags)
{
    struct xsk_umem_config ucfg = {
        .fill_size = ring,
        .comp_size = ring,
        .frame_size = d->frame_size,
        .frame_headroom = 0,
        .flags = 0,
    };
    struct xsk_socket_config scfg = {
        .rx_size = ring,
        .tx_size = ring,
        .libxdp_flags = 0,
        .xdp_flags = xdp_flags,
        .bind_flags = bind_flags,
    };
    int ret;

    ret = xsk_umem__create(&d->umem, d->area, d->area_size, &d->fill, &d->comp, &ucfg);
    if (ret) {
        d->umem = NULL;
        return -ret;
    }
    ret = xsk_socket__create(&d->xsk, iface, queue, d->umem, &d->rx, &d->tx, &scfg);
    if (ret) {
        d->xsk = NULL;
        xsk_umem__delete(d->umem);
        d->umem = NULL;
        return -ret;
    }
    return 0;
}

/* Posts the first half of the frames to the fill ring and puts the rest on
 * the free stack for sending; returns 0 or ENOMEM. */
static int xdp_post_frames(struct xdp_dev *d, uint32_t ring)
{
    uint32_t n_fill = d->n_frames / 2, idx = 0;

    if (n_fill > ring)
        n_fill = ring;
    if (xsk_ring_prod__reserve(&d->fill, n_fill, &idx) != n_fill)
        return ENOMEM;
    for (uint32_t i = 0; i < n_fill; i++)
        *xsk_ring_prod__fill_addr(&d->fill, idx + i) = (uint64_t)i * d->frame_size;
    xsk_ring_prod__submit(&d->fill, n_fill);

    d->tx_free = calloc(d->n_frames - n_fill, sizeof(*d->tx_free));
    if (!d->tx_free)
        return ENOMEM;
    for (uint32_t i = n_fill; i < d->n_frames; i++)
        d->tx_free[d->tx_free_n++] = (uint64_t)i * d->frame_size;
    return 0;
}

static void xdp_close(struct netdev *nd)
{
    struct xdp_dev *d = (struct xdp_dev *)nd;

    if (!d)
        return;
    if (d->xsk)
        xsk_socket__delete(d->xsk);     /* also detaches libxdp's program */
    if (d->umem)
        xsk_umem__delete(d->umem);
    if (d->ifindex > 0)
        xdp_detach_unregister(d->ifindex);
    if (d->area)
        munmap(d->area, d->area_size);
    free(d->tx_free);
    free(d);
}

/* Opens an AF_XDP socket on p->iface. Returns 0, or EINVAL (bad
 * configuration or no iface), ENODEV (no such interface), ENOMEM, EPERM
 * (not root / no CAP_NET_ADMIN+CAP_BPF), EOPNOTSUPP (DEMI_XDP_BIND=zerocopy
 * on a driver without it), or what the kernel said. */
static int xdp_open(const struct netdev_params *p, struct netdev **out)
{
    struct xdp_dev *d = NULL;
    int64_t queue, frames, frame_size, ring;
    const char *mode, *bind;
    uint32_t xdp_flags;
    int err;

    if (!p || !p->iface || !*p->iface) {
        log_err("xdp: no interface given (set DEMI_IFACE)");
        return EINVAL;
    }
    if ((err = xdp_cfg_int("DEMI_XDP_QUEUE", 0, 65535, &queue)) ||
        (err = xdp_cfg_int("DEMI_XDP_UMEM_FRAMES", 16, 1 << 20, &frames)) ||
        (err = xdp_cfg_int("DEMI_XDP_FRAME_SIZE", 2048, 4096, &frame_size)) ||
        (err = xdp_cfg_int("DEMI_XDP_RING_SIZE", 64, 32768, &ring)))
        return err;
    if (frame_size != 2048 && frame_size != 4096) {
        log_err("xdp: DEMI_XDP_FRAME_SIZE must be 2048 or 4096");
        return EINVAL;
    }
    if (ring & (ring - 1)) {
        log_err("xdp: DEMI_XDP_RING_SIZE must be a power of 2");
        return EINVAL;
    }
    mode = config_get("DEMI_XDP_MODE");
    if (strcmp(mode, "native") == 0)
        xdp_flags = XDP_FLAGS_DRV_MODE;
    else if (strcmp(mode, "skb") == 0)
        xdp_flags = XDP_FLAGS_SKB_MODE;
    else if (strcmp(mode, "auto") == 0)
        xdp_flags = 0;
    else {
        log_err("xdp: DEMI_XDP_MODE=%s: expected native, skb or auto", mode);
        return EINVAL;
    }
    bind = config_get("DEMI_XDP_BIND");
    if (strcmp(bind, "auto") != 0 && strcmp(bind, "zerocopy") != 0 && strcmp(bind, "copy") != 0) {
        log_err("xdp: DEMI_XDP_BIND=%s: expected zerocopy, copy or auto", bind);
        return EINVAL;
    }

    libbpf_set_print(xdp_lib_print);
    libxdp_set_print(xdp_libxdp_print);
    d = calloc(1, sizeof(*d));
    if (!d)
        return ENOMEM;
    d->nd.ops = &xdp_netdev_ops;
    d->frame_size = (uint32_t)frame_size;
    d->n_frames = (uint32_t)frames;
    d->ifindex = (int)if_nametoindex(p->iface);
    if (d->ifindex == 0) {
        log_err("xdp: no interface %s", p->iface);
        free(d);
        return ENODEV;
    }
    err = xdp_iface_info(p->iface, d->mac, &d->mtu);
    if (err) {
        log_err("xdp: cannot read the address of %s: %s", p->iface, strerror(err));
        free(d);
        return err;
    }
    if (p->mac)
        memcpy(d->mac, p->mac, 6);
    if (d->mtu > d->frame_size - XDP_ETH_HDR_LEN)
        d->mtu = (uint16_t)(d->frame_size - XDP_ETH_HDR_LEN);
    xdp_detach_register(d->ifindex);

    d->area_size = (size_t)d->n_frames * d->frame_size;
    d->area = mmap(NULL, d->area_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d->area == MAP_FAILED) {
        d->area = NULL;
        err = ENOMEM;
        goto err;
    }

    err = EOPNOTSUPP;
    if (strcmp(bind, "copy") != 0) {
        err = xdp_create_socket(d, p->iface, (uint32_t)queue, (uint32_t)ring, xdp_flags,
                                XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY);
        d->zerocopy = err == 0;
        if (err && strcmp(bind, "zerocopy") == 0) {
            log_err("xdp: zero-copy bind on %s queue %lld failed: %s", p->iface, (long long)queue, strerror(err));
            goto err;
        }
    }
    if (err)
        err = xdp_create_socket(d, p->iface, (uint32_t)queue, (uint32_t)ring, xdp_flags,
                                XDP_USE_NEED_WAKEUP | XDP_COPY);
    if (err) {
        log_err("xdp: AF_XDP socket on %s queue %lld (mode %s) failed: %s", p->iface, (long long)queue, mode,
                strerror(err));
        goto err;
    }
    err = xdp_post_frames(d, (uint32_t)ring);
    if (err)
        goto err;
    log_info("xdp: %s queue %lld, %s mode, %u frames of %u bytes, mtu %u", p->iface, (long long)queue,
             d->zerocopy ? "zero-copy" : "copy", d->n_frames, d->frame_size, d->mtu);
    *out = &d->nd;
    return 0;
err:
    xdp_close(&d->nd);
    return err;
}

/* Wakes the kernel to send what the tx ring holds. In copy mode the kernel
 * sends at most 32 frames per call and answers EAGAIN while more remain, so
 * this repeats (bounded by the frames outstanding). Other errors are
 * counted; the frames stay queued and the next kick sends them. */
static void xdp_kick_tx(struct xdp_dev *d)
{
    uint32_t tries = d->tx_outstanding / 32 + 2;

    while (tries--) {
        d->c.tx_kicks++;
        if (sendto(xsk_socket__fd(d->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
            return;
        if (errno == EAGAIN)
            continue;
        if (errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
            d->c.tx_kick_errors++;
        return;
    }
}

/* Moves completed send frames back to the free stack. */
static void xdp_reclaim(struct xdp_dev *d)
{
    uint32_t idx = 0, n;

    if (d->tx_outstanding == 0)
        return;
    n = xsk_ring_cons__peek(&d->comp, d->tx_outstanding, &idx);
    if (n == 0)
        return;
    for (uint32_t i = 0; i < n; i++)
        d->tx_free[d->tx_free_n++] = *xsk_ring_cons__comp_addr(&d->comp, idx + i);
    xsk_ring_cons__release(&d->comp, n);
    d->tx_outstanding -= n;
}

static size_t xdp_rx_burst(struct netdev *nd, struct buf **bufs, size_t max)
{
    struct xdp_dev *d = (struct xdp_dev *)nd;
    uint32_t idx_rx = 0, idx_fill = 0, n, got = 0;

    if (max > XDP_BATCH_MAX)
        max = XDP_BATCH_MAX;
    n = xsk_ring_cons__peek(&d->rx, (uint32_t)max, &idx_rx);
    if (n == 0) {
        /* Zero-copy drivers may wait for a wakeup to refill; copy mode never asks. */
        if (xsk_ring_prod__needs_wakeup(&d->fill)) {
            d->c.rx_wakeups++;
            (void)recvfrom(xsk_socket__fd(d->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
        }
        /* Sends still in flight may need another kick to complete. */
        xdp_reclaim(d);
        if (d->tx_outstanding && xsk_ring_prod__needs_wakeup(&d->tx))
            xdp_kick_tx(d);
        return 0;
    }
    /* Each frame goes straight back to the fill ring, which is as large as
     * the receive half of the UMEM, so this reservation cannot fail. */
    if (xsk_ring_prod__reserve(&d->fill, n, &idx_fill) != n)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&d->rx, idx_rx + i);
        uint64_t addr = xsk_umem__add_offset_to_addr(desc->addr);
        struct buf *b = buf_alloc(desc->len);

        if (b) {
            memcpy(b->data, xsk_umem__get_data(d->area, addr), desc->len);
            bufs[got++] = b;
            d->c.rx_bytes += desc->len;
        } else {
            d->c.rx_nomem++;
        }
        *xsk_ring_prod__fill_addr(&d->fill, idx_fill + i) = xsk_umem__extract_addr(desc->addr);
    }
    xsk_ring_cons__release(&d->rx, n);
    xsk_ring_prod__submit(&d->fill, n);
    d->c.rx_frames += got;
    return got;
}

static size_t xdp_tx_burst(struct netdev *nd, struct buf **bufs, size_t n)
{
    struct xdp_dev *d = (struct xdp_dev *)nd;
    uint32_t idx = 0, k = 0, room;
    size_t done = 0;

    xdp_reclaim(d);
    if (n == 0)
        return 0;
    room = d->tx_free_n < (uint32_t)n ? d->tx_free_n : (uint32_t)n;
    if (room == 0 || xsk_ring_prod__reserve(&d->tx, room, &idx) != room) {
        d->c.tx_no_frame++;
        if (xsk_ring_prod__needs_wakeup(&d->tx))
            xdp_kick_tx(d);
        return 0;
    }
    for (; done < n && k < room; done++) {
        struct buf *b = bufs[done];
        struct xdp_desc *desc;
        uint64_t addr;

        if (b->len > d->frame_size) {
            d->c.tx_oversize++;     /* cannot be sent: taken and dropped */
            buf_unref(b);
            continue;
        }
        addr = d->tx_free[--d->tx_free_n];
        memcpy(xsk_umem__get_data(d->area, addr), b->data, b->len);
        desc = xsk_ring_prod__tx_desc(&d->tx, idx + k);
        desc->addr = addr;
        desc->len = b->len;
        d->c.tx_bytes += b->len;
        k++;
        buf_unref(b);
    }
    /* Oversize frames used no descriptor: hand the unused reservations back
     * (libxdp has no call for it; submit publishes only k). */
    d->tx.cached_prod -= room - k;
    if (k) {
        xsk_ring_prod__submit(&d->tx, k);
        d->tx_outstanding += k;
        d->c.tx_frames += k;
    }
    if (xsk_ring_prod__needs_wakeup(&d->tx))
        xdp_kick_tx(d);
    return done;
}

static void xdp_mac(const struct netdev *nd, uint8_t out[6])
{
    memcpy(out, ((const struct xdp_dev *)nd)->mac, 6);
}

static uint16_t xdp_mtu(const struct netdev *nd)
{
    return ((const struct xdp_dev *)nd)->mtu;
}

static int xdp_fd(const struct netdev *nd)
{
    return xsk_socket__fd(((const struct xdp_dev *)nd)->xsk);
}

static uint32_t xdp_offloads(const struct netdev *nd)
{
    return 0;   /* AF_XDP carries no checksum status */
}

static size_t xdp_counters(const struct netdev *nd, struct demi_counter *out, size_t cap)
{
    const struct xdp_dev *d = (const struct xdp_dev *)nd;
    struct xdp_statistics st;
    socklen_t len = sizeof(st);

    memset(&st, 0, sizeof(st));
    (void)getsockopt(xsk_socket__fd(d->xsk), SOL_XDP, XDP_STATISTICS, &st, &len);
    const struct demi_counter all[] = {
        {"xdp.rx_frames", d->c.rx_frames},
        {"xdp.rx_bytes", d->c.rx_bytes},
        {"xdp.rx_nomem", d->c.rx_nomem},
        {"xdp.tx_frames", d->c.tx_frames},
        {"xdp.tx_bytes", d->c.tx_bytes},
        {"xdp.tx_oversize", d->c.tx_oversize},
        {"xdp.tx_no_frame", d->c.tx_no_frame},
        {"xdp.tx_kicks", d->c.tx_kicks},
        {"xdp.tx_kick_errors", d->c.tx_kick_errors},
        {"xdp.rx_wakeups", d->c.rx_wakeups},
        {"xdp.zerocopy", (uint64_t)d->zerocopy},
        {"xdp.kernel_rx_dropped", st.rx_dropped},
        {"xdp.kernel_rx_invalid_descs", st.rx_invalid_descs},
        {"xdp.kernel_tx_invalid_descs", st.tx_invalid_descs},
        {"xdp.kernel_rx_ring_full", st.rx_ring_full},
        {"xdp.kernel_rx_fill_ring_empty", st.rx_fill_ring_empty_descs},
        {"xdp.kernel_tx_ring_empty", st.tx_ring_empty_descs},
    };
    size_t n = sizeof(all) / sizeof(all[0]);

    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = all[i];
    return n;
}

const struct demi_netdev_ops xdp_netdev_ops = {
    .name = "xdp",
    .open = xdp_open,
    .close = xdp_close,
    .rx_burst = xdp_rx_burst,
    .tx_burst = xdp_tx_burst,
    .mac = xdp_mac,
    .mtu = xdp_mtu,
    .fd = xdp_fd,
    .offloads = xdp_offloads,
    .counters = xdp_counters,
};
