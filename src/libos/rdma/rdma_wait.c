/*
 * Sleeping when idle: every CQ and EQ of the rdma libOS is opened with a
 * wait object (FI_WAIT_FD) whose fd (fi_control FI_GETWAIT) joins one epoll
 * set. A blocking poll that found nothing asks the providers with
 * fi_trywait whether it may sleep (they flush what they hold and arm their
 * fds); only then does it wait in epoll_pwait2 until an fd is ready or the
 * time is up. A queue whose provider has no wait object (shm) makes the
 * process nap instead: at most 1 ms at a time, growing with the idle time.
 *
 * Call order: rdma_wait_init -> rdma_wait_add (per CQ/EQ, with a tag) ->
 * rdma_wait_block (from the poll loop; reports the tags of the fds that
 * woke it) -> rdma_wait_del (before the fid is closed) -> rdma_wait_fini.
 *
 * epoll_pwait2 (Linux 5.11) sleeps to the nanosecond; where it is missing
 * (older kernels, valgrind) epoll_wait sleeps whole milliseconds, rounded up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rdma.h"

#define NAP_MIN_NS 20000ull
#define NAP_MAX_NS 1000000ull

struct wait_fid {
    struct fid *fid;
    struct fid_fabric *fabric;
};

static struct {
    int epfd;
    struct wait_fid *fids;
    uint32_t n, cap;
    uint32_t no_wait;           /* fids without a wait object */
    uint64_t idle_since;        /* start of the current run of naps */
    bool no_pwait2;             /* epoll_pwait2 is not there: epoll_wait */
} w = {.epfd = -1};

int rdma_wait_init(void)
{
    w.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w.epfd < 0)
        return errno;
    w.n = 0;
    w.no_wait = 0;
    w.idle_since = 0;
    return 0;
}

void rdma_wait_fini(void)
{
    if (w.epfd >= 0)
        close(w.epfd);
    w.epfd = -1;
    free(w.fids);
    w.fids = NULL;
    w.n = w.cap = 0;
    w.no_wait = 0;
}

/* Adds fid (a CQ or EQ opened with FI_WAIT_FD, on fabric) to the set;
 * rdma_wait_block reports tag when its fd wakes it (NULL: never reported).
 * *fd_out is its wait fd, or -1 when it has none (the process then naps
 * instead of sleeping). Returns 0 or ENOMEM. */
int rdma_wait_add(struct fid *fid, struct fid_fabric *fabric, void *tag, int *fd_out)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int fd = -1;

    *fd_out = -1;
    if (fi_control(fid, FI_GETWAIT, &fd) != 0 || fd < 0) {
        log_info("rdma: a %s has no wait fd: idle waits nap instead of sleeping",
                 fid->fclass == FI_CLASS_CQ ? "CQ" : fid->fclass == FI_CLASS_EQ ? "EQ" : "fid");
        w.no_wait++;
        return 0;
    }
    if (w.n == w.cap) {
        uint32_t cap = w.cap ? w.cap * 2 : 16;
        struct wait_fid *f = realloc(w.fids, cap * sizeof(*f));
        if (!f)
            return ENOMEM;
        w.fids = f;
        w.cap = cap;
    }
    ev.data.ptr = tag;
    if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_warn("rdma: epoll_ctl of a wait fd failed: %s", strerror(errno));
        w.no_wait++;
        return 0;
    }
    w.fids[w.n].fid = fid;
    w.fids[w.n].fabric = fabric;
    w.n++;
    *fd_out = fd;
    return 0;
}

/* Removes fid (fd from rdma_wait_add) before it is closed. */
void rdma_wait_del(struct fid *fid, int fd)
{
    if (fd < 0) {
        if (w.no_wait > 0)
            w.no_wait--;
        return;
    }
    epoll_ctl(w.epfd, EPOLL_CTL_DEL, fd, NULL);
    for (uint32_t i = 0; i < w.n; i++) {
        if (w.fids[i].fid == fid) {
            w.fids[i] = w.fids[--w.n];
            return;
        }
    }
}

/* Asks each fabric's provider whether the process may sleep. */
static bool may_sleep(void)
{
    struct fid *batch[64];
    uint32_t i = 0;

    while (i < w.n) {
        struct fid_fabric *fab = w.fids[i].fabric;
        int n = 0;

        /* fi_trywait takes the fids of one fabric; batch neighbours of the same one. */
        while (i < w.n && w.fids[i].fabric == fab && n < 64)
            batch[n++] = w.fids[i++].fid;
        if (fi_trywait(fab, batch, n) != 0)
            return false;
    }
    return true;
}

/* The poll loop found nothing to do and may block up to ns: sleeps until a
 * provider's fd is ready or the time is up (or naps, see above), and calls
 * ready(tag) for each tagged fd that woke it. Returns true when the time was
 * up (or it napped), false when an fd woke it or the providers had work. */
bool rdma_wait_block(uint64_t ns, void (*ready)(void *tag))
{
    struct epoll_event ev[8];
    struct timespec ts;
    int n;

    if (w.no_wait > 0 || w.epfd < 0) {
        uint64_t now = clock_now_ns(), nap;

        if (!w.idle_since)
            w.idle_since = now;
        nap = (now - w.idle_since) / 16;
        nap = nap < NAP_MIN_NS ? NAP_MIN_NS : nap > NAP_MAX_NS ? NAP_MAX_NS : nap;
        if (nap > ns)
            nap = ns;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)nap;
        nanosleep(&ts, NULL);
        return true;
    }
    if (!may_sleep())
        return false;
    n = -1;
    if (!w.no_pwait2) {
        ts.tv_sec = (time_t)(ns / NS_PER_SEC);
        ts.tv_nsec = (long)(ns % NS_PER_SEC);
        n = epoll_pwait2(w.epfd, ev, 8, &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            w.no_pwait2 = true;
    }
    if (w.no_pwait2) {
        uint64_t ms = (ns + NS_PER_MS - 1) / NS_PER_MS;
        n = epoll_wait(w.epfd, ev, 8, ms > INT32_MAX ? INT32_MAX : (int)ms);
    }
    for (int i = 0; i < n; i++)
        if (ev[i].data.ptr)
            ready(ev[i].data.ptr);
    return n == 0;
}

/* The poll loop did something: the next nap starts short again. */
void rdma_wait_busy(void)
{
    w.idle_since = 0;
}
