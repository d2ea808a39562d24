/*
 * Test harness for the inet stack: N stacks joined by one sim wire, on a
 * virtual clock (tests/stack, suite 'stack').
 *
 * Stack i (0-based) gets MAC 02:00:00:00:00:(i+1) and IPv4 10.0.0.(i+1)/24,
 * seed (seed + i), and a sim port with index i. Time starts at 1 s.
 *
 * Typical use:
 *     struct harness *h = harness_new(2, 42, NULL, NULL);
 *     ... open sockets on harness_stack(h, 0) / (h, 1) (udp.h, tcp/tcp.h) ...
 *     assert_int_equal(harness_run_until(h, my_cond, &state, 5 * NS_PER_SEC), 0);
 *     harness_free(h);   (checks nothing; call harness_assert_no_leaks after)
 *
 * The loop (harness_step) is: for every stack in index order, hand it every
 * frame its port has ready (inet_input), run inet_timers, and move every
 * frame from inet_tx_drain to the port. It repeats that at the same instant
 * until no frame is deliverable, then jumps the clock to the next event (the
 * earliest stack deadline or frame delivery), never beyond the limit given.
 * Everything is deterministic: same seed, same calls -> same frames.
 */
#ifndef DEMI_TESTS_STACK_HARNESS_H_
#define DEMI_TESTS_STACK_HARNESS_H_

#include <stdint.h>

#include "core/clock.h"
#include "inet/inet.h"
#include "inet/stack.h"
#include "netdev/sim.h"

#define HARNESS_MAX_NODES SIM_MAX_PORTS
#define HARNESS_START_NS (1 * NS_PER_SEC)

struct harness;

/* Lets a test change stack i's configuration before it is created. */
typedef void (*harness_cfg_fn)(void *arg, int i, struct inet_config *cfg);

/* Creates n stacks on one wire. tweak may be NULL. Aborts the test on failure. */
struct harness *harness_new(int n, uint64_t seed, harness_cfg_fn tweak, void *arg);

/* Frees every stack, port and the wire (frames in flight included). */
void harness_free(struct harness *h);

/* Checks that every buffer is back (buf_live_count() == 0 after
 * harness_free); fails the test otherwise. */
void harness_assert_no_leaks(void);

struct inet_stack *harness_stack(struct harness *h, int i);
struct sim_wire *harness_wire(struct harness *h);

/* Stack i's address, network byte order. */
uint32_t harness_ip(int i);

/* Current virtual time. */
uint64_t harness_now(const struct harness *h);

/* One instant of progress (see above), without moving the clock. Returns the
 * number of frames moved in or out. */
int harness_step(struct harness *h);

/* Runs until cond(arg) is true (checked after every step; cond may be NULL
 * for "never") or max_ns of virtual time passed. Returns 0 when cond became
 * true, ETIMEDOUT otherwise. The clock jumps between events, so seconds of
 * virtual time cost microseconds. */
int harness_run_until(struct harness *h, int (*cond)(void *arg), void *arg, uint64_t max_ns);

/* Runs for ns of virtual time. */
void harness_run_for(struct harness *h, uint64_t ns);

/* Value of a named stack counter of stack i (inet_counters), or 0 if it has
 * no counter of that name. */
uint64_t harness_counter(struct harness *h, int i, const char *name);

/* Makes a frame for a test to inject: a heap buf holding len bytes copied
 * from data (with headroom). */
struct buf *harness_frame(const void *data, size_t len);

/* Records every frame on the wire (before faults) into a growing list that
 * tests can inspect: harness_frames_count / harness_frame_at. Off by default.
 * It uses the wire's tap (sim_wire_set_tap): a test's own tap replaces it.
 * Faults, the filter hook and the wire's counters: netdev/sim.h. */
void harness_record(struct harness *h, int on);
size_t harness_frames_count(const struct harness *h);
/* The i-th recorded frame: its bytes, length, sending port and time. */
const uint8_t *harness_frame_at(const struct harness *h, size_t i, size_t *len, int *port, uint64_t *t_ns);

#endif /* DEMI_TESTS_STACK_HARNESS_H_ */
