/*
 * A hostile peer against a libdemi rdma server, written directly on
 * libfabric (the tcp provider, FI_EP_MSG) and speaking libdemi's wire format
 * (src/libos/rdma/rdma_wire.h) wrongly on purpose.
 *
 * The server is a child process: a libdemi echo server that accepts a
 * connection only when the test says so (so connections can sit in its
 * backlog), keeps at most four echoes in flight per connection, forces
 * FI_MR_LOCAL (so what it reads is registered and charged) and has small
 * budgets: 8 MiB registered per connection, 48 MiB in all, a 4 MiB receive
 * window, a 1 s rendezvous timeout. It reports its counters on request.
 *
 * The test process is both a well-behaved libdemi client ("good round":
 * echoes of 1 B to 3 MiB, every byte checked) and the attacker. Attacks:
 * bad connection data, connections flooding messages before they are
 * accepted (and a full backlog), oversized and malformed declarations,
 * RTS floods after accept, keys guessed, a key used again after its message
 * was delivered and for writing, DONE for nothing, a sender that vanishes
 * mid-rendezvous and one that stalls it. After each the server must still
 * serve the good client with every byte right, have dropped the attacker,
 * and hold no more registered memory than the good connection's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rdma_test_util.h"
#include "rdma_wire.h"

#define SRV_MEM_CONN (8ull << 20)
#define SRV_MEM_MAX (48ull << 20)
#define SRV_BACKLOG 16
#define SRV_RECV_BUFS 8
#define SRV_PUSHES_MAX 4
#define SRV_CONNS_MAX 64

/* ------------------------------------------------------------------ */
/* The server (child process)                                          */
/* ------------------------------------------------------------------ */

struct srv_stats {
    uint64_t mem, mem_max, conn_mem_max;
    uint64_t protocol_errors, timeouts, rejected;
    uint64_t echoed, conns_ok, conns_failed, open, backlog_ops;
    uint64_t rss_kb;
};

struct srv_conn {
    int qd;                         /* -1: free */
    bool popping;
    demi_qtoken_t pop_qt;
    demi_qtoken_t push_qt[SRV_PUSHES_MAX];
    int npush;
};

static struct {
    int ctl_fd, out_fd, lqd;
    int accept_credits;
    bool accepting;
    demi_qtoken_t accept_qt;
    struct srv_conn c[SRV_CONNS_MAX];
    struct srv_stats st;
} S;

static void srv_note_mem(int qd)
{
    uint64_t v = 0;

    if (demi_getcounter(qd, "rdma.mem_registered_max", &v) == 0 && v > S.st.conn_mem_max)
        S.st.conn_mem_max = v;
}

static void srv_close(struct srv_conn *c, bool failed)
{
    srv_note_mem(c->qd);
    demi_close(c->qd);
    c->qd = -1;
    c->popping = false;
    c->npush = 0;
    if (failed)
        S.st.conns_failed++;
    else
        S.st.conns_ok++;
    S.st.open--;
}

static void srv_report(void)
{
    demi_getcounter(-1, "rdma.mem_registered", &S.st.mem);
    demi_getcounter(-1, "rdma.mem_registered_max", &S.st.mem_max);
    demi_getcounter(-1, "rdma.protocol_errors", &S.st.protocol_errors);
    demi_getcounter(-1, "rdma.timeouts", &S.st.timeouts);
    demi_getcounter(-1, "rdma.conn_rejected", &S.st.rejected);
    for (int i = 0; i < SRV_CONNS_MAX; i++)
        if (S.c[i].qd >= 0)
            srv_note_mem(S.c[i].qd);
    S.st.rss_kb = rt_rss_kb();
    if (write(S.out_fd, &S.st, sizeof(S.st)) != sizeof(S.st))
        _exit(93);
}

/* Reads commands: 'A' one more accept, 'S' report, 'Q' quit. Returns false on 'Q'. */
static bool srv_commands(void)
{
    char cmd;

    while (read(S.ctl_fd, &cmd, 1) == 1) {
        if (cmd == 'A')
            S.accept_credits++;
        else if (cmd == 'S')
            srv_report();
        else if (cmd == 'Q')
            return false;
    }
    return true;
}

/* Completion of token i of conn c (kind 0 pop, 1.. push) */
static void srv_on_pop(struct srv_conn *c, demi_qresult_t *qr)
{
    c->popping = false;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        srv_close(c, true);
        return;
    }
    if (rt_sga_len(&qr->qr_value.sga) == 0) {
        demi_sgafree(&qr->qr_value.sga);
        srv_close(c, false);
        return;
    }
    if (demi_push(&c->push_qt[c->npush], c->qd, &qr->qr_value.sga) != 0) {
        demi_sgafree(&qr->qr_value.sga);
        srv_close(c, true);
        return;
    }
    c->npush++;
    S.st.echoed++;
    demi_sgafree(&qr->qr_value.sga);
}

