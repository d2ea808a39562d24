/*
 * The three echo topologies every echo test runs (cmocka assertions inside):
 *   demi_pair:      a libdemi client in this process, a libdemi server in a
 *                   forked child (each process calls demi_init after the fork);
 *   demi_vs_plain:  a libdemi client against a plain-socket echo server thread;
 *   plain_vs_demi:  a plain-socket client thread against a libdemi server.
 * Each must be called with libdemi not initialized; it leaves it so.
 */
#ifndef IT_SCENARIOS_H_
#define IT_SCENARIOS_H_

#include <stdbool.h>
#include <stdint.h>

#include "it_common.h"

/* Longest any one scenario may run (they take far less). */
#define IT_SCENARIO_NS (30ull * 1000000000ull)

/* Each returns the client's result (already checked: every connection
 * finished and every byte came back). */
struct it_result it_run_demi_pair(bool udp, uint32_t n_conns, const struct it_plan *plan);
struct it_result it_run_demi_vs_plain(bool udp, uint32_t n_conns, const struct it_plan *plan);
struct it_result it_run_plain_vs_demi(bool udp, uint32_t n_conns, const struct it_plan *plan);

/* cmocka teardown: demi_fini, so a failed test does not leave libdemi
 * initialized for the next one. */
int it_teardown_fini(void **state);

#endif /* IT_SCENARIOS_H_ */
