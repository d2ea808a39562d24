/*
 * The rdma libOS's ops table: init/fini of the provider's fabric and
 * domain, socket-level calls, the poll loop, options and counters. The
 * protocol is described in rdma.h.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "rdma.h"
#include "runtime.h"

struct rdma_state rdma_st = {.conns = TAILQ_HEAD_INITIALIZER(rdma_st.conns)};

/* Converts a negative libfabric return to a positive errno. */
int rdma_fi_errno(ssize_t ret)
{
    int e = (int)-ret;

    if (e <= 0 || e >= FI_ERRNO_OFFSET)
        return EIO;
    return e;
}

/* Returns fresh hints for our endpoints (fi_freeinfo them), NULL on ENOMEM. */
struct fi_info *rdma_hints(void)
{
    struct fi_info *h = fi_allocinfo();

    if (!h)
        return NULL;
    h->ep_attr->type = FI_EP_MSG;
    h->caps = FI_MSG | FI_RMA;
    h->mode = FI_CONTEXT | FI_CONTEXT2;
    h->addr_format = FI_SOCKADDR_IN;
    h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    h->tx_attr->msg_order = FI_ORDER_SAS | FI_ORDER_SAW;
    h->rx_attr->msg_order = FI_ORDER_SAS;
    h->fabric_attr->prov_name = strdup(config_get("DEMI_RDMA_PROVIDER"));
    if (!h->fabric_attr->prov_name) {
        fi_freeinfo(h);
        return NULL;
    }
    return h;
}

/* Reads and checks the DEMI_RDMA_* variables; returns 0 or EINVAL (logged). */
static int read_config(void)
{
    int64_t bufs, size, window, cache, linger;

    if (config_get_int("DEMI_RDMA_RECV_BUFS", &bufs) || config_get_int("DEMI_RDMA_RECV_SIZE", &size) ||
        config_get_int("DEMI_RDMA_RX_WINDOW", &window) || config_get_int("DEMI_RDMA_MR_CACHE_MAX", &cache) ||
        config_get_int("DEMI_RDMA_LINGER_MS", &linger))
        return EINVAL;
    if (bufs < RDMA_RECV_BUFS_MIN || bufs > RDMA_RECV_BUFS_MAX) {
        log_err("rdma: DEMI_RDMA_RECV_BUFS=%lld is out of range [%u, %u]", (long long)bufs, RDMA_RECV_BUFS_MIN,
                RDMA_RECV_BUFS_MAX);
        return EINVAL;
    }
    if (size < RDMA_RECV_SIZE_MIN || size > RDMA_RECV_SIZE_MAX || (uint64_t)(bufs * size) > RDMA_SLAB_MAX) {
        log_err("rdma: DEMI_RDMA_RECV_SIZE=%lld is out of range [%u, %u] (and bufs x size <= %llu)", (long long)size,
                RDMA_RECV_SIZE_MIN, RDMA_RECV_SIZE_MAX, (unsigned long long)RDMA_SLAB_MAX);
        return EINVAL;
    }
    if (window < 1 || cache < 0 || linger < 0) {
        log_err("rdma: DEMI_RDMA_RX_WINDOW must be > 0, DEMI_RDMA_MR_CACHE_MAX and DEMI_RDMA_LINGER_MS >= 0");
        return EINVAL;
    }
    rdma_st.recv_bufs = (uint32_t)bufs;
    rdma_st.recv_size = (uint32_t)size;
    rdma_st.rx_window = (uint64_t)window;
    rdma_st.mr_cache_max = (uint64_t)cache;
    rdma_st.linger_ns = (uint64_t)linger * NS_PER_MS;
    return 0;
}

/* Finds the provider's base info: first bound to any IPv4 address, then
 * with no address. Returns NULL when the provider cannot do FI_EP_MSG with
 * FI_MSG and FI_RMA. */
static struct fi_info *find_provider(void)
{
    struct sockaddr_in any = {.sin_family = AF_INET};
    struct fi_info *hints = rdma_hints(), *info = NULL;
    int ret;

    if (!hints)
        return NULL;
    hints->src_addr = malloc(sizeof(any));
    if (hints->src_addr) {
        memcpy(hints->src_addr, &any, sizeof(any));
        hints->src_addrlen = sizeof(any);
    }
    ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &info);
    if (ret) {
        free(hints->src_addr);
        hints->src_addr = NULL;
        hints->src_addrlen = 0;
        ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &info);
    }
    fi_freeinfo(hints);
    if (ret) {
        log_err("rdma: provider '%s' cannot do connected endpoints (FI_EP_MSG) with FI_MSG and FI_RMA: %s; "
                "set DEMI_RDMA_PROVIDER to one fi_info lists with -t FI_EP_MSG (tcp, verbs)",
                config_get("DEMI_RDMA_PROVIDER"), fi_strerror(-ret));
        return NULL;
    }
    return info;
}

static void rdma_fini(void);