static void srv_loop(void)
{
    uint64_t deadline = rt_now_ms() + 600000;

    for (;;) {
        demi_qtoken_t qts[1 + SRV_CONNS_MAX * (1 + SRV_PUSHES_MAX)];
        int owner[sizeof(qts) / sizeof(qts[0])], kind[sizeof(qts) / sizeof(qts[0])];
        struct timespec ts = {0, 20 * 1000000L};
        demi_qresult_t qr;
        int n = 0, idx, err;

        if (!srv_commands() || rt_now_ms() > deadline)
            return;
        if (!S.accepting && S.accept_credits > 0) {
            if (demi_accept(&S.accept_qt, S.lqd) != 0)
                _exit(94);
            S.accepting = true;
        }
        if (S.accepting) {
            qts[n] = S.accept_qt;
            owner[n] = -1;
            kind[n++] = 0;
        }
        for (int i = 0; i < SRV_CONNS_MAX; i++) {
            struct srv_conn *c = &S.c[i];

            if (c->qd < 0)
                continue;
            if (!c->popping && c->npush < SRV_PUSHES_MAX) {
                if (demi_pop(&c->pop_qt, c->qd) != 0) {
                    srv_close(c, true);
                    continue;
                }
                c->popping = true;
            }
            if (c->popping) {
                qts[n] = c->pop_qt;
                owner[n] = i;
                kind[n++] = 0;
            }
            for (int k = 0; k < c->npush; k++) {
                qts[n] = c->push_qt[k];
                owner[n] = i;
                kind[n++] = 1 + k;
            }
        }
        if (n == 0) {
            nanosleep(&ts, NULL);
            continue;
        }
        err = demi_wait_any(&qr, &idx, qts, n, &ts);
        if (err == ETIMEDOUT)
            continue;
        if (err)
            _exit(95);
        if (owner[idx] < 0) {
            S.accepting = false;
            S.accept_credits--;
            if (qr.qr_opcode != DEMI_OPC_ACCEPT)
                continue;
            for (int i = 0; i < SRV_CONNS_MAX; i++) {
                if (S.c[i].qd < 0) {
                    S.c[i].qd = qr.qr_value.ares.qd;
                    S.st.open++;
                    break;
                }
            }
            continue;
        }
        struct srv_conn *c = &S.c[owner[idx]];
        if (kind[idx] == 0) {
            srv_on_pop(c, &qr);
        } else {
            int k = kind[idx] - 1;
            c->push_qt[k] = c->push_qt[--c->npush];
            if (qr.qr_opcode != DEMI_OPC_PUSH)
                srv_close(c, true);
        }
    }
}

struct server {
    pid_t pid;
    uint16_t port;
    int ctl_fd, in_fd;
};

static struct server srv;

static int server_start(struct server *s)
{
    static const char *const env[] = {"DEMI_RDMA_MR_MODE", "local",
                                      "DEMI_RDMA_MEM_CONN", "8388608",
                                      "DEMI_RDMA_MEM_MAX", "50331648",
                                      "DEMI_RDMA_RX_WINDOW", "4194304",
                                      "DEMI_RDMA_RNDV_TIMEOUT_MS", "1000",
                                      "DEMI_RDMA_RECV_BUFS", "8",
                                      "DEMI_RDMA_LINGER_MS", "200",
                                      NULL};
    int ctl[2], out[2];
    struct pollfd pfd;

    if (pipe(ctl) || pipe(out))
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof(sin);

        close(ctl[1]);
        close(out[0]);
        S.ctl_fd = ctl[0];
        S.out_fd = out[1];
        fcntl(S.ctl_fd, F_SETFL, O_NONBLOCK);
        for (int i = 0; i < SRV_CONNS_MAX; i++)
            S.c[i].qd = -1;
        rt_env(env);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (demi_init(NULL) != 0 || demi_socket(&S.lqd, AF_INET, SOCK_STREAM, 0) != 0 ||
            demi_bind(S.lqd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || demi_listen(S.lqd, SRV_BACKLOG) != 0 ||
            demi_getsockname(S.lqd, (struct sockaddr *)&sin, &len) != 0)
            _exit(90);
        if (write(S.out_fd, &sin.sin_port, sizeof(sin.sin_port)) != sizeof(sin.sin_port))
            _exit(91);
        srv_loop();
        demi_fini();
        _exit(0);
    }
    close(ctl[0]);
    close(out[1]);
    s->ctl_fd = ctl[1];
    s->in_fd = out[0];
    pfd.fd = s->in_fd;
    pfd.events = POLLIN;
    if (poll(&pfd, 1, 10000) != 1 || read(s->in_fd, &s->port, sizeof(s->port)) != sizeof(s->port))
        return -1;
    s->port = ntohs(s->port);
    return 0;
}

static void server_cmd(char c)
{
    assert_int_equal(write(srv.ctl_fd, &c, 1), 1);
}

static struct srv_stats server_stats(void)
{
    struct srv_stats st;
    struct pollfd pfd = {.fd = srv.in_fd, .events = POLLIN};

    server_cmd('S');
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    assert_int_equal(read(srv.in_fd, &st, sizeof(st)), (ssize_t)sizeof(st));
    return st;
}

/* ------------------------------------------------------------------ */
/* The good client (libdemi in this process)                           */
/* ------------------------------------------------------------------ */

static int good_qd = -1;
static uint64_t baseline_mem;       /* the server's registered bytes with only the good connection */

