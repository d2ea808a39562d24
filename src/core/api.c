/*
 * The public demi_* control and data calls: argument checks, then one call
 * into the active libOS (libos_ops.h). The wait family is in wait.c, the
 * sga calls in sga_table.c.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/stats.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "buf.h"
#include "clock.h"
#include "demi_build_config.h"
#include "config.h"
#include "libos_ops.h"
#include "log.h"
#include "op.h"
#include "queue.h"
#include "runtime.h"
#include "sga_table.h"
#include "stats.h"
#include "timer.h"

bool runtime_initialized;
struct runtime_config runtime_cfg = {
    .spin_ns = 50 * 1000,
    .sga_segsize = 1 << 20,
    .sga_max = 1u << 30,
    .max_queues = 1 << 20,
    .max_ops = 1 << 22,
};

/* Reads the core's configuration; returns 0 or EINVAL (logged). */
static int read_core_config(void)
{
    int64_t spin_us, segsize, sga_max, max_queues, max_ops;

    if (config_get_int("DEMI_SPIN_US", &spin_us) || config_get_int("DEMI_SGA_SEGSIZE", &segsize) ||
        config_get_int("DEMI_SGA_MAX", &sga_max) || config_get_int("DEMI_MAX_QUEUES", &max_queues) ||
        config_get_int("DEMI_MAX_OPS", &max_ops))
        return EINVAL;
    if (segsize < 64 || segsize > (int64_t)UINT32_MAX - 4096 || sga_max < 1 ||
        sga_max > (int64_t)DEMI_SGARRAY_MAXSIZE * ((int64_t)UINT32_MAX - 4096) || max_queues < 1 ||
        max_queues > INT32_MAX || max_ops < 1 || max_ops > UINT32_MAX / 2) {
        log_err("DEMI_SGA_SEGSIZE, DEMI_SGA_MAX, DEMI_MAX_QUEUES or DEMI_MAX_OPS is out of range");
        return EINVAL;
    }
    runtime_cfg.spin_ns = spin_us < 0 ? -1 : spin_us * 1000;
    runtime_cfg.sga_segsize = (uint64_t)segsize;
    runtime_cfg.sga_max = (uint64_t)sga_max;
    runtime_cfg.max_queues = (uint64_t)max_queues;
    runtime_cfg.max_ops = (uint64_t)max_ops;
    return 0;
}

static void at_exit(void)
{
    demi_fini();
}

DEMI_EXPORT int demi_init(const struct demi_args *args)
{
    static bool atexit_done;
    const struct libos_entry *entry;
    const char *name;
    int err;

    if (runtime_initialized)
        return EEXIST;
    if (args && args->argc < 0)
        return EINVAL;
    if (log_set_level_name(config_get("DEMI_LOG")) != 0)
        log_warn("DEMI_LOG=%s is not one of error, warn, info, debug; using warn", config_get("DEMI_LOG"));
    if ((err = config_load()) != 0)
        return err;
    /* The file may set DEMI_LOG too. */
    (void)log_set_level_name(config_get("DEMI_LOG"));
    if ((err = read_core_config()) != 0)
        goto err;
    name = config_get("DEMI_LIBOS");
    if (!getenv("DEMI_LIBOS") && getenv("LIBOS") && *getenv("LIBOS"))
        name = getenv("LIBOS");   /* Demikernel's variable */
    entry = libos_find(name);
    if (!entry) {
        log_err("DEMI_LIBOS=%s: unknown libOS (known: posix, afpacket, xdp, dpdk, rdma, shm)", name);
        err = EINVAL;
        goto err;
    }
    if (!entry->ops) {
        log_err("libOS %s is not available: %s", entry->name, entry->missing);
        err = ENOTSUP;
        goto err;
    }
    libos_active = entry->ops;
    err = libos_active->init(args);
    if (err) {
        log_err("libOS %s failed to start: %s", entry->name, strerror(err));
        libos_active = NULL;
        goto err;
    }
    runtime_initialized = true;
    if (!atexit_done) {
        atexit(at_exit);
        atexit_done = true;
    }
    log_info("libdemi %s started with the %s libOS", DEMI_VERSION_STRING, entry->name);
    return 0;
err:
    config_reset();
    return err;
}

/* Fails every op still pending on q (after the libOS's close). */
static void fail_pending(struct demi_queue *q, int err)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&q->pending)) != NULL)
        op_fail(op, err);
}

