/*
 * The rdma libOS's ops table: init/fini of the provider's fabric, domain
 * and shared CQ, configuration, socket-level calls, the poll loop, options
 * and counters. The protocol is described in rdma.h.
 *
 * The poll loop: drain the shared CQ (each completion acts on its
 * connection and marks it), progress the marked connections, read the
 * events of listeners and handshakes every few polls, sweep every
 * connection (events, timeouts, linger) every RDMA_SWEEP_POLLS polls and
 * after each sleep, free closed connections once the CQ was found empty,
 * and when nothing happened and the caller may block, sleep on the
 * providers' wait objects (rdma_wait.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "rdma.h"
#include "runtime.h"

#define CQ_BATCH 32
#define CQ_ROUNDS 64                /* most CQ reads per poll */
#define HOT_EQ_POLLS 8              /* polls between reads of listeners' and handshakes' events */
#define TIMED_BLOCK_NS (50 * NS_PER_MS)

struct rdma_state rdma_st = {
    .conns = TAILQ_HEAD_INITIALIZER(rdma_st.conns),
    .grave = TAILQ_HEAD_INITIALIZER(rdma_st.grave),
    .work = TAILQ_HEAD_INITIALIZER(rdma_st.work),
};

#define READY_MAX 8

static struct {
    bool sweep_due;                 /* a sleep ran out: sweep at the next poll */
    uint32_t timed;                 /* connections with a deadline (last sweep) */
    uint32_t nready;                /* connections whose EQ fd woke the last sleep */
    struct rdma_conn *ready[READY_MAX];
} loop;

/* Converts a negative libfabric return to a positive errno. */
int rdma_fi_errno(ssize_t ret)
{
    int e = (int)-ret;

    if (e <= 0 || e >= FI_ERRNO_OFFSET)
        return EIO;
    return e;
}

/* A connection now has a deadline: sleeps are capped until the next sweep
 * has looked at it. */
void rdma_timed(void)
{
    loop.timed++;
}

/* Puts c on the work list of the poll loop (once). */
void rdma_mark(struct rdma_conn *c)
{
    if (c->dirty || c->dead)
        return;
    c->dirty = true;
    TAILQ_INSERT_TAIL(&rdma_st.work, c, work_entry);
}

/* "a.b.c.d:port" of c's peer in buf. */
const char *rdma_peer_str(const struct rdma_conn *c, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];

    if (!inet_ntop(AF_INET, &c->peer.sin_addr, ip, sizeof(ip)))
        snprintf(ip, sizeof(ip), "?");
    snprintf(buf, len, "%s:%u", ip, ntohs(c->peer.sin_port));
    return buf;
}

/* Returns fresh hints for our connected endpoints (fi_freeinfo them), NULL
 * on ENOMEM. */
struct fi_info *rdma_hints(void)
{
    struct fi_info *h = fi_allocinfo();

    if (!h)
        return NULL;
    h->ep_attr->type = FI_EP_MSG;
    h->caps = FI_MSG | FI_RMA | FI_READ | FI_REMOTE_READ;
    h->mode = FI_CONTEXT | FI_CONTEXT2;
    h->addr_format = FI_SOCKADDR_IN;
    h->domain_attr->mr_mode = RDMA_MR_MODES;
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    h->tx_attr->msg_order = FI_ORDER_SAS;
    h->rx_attr->msg_order = FI_ORDER_SAS;
    h->fabric_attr->prov_name = strdup(config_get("DEMI_RDMA_PROVIDER"));
    if (!h->fabric_attr->prov_name) {
        fi_freeinfo(h);
        return NULL;
    }
    return h;
}

