/*
 * Every memory registration of the rdma libOS goes through here, so that
 *  - keys are the provider's (FI_MR_PROV_KEY) or random, never guessable
 *    from earlier ones (a random key that collides is drawn again);
 *  - under FI_MR_ENDPOINT a region is bound to its connection's endpoint
 *    and enabled before use;
 *  - the bytes registered are charged to the connection
 *    (DEMI_RDMA_MEM_CONN) and to the process (DEMI_RDMA_MEM_MAX), and a
 *    registration that would exceed either is refused (ENOMEM) before the
 *    provider is asked;
 *  - the address a peer uses for a region is its virtual address only under
 *    FI_MR_VIRT_ADDR, else an offset from the region's start.
 * Call order: rdma_mem_check (may a registration of len fit now?) ->
 * rdma_mr_reg -> ... -> rdma_mr_close (uncharges).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "log.h"
#include "rdma.h"

#define RDMA_MMAP_MIN (256u << 10)
#define KEY_TRIES 8

/* A random key of the provider's key size (never 0). */
static uint64_t random_key(size_t key_size)
{
    static uint64_t pool[32];
    static unsigned left;
    uint64_t k;

    do {
        if (left == 0) {
            ssize_t n = getrandom(pool, sizeof(pool), 0);
            if (n != (ssize_t)sizeof(pool)) {
                /* getrandom cannot fail for this size once the pool is
                 * initialised; keep going with what the stack holds mixed in. */
                for (unsigned i = 0; i < 32; i++)
                    pool[i] ^= (uint64_t)(uintptr_t)&k * 0x9e3779b97f4a7c15ull + i;
            }
            left = 32;
        }
        k = pool[--left];
        if (key_size < 8)
            k &= (1ull << (8 * key_size)) - 1;
    } while (k == 0);
    return k;
}

/* 0 when len more bytes may be registered for c now; EAGAIN when not now
 * but once other registrations are closed; ENOMEM when never. */
int rdma_mem_check(const struct rdma_conn *c, size_t len)
{
    if (len > rdma_st.mem_max || (c && len > rdma_st.mem_conn_max))
        return ENOMEM;
    if (rdma_st.mem + len > rdma_st.mem_max || (c && c->mem + len > rdma_st.mem_conn_max))
        return EAGAIN;
    return 0;
}

static void charge(struct rdma_conn *c, int64_t delta)
{
    rdma_st.mem += (uint64_t)delta;
    if (rdma_st.mem > rdma_st.ctr.mem_registered_max)
        rdma_st.ctr.mem_registered_max = rdma_st.mem;
    rdma_st.ctr.mem_registered = rdma_st.mem;
    if (!c)
        return;
    c->mem += (uint64_t)delta;
    if (c->mem > c->ctr.mem_registered_max)
        c->ctr.mem_registered_max = c->mem;
    c->ctr.mem_registered = c->mem;
}

/* Registers [mem, mem+len) with access for c (NULL: the process only),
 * bound to ep under FI_MR_ENDPOINT. Returns 0 with *out filled, ENOMEM
 * (over a budget, or the provider is out of resources), or another
 * positive errno; *out is zeroed on failure. */