/* Closes q in the libOS and frees it; returns the libOS's close result. */
static int queue_close(struct demi_queue *q)
{
    int err = libos_active->close(q);

    fail_pending(q, ECANCELED);
    queue_free(q);
    return err;
}

static void close_one(struct demi_queue *q, void *arg)
{
    (void)arg;
    (void)queue_close(q);
}

DEMI_EXPORT int demi_fini(void)
{
    if (!runtime_initialized)
        return 0;
    queue_foreach(close_one, NULL);
    if (libos_active->fini)
        libos_active->fini();
    op_table_reset();
    sga_table_reset();
    queue_table_reset();
    timers_reset();
    buf_cache_drain();
    config_reset();
    libos_active = NULL;
    runtime_initialized = false;
    return 0;
}

/* Looks up qd for a call; sets *err to EPERM/EBADF when there is none. */
static struct demi_queue *get_queue(int qd, int *err)
{
    struct demi_queue *q;

    if (!runtime_initialized) {
        *err = EPERM;
        return NULL;
    }
    q = queue_get(qd);
    *err = q ? 0 : EBADF;
    return q;
}

/* Checks an IPv4 socket address argument; returns 0, EINVAL or EAFNOSUPPORT. */
static int check_addr(const struct sockaddr *addr, socklen_t size, struct sockaddr_in *out)
{
    if (!addr || size < sizeof(struct sockaddr_in))
        return EINVAL;
    if (addr->sa_family != AF_INET)
        return EAFNOSUPPORT;
    memcpy(out, addr, sizeof(*out));
    return 0;
}

DEMI_EXPORT int demi_socket(int *sockqd_out, int domain, int type, int protocol)
{
    struct demi_queue *q;
    int kind, err;

    if (!runtime_initialized)
        return EPERM;
    if (!sockqd_out)
        return EINVAL;
    if (domain != AF_INET)
        return EAFNOSUPPORT;
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (type == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP))
        kind = QK_TCP;
    else if (type == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))
        kind = QK_UDP;
    else if (type == SOCK_STREAM || type == SOCK_DGRAM)
        return EPROTONOSUPPORT;
    else
        return ESOCKTNOSUPPORT;
    q = queue_alloc(kind);
    if (!q)
        return errno;
    err = libos_active->socket(q, domain, type, protocol);
    if (err) {
        queue_free(q);
        return err;
    }
    *sockqd_out = q->qd;
    return 0;
}

DEMI_EXPORT int demi_bind(int sockqd, const struct sockaddr *addr, socklen_t size)
{
    struct sockaddr_in sin;
    int err;
    struct demi_queue *q = get_queue(sockqd, &err);

    if (!q)
        return err;
    if (q->kind == QK_PIPE)
        return ENOTSOCK;
    if ((err = check_addr(addr, size, &sin)) != 0)
        return err;
    return libos_active->bind(q, &sin);
}

DEMI_EXPORT int demi_listen(int sockqd, int backlog)
{
    int err;
    struct demi_queue *q = get_queue(sockqd, &err);

    if (!q)
        return err;
    if (q->kind != QK_TCP)
        return q->kind == QK_PIPE ? ENOTSOCK : EOPNOTSUPP;
    if (backlog < 0 || backlog > SOMAXCONN)
        backlog = SOMAXCONN;
    return libos_active->listen(q, backlog);
}

/* Starts an op of opcode on q through start(); returns 0 with *qt_out set,
 * or the errno of a start that failed synchronously. */
static int start_op(struct demi_queue *q, struct demi_op *op, demi_qtoken_t *qt_out,
                    int (*start)(struct demi_queue *, struct demi_op *))
{
    demi_qtoken_t qt = op->qt;
    int err = start(q, op);

    if (err) {
        op_discard(op);
        return err;
    }
    *qt_out = qt;
    return 0;
}

DEMI_EXPORT int demi_accept(demi_qtoken_t *qt_out, int sockqd)
{
    struct demi_op *op;
    int err;
    struct demi_queue *q = get_queue(sockqd, &err);

    if (!q)
        return err;
    if (!qt_out)
        return EINVAL;
    if (q->kind != QK_TCP)
        return q->kind == QK_PIPE ? ENOTSOCK : EOPNOTSUPP;
    if (!(op = op_alloc(q, DEMI_OPC_ACCEPT)))
        return errno;
    return start_op(q, op, qt_out, libos_active->accept);
}

