/*
 * One-shot timers on a binary min-heap, driven by the runtime's poll loop.
 * Call order: timer_init -> timer_arm (again to re-arm) -> [timer_cancel];
 * timers_run(now) fires every timer whose deadline <= now, in deadline order.
 */
#ifndef DEMI_CORE_TIMER_H_
#define DEMI_CORE_TIMER_H_

#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t, void *arg);

struct timer {
    uint64_t deadline_ns;
    timer_fn fn;
    void *arg;
    uint32_t heap_index;    /* UINT32_MAX when not armed */
};

void timer_init(struct timer *t, timer_fn fn, void *arg);

/* A heap of timers. The runtime has one (the functions without a heap
 * argument use it); the inet stack keeps its own so that several stacks can
 * run in one process on a virtual clock. Zero-initialise before use. */
struct timer_heap {
    struct timer **v;
    uint32_t len, cap;
};

int theap_arm(struct timer_heap *h, struct timer *t, uint64_t deadline_ns);
void theap_cancel(struct timer_heap *h, struct timer *t);
int theap_run(struct timer_heap *h, uint64_t now_ns);
uint64_t theap_next(const struct timer_heap *h);
void theap_reset(struct timer_heap *h);

/* Arms (or re-arms) t to fire at deadline_ns. Returns 0, or ENOMEM. */
int timer_arm(struct timer *t, uint64_t deadline_ns);

/* Disarms t if armed. */
void timer_cancel(struct timer *t);

static inline int timer_armed(const struct timer *t)
{
    return t->heap_index != UINT32_MAX;
}

/* Fires expired timers; returns how many fired. */
int timers_run(uint64_t now_ns);

/* Earliest deadline, or UINT64_MAX when no timer is armed. */
uint64_t timers_next_deadline(void);

/* Disarms everything and frees the heap (at shutdown). */
void timers_reset(void);

#endif /* DEMI_CORE_TIMER_H_ */
