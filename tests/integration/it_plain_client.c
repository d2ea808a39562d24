/*
 * Plain Linux-socket echo clients (TCP and UDP), all connections of a run
 * multiplexed with poll(). Every echoed byte is checked against it_pattern.
 */
#include "it_plain.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 65536u
#define UDP_RESEND_NS (300ull * 1000000ull)
#define UDP_MAX_SENDS 20u

struct pc_conn {
    int fd;
    bool connected;
    bool done;
    uint32_t msg;       /* index into the plan */
    size_t sent;        /* bytes of the message sent */
    size_t recvd;       /* bytes of the message received and checked */
    uint32_t reads;     /* reads the message needed so far */
    uint32_t sends;     /* UDP: times the message was sent */
    uint64_t sent_at;   /* UDP: when it was last sent */
};

static int pc_socket(int type, uint16_t port, bool do_connect)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in local = it_loopback(0);
    struct sockaddr_in srv = it_loopback(port);
    if (type == SOCK_DGRAM && bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0)
        goto err;
    if (do_connect && connect(fd, (struct sockaddr *)&srv, sizeof(srv)) != 0 && errno != EINPROGRESS)
        goto err;
    return fd;
err:
    close(fd);
    return -1;
}

/* Moves a TCP connection to its next message, or closes it after the last. */
static void pc_next_msg(struct pc_conn *c, const struct it_plan *plan, struct it_result *r)
{
    if (c->reads > r->max_pops)
        r->max_pops = c->reads;
    c->msg++;
    c->sent = c->recvd = 0;
    c->reads = c->sends = 0;
    if (c->msg == plan->n_msgs) {
        c->done = true;
        r->conns_ok++;
        close(c->fd);
        c->fd = -1;
    }
}

/* Writes what the socket takes of the current message. Returns 0 or -1 (error recorded). */
static int pc_tcp_write(struct pc_conn *c, uint32_t idx, const struct it_plan *plan, uint8_t *chunk,
                        struct it_result *r)
{
    size_t size = plan->sizes[c->msg];
    while (c->sent < size) {
        size_t len = size - c->sent < CHUNK ? size - c->sent : CHUNK;
        it_fill(chunk, len, it_seed(idx, c->msg), c->sent);
        ssize_t n = send(c->fd, chunk, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            it_fail(r, errno, "plain tcp client conn %u: send: %s", idx, strerror(errno));
            return -1;
        }
        c->sent += (size_t)n;
    }
    return 0;
}

/* Reads and checks what has arrived of the current message. Returns 0 or -1. */
static int pc_tcp_read(struct pc_conn *c, uint32_t idx, const struct it_plan *plan, uint8_t *chunk,
                       struct it_result *r)
{
    size_t size = plan->sizes[c->msg];
    ssize_t n = read(c->fd, chunk, size - c->recvd < CHUNK ? size - c->recvd : CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        it_fail(r, n == 0 ? EPIPE : errno, "plain tcp client conn %u msg %u: %s after %zu of %zu bytes", idx,
                c->msg, n == 0 ? "end of stream" : strerror(errno), c->recvd, size);
        return -1;
    }
    ptrdiff_t bad = it_check(chunk, (size_t)n, it_seed(idx, c->msg), c->recvd);
    if (bad >= 0) {
        it_fail(r, EBADMSG, "plain tcp client conn %u msg %u: byte %zu differs", idx, c->msg,
                c->recvd + (size_t)bad);
        return -1;
    }
    c->recvd += (size_t)n;
    c->reads++;
    r->bytes_verified += (uint64_t)n;
    if (c->recvd == size && c->sent == size)
        pc_next_msg(c, plan, r);
    return 0;
}