DEMI_EXPORT int demi_connect(demi_qtoken_t *qt_out, int sockqd, const struct sockaddr *addr, socklen_t size)
{
    struct sockaddr_in sin;
    struct demi_op *op;
    int err;
    struct demi_queue *q = get_queue(sockqd, &err);

    if (!q)
        return err;
    if (!qt_out)
        return EINVAL;
    if (q->kind == QK_PIPE)
        return ENOTSOCK;
    if ((err = check_addr(addr, size, &sin)) != 0)
        return err;
    if (!(op = op_alloc(q, DEMI_OPC_CONNECT)))
        return errno;
    op->addr = sin;
    op->has_addr = true;
    return start_op(q, op, qt_out, libos_active->connect);
}

DEMI_EXPORT int demi_close(int qd)
{
    int err;
    struct demi_queue *q = get_queue(qd, &err);

    if (!q)
        return err;
    return queue_close(q);
}

/* Shared body of demi_push and demi_pushto (dest NULL for push). */
static int push_common(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga, const struct sockaddr_in *dest)
{
    struct demi_op *op;
    int err;
    struct demi_queue *q = get_queue(qd, &err);

    if (!q)
        return err;
    if (!qt_out || !sga)
        return EINVAL;
    if (!(op = op_alloc(q, DEMI_OPC_PUSH)))
        return errno;
    err = sga_take_bufs(sga, op->bufs, &op->nbufs, &op->total_len);
    if (err) {
        op_discard(op);
        return err;
    }
    /* Like sendto on a stream socket, a TCP pushto ignores the address. */
    if (dest && q->kind != QK_TCP) {
        op->addr = *dest;
        op->has_addr = true;
    }
    q->stats.pushes++;
    return start_op(q, op, qt_out, libos_active->push);
}

DEMI_EXPORT int demi_push(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga)
{
    return push_common(qt_out, qd, sga, NULL);
}

DEMI_EXPORT int demi_pushto(demi_qtoken_t *qt_out, int sockqd, const demi_sgarray_t *sga,
                            const struct sockaddr *dest_addr, socklen_t size)
{
    struct sockaddr_in sin;
    int err;

    if (!runtime_initialized)
        return EPERM;
    if (!queue_get(sockqd))
        return EBADF;
    if ((err = check_addr(dest_addr, size, &sin)) != 0)
        return err;
    return push_common(qt_out, sockqd, sga, &sin);
}

DEMI_EXPORT int demi_pop(demi_qtoken_t *qt_out, int qd)
{
    struct demi_op *op;
    int err;
    struct demi_queue *q = get_queue(qd, &err);

    if (!q)
        return err;
    if (!qt_out)
        return EINVAL;
    if (!(op = op_alloc(q, DEMI_OPC_POP)))
        return errno;
    q->stats.pops++;
    return start_op(q, op, qt_out, libos_active->pop);
}

DEMI_EXPORT int demi_setsockopt(int qd, int level, int optname, const void *optval, socklen_t optlen)
{
    int err;
    struct demi_queue *q = get_queue(qd, &err);

    if (!q)
        return err;
    if (!optval || optlen == 0)
        return EINVAL;
    if (q->kind == QK_PIPE)
        return ENOTSOCK;
    if (!libos_active->setsockopt)
        return ENOPROTOOPT;
    return libos_active->setsockopt(q, level, optname, optval, optlen);
}

DEMI_EXPORT int demi_getsockopt(int qd, int level, int optname, void *optval, socklen_t *optlen)
{
    int err;
    struct demi_queue *q = get_queue(qd, &err);

    if (!q)
        return err;
    if (!optval || !optlen || *optlen == 0)
        return EINVAL;
    if (q->kind == QK_PIPE)
        return ENOTSOCK;
    if (!libos_active->getsockopt)
        return ENOPROTOOPT;
    return libos_active->getsockopt(q, level, optname, optval, optlen);
}

/* Shared body of getpeername/getsockname: copies like Linux (truncating to
 * *addrlen and reporting the full size). */
static int name_common(int qd, struct sockaddr *addr, socklen_t *addrlen,
                       int (*get)(struct demi_queue *, struct sockaddr_in *))
{
    struct sockaddr_in sin;
    int err;
    struct demi_queue *q = get_queue(qd, &err);

    if (!q)
        return err;
    if (!addr || !addrlen)
        return EINVAL;
    if (q->kind == QK_PIPE)
        return ENOTSOCK;
    if (!get)
        return EOPNOTSUPP;
    memset(&sin, 0, sizeof(sin));
    if ((err = get(q, &sin)) != 0)
        return err;
    memcpy(addr, &sin, *addrlen < sizeof(sin) ? *addrlen : sizeof(sin));
    *addrlen = sizeof(sin);
    return 0;
}

