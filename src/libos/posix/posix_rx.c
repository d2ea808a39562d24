/*
 * Buffers for the posix libOS's I/O.
 *
 * Receive: a read goes into [a small struct buf, the libOS's scratch area].
 * Most messages fit the small buffer, which is then handed out as is; a
 * larger one is copied into a buffer of its exact size and the small one
 * goes back to the buffer cache. So a pop holds no more memory than it
 * returns (small buffers come from core's bounded free list, no malloc).
 *
 * Send: a push's payload is handed to the kernel straight from its buffers
 * as iovecs (no copy).
 */
#include "posix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int posix_rx_prepare(struct iovec iov[2], size_t limit, struct buf **small)
{
    struct buf *b = buf_alloc(POSIX_SMALL_RX);
    size_t first;

    if (!b)
        return 0;
    first = limit < POSIX_SMALL_RX ? limit : POSIX_SMALL_RX;
    iov[0].iov_base = b->data;
    iov[0].iov_len = first;
    *small = b;
    if (limit <= first)
        return 1;
    iov[1].iov_base = posix.scratch;
    iov[1].iov_len = limit - first < posix.scratch_len ? limit - first : posix.scratch_len;
    return 2;
}

void posix_rx_unused(struct buf *small)
{
    buf_unref(small);
}

struct buf *posix_rx_take(struct buf *small, size_t n)
{
    struct buf *b;

    if (n <= POSIX_SMALL_RX) {
        buf_trim(small, small->len - n);
        return small;
    }
    b = buf_alloc_headroom(n, 0);
    if (!b) {
        posix_rx_unused(small);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(b->data, small->data, POSIX_SMALL_RX);
    memcpy(b->data + POSIX_SMALL_RX, posix.scratch, n - POSIX_SMALL_RX);
    posix_rx_unused(small);
    return b;
}

int posix_push_iov(const struct demi_op *op, uint64_t skip, struct iovec *iov, int max, size_t *bytes)
{
    int n = 0;

    for (uint32_t i = 0; i < op->nbufs && n < max; i++) {
        const struct buf *b = op->bufs[i];
        if (skip >= b->len) {
            skip -= b->len;
            continue;
        }
        iov[n].iov_base = b->data + skip;
        iov[n].iov_len = b->len - skip;
        *bytes += iov[n].iov_len;
        skip = 0;
        n++;
    }
    return n;
}

void posix_rx_release(void)
{
    free(posix.scratch);
    posix.scratch = NULL;
    posix.scratch_len = 0;
}