void it_plain_tcp_client(uint16_t port, uint32_t n_conns, const struct it_plan *plan, uint64_t deadline_ns,
                         struct it_result *r)
{
    struct pc_conn *conns = calloc(n_conns, sizeof(*conns));
    struct pollfd *pfds = calloc(n_conns, sizeof(*pfds));
    uint8_t *chunk = malloc(CHUNK);
    if (conns == NULL || pfds == NULL || chunk == NULL) {
        it_fail(r, ENOMEM, "plain tcp client: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < n_conns; i++) {
        conns[i].fd = pc_socket(SOCK_STREAM, port, true);
        if (conns[i].fd < 0) {
            it_fail(r, errno, "plain tcp client: socket/connect %u: %s", i, strerror(errno));
            goto out;
        }
    }
    uint32_t left = n_conns;
    while (left > 0 && r->err == 0) {
        if (it_now_ns() >= deadline_ns) {
            it_fail(r, ETIMEDOUT, "plain tcp client: deadline passed with %u connections unfinished", left);
            break;
        }
        for (uint32_t i = 0; i < n_conns; i++) {
            struct pc_conn *c = &conns[i];
            pfds[i].fd = c->done ? -1 : c->fd;
            pfds[i].events = POLLIN;
            if (!c->done && (!c->connected || c->sent < plan->sizes[c->msg]))
                pfds[i].events |= POLLOUT;
            pfds[i].revents = 0;
        }
        if (poll(pfds, n_conns, 100) < 0 && errno != EINTR) {
            it_fail(r, errno, "plain tcp client: poll: %s", strerror(errno));
            break;
        }
        for (uint32_t i = 0; i < n_conns && r->err == 0; i++) {
            struct pc_conn *c = &conns[i];
            if (c->done || pfds[i].revents == 0)
                continue;
            if (!c->connected) {
                int soerr = 0;
                socklen_t len = sizeof(soerr);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
                if (soerr != 0) {
                    it_fail(r, soerr, "plain tcp client conn %u: connect: %s", i, strerror(soerr));
                    break;
                }
                c->connected = true;
            }
            if ((pfds[i].revents & POLLOUT) && pc_tcp_write(c, i, plan, chunk, r) != 0)
                break;
            if ((pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) && pc_tcp_read(c, i, plan, chunk, r) != 0)
                break;
            if (c->done)
                left--;
        }
    }
out:
    for (uint32_t i = 0; conns != NULL && i < n_conns; i++) {
        if (conns[i].fd > 0)
            close(conns[i].fd);
    }
    free(conns);
    free(pfds);
    free(chunk);
}

/* Sends the current datagram of a UDP socket (again). Returns 0 or -1. */
static int pc_udp_send(struct pc_conn *c, uint32_t idx, const struct it_plan *plan, uint8_t *buf,
                       struct it_result *r)
{
    size_t size = plan->sizes[c->msg];
    if (c->sends == UDP_MAX_SENDS) {
        it_fail(r, ETIMEDOUT, "plain udp client sock %u msg %u: no echo after %u sends", idx, c->msg, c->sends);
        return -1;
    }
    it_fill(buf, size, it_seed(idx, c->msg), 0);
    if (send(c->fd, buf, size, 0) < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) {
        it_fail(r, errno, "plain udp client sock %u: send: %s", idx, strerror(errno));
        return -1;
    }
    if (c->sends > 0)
        r->resends++;
    c->sends++;
    c->sent_at = it_now_ns();
    return 0;
}

/* Reads one datagram: the echo of the current message, a late duplicate of
 * an earlier one (ignored), or anything else (an error). Returns 0 or -1. */
static int pc_udp_recv(struct pc_conn *c, uint32_t idx, const struct it_plan *plan, uint8_t *buf,
                       struct it_result *r)
{
    ssize_t n = recv(c->fd, buf, 65536, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED)
            return 0;
        it_fail(r, errno, "plain udp client sock %u: recv: %s", idx, strerror(errno));
        return -1;
    }
    size_t size = plan->sizes[c->msg];
    if ((size_t)n == size && it_check(buf, size, it_seed(idx, c->msg), 0) < 0) {
        r->bytes_verified += size;
        pc_next_msg(c, plan, r);
        return 0;
    }
    for (uint32_t m = 0; m < c->msg; m++) {
        if ((size_t)n == plan->sizes[m] && it_check(buf, (size_t)n, it_seed(idx, m), 0) < 0)
            return 0;
    }
    it_fail(r, EBADMSG, "plain udp client sock %u msg %u: got %zd bytes that are not the echo of %zu", idx, c->msg,
            n, size);
    return -1;
}

void it_plain_udp_client(uint16_t port, uint32_t n_socks, const struct it_plan *plan, uint64_t deadline_ns,
                         struct it_result *r)
{
    struct pc_conn *socks = calloc(n_socks, sizeof(*socks));
    struct pollfd *pfds = calloc(n_socks, sizeof(*pfds));
    uint8_t *buf = malloc(65536);
    if (socks == NULL || pfds == NULL || buf == NULL) {
        it_fail(r, ENOMEM, "plain udp client: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < n_socks; i++) {
        socks[i].fd = pc_socket(SOCK_DGRAM, port, true);
        if (socks[i].fd < 0) {
            it_fail(r, errno, "plain udp client: socket %u: %s", i, strerror(errno));
            goto out;
        }
        if (pc_udp_send(&socks[i], i, plan, buf, r) != 0)
            goto out;
    }
    uint32_t left = n_socks;
    while (left > 0 && r->err == 0) {
        uint64_t now = it_now_ns();
        if (now >= deadline_ns) {
            it_fail(r, ETIMEDOUT, "plain udp client: deadline passed with %u sockets unfinished", left);
            break;
        }
        for (uint32_t i = 0; i < n_socks; i++) {
            pfds[i].fd = socks[i].done ? -1 : socks[i].fd;
            pfds[i].events = POLLIN;
            pfds[i].revents = 0;
        }
        if (poll(pfds, n_socks, 50) < 0 && errno != EINTR) {
            it_fail(r, errno, "plain udp client: poll: %s", strerror(errno));
            break;
        }
        now = it_now_ns();
        for (uint32_t i = 0; i < n_socks && r->err == 0; i++) {
            struct pc_conn *c = &socks[i];
            if (c->done)
                continue;
            uint32_t msg = c->msg;
            if ((pfds[i].revents & POLLIN) && pc_udp_recv(c, i, plan, buf, r) != 0)
                break;
            if (c->done) {
                left--;
                continue;
            }
            if (c->msg != msg || now - c->sent_at >= UDP_RESEND_NS)
                pc_udp_send(c, i, plan, buf, r);
        }
    }
out:
    for (uint32_t i = 0; socks != NULL && i < n_socks; i++) {
        if (socks[i].fd > 0)
            close(socks[i].fd);
    }
    free(socks);
    free(pfds);
    free(buf);
}

static void *pc_job_thread(void *arg)
{
    struct it_plain_client_job *job = arg;
    if (job->is_udp)
        it_plain_udp_client(job->port, job->n_conns, &job->plan, job->deadline_ns, &job->res);
    else
        it_plain_tcp_client(job->port, job->n_conns, &job->plan, job->deadline_ns, &job->res);
    close(job->done_fd);
    return NULL;
}

int it_plain_client_spawn(struct it_plain_client_job *job)
{
    return pthread_create(&job->thread, NULL, pc_job_thread, job);
}
