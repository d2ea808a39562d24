/*
 * The queue-descriptor table (private to libdemi). A qd is a small
 * non-negative integer; freed qds are reused in FIFO order, so a stale qd
 * does not name a new queue right away.
 */
#ifndef DEMI_CORE_QUEUE_H_
#define DEMI_CORE_QUEUE_H_

#include <stdint.h>

#include "op.h"

enum queue_kind { QK_TCP = 1, QK_UDP = 2, QK_PIPE = 3 };

struct queue_stats {
    uint64_t pushes;        /* push/pushto operations started */
    uint64_t pops;          /* pop operations started */
    uint64_t push_bytes;    /* bytes in completed pushes */
    uint64_t pop_bytes;     /* bytes in completed pops */
    uint64_t accepts;       /* completed accepts */
    uint64_t failed;        /* operations completed with DEMI_OPC_FAILED */
};

struct demi_queue {
    int qd;
    int kind;                   /* enum queue_kind */
    void *priv;                 /* the libOS's per-queue state */
    struct op_list pending;     /* ops started on this queue, not yet completed */
    struct queue_stats stats;
};

/* Allocates a queue of the given kind. Returns NULL with errno EMFILE when
 * DEMI_MAX_QUEUES are open, ENOMEM when out of memory. */
struct demi_queue *queue_alloc(int kind);

/* The open queue qd, or NULL. */
struct demi_queue *queue_get(int qd);

/* Frees q's slot; its qd may be reused later. q must have no pending ops. */
void queue_free(struct demi_queue *q);

/* Number of open queues. */
uint64_t queue_open_count(void);

/* Calls fn on every open queue (at shutdown). fn may free the queue. */
void queue_foreach(void (*fn)(struct demi_queue *q, void *arg), void *arg);

/* Frees the table (at shutdown). */
void queue_table_reset(void);

#endif /* DEMI_CORE_QUEUE_H_ */
