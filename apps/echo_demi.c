/* demi-echo's helpers that call libdemi (see echo.h). */
#include "echo.h"

#include <demi/sga.h>
#include <demi/stats.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

uint64_t echo_sga_len(const demi_sgarray_t *sga)
{
    uint64_t n = 0;
    uint32_t segs = sga->sga_numsegs <= DEMI_SGARRAY_MAXSIZE ? sga->sga_numsegs : DEMI_SGARRAY_MAXSIZE;
    for (uint32_t i = 0; i < segs; i++)
        n += sga->sga_segs[i].sgaseg_len;
    return n;
}

const char *echo_libos_name(void)
{
    const char *s = getenv("DEMI_LIBOS");
    if (!s || !*s)
        s = getenv("LIBOS");
    return s && *s ? s : "posix";
}

void echo_sga_release(demi_sgarray_t *sga)
{
    if (!sga->sga_buf)
        return;
    int rc = demi_sgafree(sga);
    if (rc != 0)
        echo_perror("demi_sgafree", rc);
    sga->sga_buf = NULL;
    sga->sga_numsegs = 0;
}

int echo_qdmap_set(struct echo_qdmap *m, int qd, void *p)
{
    if (qd < 0)
        return EINVAL;
    if ((size_t)qd >= m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap <= (size_t)qd)
            cap *= 2;
        void **slot = realloc(m->slot, cap * sizeof(*slot));
        if (!slot)
            return ENOMEM;
        memset(slot + m->cap, 0, (cap - m->cap) * sizeof(*slot));
        m->slot = slot;
        m->cap = cap;
    }
    m->slot[qd] = p;
    return 0;
}

void *echo_qdmap_get(const struct echo_qdmap *m, int qd)
{
    if (qd < 0 || (size_t)qd >= m->cap)
        return NULL;
    return m->slot[qd];
}

void echo_qdmap_free(struct echo_qdmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = 0;
}

void echo_print_counters(FILE *f)
{
    demi_counter_t small[128];
    demi_counter_t *c = small;
    size_t n = 0;
    int rc = demi_getcounters(-1, small, 128, &n);
    if (rc != 0) {
        echo_perror("demi_getcounters", rc);
        return;
    }
    if (n > 128) {
        c = calloc(n, sizeof(*c));
        size_t n2 = 0;
        if (!c || (rc = demi_getcounters(-1, c, n, &n2)) != 0) {
            echo_perror("demi_getcounters", c ? rc : ENOMEM);
            free(c);
            return;
        }
        n = n2 < n ? n2 : n;
    }
    fprintf(f, "libdemi counters:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-32s %" PRIu64 "\n", c[i].name ? c[i].name : "?", c[i].value);
    if (c != small)
        free(c);
}
