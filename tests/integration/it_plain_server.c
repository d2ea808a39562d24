/*
 * Plain Linux-socket echo server (TCP and UDP) in one thread, epoll,
 * level-triggered. A TCP connection reads into its buffer only when the
 * buffer is empty and writes it back before reading again, so a slow client
 * slows the server down instead of making it buffer without bound.
 */
#include "it_plain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define SRV_BUF (256u * 1024u)
#define SRV_MAX_LIFE_NS (60ull * 1000000000ull)

struct srv_conn {
    struct srv_conn *next, *prev;   /* the server's list of open connections */
    int fd;
    size_t len;     /* bytes in buf */
    size_t off;     /* bytes of buf written back */
    uint8_t buf[SRV_BUF];
};

/* Tags for the epoll data of the non-connection fds. */
static char tag_listen, tag_udp, tag_stop;

/* Open connections, so that the ones left at stop are freed too. */
struct srv_list {
    struct srv_conn *head;
};

static void srv_conn_close(struct srv_list *l, int ep, struct srv_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static void srv_accept(struct it_plain_server *s, struct srv_list *l, int ep)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR)
                it_fail(&s->res, errno, "plain server: accept: %s", strerror(errno));
            return;
        }
        struct srv_conn *c = malloc(sizeof(*c));
        if (c == NULL) {
            it_fail(&s->res, ENOMEM, "plain server: out of memory");
            close(fd);
            return;
        }
        c->fd = fd;
        c->len = c->off = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            it_fail(&s->res, errno, "plain server: epoll_ctl: %s", strerror(errno));
            close(fd);
            free(c);
            continue;
        }
        c->prev = NULL;
        c->next = l->head;
        if (l->head != NULL)
            l->head->prev = c;
        l->head = c;
    }
}

/* Reads or writes back on a ready connection; closes it on end of file or error. */
static void srv_conn_ready(struct it_plain_server *s, struct srv_list *l, int ep, struct srv_conn *c)
{
    if (c->off == c->len) {
        ssize_t n = read(c->fd, c->buf, sizeof(c->buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            if (n == 0)
                s->res.conns_ok++;
            srv_conn_close(l, ep, c);
            return;
        }
        if (n < 0)
            return;
        c->len = (size_t)n;
        c->off = 0;
        s->res.bytes_verified += (uint64_t)n;
    }
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            srv_conn_close(l, ep, c);
            return;
        }
        c->off += (size_t)n;
    }
    struct epoll_event ev = {.events = c->off < c->len ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Echoes every queued datagram back to its sender; a reply the kernel
 * cannot take right now is dropped (the client sends again). */
static void srv_udp_ready(struct it_plain_server *s, uint8_t *buf)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(s->udp_fd, buf, 65536, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            return;
        if (sendto(s->udp_fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, fromlen) == n)
            s->res.bytes_verified += (uint64_t)n;
    }
}

static void *srv_thread(void *arg)
{
    struct it_plain_server *s = arg;
    uint8_t *udp_buf = malloc(65536);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct srv_list list = {NULL};
    if (ep < 0 || udp_buf == NULL) {
        it_fail(&s->res, errno, "plain server: setup failed");
        goto out;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->listen_fd, &ev);
    ev.data.ptr = &tag_udp;
    epoll_ctl(ep, EPOLL_CTL_ADD, s->udp_fd, &ev);
    ev.data.ptr = &tag_stop;
    epoll_ctl(ep, EPOLL_CTL_ADD, s->stop_fd, &ev);

    uint64_t deadline = it_now_ns() + SRV_MAX_LIFE_NS;
    bool stop = false;
    while (!stop && it_now_ns() < deadline) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_stop)
                stop = true;
            else if (p == &tag_listen)
                srv_accept(s, &list, ep);
            else if (p == &tag_udp)
                srv_udp_ready(s, udp_buf);
            else
                srv_conn_ready(s, &list, ep, p);
        }
    }
    while (list.head != NULL)
        srv_conn_close(&list, ep, list.head);
out:
    if (ep >= 0)
        close(ep);
    free(udp_buf);
    return NULL;
}

int it_plain_server_start(struct it_plain_server *s)
{
    memset(s, 0, sizeof(*s));
    s->listen_fd = s->udp_fd = s->stop_fd = -1;
    struct sockaddr_in any = it_loopback(0);
    int rcvbuf = 4 * 1024 * 1024;

    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->listen_fd < 0 || s->udp_fd < 0 || s->stop_fd < 0)
        goto err;
    if (bind(s->listen_fd, (struct sockaddr *)&any, sizeof(any)) != 0 || listen(s->listen_fd, 1024) != 0)
        goto err;
    setsockopt(s->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(s->udp_fd, (struct sockaddr *)&any, sizeof(any)) != 0)
        goto err;
    s->tcp_port = it_sock_port(s->listen_fd);
    s->udp_port = it_sock_port(s->udp_fd);
    int rc = pthread_create(&s->thread, NULL, srv_thread, s);
    if (rc != 0) {
        errno = rc;
        goto err;
    }
    return 0;
err:;
    int err = errno != 0 ? errno : EIO;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->udp_fd >= 0)
        close(s->udp_fd);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->listen_fd = s->udp_fd = s->stop_fd = -1;
    return err;
}

void it_plain_server_stop(struct it_plain_server *s)
{
    uint64_t one = 1;
    if (s->stop_fd < 0)
        return;
    if (write(s->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        it_fail(&s->res, errno, "plain server: cannot signal stop");
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->udp_fd);
    close(s->stop_fd);
    s->listen_fd = s->udp_fd = s->stop_fd = -1;
}