static void good_round(void)
{
    static const size_t sizes[] = {1, 5000, 8000, 100000, 1u << 20, 3u << 20, 17};
    static uint32_t seed = 1000;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, seed++) {
        demi_sgarray_t sga = demi_sgaalloc(sizes[i]);
        demi_qresult_t qr;
        demi_qtoken_t qt;

        assert_non_null(sga.sga_buf);
        rt_fill(&sga, seed);
        assert_int_equal(demi_push(&qt, good_qd, &sga), 0);
        assert_int_equal(rt_wait(qt, &qr, 20000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
        demi_sgafree(&sga);
        assert_int_equal(demi_pop(&qt, good_qd), 0);
        assert_int_equal(rt_wait(qt, &qr, 20000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(rt_sga_len(&qr.qr_value.sga), sizes[i]);
        assert_true(rt_check(&qr.qr_value.sga, seed));
        demi_sgafree(&qr.qr_value.sga);
    }
}

/* Waits until the server holds only the good connection's memory and n
 * connections; returns its counters. */
static struct srv_stats server_settled(uint64_t open)
{
    struct srv_stats st;
    uint64_t t0 = rt_now_ms();

    do {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        st = server_stats();
    } while ((st.mem != baseline_mem || st.open != open) && rt_now_ms() - t0 < 10000);
    assert_int_equal(st.open, open);
    assert_int_equal(st.mem, baseline_mem);
    assert_true(st.mem_max <= SRV_MEM_MAX);
    assert_true(st.conn_mem_max <= SRV_MEM_CONN);
    return st;
}

/* ------------------------------------------------------------------ */
/* The attacker (raw libfabric)                                        */
/* ------------------------------------------------------------------ */

#define HC_RBUFS 16
#define HC_RSIZE 512
#define HC_SBUFS 64

static struct {
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
} H;

/* One hostile connection. */
struct hc {
    struct fid_ep *ep;
    struct fid_eq *eq;
    struct fid_cq *cq;
    int up, broken;                 /* ints: hc_wait watches them */
    struct fi_context2 rctx[HC_RBUFS], sctx[HC_SBUFS], octx;
    uint8_t rbuf[HC_RBUFS][HC_RSIZE];
    uint8_t sbuf[HC_SBUFS][HC_RSIZE];
    int snext, sends_out;
    int op_done, op_err;            /* the last RMA op: done, and its error (0: success) */
    /* messages received, parsed */
    struct rdma_wire_msg last_rts;
    int rts_seen, done_seen, data_seen;
};

static void hostile_init(void)
{
    struct fi_info *hints = fi_allocinfo();

    assert_non_null(hints);
    hints->ep_attr->type = FI_EP_MSG;
    hints->caps = FI_MSG | FI_RMA;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    hints->addr_format = FI_SOCKADDR_IN;
    hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
    hints->fabric_attr->prov_name = strdup("tcp");
    assert_int_equal(fi_getinfo(FI_VERSION(1, 9), NULL, NULL, 0, hints, &H.info), 0);
    fi_freeinfo(hints);
    assert_int_equal(fi_fabric(H.info->fabric_attr, &H.fabric, NULL), 0);
    assert_int_equal(fi_domain(H.fabric, H.info, &H.domain, NULL), 0);
}

static void hostile_fini(void)
{
    fi_close(&H.domain->fid);
    fi_close(&H.fabric->fid);
    fi_freeinfo(H.info);
}

static void hc_put_cm(uint8_t *cm, uint32_t magic, uint32_t bufs, uint32_t size, uint32_t credits)
{
    uint32_t v[4] = {htole32(magic), htole32(bufs), htole32(size), htole32(credits)};
    memcpy(cm, v, sizeof(v));
}

/* Reads h's CQ and EQ once: received messages are parsed and reposted,
 * RMA completions recorded, a shutdown or an error marks h broken. */
static void hc_poll(struct hc *h)
{
    struct fi_cq_msg_entry e[16];
    struct fi_eq_cm_entry ev;
    uint32_t event;
    ssize_t n;

    while ((n = fi_cq_read(h->cq, e, 16)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            struct fi_context2 *ctx = e[i].op_context;

            if (ctx >= h->rctx && ctx < h->rctx + HC_RBUFS) {
                int k = (int)(ctx - h->rctx);
                struct rdma_wire_limits lim = {.msg_max = UINT32_MAX};
                struct rdma_wire_msg m;

                if (rdma_wire_parse(h->rbuf[k], e[i].len, &lim, &m) == 0) {
                    if (m.type == RDMA_MSG_RTS) {
                        h->last_rts = m;
                        h->rts_seen++;
                    } else if (m.type == RDMA_MSG_DONE) {
                        h->done_seen++;
                    } else if (m.type == RDMA_MSG_DATA) {
                        h->data_seen++;
                    }
                }
                fi_recv(h->ep, h->rbuf[k], HC_RSIZE, NULL, 0, &h->rctx[k]);
            } else if (ctx == &h->octx) {
                h->op_done = 1;
                h->op_err = 0;
            } else {
                h->sends_out--;
            }
        }
    }
    if (n == -FI_EAVAIL) {
        struct fi_cq_err_entry err;

        memset(&err, 0, sizeof(err));
        if (fi_cq_readerr(h->cq, &err, 0) > 0) {
            if (err.op_context == &h->octx) {
                h->op_done = 1;
                h->op_err = err.err ? err.err : EIO;
            } else if (err.op_context && (struct fi_context2 *)err.op_context >= h->sctx &&
                       (struct fi_context2 *)err.op_context < h->sctx + HC_SBUFS) {
                h->sends_out--;
            }
        }
        h->broken = 1;
    }
    n = fi_eq_read(h->eq, &event, &ev, sizeof(ev), 0);
    if (n == -FI_EAVAIL) {
        struct fi_eq_err_entry err;

        memset(&err, 0, sizeof(err));
        fi_eq_readerr(h->eq, &err, 0);
        h->broken = 1;
    } else if (n > 0 && event == FI_CONNECTED) {
        h->up = 1;
    } else if (n > 0 && event == FI_SHUTDOWN) {
        h->broken = 1;
    }
}

/* Polls h for up to ms, or until *cond becomes true (cond may be NULL). */
static void hc_wait(struct hc *h, int ms, const volatile int *cond)
{
    uint64_t end = rt_now_ms() + (uint64_t)ms;

    do {
        hc_poll(h);
        if (cond && *cond)
            return;
        usleep(200);
    } while (rt_now_ms() < end);
}

/* Opens a hostile connection to the server with the given connection data;
 * returns 0 once connected (wait_up) or started, -1 when refused. */
static int hc_open(struct hc *h, const void *cm, size_t cmlen, bool wait_up)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(srv.port)};
    struct fi_eq_attr eq_attr = {.size = 16, .wait_obj = FI_WAIT_NONE};
    struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_MSG, .size = 256, .wait_obj = FI_WAIT_NONE};
    struct fi_info *hints = fi_dupinfo(H.info), *info = NULL;
    uint64_t end;

    memset(h, 0, sizeof(*h));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    free(hints->src_addr);
    hints->src_addr = NULL;
    hints->src_addrlen = 0;
    hints->dest_addr = malloc(sizeof(sin));
    memcpy(hints->dest_addr, &sin, sizeof(sin));
    hints->dest_addrlen = sizeof(sin);
    assert_int_equal(fi_getinfo(FI_VERSION(1, 9), NULL, NULL, 0, hints, &info), 0);
    fi_freeinfo(hints);
    assert_int_equal(fi_eq_open(H.fabric, &eq_attr, &h->eq, NULL), 0);
    assert_int_equal(fi_cq_open(H.domain, &cq_attr, &h->cq, NULL), 0);
    assert_int_equal(fi_endpoint(H.domain, info, &h->ep, NULL), 0);
    assert_int_equal(fi_ep_bind(h->ep, &h->eq->fid, 0), 0);
    assert_int_equal(fi_ep_bind(h->ep, &h->cq->fid, FI_TRANSMIT | FI_RECV), 0);
    assert_int_equal(fi_enable(h->ep), 0);
    for (int i = 0; i < HC_RBUFS; i++)
        assert_int_equal(fi_recv(h->ep, h->rbuf[i], HC_RSIZE, NULL, 0, &h->rctx[i]), 0);
    assert_int_equal(fi_connect(h->ep, info->dest_addr, cm, cmlen), 0);
    fi_freeinfo(info);
    if (!wait_up)
        return 0;
    end = rt_now_ms() + 10000;
    while (!h->up && !h->broken && rt_now_ms() < end) {
        hc_poll(h);
        usleep(200);
    }
    return h->up ? 0 : -1;
}

