/*
 * The posix libOS: the Demikernel queue API over non-blocking Linux kernel
 * sockets and one edge-triggered epoll instance (private to libdemi).
 *
 * Files: posix.c (ops table, init/fini, socket/bind/listen/close, the poll
 * loop), posix_tcp.c (accept, connect, stream push/pop), posix_udp.c
 * (datagram push/pop), posix_rx.c (receive buffers, push iovecs),
 * posix_opts.c (socket options, names), posix_counters.c.
 *
 * Model: every socket is registered once in epoll (EPOLLET, EPOLLIN |
 * EPOLLOUT | EPOLLRDHUP | EPOLLPRI) with its struct posix_queue in epoll_data. Each
 * queue remembers whether it was last seen readable / writable; a flag is
 * cleared only after the kernel said EAGAIN (or a short read / partial
 * write, which proves the buffer was drained / filled, except that a TCP
 * read also stops short before a FIN, an error or an urgent mark: see
 * rd_stops), so the next edge is guaranteed to come. An operation is tried at once when nothing is queued
 * ahead of it and the flag allows; otherwise it waits in a FIFO (linked by
 * op->lentry) that the next event of the queue progresses.
 *
 * Error rule: a request that is invalid in the queue's state (ENOTCONN,
 * EINVAL, EMSGSIZE, EDESTADDRREQ, EALREADY, EISCONN...) is returned by the
 * call itself and starts nothing; a failure of the I/O (ECONNREFUSED,
 * ECONNRESET, EPIPE, ENETUNREACH...) completes the operation with
 * DEMI_OPC_FAILED.
 */
#ifndef DEMI_LIBOS_POSIX_POSIX_H_
#define DEMI_LIBOS_POSIX_POSIX_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "buf.h"
#include "libos_ops.h"
#include "op.h"
#include "queue.h"

extern const struct demi_libos_ops posix_libos_ops;

#define POSIX_SMALL_RX 2048u           /* first receive buffer: a fresh struct buf */
#define POSIX_UDP_MAX_PAYLOAD 65507u   /* 65535 - IPv4 header - UDP header */
#define POSIX_UDP_RX_MAX 65535u        /* receive room for any IPv4 datagram */
#define POSIX_POP_SIZE_MAX (64u << 20) /* largest DEMI_POSIX_POP_SIZE accepted */
#define POSIX_IOV_BATCH 64             /* iovecs per sendmsg (TCP gathers queued pushes) */
#define POSIX_MAX_EVENTS 256           /* epoll events harvested per poll */

/* Counters kept per queue and summed globally. X(field, "name"). */
#define POSIX_IO_COUNTERS(X)                                                                                           \
    X(events, "posix.events")                                                                                          \
    X(read_calls, "posix.read_calls")                                                                                  \
    X(write_calls, "posix.write_calls")                                                                                \
    X(rx_bytes, "posix.rx_bytes")                                                                                      \
    X(tx_bytes, "posix.tx_bytes")                                                                                      \
    X(eagain_reads, "posix.eagain_reads")                                                                              \
    X(eagain_writes, "posix.eagain_writes")                                                                            \
    X(short_reads, "posix.short_reads")                                                                                \
    X(partial_writes, "posix.partial_writes")                                                                          \
    X(pop_copies, "posix.pop_copies")                                                                                  \
    X(io_errors, "posix.io_errors")

/* Counters kept only globally. */
#define POSIX_GLOBAL_COUNTERS(X)                                                                                       \
    X(syscalls, "posix.syscalls")                                                                                      \
    X(epoll_waits, "posix.epoll_waits")                                                                                \
    X(epoll_blocks, "posix.epoll_blocks")                                                                              \
    X(eintr, "posix.eintr")                                                                                            \
    X(sockets, "posix.sockets")                                                                                        \
    X(accepts, "posix.accepts")                                                                                        \
    X(accept_retries, "posix.accept_retries")                                                                          \
    X(accept_failures, "posix.accept_failures")                                                                        \
    X(connects, "posix.connects")                                                                                      \
    X(connect_failures, "posix.connect_failures")

#define POSIX_FIELD(f, name) uint64_t f;
struct posix_io_stats {
    POSIX_IO_COUNTERS(POSIX_FIELD)
};
struct posix_global_stats {
    POSIX_GLOBAL_COUNTERS(POSIX_FIELD)
};
#undef POSIX_FIELD

