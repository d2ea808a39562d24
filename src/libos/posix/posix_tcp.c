/*
 * TCP queues of the posix libOS: accept, connect, push and pop over a
 * non-blocking kernel stream socket.
 *
 * Each kind of operation has a FIFO in the posix_queue. A new operation is
 * tried at once when its FIFO was empty (and, for push/pop, the socket was
 * last seen ready); posix_tcp_on_event drives the FIFOs on epoll events.
 * Pushes are written straight from their buffers, several queued pushes per
 * sendmsg; a push completes only when all its bytes are in the kernel.
 * A pop returns what is available, up to DEMI_POSIX_POP_SIZE, as one
 * buffer; after end of stream every pop completes with zero bytes, after a
 * receive error every pop fails with it.
 */
#include "posix.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------ accept -- */

/* accept4 errors that mean "this connection died in the backlog, try the
 * next one" (see accept(2)). */
static bool accept_error_is_transient(int err)
{
    switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM:
        return true;
    default:
        return false;
    }
}

/* Accepts one connection for the first queued accept. Returns 1 when that
 * op was finished (completed or failed: EMFILE, ENFILE, ENOBUFS, ENOMEM,
 * or queue_alloc's EMFILE), 0 when no connection is waiting. */
static int accept_one(struct posix_queue *pq)
{
    struct sockaddr_in peer;
    socklen_t len;
    struct demi_queue *newq;
    struct demi_op *op;
    int fd, err;

    for (;;) {
        len = sizeof(peer);
        posix.g.syscalls++;
        fd = accept4(pq->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            break;
        err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            pq->readable = false;
            POSIX_COUNT(pq, eagain_reads, 1);
            return 0;
        }
        if (err == EINTR) {
            posix.g.eintr++;
            continue;
        }
        if (accept_error_is_transient(err)) {
            posix.g.accept_retries++;
            continue;
        }
        goto fail;
    }
    newq = queue_alloc(QK_TCP);
    if (!newq) {
        err = errno ? errno : ENOMEM;
        goto fail_fd;
    }
    err = posix_queue_attach(newq, fd, QK_TCP);
    if (err) {
        queue_free(newq);
        goto fail_fd;
    }
    ((struct posix_queue *)newq->priv)->connected = true;
    ((struct posix_queue *)newq->priv)->readable = true;
    ((struct posix_queue *)newq->priv)->writable = true;
    posix.g.accepts++;
    op = posix_list_pop(&pq->accepts, &pq->naccepts);
    op_complete_accept(op, newq->qd, &peer);
    return 1;
fail_fd:
    close(fd);
fail:
    posix.g.accept_failures++;
    op = posix_list_pop(&pq->accepts, &pq->naccepts);
    op_fail(op, err);
    return 1;
}

/* Serves queued accepts while connections are waiting; returns how many
 * ops it finished. */
static int accept_progress(struct posix_queue *pq)
{
    int done = 0;

    while (!TAILQ_EMPTY(&pq->accepts) && pq->readable) {
        if (accept_one(pq) == 0)
            break;
        done++;
    }
    return done;
}

/* Queues an accept and tries it at once when it is the only one. Returns 0,
 * or EINVAL if the queue is not listening. */
int posix_tcp_accept(struct posix_queue *pq, struct demi_op *op)
{
    bool first = TAILQ_EMPTY(&pq->accepts);

    if (!pq->listening)
        return EINVAL;
    TAILQ_INSERT_TAIL(&pq->accepts, op, lentry);
    pq->naccepts++;
    if (first) {
        pq->readable = true;
        accept_progress(pq);
    }
    return 0;
}

/* ----------------------------------------------------------- connect -- */

/* connect(2) errors that mean the request itself was wrong in this state
 * (returned by demi_connect) rather than a failure to reach the peer. */
static bool connect_error_is_usage(int err)
{
    switch (err) {
    case EISCONN:
    case EALREADY:
    case EINVAL:
    case EAFNOSUPPORT:
    case EBADF:
    case ENOTSOCK:
    case EFAULT:
    case EPROTOTYPE:
    case EOPNOTSUPP:
        return true;
    default:
        return false;
    }
}

/* Fails a connect that did not go through, and everything queued behind
 * it. Returns the number of ops finished. */
static int connect_failed(struct posix_queue *pq, struct demi_op *op, int err)
{
    int done = 1;

    posix.g.connect_failures++;
    pq->connect_op = NULL;
    op_fail(op, err);
    done += posix_fail_all(&pq->pushes, &pq->npushes, err);
    done += posix_fail_all(&pq->pops, &pq->npops, err);
    return done;
}

