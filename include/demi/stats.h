/*
 * libdemi extension (not in Demikernel's API): named counters.
 *
 * Counters are global (qd = -1) or per queue. Each libOS adds its own
 * (the inet stack counts every dropped frame and why, retransmissions...).
 */
#ifndef DEMI_STATS_H_
#define DEMI_STATS_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct demi_counter {
    const char *name;   /* static string, e.g. "tcp.rx_bad_checksum" */
    uint64_t value;
} demi_counter_t;

/* Copies up to cap counters of queue qd (or the global ones when qd is -1)
 * into out and sets *n_out to how many there are in all (which may exceed
 * cap; out may be NULL when cap is 0, to learn the count). Returns 0,
 * EINVAL for a NULL n_out (or NULL out with cap > 0), EBADF for an unknown
 * qd, EPERM before demi_init. */
int demi_getcounters(int qd, demi_counter_t *out, size_t cap, size_t *n_out);

/* Looks up one counter by name; returns 0 and sets *value, or ENOENT. */
int demi_getcounter(int qd, const char *name, uint64_t *value);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_STATS_H_ */
