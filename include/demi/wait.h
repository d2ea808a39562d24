/*
 * The wait family, source-compatible with Demikernel's include/demi/wait.h.
 *
 * Timeouts: NULL waits forever; a zero timespec polls once. A wait that
 * times out returns ETIMEDOUT and leaves the operation pending: the same
 * token can be waited on again. A token is consumed when its result is
 * returned; waiting on it again returns EINVAL.
 */
#ifndef DEMI_WAIT_H_
#define DEMI_WAIT_H_

#include <demi/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Waits for the operation qt. Returns 0 with *qr_out filled, ETIMEDOUT, or
 * EINVAL (NULL qr_out, consumed or unknown token, bad timeout). */
int demi_wait(demi_qresult_t *qr_out, demi_qtoken_t qt, const struct timespec *timeout);

/* Waits for the first of num_qts operations. Returns 0 with *qr_out and
 * *ready_offset (index into qts) filled, ETIMEDOUT, or EINVAL. */
int demi_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
                  const struct timespec *timeout);

/* Returns up to qr_out_size completed operations of any queue, waiting for
 * at least one. Returns 0 with *qr_written >= 1, ETIMEDOUT (with
 * *qr_written = 0), or EINVAL. */
int demi_wait_next_n(demi_qresult_t *qr_out, int qr_out_size, int *qr_written, const struct timespec *timeout);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_WAIT_H_ */