/* Reads a non-negative DEMI_RDMA_* integer; returns 0 or EINVAL (logged). */
static int cfg_u64(const char *name, int64_t min, uint64_t *out)
{
    int64_t v;

    if (config_get_int(name, &v))
        return EINVAL;
    if (v < min) {
        log_err("rdma: %s=%lld must be at least %lld", name, (long long)v, (long long)min);
        return EINVAL;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Reads and checks the DEMI_RDMA_* variables; returns 0 or EINVAL (logged). */
static int read_config(void)
{
    uint64_t bufs, size, window, conn_mem, mem, linger, connect, rndv;

    if (cfg_u64("DEMI_RDMA_RECV_BUFS", 0, &bufs) || cfg_u64("DEMI_RDMA_RECV_SIZE", 0, &size) ||
        cfg_u64("DEMI_RDMA_RX_WINDOW", 1, &window) || cfg_u64("DEMI_RDMA_MEM_CONN", 1, &conn_mem) ||
        cfg_u64("DEMI_RDMA_MEM_MAX", 1, &mem) || cfg_u64("DEMI_RDMA_LINGER_MS", 0, &linger) ||
        cfg_u64("DEMI_RDMA_CONNECT_TIMEOUT_MS", 1, &connect) || cfg_u64("DEMI_RDMA_RNDV_TIMEOUT_MS", 1, &rndv))
        return EINVAL;
    if (bufs < RDMA_RECV_BUFS_MIN || bufs > RDMA_RECV_BUFS_MAX) {
        log_err("rdma: DEMI_RDMA_RECV_BUFS=%llu is out of range [%u, %u]", (unsigned long long)bufs,
                RDMA_RECV_BUFS_MIN, RDMA_RECV_BUFS_MAX);
        return EINVAL;
    }
    if (size < RDMA_RECV_SIZE_MIN || size > RDMA_RECV_SIZE_MAX || bufs * size > RDMA_SLAB_MAX) {
        log_err("rdma: DEMI_RDMA_RECV_SIZE=%llu is out of range [%u, %u] (and bufs x size <= %llu)",
                (unsigned long long)size, RDMA_RECV_SIZE_MIN, RDMA_RECV_SIZE_MAX, (unsigned long long)RDMA_SLAB_MAX);
        return EINVAL;
    }
    /* A connection registers up to bufs receive buffers and bufs + 2 send slots. */
    if (conn_mem < (2 * bufs + 2) * size || mem < conn_mem) {
        log_err("rdma: DEMI_RDMA_MEM_CONN=%llu must hold a connection's buffers ((2 x %llu + 2) x %llu bytes) and "
                "DEMI_RDMA_MEM_MAX=%llu at least that much", (unsigned long long)conn_mem, (unsigned long long)bufs,
                (unsigned long long)size, (unsigned long long)mem);
        return EINVAL;
    }
    if (rdma_mr_parse_modes(config_get("DEMI_RDMA_MR_MODE"), &rdma_st.mr_forced) != 0) {
        log_err("rdma: DEMI_RDMA_MR_MODE='%s' is not a comma list of local, virt_addr, allocated, prov_key, endpoint",
                config_get("DEMI_RDMA_MR_MODE"));
        return EINVAL;
    }
    rdma_st.recv_bufs = (uint32_t)bufs;
    rdma_st.recv_size = (uint32_t)size;
    rdma_st.rx_window = window;
    rdma_st.mem_conn_max = conn_mem;
    rdma_st.mem_max = mem;
    rdma_st.linger_ns = linger * NS_PER_MS;
    rdma_st.connect_ns = connect * NS_PER_MS;
    rdma_st.rndv_ns = rndv * NS_PER_MS;
    return 0;
}

/* Finds the provider's base info: first bound to any IPv4 address, then
 * with no address. Returns NULL when the provider cannot do FI_EP_MSG with
 * FI_MSG and FI_RMA reads. */
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
        log_err("rdma: provider '%s' cannot do connected endpoints (FI_EP_MSG) with FI_MSG and RMA reads: %s; "
                "set DEMI_RDMA_PROVIDER to one fi_info lists with -t FI_EP_MSG (tcp, verbs)",
                config_get("DEMI_RDMA_PROVIDER"), fi_strerror(-ret));
        return NULL;
    }
    return info;
}

static int open_cq(void)
{
    struct fi_cq_attr attr = {.format = FI_CQ_FORMAT_MSG, .wait_obj = FI_WAIT_FD, .size = RDMA_CQ_SIZE};
    int ret, fd;

    ret = fi_cq_open(rdma_st.dom.domain, &attr, &rdma_st.cq, NULL);
    if (ret == -FI_ENOSYS || ret == -FI_EINVAL) {
        attr.wait_obj = FI_WAIT_NONE;
        ret = fi_cq_open(rdma_st.dom.domain, &attr, &rdma_st.cq, NULL);
    }
    if (ret) {
        rdma_st.cq = NULL;
        log_err("rdma: fi_cq_open failed: %s", fi_strerror(-ret));
        return rdma_fi_errno(ret);
    }
    (void)fd;
    return rdma_wait_add(&rdma_st.cq->fid, rdma_st.fabric, NULL, &fd);
}

