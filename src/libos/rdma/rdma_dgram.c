/*
 * Datagram queues (SOCK_DGRAM) of the rdma libOS over reliable-datagram
 * endpoints (FI_EP_RDM) of DEMI_RDMA_DGRAM_PROVIDER (udp;ofi_rxd by
 * default: ports are UDP ports; tcp;ofi_rxm works too, on TCP ports). UDP
 * semantics: one datagram per push and per pop, at most 65507 bytes, from
 * and to IPv4 addresses; a queue that is not popped drops what exceeds
 * DEMI_RDMA_RX_WINDOW; connect sets the default destination and filters
 * senders.
 *
 * Each queue has its own endpoint (bound at demi_bind, or to 0.0.0.0:0 on
 * its first push or pop), address vector, CQ (with a wait fd in the wait
 * set) and DEMI_RDMA_DGRAM_BUFS posted receive buffers plus as many send
 * slots (registered, charged to the process's DEMI_RDMA_MEM_MAX). Every
 * datagram starts with a header naming its sender's address (see
 * rdma_wire.h): a provider address is not an IPv4 address, and the pop
 * reports, and a reply goes to, that one. Peers are kept in a small table
 * of address-vector entries (least recently used ones are removed).
 *
 * A provider whose addresses are strings (shm: one host, shared memory)
 * names each endpoint after its port, "demi-dgram-PORT" (the bound IPv4
 * address does not matter on one host; a port in use is EADDRINUSE, an
 * ephemeral port is picked at random among the free ones).
 *
 * The provider's fabric and domain are opened by the first SOCK_DGRAM
 * socket; a provider that cannot make FI_EP_RDM endpoints with IPv4 or
 * string addresses makes it fail with EPROTONOSUPPORT and a log line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "rdma.h"

#define DG_PAYLOAD_MAX 65507u
#define DG_SLOT (RDMA_DGRAM_HDR_LEN + DG_PAYLOAD_MAX)
#define DG_PEERS_MAX 256
#define DG_CQ_BATCH 16
#define DG_BUFS_MAX 1024u
#define DG_ACTIVE_POLLS 64      /* a queue with a completion this recently is read every poll */
#define DG_IDLE_EVERY 16
#define DG_NAME_MAX 32
#define DG_EPHEMERAL_LO 49152u
#define DG_EPHEMERAL_TRIES 32

struct dg_slot {
    struct fi_context2 fictx;
    uint8_t kind;                   /* RDMA_CTX_RECV or RDMA_CTX_SEND */
    struct rdma_dgq *g;
    uint8_t *mem;
    struct dg_peer *peer;           /* send: its destination */
    struct dg_slot *next_free;
};

struct dg_peer {
    struct sockaddr_in addr;        /* sin_family 0: free entry */
    fi_addr_t fa;
    uint32_t src_ip;                /* our address toward it (network order) */
    uint32_t sends_out;
    uint64_t used;
};

struct dg_rx {
    struct buf *buf;
    struct sockaddr_in from;
    TAILQ_ENTRY(dg_rx) entry;
};

struct rdma_dgq {
    struct demi_queue *q;
    bool bound, connected;
    struct sockaddr_in want;        /* bound address, endpoint not open yet (0.0.0.0) */
    struct sockaddr_in local, peer;
    struct fid_ep *ep;
    struct fid_av *av;
    struct fid_cq *cq;
    int cq_fd;
    struct rdma_slab rx_slab, tx_slab;
    struct dg_slot *rx_slots, *tx_slots, *tx_free;
    uint32_t nbufs;
    struct op_list pops, pushes;
    TAILQ_HEAD(, dg_rx) ready;
    uint64_t ready_bytes;
    struct dg_peer peers[DG_PEERS_MAX];
    uint64_t use_clock;
    uint64_t active_poll;           /* the last poll that found a completion */
    struct rdma_counters ctr;
    TAILQ_ENTRY(rdma_dgq) entry;
};

static struct {
    bool tried, ok;
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct rdma_domain dom;
    uint32_t nbufs;
    bool str_names;                 /* the provider's addresses are strings (shm) */
    TAILQ_HEAD(, rdma_dgq) queues;
} dg = {.queues = TAILQ_HEAD_INITIALIZER(dg.queues)};

