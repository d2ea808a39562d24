/*
 * Scatter-gather buffers, source-compatible with Demikernel's
 * include/demi/sga.h.
 */
#ifndef DEMI_SGA_H_
#define DEMI_SGA_H_

#include <demi/types.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocates a buffer of size bytes (1 byte up to DEMI_SGA_MAX, 1 GiB by
 * default). Buffers up to DEMI_SGA_SEGSIZE (1 MiB by default) have one
 * segment; larger ones are split into segments of DEMI_SGA_SEGSIZE bytes,
 * or, when that would need more than DEMI_SGARRAY_MAXSIZE segments, into
 * DEMI_SGARRAY_MAXSIZE equal segments (64 MiB: 16 of 4 MiB). On failure (size 0,
 * too large, out of memory, not initialized) returns an sga with sga_buf NULL
 * and sga_numsegs 0, and sets errno. */
demi_sgarray_t demi_sgaalloc(size_t size);

/* Releases an sga from demi_sgaalloc or from a completed pop. Returns 0, or
 * EINVAL if sga is NULL or not a live libdemi sga (e.g. freed twice). */
int demi_sgafree(demi_sgarray_t *sga);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_SGA_H_ */