int rdma_mr_reg(const struct rdma_domain *d, struct rdma_conn *c, struct fid_ep *ep, void *mem, size_t len,
                uint64_t access, struct rdma_mr *out)
{
    int ret = 0, err;

    memset(out, 0, sizeof(*out));
    if ((err = rdma_mem_check(c, len)) != 0) {
        if (c)
            RDMA_COUNT(c, mr_reg_failures, 1);
        else
            rdma_st.ctr.mr_reg_failures++;
        return ENOMEM;
    }
    for (int i = 0; i < KEY_TRIES; i++) {
        /* Under FI_MR_PROV_KEY the provider picks the key; one that reports
         * a collision all the same uses the requested key after all (a
         * layered provider over one that does not), so it gets random
         * ones from then on. */
        uint64_t key = (d->mr_mode & FI_MR_PROV_KEY) && i == 0 ? 0 : random_key(d->key_size);

        ret = fi_mr_reg(d->domain, mem, len, access, 0, key, 0, &out->mr, NULL);
        if (ret != -FI_ENOKEY)
            break;
    }
    if (ret == 0 && (d->mr_mode & FI_MR_ENDPOINT)) {
        if (!ep || (ret = fi_mr_bind(out->mr, &ep->fid, 0)) != 0 || (ret = fi_mr_enable(out->mr)) != 0) {
            if (!ep)
                ret = -FI_EINVAL;
            fi_close(&out->mr->fid);
        }
    }
    if (ret) {
        log_warn("rdma: registering %zu bytes failed: %s", len, fi_strerror(-ret));
        memset(out, 0, sizeof(*out));
        if (c)
            RDMA_COUNT(c, mr_reg_failures, 1);
        else
            rdma_st.ctr.mr_reg_failures++;
        return ret == -FI_ENOMEM || ret == -FI_ENOSPC ? ENOMEM : rdma_fi_errno(ret);
    }
    out->desc = fi_mr_desc(out->mr);
    out->key = fi_mr_key(out->mr);
    out->len = len;
    out->conn = c;
    charge(c, (int64_t)len);
    if (c)
        RDMA_COUNT(c, mr_regs, 1);
    else
        rdma_st.ctr.mr_regs++;
    return 0;
}

/* Closes a registration from rdma_mr_reg (a zeroed one is ignored). */
void rdma_mr_close(struct rdma_mr *m)
{
    if (!m->mr)
        return;
    fi_close(&m->mr->fid);
    charge(m->conn, -(int64_t)m->len);
    memset(m, 0, sizeof(*m));
}

/* The address a peer names the first byte of a region registered from mem
 * with: its virtual address under FI_MR_VIRT_ADDR, else offset 0. */
uint64_t rdma_mr_addr(const struct rdma_domain *d, const void *mem)
{
    return (d->mr_mode & FI_MR_VIRT_ADDR) ? (uint64_t)(uintptr_t)mem : 0;
}

/* Allocates len bytes (mmap from RDMA_MMAP_MIN) and registers them for c.
 * Returns 0 or a positive errno (ENOMEM). */
int rdma_slab_alloc(const struct rdma_domain *d, struct rdma_conn *c, struct fid_ep *ep, size_t len, uint64_t access,
                    struct rdma_slab *s)
{
    int err;

    memset(s, 0, sizeof(*s));
    if ((err = rdma_mem_check(c, len)) != 0)
        return ENOMEM;
    if (len >= RDMA_MMAP_MIN) {
        s->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s->mem == MAP_FAILED) {
            s->mem = NULL;
            return ENOMEM;
        }
        s->mapped = true;
    } else {
        s->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
        if (!s->mem)
            return ENOMEM;
    }
    s->len = len;
    if ((err = rdma_mr_reg(d, c, ep, s->mem, len, access, &s->mr)) != 0) {
        rdma_slab_free(s);
        return err;
    }
    return 0;
}

/* Deregisters and frees a slab (a zeroed one is ignored). */
void rdma_slab_free(struct rdma_slab *s)
{
    rdma_mr_close(&s->mr);
    if (s->mem) {
        if (s->mapped)
            munmap(s->mem, s->len);
        else
            free(s->mem);
    }
    memset(s, 0, sizeof(*s));
}

/* Parses DEMI_RDMA_MR_MODE: empty, or a comma-separated list of local,
 * virt_addr, allocated, prov_key, endpoint. Returns 0 or EINVAL. */
int rdma_mr_parse_modes(const char *s, uint64_t *out)
{
    static const struct {
        const char *name;
        uint64_t bit;
    } names[] = {{"local", FI_MR_LOCAL},       {"virt_addr", FI_MR_VIRT_ADDR}, {"allocated", FI_MR_ALLOCATED},
                 {"prov_key", FI_MR_PROV_KEY}, {"endpoint", FI_MR_ENDPOINT}};
    uint64_t modes = 0;

    while (s && *s) {
        size_t n = strcspn(s, ",");
        size_t i;

        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0)
                break;
        if (i == sizeof(names) / sizeof(names[0]))
            return EINVAL;
        modes |= names[i].bit;
        s += n;
        if (*s == ',')
            s++;
    }
    *out = modes;
    return 0;
}