DEMI_EXPORT int demi_getpeername(int qd, struct sockaddr *addr, socklen_t *addrlen)
{
    return name_common(qd, addr, addrlen, runtime_initialized ? libos_active->getpeername : NULL);
}

DEMI_EXPORT int demi_getsockname(int qd, struct sockaddr *addr, socklen_t *addrlen)
{
    return name_common(qd, addr, addrlen, runtime_initialized ? libos_active->getsockname : NULL);
}

/* Shared body of the pipe calls. */
static int pipe_common(int *memqd_out, const char *name, int (*fn)(struct demi_queue *, const char *))
{
    struct demi_queue *q;
    int err;

    if (!runtime_initialized)
        return EPERM;
    if (!memqd_out || !name || !*name)
        return EINVAL;
    if (!fn)
        return ENOTSUP;
    if (!(q = queue_alloc(QK_PIPE)))
        return errno;
    if ((err = fn(q, name)) != 0) {
        queue_free(q);
        return err;
    }
    *memqd_out = q->qd;
    return 0;
}

DEMI_EXPORT int demi_create_pipe(int *memqd_out, const char *name)
{
    return pipe_common(memqd_out, name, runtime_initialized ? libos_active->create_pipe : NULL);
}

DEMI_EXPORT int demi_open_pipe(int *memqd_out, const char *name)
{
    return pipe_common(memqd_out, name, runtime_initialized ? libos_active->open_pipe : NULL);
}

/* ---- counters ---- */

static void put(demi_counter_t *out, size_t cap, size_t *n, const char *name, uint64_t value)
{
    if (*n < cap) {
        out[*n].name = name;
        out[*n].value = value;
    }
    (*n)++;
}

DEMI_EXPORT int demi_getcounters(int qd, demi_counter_t *out, size_t cap, size_t *n_out)
{
    struct demi_queue *q = NULL;
    size_t n = 0;
    int err;

    if (!runtime_initialized)
        return EPERM;
    if (!n_out || (!out && cap > 0))
        return EINVAL;
    if (qd != -1 && !(q = get_queue(qd, &err)))
        return err;
    if (q) {
        put(out, cap, &n, "queue.pushes", q->stats.pushes);
        put(out, cap, &n, "queue.pops", q->stats.pops);
        put(out, cap, &n, "queue.push_bytes", q->stats.push_bytes);
        put(out, cap, &n, "queue.pop_bytes", q->stats.pop_bytes);
        put(out, cap, &n, "queue.accepts", q->stats.accepts);
        put(out, cap, &n, "queue.failed", q->stats.failed);
    } else {
        put(out, cap, &n, "core.ops_started", core_stats.ops_started);
        put(out, cap, &n, "core.ops_completed", core_stats.ops_completed);
        put(out, cap, &n, "core.ops_failed", core_stats.ops_failed);
        put(out, cap, &n, "core.ops_live", op_live_count());
        put(out, cap, &n, "core.waits", core_stats.waits);
        put(out, cap, &n, "core.wait_timeouts", core_stats.wait_timeouts);
        put(out, cap, &n, "core.polls", core_stats.polls);
        put(out, cap, &n, "core.blocking_polls", core_stats.blocks);
        put(out, cap, &n, "core.yields", core_stats.yields);
        put(out, cap, &n, "core.queues_opened", core_stats.queues_opened);
        put(out, cap, &n, "core.queues_closed", core_stats.queues_closed);
        put(out, cap, &n, "core.queues_open", queue_open_count());
        put(out, cap, &n, "core.sgas_live", sga_live_count());
        put(out, cap, &n, "core.bufs_live", buf_live_count());
    }
    if (libos_active->counters)
        n += libos_active->counters(q, n < cap ? out + n : NULL, n < cap ? cap - n : 0);
    *n_out = n;
    return 0;
}

DEMI_EXPORT int demi_getcounter(int qd, const char *name, uint64_t *value)
{
    demi_counter_t buf[512];
    size_t n;
    int err;

    if (!name || !value)
        return EINVAL;
    if ((err = demi_getcounters(qd, buf, 512, &n)) != 0)
        return err;
    for (size_t i = 0; i < n && i < 512; i++) {
        if (strcmp(buf[i].name, name) == 0) {
            *value = buf[i].value;
            return 0;
        }
    }
    return ENOENT;
}
