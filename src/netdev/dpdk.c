/*
 * dpdk: one DPDK ethdev port (any PMD) as a netdev.
 *
 * The EAL is initialised once per process with DEMI_DPDK_ARGS, and the
 * mbuf pool and the port's configuration live as long as the process: a
 * buffer the application still holds after demi_fini points into an mbuf,
 * and EAL cannot be initialised twice, so close only stops the port and a
 * later open starts it again; an atexit handler closes the port at the end
 * of the process.
 *
 * Receive is zero-copy: each received mbuf becomes a BUF_EXT buffer whose
 * window is the packet and whose storage (base/cap) is the whole mbuf
 * buffer, so the stack can prepend headers in the mbuf headroom; the last
 * buf_unref frees the mbuf. Send takes such a buffer back as the mbuf it
 * came from (setting data_off/data_len/pkt_len from the buffer's window)
 * and copies only other buffers into fresh mbufs. RX and TX go in bursts of
 * up to DPDK_BURST. Checksum results are passed up where the PMD offers
 * RX checksum offload. There is no file descriptor: the device busy-polls.
 *
 * Call order: open -> { rx_burst, tx_burst }* -> close.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <demi/stats.h>

#include "core/config.h"
#include "core/log.h"
#include "netdev.h"

#define DPDK_BURST 32
#define DPDK_MAX_ARGS 64
#define DPDK_ETH_HDR_LEN 14
#define DPDK_DEFAULT_ARGS "-l 0 --no-telemetry --log-level=warning"
#define DPDK_HUGE_ARGS " --in-memory"                   /* no files: processes cannot collide */
#define DPDK_NO_HUGE_ARGS " --no-huge -m 512 --no-shconf"

struct dpdk_counters {
    uint64_t rx_frames, rx_bytes, rx_nomem, rx_multiseg, tx_frames, tx_bytes, tx_direct, tx_copied, tx_oversize,
        tx_nombuf;
};

struct dpdk_dev {
    struct netdev nd;               /* first member */
    uint16_t port;
    uint16_t mtu;
    uint32_t rx_ol;                 /* NETDEV_OFF_* in use */
    uint8_t mac[6];
    struct dpdk_counters c;
};

/* Process-wide state: EAL, the pool, the configured port. */
static int eal_ready;
static struct rte_mempool *dpdk_pool;
static int port_configured = -1;   /* port id configured, or -1 */
static uint32_t port_rx_ol;        /* NETDEV_OFF_* of the configured port */
static int dev_open;               /* one instance at a time */
static int port_shut;              /* closed at process exit: bursts do nothing */

/* At process exit: closes the port so the PMD releases what it holds
 * outside the process (net_af_xdp's XDP program, memif's socket). Runs
 * before or after demi_fini's close; the bursts check port_shut. */
static void dpdk_atexit(void)
{
    if (port_configured < 0)
        return;
    port_shut = 1;
    (void)rte_eth_dev_stop((uint16_t)port_configured);
    (void)rte_eth_dev_close((uint16_t)port_configured);
    port_configured = -1;
}

/* True when /proc/meminfo reports free hugepages and hugetlbfs is mounted. */
static int dpdk_hugepages_free(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long n = 0;
    int mounted = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
            break;
    fclose(f);
    f = fopen("/proc/mounts", "r");
    if (!f)
        return 0;
    while (!mounted && fgets(line, sizeof(line), f))
        mounted = strstr(line, " hugetlbfs ") != NULL;
    fclose(f);
    return n > 0 && mounted;
}

/* Runs rte_eal_init with DEMI_DPDK_ARGS (or the defaults) split on spaces.
 * Returns 0 or a positive errno. */
