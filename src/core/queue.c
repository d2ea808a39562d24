/*
 * The queue-descriptor table. Free qds are reused in FIFO order.
 */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>

#include "runtime.h"
#include "stats.h"

static struct demi_queue **table;   /* indexed by qd; NULL when free */
static uint32_t table_len;
static uint32_t *fifo;              /* ring of free qds */
static uint32_t fifo_head, fifo_count, fifo_cap;
static uint64_t open_count;

static int fifo_push(uint32_t qd)
{
    if (fifo_count == fifo_cap) {
        uint32_t cap = fifo_cap ? fifo_cap * 2 : 64;
        uint32_t *nf = malloc((size_t)cap * sizeof(*nf));
        if (!nf)
            return ENOMEM;
        for (uint32_t i = 0; i < fifo_count; i++)
            nf[i] = fifo[(fifo_head + i) % fifo_cap];
        free(fifo);
        fifo = nf;
        fifo_head = 0;
        fifo_cap = cap;
    }
    fifo[(fifo_head + fifo_count) % fifo_cap] = qd;
    fifo_count++;
    return 0;
}

/* Grows the table by a batch of qds, all put on the free FIFO. */
static int grow(void)
{
    uint32_t len = table_len ? table_len * 2 : 64;
    struct demi_queue **nt;

    if (len > runtime_cfg.max_queues)
        len = (uint32_t)runtime_cfg.max_queues;
    if (len <= table_len)
        return EMFILE;
    nt = realloc(table, (size_t)len * sizeof(*nt));
    if (!nt)
        return ENOMEM;
    table = nt;
    for (uint32_t i = table_len; i < len; i++) {
        table[i] = NULL;
        if (fifo_push(i) != 0)
            return ENOMEM;
    }
    table_len = len;
    return 0;
}

struct demi_queue *queue_alloc(int kind)
{
    struct demi_queue *q;
    uint32_t qd;
    int err;

    if (fifo_count == 0 && (err = grow()) != 0) {
        errno = err;
        return NULL;
    }
    q = calloc(1, sizeof(*q));
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    qd = fifo[fifo_head];
    fifo_head = (fifo_head + 1) % fifo_cap;
    fifo_count--;
    q->qd = (int)qd;
    q->kind = kind;
    TAILQ_INIT(&q->pending);
    table[qd] = q;
    open_count++;
    core_stats.queues_opened++;
    return q;
}

struct demi_queue *queue_get(int qd)
{
    if (qd < 0 || (uint32_t)qd >= table_len)
        return NULL;
    return table[qd];
}

void queue_free(struct demi_queue *q)
{
    uint32_t qd = (uint32_t)q->qd;

    table[qd] = NULL;
    free(q);
    open_count--;
    core_stats.queues_closed++;
    /* The FIFO always has room: it held every qd once. */
    (void)fifo_push(qd);
}

uint64_t queue_open_count(void)
{
    return open_count;
}

void queue_foreach(void (*fn)(struct demi_queue *q, void *arg), void *arg)
{
    for (uint32_t i = 0; i < table_len; i++)
        if (table[i])
            fn(table[i], arg);
}

void queue_table_reset(void)
{
    for (uint32_t i = 0; i < table_len; i++)
        free(table[i]);
    free(table);
    free(fifo);
    table = NULL;
    fifo = NULL;
    table_len = fifo_head = fifo_count = fifo_cap = 0;
    open_count = 0;
}
