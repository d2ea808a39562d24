/*
 * Runtime state shared by core modules (private to libdemi).
 */
#ifndef DEMI_CORE_RUNTIME_H_
#define DEMI_CORE_RUNTIME_H_

#include <stdbool.h>
#include <stdint.h>

struct runtime_config {
    int64_t spin_ns;            /* DEMI_SPIN_US in ns; < 0 never block */
    uint64_t sga_segsize;       /* DEMI_SGA_SEGSIZE */
    uint64_t sga_max;           /* DEMI_SGA_MAX */
    uint64_t max_queues;        /* DEMI_MAX_QUEUES */
    uint64_t max_ops;           /* DEMI_MAX_OPS */
};

extern bool runtime_initialized;
extern struct runtime_config runtime_cfg;

/* One round of progress: runs expired core timers and polls the libOS,
 * letting it block up to block_ns (0: do not block). Returns the libOS's
 * poll result. */
int runtime_poll(int64_t block_ns);


#endif /* DEMI_CORE_RUNTIME_H_ */