/* Opens a connection that says the right things: 16 buffers of 512 bytes, all credited. */
static int hc_open_ok(struct hc *h, bool wait_up)
{
    uint8_t cm[RDMA_CM_LEN];

    hc_put_cm(cm, RDMA_CM_MAGIC, HC_RBUFS, HC_RSIZE, HC_RBUFS);
    return hc_open(h, cm, sizeof(cm), wait_up);
}

static void hc_close(struct hc *h)
{
    if (h->ep)
        fi_close(&h->ep->fid);
    if (h->cq)
        fi_close(&h->cq->fid);
    if (h->eq)
        fi_close(&h->eq->fid);
    memset(h, 0, sizeof(*h));
}

/* Sends len raw bytes (no regard for credits: a hostile peer). Returns 0
 * when posted, -1 when the provider refused it. */
static int hc_send(struct hc *h, const void *msg, size_t len)
{
    int k = h->snext++ % HC_SBUFS;
    uint64_t end = rt_now_ms() + 2000;
    ssize_t ret;

    memcpy(h->sbuf[k], msg, len);
    while ((ret = fi_send(h->ep, h->sbuf[k], len, NULL, 0, &h->sctx[k])) == -FI_EAGAIN && rt_now_ms() < end)
        hc_poll(h);
    if (ret)
        return -1;
    h->sends_out++;
    return 0;
}

static void hc_send_hdr(struct hc *h, uint8_t type, uint32_t len, uint64_t id)
{
    uint8_t m[RDMA_HDR_LEN];

    rdma_wire_put_hdr(m, type, 0, len, id);
    (void)hc_send(h, m, sizeof(m));
}