static int rdma_init(const struct demi_args *args)
{
    struct fi_info *info;
    int ret, err;

    (void)args;
    memset(&rdma_st.ctr, 0, sizeof(rdma_st.ctr));
    rdma_st.last_active_ns = 0;
    TAILQ_INIT(&rdma_st.conns);
    if ((err = read_config()) != 0)
        return err;
    if (!(info = find_provider()))
        return ENODEV;
    rdma_st.info = info;
    if (info->rx_attr->size && rdma_st.recv_bufs > info->rx_attr->size) {
        log_err("rdma: DEMI_RDMA_RECV_BUFS=%u exceeds the provider's receive queue (%zu)", rdma_st.recv_bufs,
                info->rx_attr->size);
        err = EINVAL;
        goto fail;
    }
    if ((ret = fi_fabric(info->fabric_attr, &rdma_st.fabric, NULL)) != 0 ||
        (ret = fi_domain(rdma_st.fabric, info, &rdma_st.domain, NULL)) != 0) {
        log_err("rdma: opening the fabric/domain of provider %s failed: %s", info->fabric_attr->prov_name,
                fi_strerror(-ret));
        err = rdma_fi_errno(ret);
        goto fail;
    }
    rdma_st.mr_mode = (uint64_t)info->domain_attr->mr_mode;
    rdma_st.max_msg_size = info->ep_attr->max_msg_size ? info->ep_attr->max_msg_size : RDMA_WRITE_CHUNK;
    rdma_st.next_key = 1;
    log_info("rdma: provider %s (fabric %s, domain %s, mr_mode 0x%llx), %u receive buffers of %u bytes",
             info->fabric_attr->prov_name, info->fabric_attr->name, info->domain_attr->name,
             (unsigned long long)rdma_st.mr_mode, rdma_st.recv_bufs, rdma_st.recv_size);
    return 0;
fail:
    rdma_fini();
    return err;
}

/* Progresses every connection; destroys the ones that are done. Returns
 * the number of completions handled. */
static int rdma_poll(int64_t block_ns)
{
    struct rdma_conn *c, *next;
    uint64_t now = 0;
    int n = 0;

    for (c = TAILQ_FIRST(&rdma_st.conns); c; c = next) {
        next = TAILQ_NEXT(c, all_entry);
        if (c->state == RC_LISTENING) {
            rdma_conn_progress_eq(c);
            continue;
        }
        if (c->state == RC_CONNECTING || c->state == RC_ACCEPTING || c->state == RC_CONNECTED ||
            c->state == RC_LINGER) {
            n += rdma_msg_progress(c);
            rdma_conn_progress_eq(c);
        }
        if (!c->q && (c->state == RC_LINGER || c->state == RC_FAILED)) {
            if (!now)
                now = clock_now_ns();
            if (rdma_conn_reapable(c, now))
                rdma_conn_destroy(c);
        }
    }
    if (n > 0) {
        rdma_st.last_active_ns = 0;
    } else if (!rdma_st.last_active_ns) {
        rdma_st.last_active_ns = clock_now_ns();
    } else if (block_ns > 0 && clock_now_ns() - rdma_st.last_active_ns > RDMA_IDLE_AFTER_NS) {
        /* Idle for a while and allowed to block: nap briefly instead of
         * burning the core (the providers here offer no wait object that
         * covers both CQs and EQs of every endpoint). */
        uint64_t idle = clock_now_ns() - rdma_st.last_active_ns, nap = idle / 16;
        struct timespec ts = {.tv_sec = 0};

        if (nap < RDMA_IDLE_NAP_MIN_NS)
            nap = RDMA_IDLE_NAP_MIN_NS;
        if (nap > RDMA_IDLE_NAP_MAX_NS)
            nap = RDMA_IDLE_NAP_MAX_NS;
        ts.tv_nsec = (long)((uint64_t)block_ns < nap ? (uint64_t)block_ns : nap);
        nanosleep(&ts, NULL);
    }
    return n;
}

static void rdma_fini(void)
{
    uint64_t deadline = clock_now_ns() + rdma_st.linger_ns;
    struct rdma_conn *c;

    /* Let lingering connections deliver what they still hold. */
    while (!TAILQ_EMPTY(&rdma_st.conns) && clock_now_ns() < deadline) {
        bool lingering = false;
        TAILQ_FOREACH(c, &rdma_st.conns, all_entry)
            if (c->state == RC_LINGER)
                lingering = true;
        if (!lingering)
            break;
        rdma_poll(0);
    }
    while ((c = TAILQ_FIRST(&rdma_st.conns)) != NULL)
        rdma_conn_destroy(c);
    rdma_mr_fini();
    if (rdma_st.domain)
        fi_close(&rdma_st.domain->fid);
    if (rdma_st.fabric)
        fi_close(&rdma_st.fabric->fid);
    fi_freeinfo(rdma_st.info);
    rdma_st.domain = NULL;
    rdma_st.fabric = NULL;
    rdma_st.info = NULL;
}

static struct rdma_conn *conn_of(struct demi_queue *q)
{
    return q->priv;
}

