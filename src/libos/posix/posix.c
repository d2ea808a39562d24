/*
 * The posix libOS: ops table, init/fini, socket/bind/listen/close and the
 * epoll loop. Call order: init -> socket -> bind/listen/connect/accept ->
 * push/pop (tried at once, finished by poll) -> close -> fini.
 */
#include "posix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "demi_build_config.h"
#include "log.h"

struct posix_state posix = {.epfd = -1};

int posix_queue_attach(struct demi_queue *q, int fd, int kind)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET};
    struct posix_queue *pq = calloc(1, sizeof(*pq));

    if (!pq)
        return ENOMEM;
    pq->q = q;
    pq->fd = fd;
    pq->kind = kind;
    pq->writable = (kind == QK_UDP);
    TAILQ_INIT(&pq->accepts);
    TAILQ_INIT(&pq->pushes);
    TAILQ_INIT(&pq->pops);
    ev.data.ptr = pq;
    posix.g.syscalls++;
    if (epoll_ctl(posix.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int err = errno;
        free(pq);
        return err;
    }
    TAILQ_INSERT_TAIL(&posix.queues, pq, link);
    posix.nqueues++;
    q->priv = pq;
    posix.g.sockets++;
    return 0;
}

struct demi_op *posix_list_pop(struct op_list *list, uint32_t *count)
{
    struct demi_op *op = TAILQ_FIRST(list);

    if (op) {
        TAILQ_REMOVE(list, op, lentry);
        (*count)--;
    }
    return op;
}

int posix_fail_all(struct op_list *list, uint32_t *count, int err)
{
    struct demi_op *op;
    int n = 0;

    while ((op = posix_list_pop(list, count)) != NULL) {
        op_fail(op, err);
        n++;
    }
    return n;
}

/* Reads DEMI_POSIX_POP_SIZE; returns 0 or EINVAL (logged). */
static int read_config(void)
{
    int64_t v;

    if (config_get_int("DEMI_POSIX_POP_SIZE", &v) != 0)
        return EINVAL;
    if (v < 1 || v > (int64_t)POSIX_POP_SIZE_MAX) {
        log_err("posix: DEMI_POSIX_POP_SIZE=%lld is outside 1..%u", (long long)v, POSIX_POP_SIZE_MAX);
        return EINVAL;
    }
    posix.pop_size = (uint32_t)v;
    return 0;
}

/* Creates the epoll instance and the receive scratch area. Returns 0,
 * EEXIST if already initialized, EINVAL (bad configuration), or the errno of
 * epoll_create1 / ENOMEM. */
static int posix_init(const struct demi_args *args)
{
    size_t room;
    int err;

    (void)args;
    if (posix.initialized)
        return EEXIST;
    memset(&posix, 0, sizeof(posix));
    posix.epfd = -1;
    TAILQ_INIT(&posix.queues);
    err = read_config();
    if (err)
        goto err;
    room = posix.pop_size > POSIX_UDP_RX_MAX ? posix.pop_size : POSIX_UDP_RX_MAX;
    posix.scratch_len = room - POSIX_SMALL_RX;
    posix.scratch = malloc(posix.scratch_len);
    if (!posix.scratch) {
        err = ENOMEM;
        goto err;
    }
    posix.g.syscalls++;
    posix.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (posix.epfd < 0) {
        err = errno;
        log_err("posix: epoll_create1: %s", strerror(err));
        goto err;
    }
    posix.initialized = true;
    return 0;
err:
    free(posix.scratch);
    posix.scratch = NULL;
    return err;
}

/* Releases one queue's fd and state without touching its ops or its
 * demi_queue (used when they may be gone already). */
static void queue_drop(struct posix_queue *pq)
{
    TAILQ_REMOVE(&posix.queues, pq, link);
    posix.nqueues--;
    close(pq->fd);
    free(pq);
}

/* Core closes every queue before fini; whatever is left (a caller that
 * skipped that) is released without touching ops or queues. */
static void posix_fini(void)
{
    struct posix_queue *pq;

    if (!posix.initialized)
        return;
    while ((pq = TAILQ_FIRST(&posix.queues)) != NULL)
        queue_drop(pq);
    posix_rx_release();
    close(posix.epfd);
    posix.epfd = -1;
    posix.initialized = false;
}

/* Creates a non-blocking kernel socket for q. Returns 0, EAFNOSUPPORT,
 * ENOTSUP (type), EPROTONOSUPPORT (protocol), or the socket/epoll errno
 * (EMFILE, ENFILE, ENOMEM...). */
static int posix_socket(struct demi_queue *q, int domain, int type, int protocol)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    int kind, fd, err;

    if (domain != AF_INET)
        return EAFNOSUPPORT;
    if (base == SOCK_STREAM) {
        if (protocol != 0 && protocol != IPPROTO_TCP)
            return EPROTONOSUPPORT;
        kind = QK_TCP;
    } else if (base == SOCK_DGRAM) {
        if (protocol != 0 && protocol != IPPROTO_UDP)
            return EPROTONOSUPPORT;
        kind = QK_UDP;
    } else {
        return ENOTSUP;
    }
    posix.g.syscalls++;
    fd = socket(AF_INET, base | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return errno;
    err = posix_queue_attach(q, fd, kind);
    if (err) {
        close(fd);
        return err;
    }
    return 0;
}