/* Starts a non-blocking connect to op->addr. Returns 0 (the op completes
 * at once, later, or fails with ECONNREFUSED, ETIMEDOUT, ENETUNREACH...),
 * or EALREADY / EISCONN / EINVAL (listening) and other usage errors. */
int posix_tcp_connect(struct posix_queue *pq, struct demi_op *op)
{
    int err;

    if (pq->listening)
        return EINVAL;
    if (pq->connect_op)
        return EALREADY;
    if (pq->connected)
        return EISCONN;
    posix.g.syscalls++;
    posix.g.connects++;
    if (connect(pq->fd, (const struct sockaddr *)&op->addr, sizeof(op->addr)) == 0) {
        pq->connected = true;
        pq->writable = true;
        op_complete_connect(op);
        return 0;
    }
    err = errno;
    if (err == EINPROGRESS || err == EINTR) {
        pq->connect_op = op;
        pq->writable = false;
        return 0;
    }
    if (connect_error_is_usage(err)) {
        posix.g.connects--;
        return err;
    }
    posix.g.connect_failures++;
    op_fail(op, err);
    return 0;
}

/* Finishes a connect in progress on an event: fails it with SO_ERROR, or
 * completes it once the socket is writable. Returns ops finished. */
static int connect_progress(struct posix_queue *pq, uint32_t ev)
{
    struct demi_op *op = pq->connect_op;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    posix.g.syscalls++;
    if (getsockopt(pq->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr)
        return connect_failed(pq, op, soerr);
    if (!(ev & EPOLLOUT))
        return 0;
    pq->connect_op = NULL;
    pq->connected = true;
    op_complete_connect(op);
    return 1;
}

/* -------------------------------------------------------------- push -- */

/* Completes the pushes covered by n more bytes written. Returns how many. */
static int push_account(struct posix_queue *pq, size_t n)
{
    struct demi_op *op;
    int done = 0;

    while ((op = TAILQ_FIRST(&pq->pushes)) != NULL && n >= op->total_len - op->done_len) {
        n -= op->total_len - op->done_len;
        op->done_len = op->total_len;
        posix_list_pop(&pq->pushes, &pq->npushes);
        op_complete_push(op);
        done++;
    }
    if (op)
        op->done_len += n;
    return done;
}

/* Writes queued pushes while the socket takes them. A write error (EPIPE,
 * ECONNRESET...) fails every queued push. Returns ops finished. */
static int push_progress(struct posix_queue *pq)
{
    int done = 0;

    while (!TAILQ_EMPTY(&pq->pushes) && pq->writable) {
        struct iovec iov[POSIX_IOV_BATCH];
        struct msghdr msg = {.msg_iov = iov};
        struct demi_op *op;
        size_t want = 0;
        int niov = 0;
        ssize_t n;

        TAILQ_FOREACH(op, &pq->pushes, lentry) {
            niov += posix_push_iov(op, op->done_len, iov + niov, POSIX_IOV_BATCH - niov, &want);
            if (niov == POSIX_IOV_BATCH)
                break;
        }
        if (want == 0) {        /* only empty pushes: nothing to write */
            done += push_account(pq, 0);
            continue;
        }
        msg.msg_iovlen = (size_t)niov;
        posix.g.syscalls++;
        POSIX_COUNT(pq, write_calls, 1);
        n = sendmsg(pq->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            int err = errno;
            if (err == EINTR) {
                posix.g.eintr++;
                continue;
            }
            if (err == EAGAIN || err == EWOULDBLOCK) {
                POSIX_COUNT(pq, eagain_writes, 1);
                pq->writable = false;
                break;
            }
            POSIX_COUNT(pq, io_errors, 1);
            done += posix_fail_all(&pq->pushes, &pq->npushes, err);
            break;
        }
        POSIX_COUNT(pq, tx_bytes, (uint64_t)n);
        if ((size_t)n < want) {
            /* The send buffer is full: EPOLLOUT will say when it drains. */
            POSIX_COUNT(pq, partial_writes, 1);
            pq->writable = false;
        }
        done += push_account(pq, (size_t)n);
    }
    return done;
}

/* Queues a push (tried at once when nothing is ahead of it). Returns 0, or
 * ENOTCONN when the queue is neither connected nor connecting. */
int posix_tcp_push(struct posix_queue *pq, struct demi_op *op)
{
    bool first = TAILQ_EMPTY(&pq->pushes);

    if (!pq->connected && !pq->connect_op)
        return ENOTCONN;
    TAILQ_INSERT_TAIL(&pq->pushes, op, lentry);
    pq->npushes++;
    if (first && pq->connected && pq->writable)
        push_progress(pq);
    return 0;
}

/* --------------------------------------------------------------- pop -- */

/* Reads once for the first queued pop. Returns 1 when it finished the op,
 * 0 when the socket had nothing (EAGAIN). */
static int pop_read(struct posix_queue *pq)
{
    struct iovec iov[2];
    struct buf *small, *b;
    struct demi_op *op;
    int niov, err;
    ssize_t n;

    niov = posix_rx_prepare(iov, posix.pop_size, &small);
    if (niov == 0) {
        err = ENOMEM;       /* nothing was read: the stream is intact */
        goto fail_op;
    }
    do {
        posix.g.syscalls++;
        POSIX_COUNT(pq, read_calls, 1);
        n = readv(pq->fd, iov, niov);
    } while (n < 0 && errno == EINTR && ++posix.g.eintr);
    if (n < 0) {
        err = errno;
        posix_rx_unused(small);
        if (err == EAGAIN || err == EWOULDBLOCK) {
            POSIX_COUNT(pq, eagain_reads, 1);
            pq->readable = false;
            pq->rd_stops = false;
            return 0;
        }
        POSIX_COUNT(pq, io_errors, 1);
        pq->rd_err = err;
        goto fail_op;
    }
    op = posix_list_pop(&pq->pops, &pq->npops);
    if (n == 0) {
        posix_rx_unused(small);
        pq->rd_eof = true;
        op_complete_pop(op, &small, 0, NULL);
        return 1;
    }
    POSIX_COUNT(pq, rx_bytes, (uint64_t)n);
    if ((size_t)n < posix.pop_size) {
        /* Short read: the receive queue is empty and the next data will be
         * an edge, unless the read stopped before a FIN, an error or an
         * urgent mark that are already there (rd_stops). */
        POSIX_COUNT(pq, short_reads, 1);
        if (!pq->rd_stops)
            pq->readable = false;
    }
    if ((size_t)n > POSIX_SMALL_RX)
        POSIX_COUNT(pq, pop_copies, 1);
    b = posix_rx_take(small, (size_t)n);
    if (!b) {
        pq->rd_err = ENOMEM;    /* bytes were lost: the stream is broken */
        op_fail(op, ENOMEM);
        return 1;
    }
    op_complete_pop(op, &b, 1, NULL);
    return 1;
fail_op:
    op = posix_list_pop(&pq->pops, &pq->npops);
    op_fail(op, err);
    return 1;
}

/* Serves queued pops: from the socket while it is readable, at once after
 * end of stream (empty) or a receive error (failed). Returns ops finished. */
static int pop_progress(struct posix_queue *pq)
{
    struct demi_op *op;
    int done = 0;

    while (!TAILQ_EMPTY(&pq->pops)) {
        if (pq->rd_err) {
            op = posix_list_pop(&pq->pops, &pq->npops);
            op_fail(op, pq->rd_err);
        } else if (pq->rd_eof) {
            op = posix_list_pop(&pq->pops, &pq->npops);
            op_complete_pop(op, &op->bufs[0], 0, NULL);
        } else if (!pq->readable || pop_read(pq) == 0) {
            break;
        }
        done++;
    }
    return done;
}

/* Queues a pop (tried at once when nothing is ahead of it). Returns 0, or
 * ENOTCONN when the queue is neither connected nor connecting. */
int posix_tcp_pop(struct posix_queue *pq, struct demi_op *op)
{
    bool first = TAILQ_EMPTY(&pq->pops);

    if (!pq->connected && !pq->connect_op)
        return ENOTCONN;
    TAILQ_INSERT_TAIL(&pq->pops, op, lentry);
    pq->npops++;
    if (first && pq->connected)
        pop_progress(pq);
    return 0;
}

/* ------------------------------------------------------------ events -- */

int posix_tcp_on_event(struct posix_queue *pq, uint32_t ev)
{
    int done = 0;

    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
        pq->readable = true;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
        pq->rd_stops = true;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        pq->writable = true;
    if (pq->listening)
        return accept_progress(pq);
    if (pq->connect_op)
        done += connect_progress(pq, ev);
    if (pq->connected) {
        done += push_progress(pq);
        done += pop_progress(pq);
    }
    return done;
}
