/*
 * The wait family: demi_wait, demi_wait_any, demi_wait_next_n.
 *
 * Each wait polls the libOS until its condition holds or the timeout
 * passes. It busy-polls for DEMI_SPIN_US first (lowest latency), then lets
 * the libOS block (epoll_wait, poll()) until the next timer or the deadline,
 * so an idle application does not burn a core.
 */
#include <demi/wait.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>

#include "api_internal.h"
#include "clock.h"
#include "libos_ops.h"
#include "op.h"
#include "runtime.h"
#include "stats.h"
#include "timer.h"

#define MAX_BLOCK_NS (1000 * NS_PER_MS)

int runtime_poll(int64_t block_ns)
{
    uint64_t now = clock_now_ns();
    uint64_t next;

    timers_run(now);
    if (block_ns > 0) {
        next = timers_next_deadline();
        if (next != UINT64_MAX)
            block_ns = next <= now ? 0 : (next - now < (uint64_t)block_ns ? (int64_t)(next - now) : block_ns);
    }
    core_stats.polls++;
    if (block_ns > 0)
        core_stats.blocks++;
    return libos_active->poll(block_ns);
}

typedef bool (*ready_fn)(const void *arg);

/* Returns 0, EINVAL for a malformed timespec. */
static int timeout_ns(const struct timespec *timeout, uint64_t *out)
{
    if (!timeout) {
        *out = UINT64_MAX;
        return 0;
    }
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= (long)NS_PER_SEC)
        return EINVAL;
    if ((uint64_t)timeout->tv_sec > (UINT64_MAX - NS_PER_SEC) / NS_PER_SEC)
        *out = UINT64_MAX;
    else
        *out = timespec_to_ns(timeout);
    return 0;
}

/* Polls until ready(arg) holds; returns 0 or ETIMEDOUT. */
static int wait_until(ready_fn ready, const void *arg, uint64_t tmo_ns)
{
    uint64_t start, now, deadline;

    core_stats.waits++;
    if (ready(arg))
        return 0;
    start = now = clock_now_ns();
    deadline = tmo_ns == UINT64_MAX || tmo_ns > UINT64_MAX - start ? UINT64_MAX : start + tmo_ns;
    for (;;) {
        int64_t block = 0;

        if (tmo_ns != 0 && runtime_cfg.spin_ns >= 0 && now - start >= (uint64_t)runtime_cfg.spin_ns) {
            uint64_t left = deadline == UINT64_MAX ? MAX_BLOCK_NS : deadline - now;
            block = (int64_t)(left < MAX_BLOCK_NS ? left : MAX_BLOCK_NS);
        }
        if (runtime_poll(block) == 0 && block == 0 && libos_active->yield_when_idle) {
            /* A woken process is usually queued on its waker's CPU: without
             * this, two ends that both spin before blocking each wait for
             * the other's whole spin (DEMI_SPIN_US) on every round trip. */
            core_stats.yields++;
            sched_yield();
        }
        if (ready(arg))
            return 0;
        if (tmo_ns == 0)
            break;
        now = clock_now_ns();
        if (now >= deadline)
            break;
    }
    core_stats.wait_timeouts++;
    return ETIMEDOUT;
}

static bool token_done(const void *arg)
{
    const struct demi_op *op = arg;
    return op->state == OP_DONE;
}

DEMI_EXPORT int demi_wait(demi_qresult_t *qr_out, demi_qtoken_t qt, const struct timespec *timeout)
{
    struct demi_op *op;
    uint64_t tmo;
    int err;

    if (!runtime_initialized)
        return EPERM;
    if (!qr_out)
        return EINVAL;
    if ((err = timeout_ns(timeout, &tmo)) != 0)
        return err;
    op = op_lookup(qt);
    if (!op)
        return EINVAL;
    err = wait_until(token_done, op, tmo);
    if (err)
        return err;
    op_consume(op, qr_out);
    return 0;
}

struct any_arg {
    const demi_qtoken_t *qts;
    int n;
    int found;
};

static bool any_done(const void *arg)
{
    struct any_arg *a = (struct any_arg *)arg;

    for (int i = 0; i < a->n; i++) {
        struct demi_op *op = op_lookup(a->qts[i]);
        if (op && op->state == OP_DONE) {
            a->found = i;
            return true;
        }
    }
    return false;
}

DEMI_EXPORT int demi_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
                              const struct timespec *timeout)
{
    struct any_arg a = {qts, num_qts, -1};
    uint64_t tmo;
    int err;

    if (!runtime_initialized)
        return EPERM;
    if (!qr_out || !ready_offset || !qts || num_qts <= 0)
        return EINVAL;
    if ((err = timeout_ns(timeout, &tmo)) != 0)
        return err;
    for (int i = 0; i < num_qts; i++)
        if (!op_lookup(qts[i]))
            return EINVAL;
    err = wait_until(any_done, &a, tmo);
    if (err)
        return err;
    op_consume(op_lookup(qts[a.found]), qr_out);
    *ready_offset = a.found;
    return 0;
}

static bool some_done(const void *arg)
{
    (void)arg;
    return op_first_done() != NULL;
}

DEMI_EXPORT int demi_wait_next_n(demi_qresult_t *qr_out, int qr_out_size, int *qr_written,
                                 const struct timespec *timeout)
{
    struct demi_op *op;
    uint64_t tmo;
    int err, n = 0;

    if (!runtime_initialized)
        return EPERM;
    if (!qr_out || !qr_written || qr_out_size <= 0)
        return EINVAL;
    *qr_written = 0;
    if ((err = timeout_ns(timeout, &tmo)) != 0)
        return err;
    err = wait_until(some_done, NULL, tmo);
    if (err)
        return err;
    while (n < qr_out_size && (op = op_first_done()) != NULL)
        op_consume(op, &qr_out[n++]);
    *qr_written = n;
    return 0;
}