/* The string name of a datagram endpoint on port (network order). */
static void dg_name(char *buf, uint16_t port)
{
    snprintf(buf, DG_NAME_MAX, "demi-dgram-%u", ntohs(port));
}

#define DG_COUNT(g, field, n)                                                                                          \
    do {                                                                                                               \
        (g)->ctr.field += (n);                                                                                         \
        rdma_st.ctr.field += (n);                                                                                      \
    } while (0)

bool rdma_is_dgram(const struct demi_queue *q)
{
    return q->kind == QK_UDP;
}

const struct rdma_counters *rdma_dgram_counters(struct demi_queue *q)
{
    return &((struct rdma_dgq *)q->priv)->ctr;
}

static struct fi_info *dg_hints(bool str_names)
{
    struct fi_info *h = fi_allocinfo();

    if (!h)
        return NULL;
    h->ep_attr->type = FI_EP_RDM;
    h->caps = FI_MSG;
    h->mode = FI_CONTEXT | FI_CONTEXT2;
    h->addr_format = str_names ? FI_ADDR_STR : FI_SOCKADDR_IN;
    h->domain_attr->mr_mode = RDMA_MR_MODES;
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    h->fabric_attr->prov_name = strdup(config_get("DEMI_RDMA_DGRAM_PROVIDER"));
    if (!h->fabric_attr->prov_name) {
        fi_freeinfo(h);
        return NULL;
    }
    return h;
}

/* Opens the datagram provider's fabric and domain (once). Returns 0 or
 * EPROTONOSUPPORT (logged). */
static int dg_open(void)
{
    struct fi_info *hints;
    int64_t bufs;
    int ret;

    if (dg.tried)
        return dg.ok ? 0 : EPROTONOSUPPORT;
    dg.tried = true;
    if (config_get_int("DEMI_RDMA_DGRAM_BUFS", &bufs) || bufs < 1 || bufs > DG_BUFS_MAX) {
        log_err("rdma: DEMI_RDMA_DGRAM_BUFS must be 1 to %u", DG_BUFS_MAX);
        return EPROTONOSUPPORT;
    }
    dg.nbufs = (uint32_t)bufs;
    dg.str_names = false;
    if (!(hints = dg_hints(false)))
        return EPROTONOSUPPORT;
    ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &dg.info);
    fi_freeinfo(hints);
    if (ret == -FI_ENODATA && (hints = dg_hints(true)) != NULL) {
        ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &dg.info);
        fi_freeinfo(hints);
        dg.str_names = ret == 0;
    }
    if (ret) {
        dg.info = NULL;
        log_err("rdma: datagram provider '%s' cannot do FI_EP_RDM endpoints with IPv4 addresses: %s; set "
                "DEMI_RDMA_DGRAM_PROVIDER (udp;ofi_rxd, tcp;ofi_rxm, shm)",
                config_get("DEMI_RDMA_DGRAM_PROVIDER"), fi_strerror(-ret));
        return EPROTONOSUPPORT;
    }
    if ((ret = fi_fabric(dg.info->fabric_attr, &dg.fabric, NULL)) != 0 ||
        (ret = fi_domain(dg.fabric, dg.info, &dg.dom.domain, NULL)) != 0) {
        log_err("rdma: opening datagram provider %s failed: %s", dg.info->fabric_attr->prov_name, fi_strerror(-ret));
        rdma_dgram_fini();
        dg.tried = true;
        return EPROTONOSUPPORT;
    }
    dg.dom.mr_mode = (uint64_t)dg.info->domain_attr->mr_mode;
    dg.dom.key_size = dg.info->domain_attr->mr_key_size ? dg.info->domain_attr->mr_key_size : 8;
    dg.ok = true;
    log_info("rdma: datagram provider %s (mr_mode 0x%llx%s)", dg.info->fabric_attr->prov_name,
             (unsigned long long)dg.dom.mr_mode, dg.str_names ? ", endpoints named by port" : "");
    return 0;
}

static struct rdma_dgq *dgq(struct demi_queue *q)
{
    return q->priv;
}

int rdma_dgram_socket(struct demi_queue *q)
{
    struct rdma_dgq *g;
    int err;

    if ((err = dg_open()) != 0)
        return err;
    if (!(g = calloc(1, sizeof(*g))))
        return ENOMEM;
    g->q = q;
    g->cq_fd = -1;
    g->local.sin_family = AF_INET;
    TAILQ_INIT(&g->pops);
    TAILQ_INIT(&g->pushes);
    TAILQ_INIT(&g->ready);
    TAILQ_INSERT_TAIL(&dg.queues, g, entry);
    q->priv = g;
    return 0;
}