static int posix_bind(struct demi_queue *q, const struct sockaddr_in *addr)
{
    struct posix_queue *pq = q->priv;

    posix.g.syscalls++;
    if (bind(pq->fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
        return errno;
    return 0;
}

/* Returns 0, EOPNOTSUPP on UDP, or listen's errno (EINVAL when connected,
 * EADDRINUSE when the automatic port is taken). */
static int posix_listen(struct demi_queue *q, int backlog)
{
    struct posix_queue *pq = q->priv;

    if (pq->kind != QK_TCP)
        return EOPNOTSUPP;
    if (pq->connected || pq->connect_op)
        return EINVAL;
    posix.g.syscalls++;
    if (listen(pq->fd, backlog) != 0)
        return errno;
    pq->listening = true;
    return 0;
}

static int posix_accept(struct demi_queue *q, struct demi_op *op)
{
    struct posix_queue *pq = q->priv;

    if (pq->kind != QK_TCP)
        return EOPNOTSUPP;
    return posix_tcp_accept(pq, op);
}

static int posix_connect(struct demi_queue *q, struct demi_op *op)
{
    struct posix_queue *pq = q->priv;

    return pq->kind == QK_TCP ? posix_tcp_connect(pq, op) : posix_udp_connect(pq, op);
}

static int posix_push(struct demi_queue *q, struct demi_op *op)
{
    struct posix_queue *pq = q->priv;

    return pq->kind == QK_TCP ? posix_tcp_push(pq, op) : posix_udp_push(pq, op);
}

static int posix_pop(struct demi_queue *q, struct demi_op *op)
{
    struct posix_queue *pq = q->priv;

    return pq->kind == QK_TCP ? posix_tcp_pop(pq, op) : posix_udp_pop(pq, op);
}

/* Closes the socket and fails every op still queued with ECANCELED.
 * Always returns 0. */
static int posix_close(struct demi_queue *q)
{
    struct posix_queue *pq = q->priv;

    if (!pq)
        return 0;
    posix.g.syscalls += 2;
    epoll_ctl(posix.epfd, EPOLL_CTL_DEL, pq->fd, NULL);
    if (pq->connect_op) {
        struct demi_op *op = pq->connect_op;
        pq->connect_op = NULL;
        op_fail(op, ECANCELED);
    }
    posix_fail_all(&pq->accepts, &pq->naccepts, ECANCELED);
    posix_fail_all(&pq->pushes, &pq->npushes, ECANCELED);
    posix_fail_all(&pq->pops, &pq->npops, ECANCELED);
    q->priv = NULL;
    queue_drop(pq);
    return 0;
}

/* Waits for events up to block_ns (0: do not wait). Returns the number of
 * ready fds (>= 0), or -errno; EINTR counts as 0 events. */
static int wait_events(int64_t block_ns)
{
    int n;

    posix.g.epoll_waits++;
    posix.g.syscalls++;
    if (block_ns <= 0) {
        n = epoll_wait(posix.epfd, posix.events, POSIX_MAX_EVENTS, 0);
    } else {
        posix.g.epoll_blocks++;
#if DEMI_HAVE_EPOLL_PWAIT2
        struct timespec ts = {.tv_sec = (time_t)(block_ns / 1000000000), .tv_nsec = (long)(block_ns % 1000000000)};
        n = epoll_pwait2(posix.epfd, posix.events, POSIX_MAX_EVENTS, &ts, NULL);
        if (n < 0 && errno == ENOSYS)
#endif
        {
            /* Whole milliseconds, rounded up so a short wait still sleeps. */
            int64_t ms = (block_ns + 999999) / 1000000;
            n = epoll_wait(posix.epfd, posix.events, POSIX_MAX_EVENTS, ms > 1000000000 ? 1000000000 : (int)ms);
        }
    }
    if (n < 0) {
        if (errno == EINTR) {
            posix.g.eintr++;
            return 0;
        }
        return -errno;
    }
    return n;
}

/* One round of progress: harvests epoll events (sleeping up to block_ns
 * when block_ns > 0 and nothing is ready) and moves the queued operations
 * of every ready queue. Returns the number of operations completed, or
 * -errno if epoll_wait failed. */
static int posix_poll(int64_t block_ns)
{
    int n = wait_events(block_ns);
    int done = 0;

    for (int i = 0; i < n; i++) {
        struct posix_queue *pq = posix.events[i].data.ptr;
        uint32_t ev = posix.events[i].events;

        POSIX_COUNT(pq, events, 1);
        if (pq->kind == QK_TCP)
            done += posix_tcp_on_event(pq, ev);
        else
            done += posix_udp_on_event(pq, ev);
    }
    return n < 0 ? n : done;
}

const struct demi_libos_ops posix_libos_ops = {
    .name = "posix",
    .init = posix_init,
    .fini = posix_fini,
    .socket = posix_socket,
    .bind = posix_bind,
    .listen = posix_listen,
    .accept = posix_accept,
    .connect = posix_connect,
    .push = posix_push,
    .pop = posix_pop,
    .close = posix_close,
    .setsockopt = posix_setsockopt,
    .getsockopt = posix_getsockopt,
    .getpeername = posix_getpeername,
    .getsockname = posix_getsockname,
    .create_pipe = NULL,
    .open_pipe = NULL,
    .poll = posix_poll,
    .yield_when_idle = true,
    .counters = posix_counters,
};