static int dpdk_eal_init(void)
{
    char args[1024], *argv[DPDK_MAX_ARGS + 2], *save = NULL;
    const char *cfg = config_get("DEMI_DPDK_ARGS");
    int argc = 0, ret;
    cpu_set_t cpus;
    int have_cpus;
    bool pin = false;

    if (config_get_bool("DEMI_DPDK_PIN", &pin) != 0)
        return EINVAL;
    if (cfg && *cfg) {
        if (strlen(cfg) >= sizeof(args)) {
            log_err("dpdk: DEMI_DPDK_ARGS is longer than %zu bytes", sizeof(args) - 1);
            return EINVAL;
        }
        strcpy(args, cfg);
    } else {
        snprintf(args, sizeof(args), "%s%s", DPDK_DEFAULT_ARGS,
                 dpdk_hugepages_free() ? DPDK_HUGE_ARGS : DPDK_NO_HUGE_ARGS);
    }
    argv[argc++] = "demi";
    for (char *tok = strtok_r(args, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (argc > DPDK_MAX_ARGS) {
            log_err("dpdk: more than %d EAL arguments", DPDK_MAX_ARGS);
            return EINVAL;
        }
        argv[argc++] = tok;
    }
    argv[argc] = NULL;

    have_cpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0;
    ret = rte_eal_init(argc, argv);
    if (ret < 0) {
        int err = rte_errno > 0 ? rte_errno : EINVAL;
        log_err("dpdk: rte_eal_init(%s) failed: %s", cfg && *cfg ? cfg : "defaults", rte_strerror(rte_errno));
        return err == EALREADY ? EALREADY : err;
    }
    /* EAL pins this thread to its first lcore; two processes on a small
     * machine would then share one CPU. */
    if (!pin && have_cpus)
        (void)sched_setaffinity(0, sizeof(cpus), &cpus);
    eal_ready = 1;
    atexit(dpdk_atexit);
    return 0;
}

/* Reads an integer variable within [lo, hi]; returns 0 or EINVAL. */
static int dpdk_cfg_int(const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    if (config_get_int(name, out) != 0)
        return EINVAL;
    if (*out < lo || *out > hi) {
        log_err("dpdk: %s=%lld is outside [%lld, %lld]", name, (long long)*out, (long long)lo, (long long)hi);
        return EINVAL;
    }
    return 0;
}

/* Configures and starts port with one RX and one TX queue, enabling RX
 * checksum offloads the PMD has. Returns 0 or a positive errno. */
static int dpdk_port_setup(uint16_t port)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
    int64_t rxd64, txd64;
    uint16_t rxd, txd;
    int ret, socket = rte_eth_dev_socket_id(port);

    if (socket < 0)
        socket = (int)rte_socket_id();
    if (dpdk_cfg_int("DEMI_DPDK_RX_DESC", 32, 32768, &rxd64) || dpdk_cfg_int("DEMI_DPDK_TX_DESC", 32, 32768, &txd64))
        return EINVAL;
    rxd = (uint16_t)rxd64;
    txd = (uint16_t)txd64;
    ret = rte_eth_dev_info_get(port, &info);
    if (ret)
        goto err;
    memset(&conf, 0, sizeof(conf));
    port_rx_ol = 0;
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
        port_rx_ol |= NETDEV_OFF_RX_IP_CSUM;
    }
    if ((info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)) ==
        (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)) {
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
        port_rx_ol |= NETDEV_OFF_RX_L4_CSUM;
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    ret = rte_eth_dev_configure(port, 1, 1, &conf);
    if (ret)
        goto err;
    ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
    if (ret)
        goto err;
    ret = rte_eth_rx_queue_setup(port, 0, rxd, (unsigned)socket, NULL, dpdk_pool);
    if (ret)
        goto err;
    ret = rte_eth_tx_queue_setup(port, 0, txd, (unsigned)socket, NULL);
    if (ret)
        goto err;
    port_configured = port;
    return 0;
err:
    log_err("dpdk: setting up port %u failed: %s", port, rte_strerror(-ret));
    return ret < 0 ? -ret : EIO;
}

