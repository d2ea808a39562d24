/*
 * Registered memory for the rdma libOS.
 *
 *  - rdma_region_alloc/free: memory this libOS owns (receive and send slabs),
 *    registered once with its own requested key (providers with mr_mode 0
 *    take the key the application asks for and need it unique).
 *  - rdma_rxbuf_alloc: a rendezvous receive buffer, registered for remote
 *    writes and wrapped in a BUF_EXT buffer; the popped sga owns it and
 *    demi_sgafree gives it back to a pool of registered buffers (power-of-two
 *    size classes, at most DEMI_RDMA_MR_CACHE_MAX / 2 bytes) or frees it.
 *    Buffers the app still holds at fini are deregistered then (the memory
 *    stays until demi_sgafree).
 *  - rdma_mr_get/put: the registration cache for pushed buffers. Entries are
 *    keyed by the buffer that owns the storage (a slice's root) and hold a
 *    reference on it, so the memory cannot be freed and reused while its
 *    registration is cached. Bounded by DEMI_RDMA_MR_CACHE_MAX bytes (LRU of
 *    entries not in use); a buffer larger than that is registered for one use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "rdma.h"

#define MR_HASH_BUCKETS 256u
#define RDMA_MMAP_MIN (256u << 10)

struct rdma_mr_entry {
    struct rdma_region reg;
    struct buf *root;           /* reference held while the entry lives */
    uint32_t inuse;
    bool cached;                /* in the hash and LRU */
    LIST_ENTRY(rdma_mr_entry) hentry;
    TAILQ_ENTRY(rdma_mr_entry) lru;
};

static LIST_HEAD(, rdma_mr_entry) mr_hash[MR_HASH_BUCKETS];
static TAILQ_HEAD(, rdma_mr_entry) mr_lru = TAILQ_HEAD_INITIALIZER(mr_lru);
static uint64_t mr_cached_bytes;
static LIST_HEAD(, rdma_region) rx_live = LIST_HEAD_INITIALIZER(rx_live);
static LIST_HEAD(, rdma_region) rx_pool = LIST_HEAD_INITIALIZER(rx_pool);   /* freed, still registered */
static uint64_t rx_pool_bytes;

/* Registers [mem, mem+len) into r; returns 0 or a positive errno. */
static int region_register(struct rdma_region *r, uint64_t access)
{
    int ret = fi_mr_reg(rdma_st.domain, r->mem, r->len, access, 0, rdma_st.next_key++, 0, &r->mr, NULL);

    if (ret) {
        log_warn("rdma: fi_mr_reg of %zu bytes failed: %s", r->len, fi_strerror(-ret));
        r->mr = NULL;
        return rdma_fi_errno(ret);
    }
    r->desc = fi_mr_desc(r->mr);
    r->key = fi_mr_key(r->mr);
    return 0;
}

/* Allocates and registers len bytes; NULL with errno ENOMEM (or the
 * registration's error) on failure. */
struct rdma_region *rdma_region_alloc(size_t len, uint64_t access)
{
    struct rdma_region *r = calloc(1, sizeof(*r));
    int err;

    if (!r)
        return NULL;
    r->len = len;
    if (len >= RDMA_MMAP_MIN) {
        r->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r->mem == MAP_FAILED) {
            r->mem = NULL;
            goto nomem;
        }
        r->mapped = true;
    } else {
        r->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
        if (!r->mem)
            goto nomem;
    }
    if ((err = region_register(r, access)) != 0) {
        rdma_region_free(r);
        errno = err;
        return NULL;
    }
    return r;
nomem:
    free(r);
    errno = ENOMEM;
    return NULL;
}

/* Deregisters (if still registered) and frees r. */
void rdma_region_free(struct rdma_region *r)
{
    if (!r)
        return;
    if (r->mr)
        fi_close(&r->mr->fid);
    if (r->mapped)
        munmap(r->mem, r->len);
    else
        free(r->mem);
    free(r);
}

#define RX_POOL_MIN (64u << 10)

/* Size class of a rendezvous buffer: a power of two from 64 KiB, so freed
 * buffers fit later messages of similar sizes. */
static size_t rx_class(size_t len)
{
    size_t c = RX_POOL_MIN;

    while (c < len && c < ((size_t)1 << 62))
        c <<= 1;
    return c;
}

static void rxbuf_release(struct buf *b)
{
    struct rdma_region *r = b->ext;

    if (r->on_live)
        LIST_REMOVE(r, live);
    r->on_live = false;
    /* Keep it registered for the next message while the pool has room. */
    if (r->mr && rdma_st.domain && rx_pool_bytes + r->len <= rdma_st.mr_cache_max / 2) {
        LIST_INSERT_HEAD(&rx_pool, r, live);
        r->on_live = true;
        rx_pool_bytes += r->len;
        return;
    }
    rdma_region_free(r);
}

/* Returns a BUF_EXT buffer of len bytes in registered memory that the peer
 * may write (from the pool of freed ones when one of its size class is
 * there); NULL (errno) on failure. */
struct buf *rdma_rxbuf_alloc(struct rdma_conn *c, size_t len)
{
    size_t cls = rx_class(len);
    struct rdma_region *r;
    struct buf *b;