static int post_recv(struct rdma_dgq *g, struct dg_slot *s)
{
    ssize_t ret = fi_recv(g->ep, s->mem, DG_SLOT, g->rx_slab.mr.desc, FI_ADDR_UNSPEC, &s->fictx);

    return ret ? rdma_fi_errno(ret) : 0;
}

/* Closes g's endpoint and everything it holds (ops are failed by the caller). */
static void dg_unopen(struct rdma_dgq *g)
{
    if (g->ep)
        fi_close(&g->ep->fid);
    if (g->av)
        fi_close(&g->av->fid);
    if (g->cq) {
        rdma_wait_del(&g->cq->fid, g->cq_fd);
        fi_close(&g->cq->fid);
    }
    g->ep = NULL;
    g->av = NULL;
    g->cq = NULL;
    g->cq_fd = -1;
    rdma_slab_free(&g->rx_slab);
    rdma_slab_free(&g->tx_slab);
    free(g->rx_slots);
    free(g->tx_slots);
    g->rx_slots = g->tx_slots = g->tx_free = NULL;
}

static int dg_endpoint_on(struct rdma_dgq *g, const struct sockaddr_in *addr);

/* True when a string-named endpoint of port exists on this host. */
static bool dg_name_taken(uint16_t port)
{
    char name[DG_NAME_MAX], path[DG_NAME_MAX + 16];

    dg_name(name, port);
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    return access(path, F_OK) == 0;
}

/* Opens g's endpoint on addr (port 0: an ephemeral one), its AV, CQ and
 * buffers. Returns 0 or a positive errno (EADDRINUSE...). */
static int dg_endpoint(struct rdma_dgq *g, const struct sockaddr_in *addr)
{
    struct sockaddr_in a = *addr;
    uint16_t r;

    if (!dg.str_names)
        return dg_endpoint_on(g, addr);
    if (a.sin_port != 0)
        return dg_name_taken(a.sin_port) ? EADDRINUSE : dg_endpoint_on(g, &a);
    for (int i = 0; i < DG_EPHEMERAL_TRIES; i++) {
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint16_t)(clock_now_ns() >> 10);
        a.sin_port = htons((uint16_t)(DG_EPHEMERAL_LO + r % (65536u - DG_EPHEMERAL_LO)));
        if (!dg_name_taken(a.sin_port) && dg_endpoint_on(g, &a) == 0)
            return 0;
    }
    return EADDRINUSE;
}

