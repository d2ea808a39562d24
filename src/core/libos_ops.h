/*
 * The socket-level interface every libOS implements (private to libdemi).
 *
 * Core validates arguments (qd exists, pointers non-NULL, address family)
 * and then calls into the one active libOS. Conventions:
 *  - every function returns 0 or a positive errno;
 *  - accept/connect/push/pop take a pending op; returning 0 means the libOS
 *    owns the op until it calls one op_complete_* / op_fail (it may do so
 *    before returning); returning an errno means the op was not started
 *    and core discards it;
 *  - close must finish (op_fail with ECANCELED or complete) every op of the
 *    queue it still holds, and release its per-queue state; core then frees
 *    the queue (and fails anything left as a safety net);
 *  - poll makes progress on every queue; when block_ns > 0 and nothing is
 *    ready it may sleep up to block_ns (epoll_wait, poll()); returns the
 *    number of completions/events it processed, or -errno.
 * Optional members may be NULL: core then returns ENOTSUP/EOPNOTSUPP.
 */
#ifndef DEMI_CORE_LIBOS_OPS_H_
#define DEMI_CORE_LIBOS_OPS_H_

#include <demi/stats.h>
#include <demi/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "op.h"
#include "queue.h"

struct demi_libos_ops {
    const char *name;
    int (*init)(const struct demi_args *args);
    void (*fini)(void);

    int (*socket)(struct demi_queue *q, int domain, int type, int protocol);
    int (*bind)(struct demi_queue *q, const struct sockaddr_in *addr);
    int (*listen)(struct demi_queue *q, int backlog);
    int (*accept)(struct demi_queue *q, struct demi_op *op);
    int (*connect)(struct demi_queue *q, struct demi_op *op); /* target in op->addr */
    int (*push)(struct demi_queue *q, struct demi_op *op);    /* op->bufs; op->addr if has_addr */
    int (*pop)(struct demi_queue *q, struct demi_op *op);
    int (*close)(struct demi_queue *q);

    int (*setsockopt)(struct demi_queue *q, int level, int optname, const void *optval, socklen_t optlen);
    int (*getsockopt)(struct demi_queue *q, int level, int optname, void *optval, socklen_t *optlen);
    int (*getpeername)(struct demi_queue *q, struct sockaddr_in *out);
    int (*getsockname)(struct demi_queue *q, struct sockaddr_in *out);

    int (*create_pipe)(struct demi_queue *q, const char *name);
    int (*open_pipe)(struct demi_queue *q, const char *name);

    int (*poll)(int64_t block_ns);

    /* True when the device's waits can block anyway (kernel sockets, a
     * pollable fd): a busy-poll that found nothing then yields the CPU (see
     * wait.c). False keeps the data path free of system calls (dpdk). */
    bool yield_when_idle;

    /* libOS counters of queue q (NULL: the libOS's global counters); copies
     * up to cap into out and returns how many it has in all. */
    size_t (*counters)(struct demi_queue *q, demi_counter_t *out, size_t cap);
};

/* Registry entry: ops is NULL when the libOS was left out of the build,
 * and missing then says why (e.g. "libdpdk-dev was not found at build time"). */
struct libos_entry {
    const char *name;
    const char *aliases;        /* space-separated Demikernel names */
    const struct demi_libos_ops *ops;
    const char *missing;
};

/* Finds a libOS by name or alias; NULL if unknown. */
const struct libos_entry *libos_find(const char *name);

/* The libOS in use, or NULL before demi_init. */
extern const struct demi_libos_ops *libos_active;

#endif /* DEMI_CORE_LIBOS_OPS_H_ */
