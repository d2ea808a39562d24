/*
 * afpacket: an AF_PACKET socket as a netdev. Receives through a TPACKET_V3
 * mmap ring (blocks of frames the kernel hands over when full or after
 * AFPACKET_BLOCK_TOV_MS), sends through a TPACKET_V3 TX ring with
 * PACKET_QDISC_BYPASS: tx_burst fills ring slots and kicks the kernel with
 * one send() per burst. Received frames are copied out of the ring into
 * heap buffers so the ring never waits on the application.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <demi/stats.h>

#include "core/log.h"
#include "netdev.h"

#define AFPACKET_FRAME_SIZE 2048u
#define AFPACKET_RX_BLOCK_SIZE (128u << 10)
#define AFPACKET_RX_BLOCKS 32u
#define AFPACKET_TX_BLOCK_SIZE (128u << 10)
#define AFPACKET_TX_BLOCKS 8u
#define AFPACKET_BLOCK_TOV_MS 1u
#define AFPACKET_TX_DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket3_hdr))

struct afpacket_dev {
    struct netdev nd;               /* first member */
    int fd;
    int ifindex;
    uint8_t mac[6];
    uint16_t mtu;
    uint8_t *map;
    size_t map_len;
    /* rx ring: the block being read and where we are in it */
    uint8_t *rx_ring;
    uint32_t rx_block, rx_nblocks, rx_block_size;
    uint32_t rx_pkt_left;           /* packets of the current block not yet read (0: block not open) */
    struct tpacket3_hdr *rx_pkt;
    /* tx ring */
    uint8_t *tx_ring;
    uint32_t tx_head, tx_nframes;
    /* counters */
    uint64_t rx_frames, rx_bytes, rx_truncated, rx_outgoing_skipped, rx_nomem, rx_blocks;
    uint64_t tx_frames, tx_bytes, tx_ring_full, tx_too_big, tx_kicks, tx_kick_errors, tx_wrong_format;
    uint64_t kernel_drops;
};

/* Reads the interface's MAC and MTU. Returns 0 or errno. */
static int afpacket_if_info(struct afpacket_dev *d, const char *iface)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, iface, IFNAMSIZ - 1);
    if (ioctl(d->fd, SIOCGIFHWADDR, &ifr) != 0)
        return errno;
    memcpy(d->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(d->fd, SIOCGIFMTU, &ifr) != 0)
        return errno;
    d->mtu = (uint16_t)(ifr.ifr_mtu > 9000 ? 9000 : ifr.ifr_mtu);
    if (d->mtu > AFPACKET_FRAME_SIZE - AFPACKET_TX_DATA_OFF - 14)
        d->mtu = (uint16_t)(AFPACKET_FRAME_SIZE - AFPACKET_TX_DATA_OFF - 14);
    return 0;
}

