/*
 * libdemi control and data path calls, source-compatible with Demikernel's
 * include/demi/libos.h.
 *
 * Every call returns 0 on success or a positive errno. Calls that start an
 * asynchronous operation return a qtoken through qt_out; the operation's
 * result is collected with the wait family (demi/wait.h). Errors common to
 * all calls: EINVAL for a NULL out-pointer or bad argument, EBADF for a qd
 * that is not open, EPERM before demi_init. docs/api/ has one page per call.
 */
#ifndef DEMI_LIBOS_H_
#define DEMI_LIBOS_H_

#include <demi/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Initializes libdemi with the libOS named by DEMI_LIBOS (default posix).
 * Returns 0, EEXIST if already initialized, ENOTSUP if the libOS is not in
 * this build, EINVAL for an unknown name or bad configuration. */
int demi_init(const struct demi_args *args);

/* libdemi extension: closes every queue and releases everything demi_init
 * set up, so that demi_init may be called again. Returns 0 (also when not
 * initialized). */
int demi_fini(void);

/* Memory queues (shared-memory libOS). ENOTSUP on other libOSes. */
int demi_create_pipe(int *memqd_out, const char *name);
int demi_open_pipe(int *memqd_out, const char *name);

/* Creates a socket queue. domain AF_INET; type SOCK_STREAM or SOCK_DGRAM
 * (SOCK_NONBLOCK/SOCK_CLOEXEC ignored); protocol 0 or the type's protocol.
 * Returns EAFNOSUPPORT for another domain, ESOCKTNOSUPPORT for another type,
 * EPROTONOSUPPORT for a mismatched protocol. */
int demi_socket(int *sockqd_out, int domain, int type, int protocol);

/* Marks a bound TCP queue as listening. EOPNOTSUPP on UDP. */
int demi_listen(int sockqd, int backlog);

/* Binds a queue to a local IPv4 address and port (port 0: any).
 * An address of another family gives EAFNOSUPPORT (also for connect and
 * pushto); a NULL address or a size below sizeof(struct sockaddr_in), EINVAL. */
int demi_bind(int sockqd, const struct sockaddr *addr, socklen_t size);

/* Starts accepting one connection on a listening queue. */
int demi_accept(demi_qtoken_t *qt_out, int sockqd);

/* Starts connecting a queue to a remote address. */
int demi_connect(demi_qtoken_t *qt_out, int sockqd, const struct sockaddr *addr, socklen_t size);

/* Closes a queue. Pending operations on it complete with DEMI_OPC_FAILED. */
int demi_close(int qd);

/* Starts pushing the contents of sga. Completes when all of it has been
 * accepted by the libOS. The sga may be freed right after this returns. */
int demi_push(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga);

/* Like demi_push, to a given address (UDP). */
int demi_pushto(demi_qtoken_t *qt_out, int sockqd, const demi_sgarray_t *sga, const struct sockaddr *dest_addr,
                socklen_t size);

/* Starts popping data. The result's sga belongs to the caller until
 * demi_sgafree. A zero-length sga from a TCP queue means the peer closed. */
int demi_pop(demi_qtoken_t *qt_out, int qd);

/* Socket options: SOL_SOCKET SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE,
 * SO_LINGER, SO_RCVBUF, SO_SNDBUF, SO_ERROR (get); IPPROTO_TCP TCP_NODELAY
 * and the keepalive options. ENOPROTOOPT for an option the libOS does not
 * know; EOPNOTSUPP for a TCP option on a UDP queue. */
int demi_setsockopt(int qd, int level, int optname, const void *optval, socklen_t optlen);
int demi_getsockopt(int qd, int level, int optname, void *optval, socklen_t *optlen);

/* Address of the peer / of the local end of a queue. ENOTCONN if none. */
int demi_getpeername(int qd, struct sockaddr *addr, socklen_t *addrlen);
int demi_getsockname(int qd, struct sockaddr *addr, socklen_t *addrlen);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_LIBOS_H_ */
