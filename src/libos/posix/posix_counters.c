/*
 * Counters of the posix libOS, read with demi_getcounters.
 *
 * Per queue: its I/O counters plus how many operations wait in its FIFOs.
 * Global (qd -1): the sums of the I/O counters over every queue ever
 * opened, the libOS-wide counters, and the number of open sockets.
 */
#include "posix.h"

struct counter_sink {
    demi_counter_t *out;
    size_t cap;
    size_t n;
};

static void put(struct counter_sink *s, const char *name, uint64_t value)
{
    if (s->n < s->cap) {
        s->out[s->n].name = name;
        s->out[s->n].value = value;
    }
    s->n++;
}

/* Emits q's counters (or the global ones when q is NULL) and returns how
 * many there are in all (0 for a queue the libOS does not know). */
size_t posix_counters(struct demi_queue *q, demi_counter_t *out, size_t cap)
{
    struct counter_sink s = {.out = out, .cap = out ? cap : 0, .n = 0};
    const struct posix_io_stats *io;
    struct posix_queue *pq;

    if (q) {
        pq = q->priv;
        if (!pq)
            return 0;
        io = &pq->stats;
#define PUT_IO(f, name) put(&s, name, io->f);
        POSIX_IO_COUNTERS(PUT_IO)
        put(&s, "posix.pending_accepts", pq->naccepts);
        put(&s, "posix.pending_pushes", pq->npushes);
        put(&s, "posix.pending_pops", pq->npops);
        return s.n;
    }
    io = &posix.io;
    POSIX_IO_COUNTERS(PUT_IO)
#undef PUT_IO
#define PUT_G(f, name) put(&s, name, posix.g.f);
    POSIX_GLOBAL_COUNTERS(PUT_G)
#undef PUT_G
    put(&s, "posix.sockets_open", posix.nqueues);
    return s.n;
}
