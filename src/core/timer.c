/*
 * One-shot timers on a binary min-heap keyed by deadline.
 */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

static struct timer_heap runtime_heap;

static void heap_set(struct timer_heap *h, uint32_t i, struct timer *t)
{
    h->v[i] = t;
    t->heap_index = i;
}

static void sift_up(struct timer_heap *h, uint32_t i)
{
    struct timer *t = h->v[i];

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->v[parent]->deadline_ns <= t->deadline_ns)
            break;
        heap_set(h, i, h->v[parent]);
        i = parent;
    }
    heap_set(h, i, t);
}

static void sift_down(struct timer_heap *h, uint32_t i)
{
    struct timer *t = h->v[i];

    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && h->v[child + 1]->deadline_ns < h->v[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= h->v[child]->deadline_ns)
            break;
        heap_set(h, i, h->v[child]);
        i = child;
    }
    heap_set(h, i, t);
}

static void heap_remove(struct timer_heap *h, uint32_t i)
{
    struct timer *t = h->v[i];

    h->len--;
    if (i != h->len) {
        struct timer *moved = h->v[h->len];
        heap_set(h, i, moved);
        sift_down(h, i);
        sift_up(h, moved->heap_index);
    }
    t->heap_index = UINT32_MAX;
}

void timer_init(struct timer *t, timer_fn fn, void *arg)
{
    t->deadline_ns = 0;
    t->fn = fn;
    t->arg = arg;
    t->heap_index = UINT32_MAX;
}

int theap_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ns)
{
    if (timer_armed(t)) {
        t->deadline_ns = deadline_ns;
        sift_down(h, t->heap_index);
        sift_up(h, t->heap_index);
        return 0;
    }
    if (h->len == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct timer **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    t->deadline_ns = deadline_ns;
    heap_set(h, h->len++, t);
    sift_up(h, h->len - 1);
    return 0;
}

void theap_cancel(struct timer_heap *h, struct timer *t)
{
    if (timer_armed(t))
        heap_remove(h, t->heap_index);
}

int theap_run(struct timer_heap *h, uint64_t now_ns)
{
    int fired = 0;

    while (h->len > 0 && h->v[0]->deadline_ns <= now_ns) {
        struct timer *t = h->v[0];
        heap_remove(h, 0);
        t->fn(t, t->arg);
        fired++;
    }
    return fired;
}

uint64_t theap_next(const struct timer_heap *h)
{
    return h->len ? h->v[0]->deadline_ns : UINT64_MAX;
}

void theap_reset(struct timer_heap *h)
{
    for (uint32_t i = 0; i < h->len; i++)
        h->v[i]->heap_index = UINT32_MAX;
    free(h->v);
    h->v = NULL;
    h->len = h->cap = 0;
}

int timer_arm(struct timer *t, uint64_t deadline_ns)
{
    return theap_arm(&runtime_heap, t, deadline_ns);
}

void timer_cancel(struct timer *t)
{
    theap_cancel(&runtime_heap, t);
}

int timers_run(uint64_t now_ns)
{
    return theap_run(&runtime_heap, now_ns);
}

uint64_t timers_next_deadline(void)
{
    return theap_next(&runtime_heap);
}

void timers_reset(void)
{
    theap_reset(&runtime_heap);
}