static int dg_endpoint_on(struct rdma_dgq *g, const struct sockaddr_in *addr)
{
    struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_MSG, .wait_obj = FI_WAIT_FD, .size = 4 * DG_BUFS_MAX};
    struct fi_av_attr av_attr = {.type = FI_AV_UNSPEC, .count = DG_PEERS_MAX};
    struct fi_info *hints, *info = NULL;
    size_t len = sizeof(g->local);
    int ret, err;

    if (!(hints = dg_hints(dg.str_names)))
        return ENOMEM;
    if (dg.str_names) {
        char name[DG_NAME_MAX];

        dg_name(name, addr->sin_port);
        if ((hints->src_addr = strdup(name)) != NULL)
            hints->src_addrlen = strlen(name) + 1;
    } else if ((hints->src_addr = malloc(sizeof(*addr))) != NULL) {
        memcpy(hints->src_addr, addr, sizeof(*addr));
        hints->src_addrlen = sizeof(*addr);
    }
    ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &info);
    fi_freeinfo(hints);
    if (ret)
        return ret == -FI_ENODATA ? EADDRNOTAVAIL : rdma_fi_errno(ret);
    ret = fi_cq_open(dg.dom.domain, &cq_attr, &g->cq, NULL);
    if (ret == -FI_ENOSYS || ret == -FI_EINVAL) {
        cq_attr.wait_obj = FI_WAIT_NONE;
        ret = fi_cq_open(dg.dom.domain, &cq_attr, &g->cq, NULL);
    }
    if (ret) {
        g->cq = NULL;
        goto fail;
    }
    if ((err = rdma_wait_add(&g->cq->fid, dg.fabric, NULL, &g->cq_fd)) != 0) {
        fi_freeinfo(info);
        dg_unopen(g);
        return err;
    }
    if ((ret = fi_av_open(dg.dom.domain, &av_attr, &g->av, NULL)) != 0) {
        g->av = NULL;
        goto fail;
    }
    if ((ret = fi_endpoint(dg.dom.domain, info, &g->ep, NULL)) != 0) {
        g->ep = NULL;
        goto fail;
    }
    if ((ret = fi_ep_bind(g->ep, &g->av->fid, 0)) != 0 ||
        (ret = fi_ep_bind(g->ep, &g->cq->fid, FI_TRANSMIT | FI_RECV)) != 0 || (ret = fi_enable(g->ep)) != 0)
        goto fail;
    fi_freeinfo(info);
    info = NULL;
    if (dg.str_names) {
        g->local = *addr;       /* one host: the name is the port */
        g->local.sin_family = AF_INET;
    } else if (fi_getname(&g->ep->fid, &g->local, &len) != 0 || g->local.sin_family != AF_INET) {
        ret = -FI_EADDRNOTAVAIL;
        goto fail;
    }
    if ((err = rdma_slab_alloc(&dg.dom, NULL, g->ep, (size_t)dg.nbufs * DG_SLOT, FI_RECV, &g->rx_slab)) != 0 ||
        (err = rdma_slab_alloc(&dg.dom, NULL, g->ep, (size_t)dg.nbufs * DG_SLOT, FI_SEND, &g->tx_slab)) != 0 ||
        !(g->rx_slots = calloc(dg.nbufs, sizeof(*g->rx_slots))) ||
        !(g->tx_slots = calloc(dg.nbufs, sizeof(*g->tx_slots)))) {
        dg_unopen(g);
        return ENOMEM;
    }
    g->nbufs = dg.nbufs;
    for (uint32_t i = 0; i < g->nbufs; i++) {
        struct dg_slot *r = &g->rx_slots[i], *t = &g->tx_slots[i];

        r->kind = RDMA_CTX_RECV;
        r->g = g;
        r->mem = g->rx_slab.mem + (size_t)i * DG_SLOT;
        t->kind = RDMA_CTX_SEND;
        t->g = g;
        t->mem = g->tx_slab.mem + (size_t)i * DG_SLOT;
        t->next_free = g->tx_free;
        g->tx_free = t;
        if ((err = post_recv(g, r)) != 0) {
            dg_unopen(g);
            return err;
        }
    }
    g->bound = true;
    return 0;
fail:
    log_info("rdma: opening a datagram endpoint on %s:%u failed: %s", inet_ntoa(addr->sin_addr),
             ntohs(addr->sin_port), fi_strerror(-ret));
    fi_freeinfo(info);
    dg_unopen(g);
    return ret == -FI_EADDRINUSE ? EADDRINUSE : rdma_fi_errno(ret);
}

/* Binds g. A specific address opens the endpoint now; 0.0.0.0 waits for
 * the first push (the address toward its destination) or pop, because a
 * provider names its endpoint to peers by its address, and 0.0.0.0 is no
 * name a peer can reach. */
int rdma_dgram_bind(struct demi_queue *q, const struct sockaddr_in *addr)
{
    struct rdma_dgq *g = dgq(q);

    if (g->bound || g->ep)
        return EINVAL;
    if (addr->sin_addr.s_addr != htonl(INADDR_ANY))
        return dg_endpoint(g, addr);
    g->want = *addr;
    g->want.sin_family = AF_INET;
    g->local = g->want;
    g->bound = true;
    return 0;
}

static uint32_t source_ip(const struct rdma_dgq *g, const struct sockaddr_in *dst);

/* Opens g's endpoint unless it is open: on the bound address, with
 * 0.0.0.0 replaced by our address toward dst when there is one. */
static int ensure_open(struct rdma_dgq *g, const struct sockaddr_in *dst)
{
    struct sockaddr_in addr = g->want;

    if (g->ep)
        return 0;
    addr.sin_family = AF_INET;
    if (dst && addr.sin_addr.s_addr == htonl(INADDR_ANY))
        addr.sin_addr.s_addr = source_ip(g, dst);
    return dg_endpoint(g, &addr);
}

int rdma_dgram_connect(struct demi_queue *q, struct demi_op *op)
{
    struct rdma_dgq *g = dgq(q);
    int err;

    if ((err = ensure_open(g, &op->addr)) != 0)
        return err;
    g->peer = op->addr;
    g->connected = true;
    op_complete_connect(op);
    return 0;
}