    LIST_FOREACH(r, &rx_pool, live)
        if (r->len == cls)
            break;
    if (r) {
        LIST_REMOVE(r, live);
        r->on_live = false;
        rx_pool_bytes -= r->len;
        RDMA_COUNT(c, mr_cache_hits, 1);
    } else {
        RDMA_COUNT(c, mr_cache_misses, 1);
        r = rdma_region_alloc(cls, FI_REMOTE_WRITE | FI_WRITE | FI_SEND | FI_RECV);
        if (!r)
            return NULL;
    }
    b = buf_ext_wrap(r->mem, len, rxbuf_release, r);
    if (!b) {
        rdma_region_free(r);
        errno = ENOMEM;
        return NULL;
    }
    LIST_INSERT_HEAD(&rx_live, r, live);
    r->on_live = true;
    return b;
}

/* The registered region of a rendezvous receive buffer, or NULL if b is
 * not one. */
struct rdma_region *rdma_rxbuf_region(struct buf *b)
{
    return (b->kind == BUF_EXT && b->ext_release == rxbuf_release) ? b->ext : NULL;
}

static uint32_t mr_bucket(const struct buf *root)
{
    uintptr_t p = (uintptr_t)root;

    return (uint32_t)((p >> 6) ^ (p >> 16)) % MR_HASH_BUCKETS;
}

static void mr_entry_free(struct rdma_mr_entry *e)
{
    if (e->cached) {
        LIST_REMOVE(e, hentry);
        TAILQ_REMOVE(&mr_lru, e, lru);
        mr_cached_bytes -= e->reg.len;
    }
    if (e->reg.mr)
        fi_close(&e->reg.mr->fid);
    buf_unref(e->root);
    free(e);
}

/* Evicts unused entries, oldest first, until the cache fits its budget. */
static void mr_evict(void)
{
    struct rdma_mr_entry *e, *next;

    for (e = TAILQ_FIRST(&mr_lru); e && mr_cached_bytes > rdma_st.mr_cache_max; e = next) {
        next = TAILQ_NEXT(e, lru);
        if (e->inuse == 0)
            mr_entry_free(e);
    }
}

/* Finds or makes the registration covering b's storage for local access
 * (source of fi_write / fi_send). Returns 0 with *desc_out (and
 * *entry_out, to give back with rdma_mr_put; NULL when nothing must be
 * given back), or a positive errno. */
int rdma_mr_get(struct buf *b, struct rdma_conn *c, struct rdma_mr_entry **entry_out, void **desc_out)
{
    struct buf *root = b;
    struct rdma_region *rx;
    struct rdma_mr_entry *e;
    uint32_t h;
    int err;

    while (root->kind == BUF_SLICE && root->parent)
        root = root->parent;
    *entry_out = NULL;
    rx = rdma_rxbuf_region(root);
    if (rx && rx->mr) {
        /* Our own rendezvous memory (an echoed pop): the caller's reference on b keeps it registered. */
        *desc_out = rx->desc;
        RDMA_COUNT(c, mr_cache_hits, 1);
        return 0;
    }
    h = mr_bucket(root);
    LIST_FOREACH(e, &mr_hash[h], hentry) {
        if (e->root == root && e->reg.mem == root->base && e->reg.len == root->cap) {
            e->inuse++;
            TAILQ_REMOVE(&mr_lru, e, lru);
            TAILQ_INSERT_TAIL(&mr_lru, e, lru);
            RDMA_COUNT(c, mr_cache_hits, 1);
            *entry_out = e;
            *desc_out = e->reg.desc;
            return 0;
        }
    }
    RDMA_COUNT(c, mr_cache_misses, 1);
    e = calloc(1, sizeof(*e));
    if (!e)
        return ENOMEM;
    e->reg.mem = root->base;
    e->reg.len = root->cap;
    if ((err = region_register(&e->reg, FI_WRITE | FI_SEND | FI_READ)) != 0) {
        free(e);
        return err;
    }
    e->root = buf_ref(root);
    e->inuse = 1;
    if (e->reg.len <= rdma_st.mr_cache_max) {
        e->cached = true;
        LIST_INSERT_HEAD(&mr_hash[h], e, hentry);
        TAILQ_INSERT_TAIL(&mr_lru, e, lru);
        mr_cached_bytes += e->reg.len;
        mr_evict();
    }
    *entry_out = e;
    *desc_out = e->reg.desc;
    return 0;
}

/* Gives back an entry from rdma_mr_get (NULL is ignored). */
void rdma_mr_put(struct rdma_mr_entry *e)
{
    if (!e)
        return;
    if (--e->inuse > 0)
        return;
    if (!e->cached)
        mr_entry_free(e);
    else
        mr_evict();
}

/* Drops every cached registration and deregisters the rendezvous buffers
 * the application still holds (before the domain closes). */
void rdma_mr_fini(void)
{
    struct rdma_region *r;
    struct rdma_mr_entry *e;

    while ((e = TAILQ_FIRST(&mr_lru)) != NULL)
        mr_entry_free(e);
    while ((r = LIST_FIRST(&rx_pool)) != NULL) {
        LIST_REMOVE(r, live);
        rdma_region_free(r);
    }
    rx_pool_bytes = 0;
    while ((r = LIST_FIRST(&rx_live)) != NULL) {
        LIST_REMOVE(r, live);
        r->on_live = false;
        if (r->mr)
            fi_close(&r->mr->fid);
        r->mr = NULL;
    }
    mr_cached_bytes = 0;
}
