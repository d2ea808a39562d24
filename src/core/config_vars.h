/*
 * Every DEMI_* configuration variable, in one place. X-macro:
 *   DEMI_CFG(NAME, DEFAULT, DESCRIPTION)
 * docs/configuration.md has one table row per entry (a unit test checks).
 * A libOS that needs a new variable adds a line here, under its heading.
 */

/* core */
DEMI_CFG(DEMI_LIBOS, "posix", "libOS to use: posix, afpacket, xdp, dpdk, rdma, shm (Demikernel names catnap, catpowder, catnip, catmint, catmem are accepted). LIBOS is read when DEMI_LIBOS is unset.")
DEMI_CFG(DEMI_LOG, "warn", "log level: error, warn, info or debug; messages go to stderr")
DEMI_CFG(DEMI_CONFIG, "", "path of a file of NAME=VALUE lines read at demi_init; the environment overrides it")
DEMI_CFG(DEMI_SPIN_US, "50", "microseconds a wait busy-polls before it may block in the device (posix: epoll_wait); 0 blocks at once, -1 never blocks")
DEMI_CFG(DEMI_SGA_SEGSIZE, "1048576", "largest segment demi_sgaalloc makes; larger buffers are split into up to DEMI_SGARRAY_MAXSIZE segments")
DEMI_CFG(DEMI_SGA_MAX, "1073741824", "largest size demi_sgaalloc accepts (bytes)")
DEMI_CFG(DEMI_MAX_QUEUES, "1048576", "most queue descriptors open at once")
DEMI_CFG(DEMI_MAX_OPS, "4194304", "most operations (qtokens) pending or completed-but-not-waited at once")

/* posix libOS */
DEMI_CFG(DEMI_POSIX_POP_SIZE, "65536", "posix: most bytes one TCP pop returns")