static void hc_send_rts(struct hc *h, uint64_t id, uint64_t size, const struct rdma_wire_seg *segs, uint32_t n)
{
    uint8_t m[RDMA_RTS_LEN_MAX];
    uint32_t len = rdma_wire_put_rts(m, id, size, segs, n);

    (void)hc_send(h, m, len);
}

/* Posts an RMA read (write when is_write) of len bytes at the server's
 * (addr, key) into buf and waits for it. Returns 0 when it succeeded, a
 * positive error when it failed or the connection broke, ETIMEDOUT. */
static int hc_rma(struct hc *h, bool is_write, void *buf, size_t len, uint64_t addr, uint64_t key)
{
    ssize_t ret;

    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct fi_rma_iov rma = {.addr = addr, .len = len, .key = key};
    struct fi_msg_rma msg = {.msg_iov = &iov, .iov_count = 1, .rma_iov = &rma, .rma_iov_count = 1,
                             .context = &h->octx};

    h->op_done = 0;
    h->op_err = 0;
    /* A write completes at the target's word only with FI_DELIVERY_COMPLETE
     * (else the tcp provider reports it done once sent). */
    ret = is_write ? fi_writemsg(h->ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE)
                   : fi_read(h->ep, buf, len, NULL, 0, addr, key, &h->octx);
    if (ret)
        return (int)-ret;
    hc_wait(h, 3000, &h->op_done);
    if (!h->op_done)
        return h->broken ? ECONNRESET : ETIMEDOUT;
    return h->op_err;
}

/* A region of this process the server may read (as a libdemi sender exposes). */
struct hregion {
    uint8_t *mem;
    size_t len;
    struct fid_mr *mr;
    uint64_t key;
};

static void hregion_open(struct hregion *r, size_t len, uint32_t seed)
{
    r->mem = malloc(len);
    r->len = len;
    assert_non_null(r->mem);
    for (size_t i = 0; i < len; i++)
        r->mem[i] = rt_byte(seed, i);
    assert_int_equal(getrandom(&r->key, sizeof(r->key), 0), (ssize_t)sizeof(r->key));
    assert_int_equal(fi_mr_reg(H.domain, r->mem, len, FI_REMOTE_READ, 0, r->key, 0, &r->mr, NULL), 0);
    r->key = fi_mr_key(r->mr);
}

static void hregion_close(struct hregion *r)
{
    fi_close(&r->mr->fid);
    free(r->mem);
}

/* Tells the server to accept one connection and waits until it did. */
static void server_accept_one(void)
{
    uint64_t open0 = server_stats().open, t0 = rt_now_ms();

    server_cmd('A');
    while (server_stats().open == open0 && rt_now_ms() - t0 < 10000)
        usleep(5000);
    assert_int_equal(server_stats().open, open0 + 1);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    if (server_start(&srv) != 0)
        return -1;
    rt_env(NULL);
    if (demi_init(NULL) != 0)
        return -1;
    server_cmd('A');
    good_qd = rt_connect(srv.port, 10000);
    if (good_qd < 0)
        return -1;
    hostile_init();
    return 0;
}