/* Our IPv4 address toward dst (network order): the bound one, or the one
 * the kernel's routing would pick. 0 when there is none. */
static uint32_t source_ip(const struct rdma_dgq *g, const struct sockaddr_in *dst)
{
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    uint32_t ip = 0;
    int fd;

    if (g->ep && g->local.sin_addr.s_addr != htonl(INADDR_ANY))
        return g->local.sin_addr.s_addr;
    if ((ntohl(dst->sin_addr.s_addr) >> 24) == 127 || dg.str_names)
        return htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == 0 &&
        getsockname(fd, (struct sockaddr *)&me, &len) == 0)
        ip = me.sin_addr.s_addr;
    close(fd);
    return ip;
}

/* The table entry of dst, inserted into the AV on first use (evicting the
 * least recently used idle entry when full). NULL (errno) on failure. */
static struct dg_peer *peer_get(struct rdma_dgq *g, const struct sockaddr_in *dst)
{
    struct dg_peer *p, *lru = NULL, *free_e = NULL;
    int ret;

    for (int i = 0; i < DG_PEERS_MAX; i++) {
        p = &g->peers[i];
        if (p->addr.sin_family == 0) {
            if (!free_e)
                free_e = p;
            continue;
        }
        if (p->addr.sin_addr.s_addr == dst->sin_addr.s_addr && p->addr.sin_port == dst->sin_port) {
            p->used = ++g->use_clock;
            return p;
        }
        if (p->sends_out == 0 && (!lru || p->used < lru->used))
            lru = p;
    }
    if (!free_e) {
        if (!lru) {
            errno = EAGAIN;
            return NULL;
        }
        fi_av_remove(g->av, &lru->fa, 1, 0);
        memset(lru, 0, sizeof(*lru));
        free_e = lru;
    }
    p = free_e;
    p->addr = *dst;
    p->addr.sin_family = AF_INET;
    if (dg.str_names) {
        char name[DG_NAME_MAX];

        dg_name(name, dst->sin_port);
        ret = fi_av_insert(g->av, name, 1, &p->fa, 0, NULL);
    } else {
        ret = fi_av_insert(g->av, &p->addr, 1, &p->fa, 0, NULL);
    }
    if (ret != 1) {
        memset(p, 0, sizeof(*p));
        errno = EHOSTUNREACH;
        return NULL;
    }
    p->src_ip = source_ip(g, dst);
    p->used = ++g->use_clock;
    return p;
}

/* Sends the first queued push. Returns 1 when the op was finished
 * (completed or failed), 0 when it must wait (no slot, provider busy). */
static int push_one(struct rdma_dgq *g, struct demi_op *op)
{
    struct dg_slot *s = g->tx_free;
    struct dg_peer *p;
    uint8_t *d;
    ssize_t ret;

    if (!s)
        return 0;
    if (!(p = peer_get(g, &op->addr))) {
        if (errno == EAGAIN)
            return 0;
        TAILQ_REMOVE(&g->pushes, op, lentry);
        op_fail(op, errno);
        return 1;
    }
    if (p->src_ip == 0) {
        TAILQ_REMOVE(&g->pushes, op, lentry);
        op_fail(op, ENETUNREACH);
        return 1;
    }
    rdma_wire_put_dgram(s->mem, p->src_ip, g->local.sin_port, (uint32_t)op->total_len);
    d = s->mem + RDMA_DGRAM_HDR_LEN;
    for (uint32_t i = 0; i < op->nbufs; i++) {
        memcpy(d, op->bufs[i]->data, op->bufs[i]->len);
        d += op->bufs[i]->len;
    }
    ret = fi_send(g->ep, s->mem, RDMA_DGRAM_HDR_LEN + op->total_len, g->tx_slab.mr.desc, p->fa, &s->fictx);
    if (ret == -FI_EAGAIN) {
        DG_COUNT(g, eagain, 1);
        return 0;
    }
    TAILQ_REMOVE(&g->pushes, op, lentry);
    if (ret) {
        op_fail(op, rdma_fi_errno(ret));
        return 1;
    }
    g->tx_free = s->next_free;
    s->peer = p;
    p->sends_out++;
    DG_COUNT(g, dgram_sent, 1);
    DG_COUNT(g, bytes_sent, op->total_len);
    op->done_len = op->total_len;
    op_complete_push(op);
    return 1;
}