static void rdma_fini(void);

static int rdma_init(const struct demi_args *args)
{
    struct fi_info *info;
    int ret, err;

    (void)args;
    memset(&rdma_st.ctr, 0, sizeof(rdma_st.ctr));
    rdma_st.mem = 0;
    rdma_st.polls = 0;
    rdma_st.events = 0;
    memset(&loop, 0, sizeof(loop));
    TAILQ_INIT(&rdma_st.conns);
    TAILQ_INIT(&rdma_st.grave);
    TAILQ_INIT(&rdma_st.work);
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
    if ((err = rdma_wait_init()) != 0)
        goto fail;
    info->domain_attr->mr_mode |= (int)rdma_st.mr_forced;
    if ((ret = fi_fabric(info->fabric_attr, &rdma_st.fabric, NULL)) != 0 ||
        (ret = fi_domain(rdma_st.fabric, info, &rdma_st.dom.domain, NULL)) != 0) {
        log_err("rdma: opening the fabric/domain of provider %s failed: %s", info->fabric_attr->prov_name,
                fi_strerror(-ret));
        err = rdma_fi_errno(ret);
        goto fail;
    }
    rdma_st.dom.mr_mode = (uint64_t)info->domain_attr->mr_mode;
    rdma_st.dom.key_size = info->domain_attr->mr_key_size ? info->domain_attr->mr_key_size : 8;
    rdma_st.max_msg_size = info->ep_attr->max_msg_size ? info->ep_attr->max_msg_size : RDMA_READ_CHUNK;
    rdma_st.inject_size = info->tx_attr->inject_size;
    if ((err = open_cq()) != 0)
        goto fail;
    log_info("rdma: provider %s (fabric %s, domain %s, mr_mode 0x%llx%s), %u receive buffers of %u bytes",
             info->fabric_attr->prov_name, info->fabric_attr->name, info->domain_attr->name,
             (unsigned long long)rdma_st.dom.mr_mode, rdma_st.mr_forced ? ", some forced by DEMI_RDMA_MR_MODE" : "",
             rdma_st.recv_bufs, rdma_st.recv_size);
    return 0;
fail:
    rdma_fini();
    return err;
}

/* Reads the shared CQ: every completion acts on its connection. Sets
 * rdma_st.cq_empty when a read found nothing (needed to free closed
 * connections; otherwise a short batch ends the loop without another
 * read). */
static void cq_drain(void)
{
    struct fi_cq_msg_entry e[CQ_BATCH];

    rdma_st.cq_empty = false;
    for (int round = 0; round < CQ_ROUNDS; round++) {
        ssize_t n = fi_cq_read(rdma_st.cq, e, CQ_BATCH);

        if (n == -FI_EAGAIN) {
            rdma_st.cq_empty = true;
            return;
        }
        if (n == -FI_EAVAIL) {
            struct fi_cq_err_entry err;

            memset(&err, 0, sizeof(err));
            if (fi_cq_readerr(rdma_st.cq, &err, 0) <= 0)
                return;
            rdma_st.events++;
            if (err.op_context)
                rdma_msg_on_error(err.op_context, err.err);
            continue;
        }
        if (n < 0) {
            log_warn("rdma: fi_cq_read failed: %s", fi_strerror((int)-n));
            return;
        }
        for (ssize_t i = 0; i < n; i++)
            rdma_msg_on_completion(e[i].op_context, e[i].len);
        rdma_st.events += (uint64_t)n;
        if (n < CQ_BATCH && TAILQ_EMPTY(&rdma_st.grave))
            return;
    }
}

/* Progresses every marked connection (a batch: a connection marked again
 * while it progresses waits for the next poll). */
