/*
 * Refcounted I/O buffers with headroom (private to libdemi).
 *
 * A buffer is a header plus a window [data, data+len) into storage that
 * starts at base. Storage is one of:
 *   BUF_HEAP      malloc'd with the header, BUF_HEADROOM bytes reserved in
 *                 front of data so protocol layers can prepend headers
 *                 without copying (buf_prepend);
 *   BUF_EXT       owned by someone else (a DPDK mbuf, registered RDMA
 *                 memory); ext_release(b) is called when the last reference
 *                 goes;
 *   BUF_SLICE     a window into another buffer (parent), which the slice
 *                 holds a reference on. Slices never expose headroom.
 * Call order: buf_alloc / buf_ext_wrap / buf_slice -> buf_ref* -> buf_unref.
 * Not thread-safe: one libOS instance per thread.
 */
#ifndef DEMI_CORE_BUF_H_
#define DEMI_CORE_BUF_H_

#include <stddef.h>
#include <stdint.h>

#define BUF_HEADROOM 128u   /* room for Ethernet + IPv4 + TCP with options */

/* buf.flags bits set by netdevs with checksum offload. */
#define BUF_FLAG_L4_CSUM_OK 0x1     /* rx: the device verified the L4 checksum */
#define BUF_FLAG_IP_CSUM_OK 0x2     /* rx: the device verified the IPv4 header checksum */

enum buf_kind { BUF_HEAP = 0, BUF_EXT = 1, BUF_SLICE = 2 };

struct buf {
    uint8_t *data;          /* first valid byte */
    uint32_t len;           /* valid bytes */
    uint32_t refcnt;
    uint8_t *base;          /* start of storage */
    uint32_t cap;           /* bytes of storage from base */
    uint8_t kind;           /* enum buf_kind */
    uint8_t alloc_class;    /* private to buf.c: where the header came from */
    uint16_t flags;         /* free for the owner (e.g. netdev offload bits) */
    struct buf *parent;     /* BUF_SLICE: the buffer whose storage this is */
    void (*ext_release)(struct buf *b); /* BUF_EXT: frees the external storage */
    void *ext;              /* BUF_EXT: e.g. the rte_mbuf or the RDMA region */
    struct buf *next;       /* free link for whoever holds the buffer in a queue */
};

/* Returns a heap buffer with len valid bytes (uninitialised) and
 * BUF_HEADROOM bytes of headroom, refcnt 1; NULL (errno ENOMEM) on failure. */
struct buf *buf_alloc(size_t len);

/* Like buf_alloc with an explicit headroom. */
struct buf *buf_alloc_headroom(size_t len, size_t headroom);

/* Wraps external storage [data, data+len) in a buffer, refcnt 1. release is
 * called with the buffer when its last reference goes (may be NULL).
 * Returns NULL (ENOMEM) on failure. */
struct buf *buf_ext_wrap(void *data, size_t len, void (*release)(struct buf *), void *ext);

/* Returns a new buffer (refcnt 1) that is the window [off, off+len) of b's
 * valid data, sharing b's storage (no copy); NULL if the window is outside
 * b or on ENOMEM. */
struct buf *buf_slice(struct buf *b, size_t off, size_t len);

/* Returns a new heap buffer holding a copy of len bytes at src; NULL on ENOMEM. */
struct buf *buf_copy_from(const void *src, size_t len);

static inline struct buf *buf_ref(struct buf *b)
{
    b->refcnt++;
    return b;
}

/* Drops one reference; frees the buffer (and its parent's reference, or
 * calls ext_release) when it was the last. NULL is ignored. */
void buf_unref(struct buf *b);

/* Bytes available in front of data for buf_prepend (0 unless the buffer
 * is an unshared heap or external buffer). */
size_t buf_headroom(const struct buf *b);

/* Bytes available after data+len. */
size_t buf_tailroom(const struct buf *b);

/* Moves data back by n bytes and returns the new data pointer, or NULL if
 * there is not enough headroom or the storage is shared (refcnt > 1). */
uint8_t *buf_prepend(struct buf *b, size_t n);

/* Removes n bytes from the front; returns the new data pointer, or NULL
 * if n > len. */
uint8_t *buf_adj(struct buf *b, size_t n);

/* Removes n bytes from the end; returns 0, or -1 if n > len. */
int buf_trim(struct buf *b, size_t n);

/* Number of live buffer headers (allocated and not yet freed): tests use it
 * as a leak check. */
uint64_t buf_live_count(void);

/* Releases cached free headers (at demi shutdown and in tests). */
void buf_cache_drain(void);

#endif /* DEMI_CORE_BUF_H_ */
