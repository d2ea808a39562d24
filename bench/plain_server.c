/*
 * plain-echo server: one level-triggered epoll loop over non-blocking
 * sockets. A TCP connection reads into its buffer and writes it back; when
 * the write would block it waits for EPOLLOUT and stops reading until the
 * buffer is sent (so memory per connection is bounded by PLAIN_SRV_BUF). UDP
 * datagrams are sent back to their sender (dropped if the socket is full).
 * Runs until SIGINT or SIGTERM, then prints what it echoed to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "plain_echo.h"

#define PLAIN_SRV_BUF (128u << 10)
#define PLAIN_SRV_EVENTS 64

struct srv_conn {
    struct srv_conn *prev, *next;   /* every open connection, to free them at stop */
    int fd;
    size_t len, off;            /* bytes in buf, bytes of them already sent back */
    uint8_t buf[PLAIN_SRV_BUF];
};

struct server {
    int ep, lfd, ufd;
    struct srv_conn *head;
    uint64_t conns, open, tcp_bytes, dgrams, udp_bytes, udp_drops, errors;
    uint8_t dgram[65536];
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void conn_close(struct server *s, struct srv_conn *c)
{
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    s->open--;
}

/* Switches c's interest between reading (nothing to send) and writing. */
static int conn_want(struct server *s, struct srv_conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what is left of c's buffer. Returns 1 when all is sent, 0 when the
 * socket is full, -1 on an error. */
static int conn_flush(struct server *s, struct srv_conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->off += (size_t)n;
        s->tcp_bytes += (uint64_t)n;
    }
    c->len = c->off = 0;
    return 1;
}

static void conn_event(struct server *s, struct srv_conn *c, uint32_t events)
{
    bool writing = c->len > 0;
    if (!writing) {
        ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            s->errors += n < 0 && errno != ECONNRESET;
            conn_close(s, c);
            return;
        }
        c->len = (size_t)n;
    } else if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        return;
    }
    int r = conn_flush(s, c);
    if (r < 0 || (r == 0 && !writing && conn_want(s, c, EPOLLOUT) != 0) ||
        (r == 1 && writing && conn_want(s, c, EPOLLIN) != 0)) {
        s->errors++;
        conn_close(s, c);
    }
}

static void accept_all(struct server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                fprintf(stderr, PLAIN_PROG ": accept: %s\n", strerror(errno));
                s->errors++;
                nanosleep(&(struct timespec){0, 10000000}, NULL);  /* e.g. EMFILE: do not spin */
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct srv_conn *c = malloc(sizeof(*c));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || (c->fd = fd, c->len = c->off = 0, epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0)) {
            s->errors++;
            free(c);
            close(fd);
            continue;
        }
        c->prev = NULL;
        c->next = s->head;
        if (s->head)
            s->head->prev = c;
        s->head = c;
        s->conns++;
        s->open++;
    }
}

static void udp_event(struct server *s)
{
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    ssize_t n = recvfrom(s->ufd, s->dgram, sizeof(s->dgram), 0, (struct sockaddr *)&from, &flen);
    if (n < 0)
        return;
    s->dgrams++;
    if (sendto(s->ufd, s->dgram, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, flen) == n)
        s->udp_bytes += (uint64_t)n;
    else
        s->udp_drops++;
}

/* Opens a non-blocking socket bound to addr and adds it to the epoll set with
 * data.ptr = tag. Returns the fd, or -1 after reporting. */
static int open_listener(struct server *s, int type, const struct sockaddr_in *addr, void *tag)
{
    int one = 1;
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        (type == SOCK_STREAM && listen(fd, 1024) != 0) || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fprintf(stderr, PLAIN_PROG ": %s socket on port %u: %s\n", type == SOCK_STREAM ? "tcp" : "udp",
                (unsigned)ntohs(addr->sin_port), strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int plain_server_run(const struct echo_opts *o)
{
    static struct server s;     /* 64 KiB datagram buffer: not on the stack */
    struct sockaddr_in addr = o->addr;
    int rc = 1;
    s.lfd = s.ufd = -1;
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    if (s.ep < 0) {
        perror(PLAIN_PROG ": epoll_create1");
        return 1;
    }
    if (o->proto & ECHO_PROTO_TCP) {
        if ((s.lfd = open_listener(&s, SOCK_STREAM, &addr, &s.lfd)) < 0)
            goto out;
        socklen_t len = sizeof(addr);
        getsockname(s.lfd, (struct sockaddr *)&addr, &len);  /* port 0: udp takes the same one */
    }
    if ((o->proto & ECHO_PROTO_UDP) && (s.ufd = open_listener(&s, SOCK_DGRAM, &addr, &s.ufd)) < 0)
        goto out;
    struct sigaction sa = {.sa_handler = on_signal};  /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
    fprintf(stderr, PLAIN_PROG ": serving %s on %s:%u (plain kernel sockets%s)\n",
            o->proto == ECHO_PROTO_BOTH ? "tcp+udp" : o->proto == ECHO_PROTO_TCP ? "tcp" : "udp", ip,
            (unsigned)ntohs(addr.sin_port), o->spin ? ", busy-polling" : "");
    struct epoll_event evs[PLAIN_SRV_EVENTS];
    while (!stop_requested) {
        int n = epoll_wait(s.ep, evs, PLAIN_SRV_EVENTS, o->spin ? 0 : -1);
        if (n < 0 && errno != EINTR) {
            perror(PLAIN_PROG ": epoll_wait");
            goto out;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &s.lfd)
                accept_all(&s);
            else if (evs[i].data.ptr == &s.ufd)
                udp_event(&s);
            else
                conn_event(&s, evs[i].data.ptr, evs[i].events);
        }
    }
    rc = 0;
out:
    fprintf(stderr,
            PLAIN_PROG ": server stopped: tcp %" PRIu64 " connections (%" PRIu64 " open at stop), %" PRIu64
            " bytes echoed; udp %" PRIu64 " datagrams, %" PRIu64 " bytes echoed, %" PRIu64 " dropped; %" PRIu64
            " errors\n",
            s.conns, s.open, s.tcp_bytes, s.dgrams, s.udp_bytes, s.udp_drops, s.errors);
    while (s.head)
        conn_close(&s, s.head);
    if (s.lfd >= 0)
        close(s.lfd);
    if (s.ufd >= 0)
        close(s.ufd);
    close(s.ep);
    return rc;
}
