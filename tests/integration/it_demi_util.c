/* Token sets, sga helpers and a checked single wait for the libdemi half of
 * the integration tests (see it_demi.h). */
#include "it_demi.h"

#include <errno.h>
#include <stdlib.h>

int it_tokset_add(struct it_tokset *t, demi_qtoken_t qt, uint32_t owner, demi_opcode_t kind)
{
    if (t->n == t->cap) {
        int cap = t->cap == 0 ? 64 : t->cap * 2;
        demi_qtoken_t *qts = realloc(t->qts, (size_t)cap * sizeof(*qts));
        if (qts == NULL)
            return ENOMEM;
        t->qts = qts;
        uint32_t *owner_arr = realloc(t->owner, (size_t)cap * sizeof(*owner_arr));
        if (owner_arr == NULL)
            return ENOMEM;
        t->owner = owner_arr;
        uint8_t *kind_arr = realloc(t->kind, (size_t)cap);
        if (kind_arr == NULL)
            return ENOMEM;
        t->kind = kind_arr;
        t->cap = cap;
    }
    t->qts[t->n] = qt;
    t->owner[t->n] = owner;
    t->kind[t->n] = (uint8_t)kind;
    t->n++;
    return 0;
}

void it_tokset_del(struct it_tokset *t, int i)
{
    t->n--;
    t->qts[i] = t->qts[t->n];
    t->owner[i] = t->owner[t->n];
    t->kind[i] = t->kind[t->n];
}

void it_tokset_free(struct it_tokset *t)
{
    free(t->qts);
    free(t->owner);
    free(t->kind);
    t->qts = NULL;
    t->owner = NULL;
    t->kind = NULL;
    t->n = t->cap = 0;
}

size_t it_sga_len(const demi_sgarray_t *sga)
{
    size_t len = 0;
    for (uint32_t i = 0; i < sga->sga_numsegs && i < DEMI_SGARRAY_MAXSIZE; i++)
        len += sga->sga_segs[i].sgaseg_len;
    return len;
}

ptrdiff_t it_sga_check(const demi_sgarray_t *sga, uint32_t seed, uint64_t off)
{
    size_t pos = 0;
    for (uint32_t i = 0; i < sga->sga_numsegs && i < DEMI_SGARRAY_MAXSIZE; i++) {
        const demi_sgaseg_t *seg = &sga->sga_segs[i];
        ptrdiff_t bad = it_check(seg->sgaseg_buf, seg->sgaseg_len, seed, off + pos);
        if (bad >= 0)
            return (ptrdiff_t)pos + bad;
        pos += seg->sgaseg_len;
    }
    return -1;
}

int it_demi_wait_ok(demi_qtoken_t qt, demi_opcode_t expect, int timeout_ms, demi_qresult_t *qr)
{
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    int rc = demi_wait(qr, qt, &ts);
    if (rc != 0)
        return rc;
    if (qr->qr_opcode == expect)
        return 0;
    if (qr->qr_opcode == DEMI_OPC_FAILED && qr->qr_ret > 0)
        return (int)qr->qr_ret;
    return EIO;
}