/* Sets up both rings and maps them. Returns 0 or errno. */
static int afpacket_rings(struct afpacket_dev *d)
{
    struct tpacket_req3 rx = {0}, tx = {0};
    int v = TPACKET_V3;

    if (setsockopt(d->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) != 0)
        return errno;
    rx.tp_block_size = AFPACKET_RX_BLOCK_SIZE;
    rx.tp_block_nr = AFPACKET_RX_BLOCKS;
    rx.tp_frame_size = AFPACKET_FRAME_SIZE;
    rx.tp_frame_nr = AFPACKET_RX_BLOCK_SIZE / AFPACKET_FRAME_SIZE * AFPACKET_RX_BLOCKS;
    rx.tp_retire_blk_tov = AFPACKET_BLOCK_TOV_MS;
    if (setsockopt(d->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) != 0)
        return errno;
    tx.tp_block_size = AFPACKET_TX_BLOCK_SIZE;
    tx.tp_block_nr = AFPACKET_TX_BLOCKS;
    tx.tp_frame_size = AFPACKET_FRAME_SIZE;
    tx.tp_frame_nr = AFPACKET_TX_BLOCK_SIZE / AFPACKET_FRAME_SIZE * AFPACKET_TX_BLOCKS;
    if (setsockopt(d->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) != 0)
        return errno;
    d->map_len = (size_t)rx.tp_block_size * rx.tp_block_nr + (size_t)tx.tp_block_size * tx.tp_block_nr;
    d->map = mmap(NULL, d->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, d->fd, 0);
    if (d->map == MAP_FAILED)
        d->map = mmap(NULL, d->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
    if (d->map == MAP_FAILED) {
        d->map = NULL;
        return errno;
    }
    d->rx_ring = d->map;
    d->rx_nblocks = rx.tp_block_nr;
    d->rx_block_size = rx.tp_block_size;
    d->tx_ring = d->map + (size_t)rx.tp_block_size * rx.tp_block_nr;
    d->tx_nframes = tx.tp_frame_nr;
    return 0;
}

static void afpacket_close(struct netdev *nd)
{
    struct afpacket_dev *d = (struct afpacket_dev *)nd;

    if (d->map)
        munmap(d->map, d->map_len);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

/* Opens p->iface. Returns 0, EINVAL (no iface), ENODEV (unknown iface),
 * EPERM (needs CAP_NET_RAW), or the errno of a socket call. */
static int afpacket_open(const struct netdev_params *p, struct netdev **out)
{
    struct afpacket_dev *d;
    struct sockaddr_ll sll = {0};
    int one = 1, err;

    if (!p->iface || !p->iface[0] || strlen(p->iface) >= IFNAMSIZ)
        return EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return ENOMEM;
    d->nd.ops = &afpacket_netdev_ops;
    d->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (d->fd < 0) {
        err = errno;
        log_err("afpacket: socket(AF_PACKET): %s", strerror(err));
        goto err;
    }
    d->ifindex = (int)if_nametoindex(p->iface);
    if (d->ifindex == 0) {
        err = ENODEV;
        log_err("afpacket: no interface %s", p->iface);
        goto err;
    }
    err = afpacket_if_info(d, p->iface);
    if (err)
        goto err;
    if (p->mac && memcmp(p->mac, d->mac, 6) != 0) {
        struct packet_mreq mr = {.mr_ifindex = d->ifindex, .mr_type = PACKET_MR_PROMISC};
        memcpy(d->mac, p->mac, 6);
        if (setsockopt(d->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0)
            log_warn("afpacket: promiscuous mode on %s: %s", p->iface, strerror(errno));
    }
    err = afpacket_rings(d);
    if (err) {
        log_err("afpacket: TPACKET_V3 rings on %s: %s", p->iface, strerror(err));
        goto err;
    }
    if (setsockopt(d->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0)
        log_warn("afpacket: PACKET_QDISC_BYPASS: %s", strerror(errno));
#ifdef PACKET_IGNORE_OUTGOING
    setsockopt(d->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
#endif
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = d->ifindex;
    if (bind(d->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
        err = errno;
        log_err("afpacket: bind to %s: %s", p->iface, strerror(err));
        goto err;
    }
    log_info("afpacket: %s ifindex %d mtu %u, rings rx %u KiB tx %u KiB", p->iface, d->ifindex, d->mtu,
             AFPACKET_RX_BLOCK_SIZE * AFPACKET_RX_BLOCKS >> 10, AFPACKET_TX_BLOCK_SIZE * AFPACKET_TX_BLOCKS >> 10);
    *out = &d->nd;
    return 0;
err:
    afpacket_close(&d->nd);
    return err;
}

static struct tpacket_block_desc *afpacket_block(struct afpacket_dev *d, uint32_t i)
{
    return (struct tpacket_block_desc *)(d->rx_ring + (size_t)i * d->rx_block_size);
}

/* Copies one ring frame into a buffer; NULL when it is skipped. */
static struct buf *afpacket_take(struct afpacket_dev *d, const struct tpacket3_hdr *h)
{
    const struct sockaddr_ll *sll = (const void *)((const uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
    struct buf *b;

    if (sll->sll_pkttype == PACKET_OUTGOING) {
        d->rx_outgoing_skipped++;
        return NULL;
    }
    if (h->tp_snaplen < h->tp_len) {        /* a GSO super-frame or over the ring frame */
        d->rx_truncated++;
        return NULL;
    }
    b = buf_alloc(h->tp_snaplen);
    if (!b) {
        d->rx_nomem++;
        return NULL;
    }
    memcpy(b->data, (const uint8_t *)h + h->tp_mac, h->tp_snaplen);
    if (h->tp_status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID))
        b->flags |= BUF_FLAG_L4_CSUM_OK;   /* made on this host, or checked by the device */
    d->rx_frames++;
    d->rx_bytes += h->tp_snaplen;
    return b;
}

static size_t afpacket_rx_burst(struct netdev *nd, struct buf **bufs, size_t max)
{
    struct afpacket_dev *d = (struct afpacket_dev *)nd;
    size_t n = 0;

    while (n < max) {
        struct tpacket_block_desc *bd = afpacket_block(d, d->rx_block);
        if (d->rx_pkt_left == 0) {
            if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
                break;
            d->rx_blocks++;
            d->rx_pkt_left = bd->hdr.bh1.num_pkts;
            d->rx_pkt = (struct tpacket3_hdr *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
            if (d->rx_pkt_left == 0)
                goto release;
        }
        struct buf *b = afpacket_take(d, d->rx_pkt);
        if (b)
            bufs[n++] = b;
        d->rx_pkt = (struct tpacket3_hdr *)((uint8_t *)d->rx_pkt + d->rx_pkt->tp_next_offset);
        if (--d->rx_pkt_left > 0)
            continue;
release:
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        d->rx_block = (d->rx_block + 1) % d->rx_nblocks;
    }
    return n;
}

static size_t afpacket_tx_burst(struct netdev *nd, struct buf **bufs, size_t n)
{
    struct afpacket_dev *d = (struct afpacket_dev *)nd;
    size_t i, queued = 0;
    int kicked = 0;

    for (i = 0; i < n; i++) {
        struct buf *b = bufs[i];
        struct tpacket3_hdr *h = (struct tpacket3_hdr *)(d->tx_ring + (size_t)d->tx_head * AFPACKET_FRAME_SIZE);

        if (b->len > AFPACKET_FRAME_SIZE - AFPACKET_TX_DATA_OFF) {
            d->tx_too_big++;
            buf_unref(b);
            continue;
        }
        if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) == TP_STATUS_WRONG_FORMAT) {
            d->tx_wrong_format++;   /* the kernel refused that slot: reuse it */
            __atomic_store_n(&h->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
        }
        if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) {
            /* ring full: let the kernel drain what we queued, then look again once */
            if (kicked || !queued)
                break;
            if (send(d->fd, NULL, 0, MSG_DONTWAIT) < 0)
                d->tx_kick_errors++;
            d->tx_kicks++;
            kicked = 1;
            queued = 0;
            if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE)
                break;
        }
        memcpy((uint8_t *)h + AFPACKET_TX_DATA_OFF, b->data, b->len);
        h->tp_len = b->len;
        h->tp_snaplen = b->len;
        h->tp_next_offset = 0;
        __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
        d->tx_head = (d->tx_head + 1) % d->tx_nframes;
        d->tx_frames++;
        d->tx_bytes += b->len;
        queued++;
        buf_unref(b);
    }
    if (i < n)
        d->tx_ring_full++;
    if (queued) {
        if (send(d->fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS)
            d->tx_kick_errors++;
        d->tx_kicks++;
    }
    return i;
}

static void afpacket_mac(const struct netdev *nd, uint8_t out[6])
{
    memcpy(out, ((const struct afpacket_dev *)nd)->mac, 6);
}

static uint16_t afpacket_mtu(const struct netdev *nd)
{
    return ((const struct afpacket_dev *)nd)->mtu;
}

static int afpacket_fd(const struct netdev *nd)
{
    return ((const struct afpacket_dev *)nd)->fd;
}

static uint32_t afpacket_offloads(const struct netdev *nd)
{
    return NETDEV_OFF_RX_L4_CSUM;
}

static size_t afpacket_counters(const struct netdev *nd, struct demi_counter *out, size_t cap)
{
    struct afpacket_dev *d = (struct afpacket_dev *)nd;
    struct tpacket_stats_v3 ks;
    socklen_t len = sizeof(ks);

    /* PACKET_STATISTICS resets the kernel's numbers: accumulate them */
    if (getsockopt(d->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) == 0)
        d->kernel_drops += ks.tp_drops;
    const struct {
        const char *name;
        uint64_t v;
    } c[] = {
        {"afpacket.rx_frames", d->rx_frames},
        {"afpacket.rx_bytes", d->rx_bytes},
        {"afpacket.rx_blocks", d->rx_blocks},
        {"afpacket.rx_truncated", d->rx_truncated},
        {"afpacket.rx_outgoing_skipped", d->rx_outgoing_skipped},
        {"afpacket.rx_nomem", d->rx_nomem},
        {"afpacket.rx_kernel_drops", d->kernel_drops},
        {"afpacket.tx_frames", d->tx_frames},
        {"afpacket.tx_bytes", d->tx_bytes},
        {"afpacket.tx_ring_full", d->tx_ring_full},
        {"afpacket.tx_too_big", d->tx_too_big},
        {"afpacket.tx_kicks", d->tx_kicks},
        {"afpacket.tx_kick_errors", d->tx_kick_errors},
        {"afpacket.tx_wrong_format", d->tx_wrong_format},
    };
    size_t n = sizeof(c) / sizeof(c[0]);

    for (size_t i = 0; i < n && i < cap; i++) {
        out[i].name = c[i].name;
        out[i].value = c[i].v;
    }
    return n;
}

const struct demi_netdev_ops afpacket_netdev_ops = {
    .name = "afpacket",
    .open = afpacket_open,
    .close = afpacket_close,
    .rx_burst = afpacket_rx_burst,
    .tx_burst = afpacket_tx_burst,
    .mac = afpacket_mac,
    .mtu = afpacket_mtu,
    .fd = afpacket_fd,
    .offloads = afpacket_offloads,
    .counters = afpacket_counters,
};
