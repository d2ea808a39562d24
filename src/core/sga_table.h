/*
 * Scatter-gather arrays handed to the application (private to libdemi).
 *
 * demi_sgarray_t.sga_buf is an opaque handle, (generation << 32 | slot),
 * naming a table entry that holds one buffer reference per segment. The
 * application owns the sga until demi_sgafree; a freed or forged handle is
 * rejected with EINVAL. Call order: sga_make (alloc, pop) -> the app uses
 * it -> sga_take_bufs (push, any number of times) -> demi_sgafree.
 */
#ifndef DEMI_CORE_SGA_TABLE_H_
#define DEMI_CORE_SGA_TABLE_H_

#include <demi/types.h>

#include "buf.h"

/* Makes an sga of n buffers (n <= DEMI_SGARRAY_MAXSIZE; n == 0 gives an
 * empty sga with no handle). Takes over the caller's references, also on
 * failure. Returns 0, EMSGSIZE (n too large) or ENOMEM. */
int sga_make(demi_sgarray_t *out, struct buf **bufs, uint32_t n);

/* Turns the segments of an application sga into buffer references for a
 * push: a segment that lies inside a libdemi buffer of this sga becomes a
 * slice of it (no copy); any other memory is copied. Returns 0 with *n and
 * *total set, or EINVAL (no segments, too many, a NULL segment with a
 * length, zero total length), ENOMEM. */
int sga_take_bufs(const demi_sgarray_t *sga, struct buf **out, uint32_t *n, uint64_t *total);

/* Number of sgas handed out and not yet freed. */
uint64_t sga_live_count(void);

/* Frees every sga (at shutdown). */
void sga_table_reset(void);

#endif /* DEMI_CORE_SGA_TABLE_H_ */
