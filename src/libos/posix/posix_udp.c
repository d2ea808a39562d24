/*
 * UDP queues of the posix libOS: one datagram per push and per pop.
 *
 * A push is one sendmsg whose iovecs are the push's buffers, to op->addr
 * (pushto) or to the connected peer. A pop receives one whole datagram and
 * its sender; the receive room covers any IPv4 datagram (65535 bytes), and
 * MSG_TRUNC guards against a silent truncation all the same. Errors of one
 * datagram (ECONNREFUSED from an ICMP message, ENETUNREACH...) fail that
 * operation only.
 */
#include "posix.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* Connects the socket to op->addr (sets the default destination and
 * filters senders); completes the op at once. Returns 0, or a usage error
 * (EINVAL, EAFNOSUPPORT...); other connect errors fail the op. */
int posix_udp_connect(struct posix_queue *pq, struct demi_op *op)
{
    int err;

    posix.g.syscalls++;
    posix.g.connects++;
    if (connect(pq->fd, (const struct sockaddr *)&op->addr, sizeof(op->addr)) == 0) {
        pq->connected = true;
        op_complete_connect(op);
        return 0;
    }
    err = errno;
    if (err == EINVAL || err == EAFNOSUPPORT || err == EBADF || err == ENOTSOCK || err == EFAULT) {
        posix.g.connects--;
        return err;
    }
    posix.g.connect_failures++;
    op_fail(op, err);
    return 0;
}

/* Sends the first queued push. Returns 1 when that op was finished
 * (completed or failed), 0 on EAGAIN. */
static int push_one(struct posix_queue *pq)
{
    struct demi_op *op = TAILQ_FIRST(&pq->pushes);
    struct iovec iov[DEMI_SGARRAY_MAXSIZE];
    struct msghdr msg = {.msg_iov = iov};
    size_t bytes = 0;
    ssize_t n;

    msg.msg_iovlen = (size_t)posix_push_iov(op, 0, iov, DEMI_SGARRAY_MAXSIZE, &bytes);
    if (op->has_addr) {
        msg.msg_name = &op->addr;
        msg.msg_namelen = sizeof(op->addr);
    }
    do {
        posix.g.syscalls++;
        POSIX_COUNT(pq, write_calls, 1);
        n = sendmsg(pq->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR && ++posix.g.eintr);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        POSIX_COUNT(pq, eagain_writes, 1);
        pq->writable = false;
        return 0;
    }
    posix_list_pop(&pq->pushes, &pq->npushes);
    if (n < 0) {
        POSIX_COUNT(pq, io_errors, 1);
        op_fail(op, errno);
        return 1;
    }
    POSIX_COUNT(pq, tx_bytes, (uint64_t)n);
    op_complete_push(op);
    return 1;
}

static int push_progress(struct posix_queue *pq)
{
    int done = 0;

    while (!TAILQ_EMPTY(&pq->pushes) && pq->writable) {
        if (push_one(pq) == 0)
            break;
        done++;
    }
    return done;
}

/* Queues one datagram (sent at once when nothing is ahead of it). Returns
 * 0, EMSGSIZE (more than 65507 bytes), or EDESTADDRREQ (no address and no
 * connected peer). */
int posix_udp_push(struct posix_queue *pq, struct demi_op *op)
{
    bool first = TAILQ_EMPTY(&pq->pushes);

    if (op->total_len > POSIX_UDP_MAX_PAYLOAD)
        return EMSGSIZE;
    if (!op->has_addr && !pq->connected)
        return EDESTADDRREQ;
    TAILQ_INSERT_TAIL(&pq->pushes, op, lentry);
    pq->npushes++;
    if (first && pq->writable)
        push_progress(pq);
    return 0;
}

/* Receives one datagram for the first queued pop. Returns 1 when that op
 * was finished, 0 on EAGAIN. */
static int pop_one(struct posix_queue *pq)
{
    struct sockaddr_in from;
    struct iovec iov[2];
    struct msghdr msg = {.msg_iov = iov};
    struct buf *small, *b;
    struct demi_op *op;
    int niov, err;
    ssize_t n;

    niov = posix_rx_prepare(iov, POSIX_UDP_RX_MAX, &small);
    if (niov == 0) {
        err = ENOMEM;
        goto fail_op;
    }
    msg.msg_iovlen = (size_t)niov;
    do {
        memset(&from, 0, sizeof(from));
        msg.msg_name = &from;
        msg.msg_namelen = sizeof(from);
        msg.msg_flags = 0;
        posix.g.syscalls++;
        POSIX_COUNT(pq, read_calls, 1);
        n = recvmsg(pq->fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR && ++posix.g.eintr);
    if (n < 0) {
        err = errno;
        posix_rx_unused(small);
        if (err == EAGAIN || err == EWOULDBLOCK) {
            POSIX_COUNT(pq, eagain_reads, 1);
            pq->readable = false;
            return 0;
        }
        POSIX_COUNT(pq, io_errors, 1);
        goto fail_op;
    }
    if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > POSIX_UDP_RX_MAX) {
        posix_rx_unused(small);
        err = EMSGSIZE;
        goto fail_op;
    }
    POSIX_COUNT(pq, rx_bytes, (uint64_t)n);
    if ((size_t)n > POSIX_SMALL_RX)
        POSIX_COUNT(pq, pop_copies, 1);
    b = posix_rx_take(small, (size_t)n);
    if (!b) {
        err = ENOMEM;
        goto fail_op;
    }
    op = posix_list_pop(&pq->pops, &pq->npops);
    op_complete_pop(op, &b, 1, &from);
    return 1;
fail_op:
    op = posix_list_pop(&pq->pops, &pq->npops);
    op_fail(op, err);
    return 1;
}

static int pop_progress(struct posix_queue *pq)
{
    int done = 0;

    while (!TAILQ_EMPTY(&pq->pops) && pq->readable) {
        if (pop_one(pq) == 0)
            break;
        done++;
    }
    return done;
}

/* Queues a pop (tried at once when nothing is ahead of it). Returns 0. */
int posix_udp_pop(struct posix_queue *pq, struct demi_op *op)
{
    bool first = TAILQ_EMPTY(&pq->pops);

    TAILQ_INSERT_TAIL(&pq->pops, op, lentry);
    pq->npops++;
    if (first && pq->readable)
        pop_progress(pq);
    return 0;
}

int posix_udp_on_event(struct posix_queue *pq, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLERR))
        pq->readable = true;
    if (ev & (EPOLLOUT | EPOLLERR))
        pq->writable = true;
    return push_progress(pq) + pop_progress(pq);
}
