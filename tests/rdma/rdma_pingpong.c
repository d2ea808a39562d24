/*
 * A ping-pong over libdemi that does what fi_pingpong does and no more: one
 * buffer allocated and filled once, each message pushed and its echo
 * popped, only the length checked. Set beside fi_pingpong on the same
 * provider (tests/rdma/pingpong_compare.sh) it shows what libdemi's layer
 * costs over the provider, without demi-echo's per-byte checking.
 *
 *   rdma_pingpong server PORT
 *   rdma_pingpong client IP PORT SIZE ITERS     (prints: size iters rtt_mean_us MB/s)
 *
 * MB/s is one message's bytes per round trip, as bench/summarize.py counts
 * both demi-echo and fi_pingpong. The libOS is DEMI_LIBOS's.
 */
#include <arpa/inet.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int wait_op(demi_qtoken_t qt, demi_opcode_t want, demi_qresult_t *qr)
{
    struct timespec ts = {.tv_sec = 30};
    int err = demi_wait(qr, qt, &ts);

    if (err)
        return err;
    if (qr->qr_opcode != want)
        return qr->qr_opcode == DEMI_OPC_FAILED ? (int)qr->qr_ret : EIO;
    return 0;
}

static uint64_t sga_len(const demi_sgarray_t *sga)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < sga->sga_numsegs; i++)
        n += sga->sga_segs[i].sgaseg_len;
    return n;
}

static int server(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int lqd, qd, err;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((err = demi_socket(&lqd, AF_INET, SOCK_STREAM, 0)) || (err = demi_bind(lqd, (struct sockaddr *)&sin,
                                                                                sizeof(sin))) ||
        (err = demi_listen(lqd, 4)))
        return err;
    fprintf(stderr, "rdma_pingpong: serving on 127.0.0.1:%u\n", port);
    for (;;) {
        if ((err = demi_accept(&qt, lqd)) != 0)
            return err;
        while ((err = wait_op(qt, DEMI_OPC_ACCEPT, &qr)) == ETIMEDOUT)
            ;   /* a server waits for its next client as long as it takes */
        if (err)
            return err;
        qd = qr.qr_value.ares.qd;
        for (;;) {
            demi_sgarray_t sga;

            if ((err = demi_pop(&qt, qd)) || (err = wait_op(qt, DEMI_OPC_POP, &qr)))
                break;
            sga = qr.qr_value.sga;
            if (sga_len(&sga) == 0) {
                demi_sgafree(&sga);
                break;
            }
            err = demi_push(&qt, qd, &sga);
            demi_sgafree(&sga);
            if (err || (err = wait_op(qt, DEMI_OPC_PUSH, &qr)))
                break;
        }
        demi_close(qd);
    }
}

static int client(const char *ip, uint16_t port, size_t size, long iters)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    demi_sgarray_t sga;
    demi_qresult_t qr;
    demi_qtoken_t qt;
    uint64_t t0 = 0;
    int qd, err;

    if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
        return EINVAL;
    if ((err = demi_socket(&qd, AF_INET, SOCK_STREAM, 0)) ||
        (err = demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin))) ||
        (err = wait_op(qt, DEMI_OPC_CONNECT, &qr)))
        return err;
    sga = demi_sgaalloc(size);
    if (!sga.sga_buf)
        return ENOMEM;
    for (uint32_t i = 0; i < sga.sga_numsegs; i++)
        memset(sga.sga_segs[i].sgaseg_buf, 0x5a, sga.sga_segs[i].sgaseg_len);
    /* A tenth of the iterations (at least 10) warm up first, unmeasured. */
    long warm = iters / 10 > 10 ? iters / 10 : 10;
    for (long i = -warm; i < iters; i++) {
        if (i == 0)
            t0 = now_ns();
        if ((err = demi_push(&qt, qd, &sga)) || (err = wait_op(qt, DEMI_OPC_PUSH, &qr)) ||
            (err = demi_pop(&qt, qd)) || (err = wait_op(qt, DEMI_OPC_POP, &qr)))
            return err;
        if (sga_len(&qr.qr_value.sga) != size)
            return EIO;
        demi_sgafree(&qr.qr_value.sga);
    }
    double us = (double)(now_ns() - t0) / 1e3 / (double)iters;
    printf("%zu %ld %.2f %.1f\n", size, iters, us, (double)size / us);
    demi_sgafree(&sga);
    demi_close(qd);
    return 0;
}

int main(int argc, char **argv)
{
    int err;

    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        if ((err = demi_init(NULL)) == 0)
            err = server((uint16_t)atoi(argv[2]));
    } else if (argc == 6 && strcmp(argv[1], "client") == 0) {
        if ((err = demi_init(NULL)) == 0)
            err = client(argv[2], (uint16_t)atoi(argv[3]), (size_t)strtoull(argv[4], NULL, 0), atol(argv[5]));
    } else {
        fprintf(stderr, "usage: rdma_pingpong server PORT | client IP PORT SIZE ITERS\n");
        return 2;
    }
    if (err)
        fprintf(stderr, "rdma_pingpong: %s\n", strerror(err));
    demi_fini();
    return err ? 1 : 0;
}