static int push_progress(struct rdma_dgq *g)
{
    struct demi_op *op;
    int n = 0;

    while ((op = TAILQ_FIRST(&g->pushes)) != NULL && push_one(g, op))
        n++;
    return n;
}

/* Queues one datagram. Returns 0, EMSGSIZE (over 65507 bytes),
 * EDESTADDRREQ (no address, not connected) or a bind error. */
int rdma_dgram_push(struct demi_queue *q, struct demi_op *op)
{
    struct rdma_dgq *g = dgq(q);
    int err;

    if (op->total_len > DG_PAYLOAD_MAX)
        return EMSGSIZE;
    if (!op->has_addr) {
        if (!g->connected)
            return EDESTADDRREQ;
        op->addr = g->peer;
        op->has_addr = true;
    }
    if ((err = ensure_open(g, &op->addr)) != 0)
        return err;
    TAILQ_INSERT_TAIL(&g->pushes, op, lentry);
    push_progress(g);
    return 0;
}

/* Hands queued datagrams to pending pops. */
static void dg_deliver(struct rdma_dgq *g)
{
    struct demi_op *op;
    struct dg_rx *r;

    while ((op = TAILQ_FIRST(&g->pops)) != NULL && (r = TAILQ_FIRST(&g->ready)) != NULL) {
        TAILQ_REMOVE(&g->pops, op, lentry);
        TAILQ_REMOVE(&g->ready, r, entry);
        g->ready_bytes -= r->buf->len + RDMA_RXMSG_OVERHEAD;
        op_complete_pop(op, &r->buf, 1, &r->from);
        free(r);
    }
}

int rdma_dgram_pop(struct demi_queue *q, struct demi_op *op)
{
    struct rdma_dgq *g = dgq(q);
    int err;

    if ((err = ensure_open(g, NULL)) != 0)
        return err;
    TAILQ_INSERT_TAIL(&g->pops, op, lentry);
    dg_deliver(g);
    return 0;
}

/* A datagram arrived in slot s (len bytes): checked, copied out (to a
 * waiting pop or the ready queue, dropped when that is full or the sender
 * is filtered), and the buffer is reposted. */
static void on_datagram(struct rdma_dgq *g, struct dg_slot *s, size_t len)
{
    struct rdma_wire_dgram d;
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct demi_op *op;
    struct buf *b;
    struct dg_rx *r;

    if (rdma_wire_parse_dgram(s->mem, len, DG_PAYLOAD_MAX, &d) != 0)
        goto drop;
    from.sin_addr.s_addr = d.ip;
    from.sin_port = d.port;
    if (g->connected && (from.sin_addr.s_addr != g->peer.sin_addr.s_addr || from.sin_port != g->peer.sin_port))
        goto drop;
    DG_COUNT(g, dgram_received, 1);
    DG_COUNT(g, bytes_received, d.len);
    if ((op = TAILQ_FIRST(&g->pops)) != NULL && TAILQ_EMPTY(&g->ready)) {
        if (!(b = buf_copy_from(d.payload, d.len)))
            goto drop;
        TAILQ_REMOVE(&g->pops, op, lentry);
        op_complete_pop(op, &b, 1, &from);
        goto repost;
    }
    if (g->ready_bytes + d.len + RDMA_RXMSG_OVERHEAD > rdma_st.rx_window)
        goto drop;
    if (!(r = malloc(sizeof(*r))))
        goto drop;
    if (!(r->buf = buf_copy_from(d.payload, d.len))) {
        free(r);
        goto drop;
    }
    r->from = from;
    TAILQ_INSERT_TAIL(&g->ready, r, entry);
    g->ready_bytes += d.len + RDMA_RXMSG_OVERHEAD;
    goto repost;
drop:
    DG_COUNT(g, dgram_dropped, 1);
repost:
    if (post_recv(g, s) != 0)
        log_warn("rdma: reposting a datagram buffer failed");
}

static void on_send_done(struct rdma_dgq *g, struct dg_slot *s)
{
    if (s->peer && s->peer->sends_out > 0)
        s->peer->sends_out--;
    s->peer = NULL;
    s->next_free = g->tx_free;
    g->tx_free = s;
}

