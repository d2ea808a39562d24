/* Shared helpers of the integration tests (see it_common.h). */
#include "it_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void it_fill(uint8_t *p, size_t len, uint32_t seed, uint64_t off)
{
    for (size_t i = 0; i < len; i++)
        p[i] = it_pattern(seed, off + i);
}

ptrdiff_t it_check(const uint8_t *p, size_t len, uint32_t seed, uint64_t off)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != it_pattern(seed, off + i))
            return (ptrdiff_t)i;
    }
    return -1;
}

void it_fail(struct it_result *r, int err, const char *fmt, ...)
{
    if (r->err != 0)
        return;
    r->err = err != 0 ? err : EIO;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
}

uint64_t it_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct sockaddr_in it_loopback(uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

uint16_t it_sock_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return 0;
    return ntohs(sin.sin_port);
}

int it_pipe_put(int fd, uint32_t v)
{
    ssize_t n;
    do {
        n = write(fd, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(v) ? 0 : -1;
}

int it_pipe_get(int fd, uint32_t *v, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;
    do {
        rc = poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return -1;
    ssize_t n;
    do {
        n = read(fd, v, sizeof(*v));
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(*v) ? 0 : -1;
}

bool it_stop_requested(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

int it_reap(pid_t pid, int timeout_ms)
{
    uint64_t deadline = it_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (it_now_ns() >= deadline) {
            fprintf(stderr, "it_reap: child %d still running after %d ms, killing it\n", (int)pid, timeout_ms);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        usleep(2000);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

void it_select_posix(void)
{
    if (getenv("DEMI_LIBOS") == NULL)
        setenv("DEMI_LIBOS", "posix", 1);
}