/* Opens the port DEMI_DPDK_PORT (or the first). Returns 0, or EINVAL (bad
 * configuration or EAL arguments), ENODEV (no such port), EBUSY (a dpdk
 * netdev is already open), ENOMEM (pool), or the errno DPDK reports. */
static int dpdk_open(const struct netdev_params *p, struct netdev **out)
{
    struct dpdk_dev *d;
    struct rte_ether_addr addr;
    int64_t port64, mbufs;
    uint16_t port, mtu = 1500;
    int err, ret;

    if (dev_open)
        return EBUSY;
    if (port_shut)
        return ESHUTDOWN;   /* only at process exit */
    if (dpdk_cfg_int("DEMI_DPDK_PORT", -1, RTE_MAX_ETHPORTS - 1, &port64) ||
        dpdk_cfg_int("DEMI_DPDK_MBUFS", 64, 1 << 24, &mbufs))
        return EINVAL;
    if (!eal_ready && (err = dpdk_eal_init()) != 0)
        return err;
    if (!dpdk_pool) {
        dpdk_pool = rte_pktmbuf_pool_create("demi_mbufs", (unsigned)mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                            (int)rte_socket_id());
        if (!dpdk_pool) {
            log_err("dpdk: cannot create a pool of %lld mbufs: %s", (long long)mbufs, rte_strerror(rte_errno));
            return ENOMEM;
        }
    }
    if (port64 < 0) {
        uint16_t pid;

        port = RTE_MAX_ETHPORTS;
        RTE_ETH_FOREACH_DEV(pid) {
            port = pid;
            break;
        }
        if (port == RTE_MAX_ETHPORTS) {
            log_err("dpdk: no ethdev port (give one with --vdev=... in DEMI_DPDK_ARGS)");
            return ENODEV;
        }
    } else {
        port = (uint16_t)port64;
        if (!rte_eth_dev_is_valid_port(port)) {
            log_err("dpdk: DEMI_DPDK_PORT=%u is not a port (%u available)", port, rte_eth_dev_count_avail());
            return ENODEV;
        }
    }
    if (port_configured != port) {
        if (port_configured >= 0)
            rte_eth_dev_stop((uint16_t)port_configured);
        port_configured = -1;
        if ((err = dpdk_port_setup(port)) != 0)
            return err;
    }
    ret = rte_eth_dev_start(port);
    if (ret) {
        log_err("dpdk: starting port %u failed: %s", port, rte_strerror(-ret));
        return -ret;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        rte_eth_dev_stop(port);
        return ENOMEM;
    }
    d->nd.ops = &dpdk_netdev_ops;
    d->port = port;
    d->rx_ol = port_rx_ol;
    if (rte_eth_macaddr_get(port, &addr) == 0)
        memcpy(d->mac, addr.addr_bytes, 6);
    if (p && p->mac)
        memcpy(d->mac, p->mac, 6);
    if (rte_eth_dev_get_mtu(port, &mtu) != 0 || mtu == 0)
        mtu = 1500;
    if (mtu > RTE_MBUF_DEFAULT_DATAROOM - DPDK_ETH_HDR_LEN)
        mtu = RTE_MBUF_DEFAULT_DATAROOM - DPDK_ETH_HDR_LEN;
    d->mtu = mtu;
    dev_open = 1;
    {
        char name[RTE_ETH_NAME_MAX_LEN] = "?";
        (void)rte_eth_dev_get_name_by_port(port, name);
        log_info("dpdk: port %u (%s) started, mtu %u, rx checksum offload %s", port, name, mtu,
                 d->rx_ol ? "on" : "off");
    }
    *out = &d->nd;
    return 0;
}

static void dpdk_close(struct netdev *nd)
{
    struct dpdk_dev *d = (struct dpdk_dev *)nd;

    if (!d)
        return;
    if (!port_shut)
        (void)rte_eth_dev_stop(d->port);
    dev_open = 0;
    free(d);
}