/* Reads g's CQ; returns the number of completions. */
static int dg_cq(struct rdma_dgq *g)
{
    struct fi_cq_msg_entry e[DG_CQ_BATCH];
    int total = 0;

    for (int round = 0; round < 8 && g->cq; round++) {
        ssize_t n = fi_cq_read(g->cq, e, DG_CQ_BATCH);

        if (n == -FI_EAGAIN)
            break;
        if (n == -FI_EAVAIL) {
            struct fi_cq_err_entry err;

            memset(&err, 0, sizeof(err));
            if (fi_cq_readerr(g->cq, &err, 0) <= 0)
                break;
            total++;
            if (err.op_context) {
                struct dg_slot *s = err.op_context;
                if (s->kind == RDMA_CTX_SEND) {
                    on_send_done(g, s);
                    DG_COUNT(g, dgram_dropped, 1);      /* like a lost UDP datagram */
                } else if (post_recv(g, s) != 0) {
                    log_warn("rdma: reposting a datagram buffer failed");
                }
            }
            continue;
        }
        if (n < 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            struct dg_slot *s = e[i].op_context;
            if (s->kind == RDMA_CTX_RECV)
                on_datagram(g, s, e[i].len);
            else
                on_send_done(g, s);
        }
        total += (int)n;
        if (n < DG_CQ_BATCH)
            break;
    }
    return total;
}

/* Progresses the datagram queues (poll number polls): a queue idle for a
 * while is read every DG_IDLE_EVERY polls only (a sleep covers it through
 * its wait fd); returns the number of completions. */
int rdma_dgram_poll(uint64_t polls)
{
    struct rdma_dgq *g;
    int n = 0;

    TAILQ_FOREACH(g, &dg.queues, entry) {
        if (!g->ep)
            continue;
        if (polls - g->active_poll > DG_ACTIVE_POLLS && polls % DG_IDLE_EVERY != 0 && TAILQ_EMPTY(&g->pushes))
            continue;
        int k = dg_cq(g);
        if (k) {
            g->active_poll = polls;
            dg_deliver(g);
            n += k;
        }
        if (!TAILQ_EMPTY(&g->pushes))
            n += push_progress(g);
    }
    return n;
}

/* Fails g's operations with ECANCELED, closes its endpoint, frees it. */
static void dg_free(struct rdma_dgq *g)
{
    struct demi_op *op;
    struct dg_rx *r;

    if (g->q)
        g->q->priv = NULL;
    while ((op = TAILQ_FIRST(&g->pops)) != NULL) {
        TAILQ_REMOVE(&g->pops, op, lentry);
        op_fail(op, ECANCELED);
    }
    while ((op = TAILQ_FIRST(&g->pushes)) != NULL) {
        TAILQ_REMOVE(&g->pushes, op, lentry);
        op_fail(op, ECANCELED);
    }
    while ((r = TAILQ_FIRST(&g->ready)) != NULL) {
        TAILQ_REMOVE(&g->ready, r, entry);
        buf_unref(r->buf);
        free(r);
    }
    dg_unopen(g);
    TAILQ_REMOVE(&dg.queues, g, entry);
    free(g);
}

int rdma_dgram_close(struct demi_queue *q)
{
    dg_free(dgq(q));
    return 0;
}

int rdma_dgram_getsockname(struct demi_queue *q, struct sockaddr_in *out)
{
    *out = dgq(q)->local;
    out->sin_family = AF_INET;
    return 0;
}

int rdma_dgram_getpeername(struct demi_queue *q, struct sockaddr_in *out)
{
    struct rdma_dgq *g = dgq(q);

    if (!g->connected)
        return ENOTCONN;
    *out = g->peer;
    return 0;
}

/* Closes every datagram queue's endpoint and the provider (at fini). */
void rdma_dgram_fini(void)
{
    struct rdma_dgq *g;

    while ((g = TAILQ_FIRST(&dg.queues)) != NULL)
        dg_free(g);
    if (dg.dom.domain)
        fi_close(&dg.dom.domain->fid);
    if (dg.fabric)
        fi_close(&dg.fabric->fid);
    fi_freeinfo(dg.info);
    memset(&dg.dom, 0, sizeof(dg.dom));
    dg.fabric = NULL;
    dg.info = NULL;
    dg.tried = dg.ok = false;
    TAILQ_INIT(&dg.queues);
}