static void run_work(void)
{
    struct rdma_conn_list batch = TAILQ_HEAD_INITIALIZER(batch);
    struct rdma_conn *c;

    TAILQ_CONCAT(&batch, &rdma_st.work, work_entry);
    while ((c = TAILQ_FIRST(&batch)) != NULL) {
        TAILQ_REMOVE(&batch, c, work_entry);
        c->dirty = false;
        rdma_msg_progress(c);
    }
}

/* Every connection: events, timeouts, linger; counts those with a deadline. */
static void sweep(void)
{
    uint64_t now = clock_now_ns();
    struct rdma_conn *c, *next;

    loop.timed = 0;
    for (c = TAILQ_FIRST(&rdma_st.conns); c; c = next) {
        next = TAILQ_NEXT(c, all_entry);
        rdma_st.events += (uint64_t)rdma_conn_sweep(c, now);
        if (!c->dead && (c->state == RC_CONNECTING || c->state == RC_ACCEPTING || c->state == RC_LINGER ||
                         !TAILQ_EMPTY(&c->reading)))
            loop.timed++;
    }
}

/* Reads the events of listeners and handshakes. */
static void hot_events(void)
{
    struct rdma_conn *c, *next;

    for (c = TAILQ_FIRST(&rdma_st.conns); c; c = next) {
        next = TAILQ_NEXT(c, all_entry);
        if (c->state == RC_LISTENING || c->state == RC_CONNECTING || c->state == RC_ACCEPTING)
            rdma_st.events += (uint64_t)rdma_conn_progress_eq(c);
    }
}

/* A sleep was woken by the EQ fd of connection tag. */
static void on_ready(void *tag)
{
    if (loop.nready < READY_MAX)
        loop.ready[loop.nready++] = tag;
    else
        loop.sweep_due = true;
}

/* Reads the events of the connections whose EQ woke the last sleep (they
 * are alive, or destroyed but not yet freed: their memory outlives this
 * poll). */
static void ready_events(void)
{
    for (uint32_t i = 0; i < loop.nready; i++)
        rdma_st.events += (uint64_t)rdma_conn_progress_eq(loop.ready[i]);
    loop.nready = 0;
}

/* Frees closed connections once the CQ was found empty after they closed. */
static void reap(void)
{
    struct rdma_conn *c, *next;

    if (!rdma_st.cq_empty)
        return;
    for (c = TAILQ_FIRST(&rdma_st.grave); c; c = next) {
        next = TAILQ_NEXT(c, all_entry);
        if (c->dead_poll < rdma_st.polls)
            rdma_conn_reap(c);
    }
}

/* One round of progress; sleeps up to block_ns when nothing happened.
 * Returns the number of completions and events handled. */
static int rdma_poll(int64_t block_ns)
{
    uint64_t before = rdma_st.events;

    rdma_st.polls++;
    cq_drain();
    if (!TAILQ_EMPTY(&rdma_st.work))
        run_work();
    rdma_st.events += (uint64_t)rdma_dgram_poll(rdma_st.polls);
    if (loop.nready)
        ready_events();
    if (loop.sweep_due || rdma_st.polls % RDMA_SWEEP_POLLS == 0) {
        loop.sweep_due = false;
        sweep();
    } else if (rdma_st.polls % HOT_EQ_POLLS == 0) {
        hot_events();
    }
    if (!TAILQ_EMPTY(&rdma_st.work))
        run_work();
    if (!TAILQ_EMPTY(&rdma_st.grave))
        reap();
    if (rdma_st.events != before) {
        rdma_wait_busy();
        return (int)(rdma_st.events - before);
    }
    if (block_ns > 0) {
        uint64_t ns = (uint64_t)block_ns;

        if (loop.timed && ns > TIMED_BLOCK_NS)
            ns = TIMED_BLOCK_NS;
        if (rdma_wait_block(ns, on_ready))
            loop.sweep_due = true;
    }
    return 0;
}