static int group_teardown(void **state)
{
    int status = 0;

    (void)state;
    hostile_fini();
    demi_close(good_qd);
    demi_fini();
    server_cmd('Q');
    for (int i = 0; i < 500 && waitpid(srv.pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, &status, 0);
    return 0;
}

static void test_baseline(void **state)
{
    struct srv_stats st;

    (void)state;
    good_round();
    /* Let the last echo's registrations go, then note what the good connection holds. */
    usleep(200000);
    st = server_stats();
    baseline_mem = st.mem;
    print_message("  server: %llu bytes registered for the good connection\n", (unsigned long long)st.mem);
    assert_true(baseline_mem > 0 && baseline_mem < SRV_MEM_CONN);
    assert_int_equal(st.open, 1);
}

/* Connection data that is not ours, or out of range: refused, nothing kept. */
static void test_bad_connection_data(void **state)
{
    uint8_t cm[RDMA_CM_LEN];
    struct srv_stats st0 = server_stats(), st;
    struct hc *h = calloc(1, sizeof(*h));

    (void)state;
    hc_put_cm(cm, 0x12345678, 8, 4096, 8);                  /* not libdemi */
    assert_int_equal(hc_open(h, cm, sizeof(cm), true), -1);
    hc_close(h);
    hc_put_cm(cm, RDMA_CM_MAGIC, 100000, 4096, 8);          /* too many buffers */
    assert_int_equal(hc_open(h, cm, sizeof(cm), true), -1);
    hc_close(h);
    hc_put_cm(cm, RDMA_CM_MAGIC, 8, 1u << 30, 8);           /* 1 GiB buffers */
    assert_int_equal(hc_open(h, cm, sizeof(cm), true), -1);
    hc_close(h);
    hc_put_cm(cm, RDMA_CM_MAGIC, 8, 4096, 9);               /* more credits than buffers */
    assert_int_equal(hc_open(h, cm, sizeof(cm), true), -1);
    hc_close(h);
    assert_int_equal(hc_open(h, cm, 3, true), -1);          /* short */
    hc_close(h);
    free(h);
    st = server_settled(1);
    assert_int_equal(st.rejected, st0.rejected + 5);
    good_round();
}

/* Connections that flood messages before the server accepts them: they
 * cost no registered memory and nothing of theirs is consumed. The backlog
 * is bounded. Once accepted, their bogus rendezvous fail them. */
static void test_flood_before_accept(void **state)
{
    enum { N = SRV_BACKLOG + 6 };
    struct hc *h = calloc(N, sizeof(*h));
    struct srv_stats st0 = server_stats(), st;
    int up = 0;

    (void)state;
    for (int i = 0; i < N; i++) {
        if (hc_open_ok(&h[i], true) != 0)
            continue;
        up++;
        for (int k = 0; k < 12; k++) {
            struct rdma_wire_seg seg = {.addr = 0, .key = 0xdead0000u + (uint64_t)k, .len = 2u << 20};
            uint8_t data[RDMA_HDR_LEN + 100];

            hc_send_rts(&h[i], (uint64_t)k, seg.len, &seg, 1);
            rdma_wire_put_hdr(data, RDMA_MSG_DATA, 0, 100, 0);
            memset(data + RDMA_HDR_LEN, 0x5a, 100);
            (void)hc_send(&h[i], data, sizeof(data));
        }
    }
    for (int r = 0; r < 10; r++)
        for (int i = 0; i < N; i++)
            if (h[i].ep)
                hc_poll(&h[i]);
    usleep(300000);
    st = server_stats();
    print_message("  %d of %d connections up before accept (backlog %d); server holds %llu bytes registered\n", up, N,
                  SRV_BACKLOG, (unsigned long long)st.mem);
    assert_true(up <= SRV_BACKLOG);
    assert_true(up >= SRV_BACKLOG - 2);
    assert_int_equal(st.mem, baseline_mem);         /* nothing registered for them */
    assert_int_equal(st.echoed, st0.echoed);        /* nothing of theirs consumed */
    assert_int_equal(st.protocol_errors, st0.protocol_errors);
    assert_true(st.rejected >= st0.rejected + (uint64_t)(N - up));
    good_round();
    st0 = server_stats();

    /* Accepted: their held rendezvous name keys that do not exist. The
     * attacker's provider refuses the reads and shuts its socket, but the
     * server cannot see that end behind the messages it has no buffers for
     * (flow control): its rendezvous timeout drops them. */
    for (int i = 0; i < up; i++)
        server_cmd('A');
    for (int r = 0; r < 200; r++) {
        for (int i = 0; i < N; i++)
            if (h[i].ep)
                hc_poll(&h[i]);
        usleep(5000);
    }
    st = server_settled(1);
    print_message("  after accepting them: %llu failed, %llu echoed\n",
                  (unsigned long long)(st.conns_failed - st0.conns_failed),
                  (unsigned long long)(st.echoed - st0.echoed));
    assert_int_equal(st.conns_failed, st0.conns_failed + (uint64_t)up);
    assert_int_equal(st.echoed, st0.echoed);    /* nothing behind a message that never arrived */
    for (int i = 0; i < N; i++)
        hc_close(&h[i]);
    free(h);
    good_round();
}

/* Declarations over any limit, or that do not add up: the connection is
 * dropped as a protocol error; nothing is allocated for them. */
static void test_oversized_declarations(void **state)
{
    struct srv_stats st0 = server_stats(), st;
    struct hc *h = calloc(1, sizeof(*h));
    const int cases = 6;

    (void)state;
    for (int c = 0; c < cases; c++) {
        struct rdma_wire_seg segs[RDMA_RTS_SEGS_MAX + 1];
        uint8_t m[RDMA_RTS_LEN(RDMA_RTS_SEGS_MAX + 1)];

        assert_int_equal(hc_open_ok(h, true), 0);
        server_accept_one();
        memset(segs, 0, sizeof(segs));
        switch (c) {
        case 0: /* 1 TiB */
            segs[0].len = 1ull << 40;
            hc_send_rts(h, 0, segs[0].len, segs, 1);
            break;
        case 1: /* over DEMI_SGA_MAX (1 GiB) */
            segs[0].len = (1ull << 30) + 1;
            hc_send_rts(h, 0, segs[0].len, segs, 1);
            break;
        case 2: /* segments that do not add up */
            segs[0].len = 1000;
            segs[1].len = 1000;
            hc_send_rts(h, 0, 5000, segs, 2);
            break;
        case 3: /* 17 segments */
            for (uint32_t i = 0; i <= RDMA_RTS_SEGS_MAX; i++)
                segs[i].len = 100;
            rdma_wire_put_hdr(m, RDMA_MSG_RTS, 0, RDMA_RTS_SEGS_MAX + 1, 0);
            memset(m + RDMA_HDR_LEN, 0, sizeof(m) - RDMA_HDR_LEN);
            (void)hc_send(h, m, sizeof(m) > HC_RSIZE ? HC_RSIZE : sizeof(m));
            break;
        case 4: /* DATA whose length field is larger than the message */
            rdma_wire_put_hdr(m, RDMA_MSG_DATA, 0, 300, 0);
            (void)hc_send(h, m, RDMA_HDR_LEN + 20);
            break;
        case 5: /* more credits than the server has buffers */
            rdma_wire_put_hdr(m, RDMA_MSG_CREDIT, 60000, 0, 0);
            (void)hc_send(h, m, RDMA_HDR_LEN);
            break;
        }
        hc_wait(h, 3000, &h->broken);
        assert_true(h->broken);
        hc_close(h);
    }
    free(h);
    st = server_settled(1);
    assert_int_equal(st.protocol_errors, st0.protocol_errors + (uint64_t)cases);
    good_round();
}

/* A flood of real rendezvous after accept, from a peer that then stops
 * answering reads: the server takes no more than its window, stays within
 * its budgets, and gives up on the connection after its rendezvous
 * timeout. */
static void test_rts_flood_stalled(void **state)
{
    struct srv_stats st0 = server_stats(), st;
    struct hc *h = calloc(1, sizeof(*h));
    struct hregion r;
    uint64_t t0;

    (void)state;
    hregion_open(&r, 2u << 20, 7);
    assert_int_equal(hc_open_ok(h, true), 0);
    server_accept_one();
    for (int k = 0; k < 40; k++) {
        struct rdma_wire_seg seg = {.addr = 0, .key = r.key, .len = r.len};
        hc_send_rts(h, (uint64_t)k, r.len, &seg, 1);
    }
    /* The sends went out when posted; from now on this peer serves nothing
     * (the tcp provider answers reads only while its owner polls). */
    t0 = rt_now_ms();
    usleep(500000);
    st = server_stats();
    print_message("  stalled flood: server holds %llu bytes registered (max %llu), RSS %llu KiB\n",
                  (unsigned long long)st.mem, (unsigned long long)st.mem_max, (unsigned long long)st.rss_kb);
    assert_true(st.mem <= baseline_mem + SRV_MEM_CONN);
    assert_true(st.conn_mem_max <= SRV_MEM_CONN);
    /* Its 1 s rendezvous timeout drops the connection. */
    while (server_stats().timeouts == st0.timeouts && rt_now_ms() - t0 < 10000)
        usleep(50000);
    st = server_settled(1);
    assert_int_equal(st.timeouts, st0.timeouts + 1);
    assert_int_equal(st.echoed, st0.echoed);
    assert_int_equal(st.conns_failed, st0.conns_failed + 1);
    hc_close(h);
    hregion_close(&r);
    free(h);
    good_round();
}

/* A sender that announces a rendezvous and vanishes before it is read:
 * nothing is delivered, the connection is dropped. */
static void test_vanish_mid_rendezvous(void **state)
{
    struct srv_stats st0 = server_stats(), st;
    struct hc *h = calloc(1, sizeof(*h));
    struct hregion r;

    (void)state;
    hregion_open(&r, 3u << 20, 8);
    assert_int_equal(hc_open_ok(h, true), 0);
    server_accept_one();
    struct rdma_wire_seg seg = {.addr = 0, .key = r.key, .len = r.len};
    hc_send_rts(h, 0, r.len, &seg, 1);
    hc_close(h);        /* gone before the server could read */
    hregion_close(&r);
    st = server_settled(1);
    assert_int_equal(st.echoed, st0.echoed);
    assert_int_equal(st.conns_failed, st0.conns_failed + 1);
    free(h);
    good_round();
}

/* Keys guessed: small numbers, numbers near each other, random ones, read
 * and write. None gets anywhere (and each attempt costs the attacker its
 * connection). */
static void test_guessed_keys(void **state)
{
    struct hc *h = calloc(1, sizeof(*h));
    uint8_t buf[64];
    int tries = 0, failed = 0;

    (void)state;
    for (int k = 0; k < 24; k++) {
        uint64_t key;

        if (k < 8)
            key = (uint64_t)k;
        else if (k < 16)
            key = 0x1000 + (uint64_t)k;
        else
            assert_int_equal(getrandom(&key, sizeof(key), 0), (ssize_t)sizeof(key));
        if (!h->ep || h->broken) {
            hc_close(h);
            assert_int_equal(hc_open_ok(h, true), 0);
            server_accept_one();
        }
        tries++;
        if (hc_rma(h, k % 2 == 1, buf, sizeof(buf), 0, key) != 0)
            failed++;
    }
    hc_close(h);
    free(h);
    print_message("  %d guessed keys, %d refused\n", tries, failed);
    assert_int_equal(failed, tries);
    server_settled(1);
    good_round();
}

/* Behaves until the server's echo is announced, then tries to write with
 * the echo's key (never allowed), reads it properly, says DONE, and tries
 * the key again, for reading and writing (it is gone), also from another
 * connection. */
static void test_old_key_after_delivery(void **state)
{
    struct hc *h = calloc(1, sizeof(*h)), *h2 = calloc(1, sizeof(*h2));
    const size_t len = 1u << 20;
    uint8_t *in = malloc(len);
    struct hregion r;
    struct rdma_wire_seg seg;
    struct rdma_wire_msg echo;
    struct srv_stats st0 = server_stats();

    (void)state;
    assert_non_null(in);
    /* 1: write with the key of an announced echo: refused. */
    hregion_open(&r, len, 21);
    assert_int_equal(hc_open_ok(h, true), 0);
    server_accept_one();
    seg = (struct rdma_wire_seg){.addr = 0, .key = r.key, .len = len};
    hc_send_rts(h, 0, len, &seg, 1);
    hc_wait(h, 5000, &h->rts_seen);
    assert_int_equal(h->rts_seen, 1);
    assert_int_equal(h->done_seen, 1);      /* the server read ours */
    echo = h->last_rts;
    assert_int_equal(echo.size, len);
    assert_true(hc_rma(h, true, in, 64, echo.segs[0].addr, echo.segs[0].key) != 0);
    hc_close(h);
    hregion_close(&r);

    /* 2: read the echo properly, DONE, then the same key again. */
    hregion_open(&r, len, 22);
    assert_int_equal(hc_open_ok(h, true), 0);
    server_accept_one();
    seg = (struct rdma_wire_seg){.addr = 0, .key = r.key, .len = len};
    hc_send_rts(h, 0, len, &seg, 1);
    hc_wait(h, 5000, &h->rts_seen);
    assert_int_equal(h->rts_seen, 1);
    echo = h->last_rts;
    assert_int_equal(echo.len, 1);
    assert_int_equal(hc_rma(h, false, in, len, echo.segs[0].addr, echo.segs[0].key), 0);
    for (size_t i = 0; i < len; i++)
        if (in[i] != rt_byte(22, i))
            fail_msg("echo byte %zu wrong", i);
    hc_send_hdr(h, RDMA_MSG_DONE, 0, echo.id);
    hc_wait(h, 300, NULL);
    /* The message was delivered: its key opens nothing any more. */
    assert_true(hc_rma(h, false, in, 64, echo.segs[0].addr, echo.segs[0].key) != 0);
    hc_close(h);
    assert_int_equal(hc_open_ok(h2, true), 0);
    server_accept_one();
    assert_true(hc_rma(h2, false, in, 64, echo.segs[0].addr, echo.segs[0].key) != 0);
    hc_close(h2);
    assert_int_equal(hc_open_ok(h2, true), 0);
    server_accept_one();
    assert_true(hc_rma(h2, true, in, 64, echo.segs[0].addr, echo.segs[0].key) != 0);
    hc_close(h2);
    hregion_close(&r);
    free(in);
    free(h);
    free(h2);
    {
        struct srv_stats st = server_settled(1);
        assert_int_equal(st.echoed, st0.echoed + 2);
    }
    good_round();
}

/* DONE for a message never sent, and an unknown type: protocol errors. */
static void test_done_without_data(void **state)
{
    struct srv_stats st0 = server_stats(), st;
    struct hc *h = calloc(1, sizeof(*h));
    uint8_t m[RDMA_HDR_LEN];

    (void)state;
    assert_int_equal(hc_open_ok(h, true), 0);
    server_accept_one();
    hc_send_hdr(h, RDMA_MSG_DONE, 0, 5);
    hc_wait(h, 3000, &h->broken);
    assert_true(h->broken);
    hc_close(h);
    assert_int_equal(hc_open_ok(h, true), 0);
    server_accept_one();
    rdma_wire_put_hdr(m, 99, 0, 0, 0);
    (void)hc_send(h, m, sizeof(m));
    hc_wait(h, 3000, &h->broken);
    assert_true(h->broken);
    hc_close(h);
    free(h);
    st = server_settled(1);
    assert_int_equal(st.protocol_errors, st0.protocol_errors + 2);
    assert_int_equal(st.echoed, st0.echoed);
    good_round();
}

static void test_final_budget(void **state)
{
    struct srv_stats st = server_settled(1);

    (void)state;
    print_message("  server: peak %llu bytes registered (budget %llu), peak per connection %llu (budget %llu); "
                  "%llu protocol errors, %llu timeouts, %llu refused, %llu connections failed; RSS %llu KiB\n",
                  (unsigned long long)st.mem_max, (unsigned long long)SRV_MEM_MAX,
                  (unsigned long long)st.conn_mem_max, (unsigned long long)SRV_MEM_CONN,
                  (unsigned long long)st.protocol_errors, (unsigned long long)st.timeouts,
                  (unsigned long long)st.rejected, (unsigned long long)st.conns_failed,
                  (unsigned long long)st.rss_kb);
    assert_true(st.mem_max <= SRV_MEM_MAX);
    assert_true(st.conn_mem_max <= SRV_MEM_CONN);
    good_round();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline),
        cmocka_unit_test(test_bad_connection_data),
        cmocka_unit_test(test_flood_before_accept),
        cmocka_unit_test(test_oversized_declarations),
        cmocka_unit_test(test_rts_flood_stalled),
        cmocka_unit_test(test_vanish_mid_rendezvous),
        cmocka_unit_test(test_guessed_keys),
        cmocka_unit_test(test_old_key_after_delivery),
        cmocka_unit_test(test_done_without_data),
        cmocka_unit_test(test_final_budget),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("rdma_hostile", tests, group_setup, group_teardown);
}