/* Per-queue state, in demi_queue.priv. */
struct posix_queue {
    struct demi_queue *q;
    int fd;
    int kind;                       /* QK_TCP or QK_UDP */
    bool readable;                  /* last seen readable (cleared on EAGAIN / short read) */
    bool writable;                  /* last seen writable (cleared on EAGAIN / partial write) */
    bool listening;
    bool connected;                 /* TCP: established (connect or accept); UDP: has a peer */
    bool rd_stops;                  /* TCP: the peer's FIN, an error or urgent data was seen: a
                                       read may stop short before them, so until EAGAIN a short
                                       read no longer proves the receive queue empty */
    bool rd_eof;                    /* TCP: peer closed; every later pop completes empty */
    int rd_err;                     /* TCP: receive failed; every later pop fails with it */
    struct demi_op *connect_op;     /* TCP connect in progress */
    struct op_list accepts;         /* FIFOs linked by op->lentry */
    struct op_list pushes;
    struct op_list pops;
    uint32_t naccepts, npushes, npops;
    struct posix_io_stats stats;
    TAILQ_ENTRY(posix_queue) link;  /* posix_state.queues */
};

TAILQ_HEAD(posix_queue_list, posix_queue);

/* The libOS instance (one per process; libdemi runs one libOS per thread). */
struct posix_state {
    bool initialized;
    int epfd;
    uint32_t pop_size;              /* DEMI_POSIX_POP_SIZE */
    uint8_t *scratch;               /* receive overflow area behind the small buffer */
    size_t scratch_len;
    struct posix_queue_list queues;
    uint64_t nqueues;               /* open sockets */
    struct posix_io_stats io;       /* sums of the per-queue counters */
    struct posix_global_stats g;
    struct epoll_event events[POSIX_MAX_EVENTS];
};

extern struct posix_state posix;

/* Adds n to an I/O counter of pq and to its global sum. */
#define POSIX_COUNT(pq, field, n)                                                                                      \
    do {                                                                                                               \
        (pq)->stats.field += (n);                                                                                      \
        posix.io.field += (n);                                                                                         \
    } while (0)

/* posix.c */
/* Wraps fd (non-blocking, already created) in a new posix_queue attached to
 * q and registered in epoll. Returns 0, or ENOMEM / the epoll_ctl errno (fd
 * is left open for the caller to close). */
int posix_queue_attach(struct demi_queue *q, int fd, int kind);
/* Removes every op of list (linked by lentry), failing each with err;
 * *count is reset. Returns how many it failed. */
int posix_fail_all(struct op_list *list, uint32_t *count, int err);
/* Unlinks and returns the first op of list, or NULL. */
struct demi_op *posix_list_pop(struct op_list *list, uint32_t *count);

/* posix_tcp.c */
int posix_tcp_accept(struct posix_queue *pq, struct demi_op *op);
int posix_tcp_connect(struct posix_queue *pq, struct demi_op *op);
int posix_tcp_push(struct posix_queue *pq, struct demi_op *op);
int posix_tcp_pop(struct posix_queue *pq, struct demi_op *op);
/* Handles epoll events ev of a TCP queue; returns ops completed. */
int posix_tcp_on_event(struct posix_queue *pq, uint32_t ev);

/* posix_udp.c */
int posix_udp_connect(struct posix_queue *pq, struct demi_op *op);
int posix_udp_push(struct posix_queue *pq, struct demi_op *op);
int posix_udp_pop(struct posix_queue *pq, struct demi_op *op);
int posix_udp_on_event(struct posix_queue *pq, uint32_t ev);

/* posix_rx.c */
/* Prepares iov[0..1] to receive up to limit bytes: iov[0] is a small
 * buffer (returned in *small), iov[1] the scratch area. Returns the number
 * of iovecs (1 or 2), or 0 with errno ENOMEM. */
int posix_rx_prepare(struct iovec iov[2], size_t limit, struct buf **small);
/* Turns n received bytes into one buffer of exactly n bytes: the small
 * buffer itself when they fit, else a new buffer with a copy (the small one
 * is released). Returns NULL (ENOMEM) on failure; small is released. */
struct buf *posix_rx_take(struct buf *small, size_t n);
/* Gives back a small buffer that received nothing. */
void posix_rx_unused(struct buf *small);
/* Fills up to max iovecs with op's payload after its first skip bytes and
 * adds their length to *bytes. Returns the number of iovecs filled. */
int posix_push_iov(const struct demi_op *op, uint64_t skip, struct iovec *iov, int max, size_t *bytes);
/* Releases the receive resources (at fini). */
void posix_rx_release(void);

/* posix_opts.c */
int posix_setsockopt(struct demi_queue *q, int level, int optname, const void *optval, socklen_t optlen);
int posix_getsockopt(struct demi_queue *q, int level, int optname, void *optval, socklen_t *optlen);
int posix_getpeername(struct demi_queue *q, struct sockaddr_in *out);
int posix_getsockname(struct demi_queue *q, struct sockaddr_in *out);

/* posix_counters.c */
size_t posix_counters(struct demi_queue *q, demi_counter_t *out, size_t cap);

#endif /* DEMI_LIBOS_POSIX_POSIX_H_ */