static int rdma_socket(struct demi_queue *q, int domain, int type, int protocol)
{
    struct rdma_conn *c;

    (void)domain;
    (void)type;
    (void)protocol;
    if (q->kind != QK_TCP)
        return EPROTONOSUPPORT;     /* datagrams: not over connected endpoints */
    if (!(c = rdma_conn_new()))
        return ENOMEM;
    c->q = q;
    q->priv = c;
    return 0;
}

static int rdma_bind(struct demi_queue *q, const struct sockaddr_in *addr)
{
    struct rdma_conn *c = conn_of(q);

    if (c->bound || c->state != RC_NEW)
        return EINVAL;
    c->local = *addr;
    c->local.sin_family = AF_INET;
    c->bound = true;
    return 0;
}

static int rdma_listen(struct demi_queue *q, int backlog)
{
    return rdma_conn_listen(conn_of(q), backlog);
}

static int rdma_accept(struct demi_queue *q, struct demi_op *op)
{
    return rdma_conn_accept(conn_of(q), op);
}

static int rdma_connect(struct demi_queue *q, struct demi_op *op)
{
    return rdma_conn_connect(conn_of(q), op);
}

static int rdma_push(struct demi_queue *q, struct demi_op *op)
{
    return rdma_msg_push(conn_of(q), op);
}

static int rdma_pop(struct demi_queue *q, struct demi_op *op)
{
    return rdma_msg_pop(conn_of(q), op);
}

static int rdma_close(struct demi_queue *q)
{
    struct rdma_conn *c = conn_of(q);

    q->priv = NULL;
    if (c)
        rdma_conn_close(c);
    return 0;
}

static int rdma_setsockopt(struct demi_queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    (void)q;
    if (!optval || optlen < sizeof(int))
        return EINVAL;
    if (level == SOL_SOCKET && (optname == SO_REUSEADDR || optname == SO_REUSEPORT || optname == SO_KEEPALIVE ||
                                optname == SO_RCVBUF || optname == SO_SNDBUF))
        return 0;   /* accepted; the window is DEMI_RDMA_RECV_BUFS x DEMI_RDMA_RECV_SIZE */
    if (level == SOL_SOCKET && optname == SO_LINGER)
        return optlen >= sizeof(struct linger) ? 0 : EINVAL;
    if (level == IPPROTO_TCP && optname == TCP_NODELAY)
        return 0;   /* every push is sent at once */
    return ENOPROTOOPT;
}

static int rdma_getsockopt(struct demi_queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    struct rdma_conn *c = conn_of(q);
    int v;

    if (!optval || !optlen || *optlen < sizeof(int))
        return EINVAL;
    if (level == SOL_SOCKET && optname == SO_ERROR) {
        v = c->err;
        c->err = 0;
    } else if (level == SOL_SOCKET && (optname == SO_RCVBUF || optname == SO_SNDBUF)) {
        v = (int)((uint64_t)rdma_st.recv_bufs * rdma_st.recv_size);
    } else if (level == IPPROTO_TCP && optname == TCP_NODELAY) {
        v = 1;
    } else {
        return ENOPROTOOPT;
    }
    memcpy(optval, &v, sizeof(v));
    *optlen = sizeof(v);
    return 0;
}

static int rdma_getpeername(struct demi_queue *q, struct sockaddr_in *out)
{
    struct rdma_conn *c = conn_of(q);

    if (c->state != RC_CONNECTED && !(c->state == RC_FAILED && c->peer.sin_family == AF_INET))
        return ENOTCONN;
    *out = c->peer;
    out->sin_family = AF_INET;
    return 0;
}

static int rdma_getsockname(struct demi_queue *q, struct sockaddr_in *out)
{
    *out = conn_of(q)->local;
    out->sin_family = AF_INET;
    return 0;
}

static size_t rdma_counters(struct demi_queue *q, demi_counter_t *out, size_t cap)
{
    const struct rdma_counters *ctr = q ? &conn_of(q)->ctr : &rdma_st.ctr;
    size_t n = 0;

#define RDMA_CTR_OUT(f, nm)                                                                                            \
    if (n < cap) {                                                                                                     \
        out[n].name = nm;                                                                                              \
        out[n].value = ctr->f;                                                                                         \
    }                                                                                                                  \
    n++;
    RDMA_COUNTERS(RDMA_CTR_OUT)
#undef RDMA_CTR_OUT
    return n;
}

const struct demi_libos_ops rdma_libos_ops = {
    .name = "rdma",
    .init = rdma_init,
    .fini = rdma_fini,
    .socket = rdma_socket,
    .bind = rdma_bind,
    .listen = rdma_listen,
    .accept = rdma_accept,
    .connect = rdma_connect,
    .push = rdma_push,
    .pop = rdma_pop,
    .close = rdma_close,
    .setsockopt = rdma_setsockopt,
    .getsockopt = rdma_getsockopt,
    .getpeername = rdma_getpeername,
    .getsockname = rdma_getsockname,
    .poll = rdma_poll,
    .counters = rdma_counters,
};
