/* Small helpers shared by the demi-echo server and client. */
#include "echo.h"

#include <arpa/inet.h>
#include <demi/sga.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t echo_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void echo_perror(const char *call, int err)
{
    fprintf(stderr, ECHO_PROG ": %s: %s\n", call, strerror(err));
}

const char *echo_addr_str(const struct sockaddr_in *sin, char *buf, size_t len)
{
    char ip[INET_ADDRSTRLEN];
    if (!inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
        snprintf(ip, sizeof(ip), "?");
    snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
    return buf;
}

int echo_parse_addr(const char *s, struct sockaddr_in *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || colon - s >= INET_ADDRSTRLEN)
        return EINVAL;
    char ip[INET_ADDRSTRLEN];
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';

    const char *p = colon + 1;
    if (*p < '0' || *p > '9')
        return EINVAL;
    char *end;
    errno = 0;
    unsigned long port = strtoul(p, &end, 10);
    if (errno || *end != '\0' || port > 65535)
        return EINVAL;

    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &out->sin_addr) != 1)
        return EINVAL;
    return 0;
}

uint64_t echo_sga_len(const demi_sgarray_t *sga)
{
    uint64_t n = 0;
    uint32_t segs = sga->sga_numsegs <= DEMI_SGARRAY_MAXSIZE ? sga->sga_numsegs : DEMI_SGARRAY_MAXSIZE;
    for (uint32_t i = 0; i < segs; i++)
        n += sga->sga_segs[i].sgaseg_len;
    return n;
}

const char *echo_libos_name(void)
{
    const char *s = getenv("DEMI_LIBOS");
    if (!s || !*s)
        s = getenv("LIBOS");
    return s && *s ? s : "posix";
}

void echo_sga_release(demi_sgarray_t *sga)
{
    if (!sga->sga_buf)
        return;
    int rc = demi_sgafree(sga);
    if (rc != 0)
        echo_perror("demi_sgafree", rc);
    sga->sga_buf = NULL;
    sga->sga_numsegs = 0;
}

int echo_qdmap_set(struct echo_qdmap *m, int qd, void *p)
{
    if (qd < 0)
        return EINVAL;
    if ((size_t)qd >= m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap <= (size_t)qd)
            cap *= 2;
        void **slot = realloc(m->slot, cap * sizeof(*slot));
        if (!slot)
            return ENOMEM;
        memset(slot + m->cap, 0, (cap - m->cap) * sizeof(*slot));
        m->slot = slot;
        m->cap = cap;
    }
    m->slot[qd] = p;
    return 0;
}

void *echo_qdmap_get(const struct echo_qdmap *m, int qd)
{
    if (qd < 0 || (size_t)qd >= m->cap)
        return NULL;
    return m->slot[qd];
}

void echo_qdmap_free(struct echo_qdmap *m)
{
    free(m->slot);
    m->slot = NULL;
    m->cap = 0;
}
