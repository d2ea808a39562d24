/*
 * Scatter-gather arrays handed to the application, named by opaque
 * generation-checked handles stored in demi_sgarray_t.sga_buf.
 */
#include "sga_table.h"

#include <demi/sga.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "runtime.h"

struct sga_entry {
    uint32_t gen;
    uint32_t nbufs;         /* 0: free */
    struct buf *bufs[DEMI_SGARRAY_MAXSIZE];
};

static struct sga_entry *entries;
static uint32_t nentries, cap_entries;
static uint32_t *free_idx;
static uint32_t nfree;
static uint64_t live;
static uint32_t gen_seed;

static void *handle_of(uint32_t idx, uint32_t gen)
{
    return (void *)(uintptr_t)(((uint64_t)gen << 32) | idx);
}

/* Entry named by an sga_buf handle, or NULL. */
static struct sga_entry *entry_of(const void *handle, uint32_t *idx_out)
{
    uint64_t h = (uint64_t)(uintptr_t)handle;
    uint32_t idx = (uint32_t)h;

    if (!handle || idx >= nentries)
        return NULL;
    if (entries[idx].nbufs == 0 || entries[idx].gen != (uint32_t)(h >> 32))
        return NULL;
    if (idx_out)
        *idx_out = idx;
    return &entries[idx];
}

static int grow(void)
{
    uint32_t cap = cap_entries ? cap_entries * 2 : 256;
    struct sga_entry *ne = realloc(entries, (size_t)cap * sizeof(*ne));
    uint32_t *nf;

    if (!ne)
        return ENOMEM;
    entries = ne;
    nf = realloc(free_idx, (size_t)cap * sizeof(*nf));
    if (!nf)
        return ENOMEM;
    free_idx = nf;
    for (uint32_t i = cap; i-- > cap_entries;) {
        entries[i].gen = gen_seed;
        entries[i].nbufs = 0;
        free_idx[nfree++] = i;
    }
    cap_entries = cap;
    nentries = cap;
    return 0;
}

int sga_make(demi_sgarray_t *out, struct buf **bufs, uint32_t n)
{
    struct sga_entry *e;
    uint32_t idx;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return 0;
    if (n > DEMI_SGARRAY_MAXSIZE || (nfree == 0 && grow() != 0)) {
        for (uint32_t i = 0; i < n; i++)
            buf_unref(bufs[i]);
        return n > DEMI_SGARRAY_MAXSIZE ? EMSGSIZE : ENOMEM;
    }
    idx = free_idx[--nfree];
    e = &entries[idx];
    e->gen++;
    if (e->gen == 0)
        e->gen = 1;
    e->nbufs = n;
    for (uint32_t i = 0; i < n; i++) {
        e->bufs[i] = bufs[i];
        out->sga_segs[i].sgaseg_buf = bufs[i]->data;
        out->sga_segs[i].sgaseg_len = bufs[i]->len;
    }
    out->sga_numsegs = n;
    out->sga_buf = handle_of(idx, e->gen);
    out->sga_addr.sin_family = AF_INET;
    live++;
    return 0;
}

/* The buffer of entry e whose valid data holds [p, p+len), or NULL. */
static struct buf *owner_of(const struct sga_entry *e, const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < e->nbufs; i++) {
        struct buf *b = e->bufs[i];
        if (p >= b->data && p <= b->data + b->len && len <= (uint32_t)(b->data + b->len - p))
            return b;
    }
    return NULL;
}

int sga_take_bufs(const demi_sgarray_t *sga, struct buf **out, uint32_t *n, uint64_t *total)
{
    const struct sga_entry *e;
    uint32_t k = 0;
    uint64_t sum = 0;

    if (!sga || sga->sga_numsegs == 0 || sga->sga_numsegs > DEMI_SGARRAY_MAXSIZE)
        return EINVAL;
    for (uint32_t i = 0; i < sga->sga_numsegs; i++) {
        if (sga->sga_segs[i].sgaseg_len > 0 && !sga->sga_segs[i].sgaseg_buf)
            return EINVAL;
        sum += sga->sga_segs[i].sgaseg_len;
    }
    if (sum == 0)
        return EINVAL;
    e = entry_of(sga->sga_buf, NULL);
    for (uint32_t i = 0; i < sga->sga_numsegs; i++) {
        const uint8_t *p = sga->sga_segs[i].sgaseg_buf;
        uint32_t len = sga->sga_segs[i].sgaseg_len;
        struct buf *owner, *b;

        if (len == 0)
            continue;
        owner = e ? owner_of(e, p, len) : NULL;
        if (owner)
            b = buf_slice(owner, (size_t)(p - owner->data), len);
        else
            b = buf_copy_from(p, len);  /* memory libdemi does not own: copy */
        if (!b)
            goto nomem;
        out[k++] = b;
    }
    *n = k;
    *total = sum;
    return 0;
nomem:
    while (k > 0)
        buf_unref(out[--k]);
    return ENOMEM;
}

uint64_t sga_live_count(void)
{
    return live;
}

void sga_table_reset(void)
{
    for (uint32_t i = 0; i < nentries; i++)
        for (uint32_t j = 0; j < entries[i].nbufs; j++)
            buf_unref(entries[i].bufs[j]);
    free(entries);
    free(free_idx);
    entries = NULL;
    free_idx = NULL;
    nentries = cap_entries = nfree = 0;
    live = 0;
    gen_seed += 0x10000;
}

DEMI_EXPORT demi_sgarray_t demi_sgaalloc(size_t size)
{
    struct buf *bufs[DEMI_SGARRAY_MAXSIZE];
    demi_sgarray_t sga;
    uint64_t segsize;
    uint32_t n = 0;
    int err;

    memset(&sga, 0, sizeof(sga));
    if (!runtime_initialized) {
        errno = EPERM;
        return sga;
    }
    if (size == 0) {
        errno = EINVAL;
        return sga;
    }
    if (size > runtime_cfg.sga_max) {
        errno = ENOMEM;
        return sga;
    }
    segsize = runtime_cfg.sga_segsize;
    if ((size + segsize - 1) / segsize > DEMI_SGARRAY_MAXSIZE)
        segsize = (size + DEMI_SGARRAY_MAXSIZE - 1) / DEMI_SGARRAY_MAXSIZE;
    for (size_t off = 0; off < size; off += segsize) {
        size_t len = size - off < segsize ? size - off : segsize;
        bufs[n] = buf_alloc(len);
        if (!bufs[n])
            goto nomem;
        n++;
    }
    err = sga_make(&sga, bufs, n);
    if (err) {
        errno = err;
        memset(&sga, 0, sizeof(sga));
    }
    return sga;
nomem:
    while (n > 0)
        buf_unref(bufs[--n]);
    errno = ENOMEM;
    return sga;
}

DEMI_EXPORT int demi_sgafree(demi_sgarray_t *sga)
{
    struct sga_entry *e;
    uint32_t idx;

    if (!sga)
        return EINVAL;
    e = entry_of(sga->sga_buf, &idx);
    if (!e)
        return EINVAL;
    for (uint32_t i = 0; i < e->nbufs; i++)
        buf_unref(e->bufs[i]);
    e->nbufs = 0;
    free_idx[nfree++] = idx;
    live--;
    sga->sga_buf = NULL;
    sga->sga_numsegs = 0;
    return 0;
}