static void rdma_fini(void)
{
    uint64_t deadline = clock_now_ns() + rdma_st.linger_ns;
    struct rdma_conn *c;

    /* Let lingering connections deliver what they still hold. */
    while (rdma_st.cq && !TAILQ_EMPTY(&rdma_st.conns) && clock_now_ns() < deadline) {
        bool lingering = false;
        TAILQ_FOREACH(c, &rdma_st.conns, all_entry)
            if (c->state == RC_LINGER)
                lingering = true;
        if (!lingering)
            break;
        rdma_poll(0);
        loop.sweep_due = true;
    }
    while ((c = TAILQ_FIRST(&rdma_st.conns)) != NULL)
        rdma_conn_destroy(c);
    rdma_dgram_fini();
    if (rdma_st.cq) {
        int fd = -1;
        (void)fi_control(&rdma_st.cq->fid, FI_GETWAIT, &fd);
        rdma_wait_del(&rdma_st.cq->fid, fd);
        fi_close(&rdma_st.cq->fid);
    }
    rdma_st.cq = NULL;
    /* Every endpoint and the CQ are closed: nothing can name their memory. */
    while ((c = TAILQ_FIRST(&rdma_st.grave)) != NULL)
        rdma_conn_reap(c);
    if (rdma_st.dom.domain)
        fi_close(&rdma_st.dom.domain->fid);
    if (rdma_st.fabric)
        fi_close(&rdma_st.fabric->fid);
    fi_freeinfo(rdma_st.info);
    rdma_wait_fini();
    rdma_st.dom.domain = NULL;
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
    if (q->kind == QK_UDP)
        return rdma_dgram_socket(q);
    if (q->kind != QK_TCP)
        return EPROTONOSUPPORT;
    if (!(c = rdma_conn_new()))
        return ENOMEM;
    c->q = q;
    q->priv = c;
    return 0;
}

static int rdma_bind(struct demi_queue *q, const struct sockaddr_in *addr)
{
    struct rdma_conn *c;

    if (rdma_is_dgram(q))
        return rdma_dgram_bind(q, addr);
    c = conn_of(q);
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
    if (rdma_is_dgram(q))
        return rdma_dgram_connect(q, op);
    return rdma_conn_connect(conn_of(q), op);
}

static int rdma_push(struct demi_queue *q, struct demi_op *op)
{
    if (rdma_is_dgram(q))
        return rdma_dgram_push(q, op);
    return rdma_msg_push(conn_of(q), op);
}

static int rdma_pop(struct demi_queue *q, struct demi_op *op)
{
    if (rdma_is_dgram(q))
        return rdma_dgram_pop(q, op);
    return rdma_msg_pop(conn_of(q), op);
}

static int rdma_close(struct demi_queue *q)
{
    struct rdma_conn *c;

    if (rdma_is_dgram(q))
        return rdma_dgram_close(q);
    c = conn_of(q);
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
    int v;

    if (!optval || !optlen || *optlen < sizeof(int))
        return EINVAL;
    if (level == SOL_SOCKET && optname == SO_ERROR) {
        if (rdma_is_dgram(q)) {
            v = 0;
        } else {
            v = conn_of(q)->err;
            conn_of(q)->err = 0;
        }
    } else if (level == SOL_SOCKET && (optname == SO_RCVBUF || optname == SO_SNDBUF)) {
        v = (int)((uint64_t)rdma_st.recv_bufs * rdma_st.recv_size);
    } else if (level == IPPROTO_TCP && optname == TCP_NODELAY && !rdma_is_dgram(q)) {
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
    struct rdma_conn *c;

    if (rdma_is_dgram(q))
        return rdma_dgram_getpeername(q, out);
    c = conn_of(q);
    if (c->state != RC_CONNECTED && !(c->state == RC_FAILED && c->peer.sin_family == AF_INET))
        return ENOTCONN;
    *out = c->peer;
    out->sin_family = AF_INET;
    return 0;
}

static int rdma_getsockname(struct demi_queue *q, struct sockaddr_in *out)
{
    if (rdma_is_dgram(q))
        return rdma_dgram_getsockname(q, out);
    *out = conn_of(q)->local;
    out->sin_family = AF_INET;
    return 0;
}

/* Counters of q (a stream queue or a datagram queue) or of the process. */
static size_t rdma_counters(struct demi_queue *q, demi_counter_t *out, size_t cap)
{
    const struct rdma_counters *ctr = !q ? &rdma_st.ctr : rdma_is_dgram(q) ? rdma_dgram_counters(q) : &conn_of(q)->ctr;
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
    .yield_when_idle = true,
    .counters = rdma_counters,
};
