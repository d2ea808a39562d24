/*
 * Refcounted I/O buffers with headroom.
 *
 * Heap buffers are one allocation: header, headroom, data. Buffers whose
 * headroom + data fit BUF_SMALL_CAP come from a bounded free list so the
 * common small message costs no malloc; slice and external headers come
 * from another free list.
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUF_SMALL_CAP 2176u     /* headroom + 2048 */
#define BUF_CACHE_MAX 4096u     /* free entries kept per list */

enum alloc_class { AC_HEAP_LARGE = 0, AC_HEAP_SMALL = 1, AC_HEADER = 2 };

struct free_list {
    struct buf *head;
    uint32_t count;
};

static struct free_list small_free, header_free;
static uint64_t live;

static struct buf *list_pop(struct free_list *fl)
{
    struct buf *b = fl->head;

    if (b) {
        fl->head = b->next;
        fl->count--;
    }
    return b;
}

static int list_push(struct free_list *fl, struct buf *b)
{
    if (fl->count >= BUF_CACHE_MAX)
        return -1;
    b->next = fl->head;
    fl->head = b;
    fl->count++;
    return 0;
}

static void header_reset(struct buf *b, uint8_t kind, uint8_t ac)
{
    b->refcnt = 1;
    b->kind = kind;
    b->alloc_class = ac;
    b->flags = 0;
    b->parent = NULL;
    b->ext_release = NULL;
    b->ext = NULL;
    b->next = NULL;
}

struct buf *buf_alloc_headroom(size_t len, size_t headroom)
{
    size_t cap = headroom + len;
    struct buf *b = NULL;
    uint8_t ac;

    if (len > UINT32_MAX - headroom || cap > UINT32_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (cap <= BUF_SMALL_CAP) {
        ac = AC_HEAP_SMALL;
        b = list_pop(&small_free);
        if (!b)
            b = malloc(sizeof(*b) + BUF_SMALL_CAP);
        cap = BUF_SMALL_CAP;
    } else {
        ac = AC_HEAP_LARGE;
        b = malloc(sizeof(*b) + cap);
    }
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    header_reset(b, BUF_HEAP, ac);
    b->base = (uint8_t *)(b + 1);
    b->cap = (uint32_t)cap;
    b->data = b->base + headroom;
    b->len = (uint32_t)len;
    live++;
    return b;
}

struct buf *buf_alloc(size_t len)
{
    return buf_alloc_headroom(len, BUF_HEADROOM);
}

static struct buf *header_alloc(uint8_t kind)
{
    struct buf *b = list_pop(&header_free);

    if (!b)
        b = malloc(sizeof(*b));
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    header_reset(b, kind, AC_HEADER);
    live++;
    return b;
}

struct buf *buf_ext_wrap(void *data, size_t len, void (*release)(struct buf *), void *ext)
{
    struct buf *b;

    if (len > UINT32_MAX) {
        errno = EINVAL;
        return NULL;
    }
    b = header_alloc(BUF_EXT);
    if (!b)
        return NULL;
    b->base = data;
    b->cap = (uint32_t)len;
    b->data = data;
    b->len = (uint32_t)len;
    b->ext_release = release;
    b->ext = ext;
    return b;
}

struct buf *buf_slice(struct buf *b, size_t off, size_t len)
{
    struct buf *s;

    if (off > b->len || len > b->len - off) {
        errno = EINVAL;
        return NULL;
    }
    s = header_alloc(BUF_SLICE);
    if (!s)
        return NULL;
    /* Slices point at the storage owner so chains of slices stay flat. */
    s->parent = buf_ref(b->kind == BUF_SLICE ? b->parent : b);
    s->base = b->data + off;
    s->cap = (uint32_t)len;
    s->data = s->base;
    s->len = (uint32_t)len;
    return s;
}

struct buf *buf_copy_from(const void *src, size_t len)
{
    struct buf *b = buf_alloc(len);

    if (b && len)
        memcpy(b->data, src, len);
    return b;
}

static void buf_free(struct buf *b)
{
    live--;
    switch (b->alloc_class) {
    case AC_HEAP_SMALL:
        if (list_push(&small_free, b) == 0)
            return;
        break;
    case AC_HEADER:
        if (list_push(&header_free, b) == 0)
            return;
        break;
    default:
        break;
    }
    free(b);
}

void buf_unref(struct buf *b)
{
    while (b) {
        struct buf *parent = NULL;

        if (b->refcnt == 0)
            abort();    /* double unref: a bug in libdemi, never input-driven */
        if (--b->refcnt > 0)
            return;
        if (b->kind == BUF_SLICE)
            parent = b->parent;
        else if (b->kind == BUF_EXT && b->ext_release)
            b->ext_release(b);
        buf_free(b);
        b = parent;     /* iterate instead of recursing */
    }
}

size_t buf_headroom(const struct buf *b)
{
    if (b->kind == BUF_SLICE || b->refcnt > 1)
        return 0;
    return (size_t)(b->data - b->base);
}

size_t buf_tailroom(const struct buf *b)
{
    return (size_t)(b->base + b->cap - (b->data + b->len));
}

uint8_t *buf_prepend(struct buf *b, size_t n)
{
    if (n > buf_headroom(b))
        return NULL;
    b->data -= n;
    b->len += (uint32_t)n;
    return b->data;
}

uint8_t *buf_adj(struct buf *b, size_t n)
{
    if (n > b->len)
        return NULL;
    b->data += n;
    b->len -= (uint32_t)n;
    return b->data;
}

int buf_trim(struct buf *b, size_t n)
{
    if (n > b->len)
        return -1;
    b->len -= (uint32_t)n;
    return 0;
}

uint64_t buf_live_count(void)
{
    return live;
}

static void drain(struct free_list *fl)
{
    struct buf *b;

    while ((b = list_pop(fl)) != NULL)
        free(b);
}

void buf_cache_drain(void)
{
    drain(&small_free);
    drain(&header_free);
}