/* ext_release of a received buffer: frees its mbuf. */
static void dpdk_buf_release(struct buf *b)
{
    rte_pktmbuf_free((struct rte_mbuf *)b->ext);
}

/* Wraps a received mbuf in a buffer (or copies a multi-segment one into a
 * heap buffer); NULL on ENOMEM, with the mbuf freed. */
static struct buf *dpdk_wrap(struct dpdk_dev *d, struct rte_mbuf *m)
{
    struct buf *b;

    if (m->nb_segs > 1) {
        d->c.rx_multiseg++;
        b = buf_alloc(m->pkt_len);
        if (b) {
            /* returns a pointer into m instead when the bytes are contiguous */
            const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, b->data);
            if (p && p != b->data)
                memcpy(b->data, p, m->pkt_len);
        }
        rte_pktmbuf_free(m);
        return b;
    }
    b = buf_ext_wrap(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, dpdk_buf_release, m);
    if (!b) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    b->base = m->buf_addr;
    b->cap = m->buf_len;
    if (d->rx_ol) {
        uint64_t f = m->ol_flags;
        if ((d->rx_ol & NETDEV_OFF_RX_IP_CSUM) && (f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
            b->flags |= BUF_FLAG_IP_CSUM_OK;
        if ((d->rx_ol & NETDEV_OFF_RX_L4_CSUM) && (f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
            b->flags |= BUF_FLAG_L4_CSUM_OK;
    }
    return b;
}

static size_t dpdk_rx_burst(struct netdev *nd, struct buf **bufs, size_t max)
{
    struct dpdk_dev *d = (struct dpdk_dev *)nd;
    struct rte_mbuf *mb[DPDK_BURST];
    size_t got = 0;

    if (port_shut)
        return 0;

    while (got < max) {
        uint16_t want = max - got < DPDK_BURST ? (uint16_t)(max - got) : DPDK_BURST;
        uint16_t n = rte_eth_rx_burst(d->port, 0, mb, want);

        for (uint16_t i = 0; i < n; i++) {
            struct buf *b;

            d->c.rx_bytes += mb[i]->pkt_len;
            b = dpdk_wrap(d, mb[i]);
            if (b)
                bufs[got++] = b;
            else
                d->c.rx_nomem++;
        }
        d->c.rx_frames += n;
        if (n < want)
            break;
    }
    return got;
}

/* True if b is an unshared buffer around one of our mbufs. */
static int dpdk_is_own_mbuf(const struct buf *b)
{
    return b->kind == BUF_EXT && b->ext_release == dpdk_buf_release && b->refcnt == 1;
}

/* Returns the mbuf to send for b: its own mbuf, adjusted to its window, or
 * a copy in a fresh mbuf. NULL when b cannot fit one mbuf (*oversize set)
 * or the pool is empty. */
static struct rte_mbuf *dpdk_tx_mbuf(struct dpdk_dev *d, struct buf *b, int *oversize)
{
    struct rte_mbuf *m;

    *oversize = 0;
    if (dpdk_is_own_mbuf(b)) {
        m = b->ext;
        m->data_off = (uint16_t)(b->data - (uint8_t *)m->buf_addr);
        m->data_len = (uint16_t)b->len;
        m->pkt_len = b->len;
        m->ol_flags = 0;
        return m;
    }
    if (b->len > RTE_MBUF_DEFAULT_DATAROOM) {
        *oversize = 1;
        return NULL;
    }
    m = rte_pktmbuf_alloc(dpdk_pool);
    if (!m) {
        d->c.tx_nombuf++;
        return NULL;
    }
    memcpy(rte_pktmbuf_append(m, (uint16_t)b->len), b->data, b->len);
    return m;
}

static size_t dpdk_tx_burst(struct netdev *nd, struct buf **bufs, size_t n)
{
    struct dpdk_dev *d = (struct dpdk_dev *)nd;
    struct rte_mbuf *mb[DPDK_BURST];
    size_t done = 0;

    if (port_shut)
        return 0;

    while (done < n) {
        uint16_t cnt = 0, sent;
        int oversize = 0;

        while (cnt < DPDK_BURST && done + cnt < n) {
            struct rte_mbuf *m = dpdk_tx_mbuf(d, bufs[done + cnt], &oversize);
            if (!m)
                break;
            mb[cnt++] = m;
        }
        if (cnt == 0) {
            if (!oversize)
                break;      /* pool empty: the caller keeps the rest */
            d->c.tx_oversize++;
            buf_unref(bufs[done++]);  /* cannot be sent: taken and dropped */
            continue;
        }
        sent = rte_eth_tx_burst(d->port, 0, mb, cnt);
        for (uint16_t i = 0; i < cnt; i++) {
            struct buf *b = bufs[done + i];
            int direct = mb[i] == b->ext && dpdk_is_own_mbuf(b);

            if (i < sent) {
                d->c.tx_bytes += b->len;
                if (direct) {
                    d->c.tx_direct++;
                    b->ext_release = NULL;  /* the PMD owns the mbuf now */
                } else {
                    d->c.tx_copied++;
                }
                buf_unref(b);
            } else if (!direct) {
                rte_pktmbuf_free(mb[i]);
            }
        }
        d->c.tx_frames += sent;
        done += sent;
        if (sent < cnt)
            break;
    }
    return done;
}

static void dpdk_mac(const struct netdev *nd, uint8_t out[6])
{
    memcpy(out, ((const struct dpdk_dev *)nd)->mac, 6);
}

static uint16_t dpdk_mtu(const struct netdev *nd)
{
    return ((const struct dpdk_dev *)nd)->mtu;
}

static int dpdk_fd(const struct netdev *nd)
{
    return -1;
}

static uint32_t dpdk_offloads(const struct netdev *nd)
{
    return ((const struct dpdk_dev *)nd)->rx_ol;
}

static size_t dpdk_counters(const struct netdev *nd, struct demi_counter *out, size_t cap)
{
    const struct dpdk_dev *d = (const struct dpdk_dev *)nd;
    struct rte_eth_stats st;

    memset(&st, 0, sizeof(st));
    (void)rte_eth_stats_get(d->port, &st);
    const struct demi_counter all[] = {
        {"dpdk.rx_frames", d->c.rx_frames},
        {"dpdk.rx_bytes", d->c.rx_bytes},
        {"dpdk.rx_nomem", d->c.rx_nomem},
        {"dpdk.rx_multiseg", d->c.rx_multiseg},
        {"dpdk.tx_frames", d->c.tx_frames},
        {"dpdk.tx_bytes", d->c.tx_bytes},
        {"dpdk.tx_direct", d->c.tx_direct},
        {"dpdk.tx_copied", d->c.tx_copied},
        {"dpdk.tx_oversize", d->c.tx_oversize},
        {"dpdk.tx_nombuf", d->c.tx_nombuf},
        {"dpdk.port_ipackets", st.ipackets},
        {"dpdk.port_opackets", st.opackets},
        {"dpdk.port_imissed", st.imissed},
        {"dpdk.port_ierrors", st.ierrors},
        {"dpdk.port_oerrors", st.oerrors},
        {"dpdk.port_rx_nombuf", st.rx_nombuf},
        {"dpdk.pool_free", dpdk_pool ? rte_mempool_avail_count(dpdk_pool) : 0},
    };
    size_t n = sizeof(all) / sizeof(all[0]);

    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = all[i];
    return n;
}

const struct demi_netdev_ops dpdk_netdev_ops = {
    .name = "dpdk",
    .open = dpdk_open,
    .close = dpdk_close,
    .rx_burst = dpdk_rx_burst,
    .tx_burst = dpdk_tx_burst,
    .mac = dpdk_mac,
    .mtu = dpdk_mtu,
    .fd = dpdk_fd,
    .offloads = dpdk_offloads,
    .counters = dpdk_counters,
};
