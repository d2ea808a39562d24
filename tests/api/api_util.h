/*
 * Helpers shared by the API-contract tests: a fixture that starts libdemi
 * with the posix libOS and checks that demi_fini leaves nothing behind,
 * bounded waits, and loopback sockets on port 0.
 */
#ifndef DEMI_TESTS_API_UTIL_H_
#define DEMI_TESTS_API_UTIL_H_

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <demi/demi.h>
#include <netinet/in.h>
#include <time.h>

/* Longest any single wait in a test may take before the test fails. */
#define API_WAIT_MS 5000

/* Unsets every DEMI_* variable (and Demikernel's LIBOS) and sets DEMI_LIBOS=posix. */
void api_env_reset(void);

/* Fixtures: setup resets the environment, arms a watchdog alarm and calls
 * demi_init; teardown calls demi_fini and checks that no queue, op, sga or
 * buffer is left. api_setup_noinit does the same without demi_init. */
int api_setup(void **state);
int api_setup_noinit(void **state);
int api_teardown(void **state);

#define API_TEST(fn) cmocka_unit_test_setup_teardown(fn, api_setup, api_teardown)
#define API_TEST_NOINIT(fn) cmocka_unit_test_setup_teardown(fn, api_setup_noinit, api_teardown)

/* A timespec of ms milliseconds. */
struct timespec ts_ms(long ms);

/* Monotonic milliseconds. */
uint64_t now_ms(void);

/* Waits for qt up to API_WAIT_MS and fails the test unless it completes
 * (with any opcode). Returns the result. */
demi_qresult_t wait_done(demi_qtoken_t qt);

/* Like wait_done, and fails the test unless the opcode is want. */
demi_qresult_t wait_opcode(demi_qtoken_t qt, demi_opcode_t want);

/* An operation that may fail at once or asynchronously: passes if rc is err,
 * or rc is 0 and the op *qt (read after the call returned) completes with
 * DEMI_OPC_FAILED and qr_ret err. */
void expect_error_sync_or_async(int rc, const demi_qtoken_t *qt, int err);

/* Loopback address 127.0.0.1:port (host order port). */
struct sockaddr_in loopback(uint16_t port);

/* A UDP queue bound to 127.0.0.1 on a free port; *addr gets its address. */
int udp_bound(struct sockaddr_in *addr);

/* A listening TCP queue on 127.0.0.1, free port; *addr gets its address. */
int tcp_listener(struct sockaddr_in *addr);

/* A connected TCP pair through a fresh listener: *client and *server (the
 * accepted queue); returns the listener's qd. */
int tcp_pair(int *client, int *server);

/* An application-built sga (sga_buf NULL) of one segment over p. */
demi_sgarray_t sga_of(const void *p, uint32_t len);

/* Pushes len bytes from p on qd and waits for the push to complete. */
void push_all(int qd, const void *p, size_t len);

/* Pops from qd until len bytes have arrived (bounded), copying them to out.
 * Fails the test on end of stream, error or timeout. */
void pop_exact(int qd, void *out, size_t len);

/* Copies the bytes of a popped sga to out (up to cap); returns the count. */
size_t sga_copy_out(const demi_sgarray_t *sga, void *out, size_t cap);

/* Total bytes in an sga. */
uint64_t sga_total(const demi_sgarray_t *sga);

#endif /* DEMI_TESTS_API_UTIL_H_ */
