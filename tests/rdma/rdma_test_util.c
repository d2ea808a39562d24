/* Helpers of the rdma libOS tests (see rdma_test_util.h). */
#include "rdma_test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RT_MAX_TOKENS 1024

static int child_signal_fd = -1;

uint64_t rt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


void rt_env(const char *const *extra)
{
    static const char *const vars[] = {"DEMI_RDMA_RECV_BUFS", "DEMI_RDMA_RECV_SIZE", "DEMI_RDMA_RX_WINDOW",
                                       "DEMI_RDMA_MEM_CONN", "DEMI_RDMA_MEM_MAX", "DEMI_RDMA_MR_MODE",
                                       "DEMI_RDMA_CONNECT_TIMEOUT_MS", "DEMI_RDMA_RNDV_TIMEOUT_MS",
                                       "DEMI_RDMA_DGRAM_PROVIDER", "DEMI_RDMA_LINGER_MS"};

    setenv("DEMI_LIBOS", "rdma", 1);
    setenv("DEMI_RDMA_PROVIDER", "tcp", 1);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    /* RT_DGRAM_PROVIDER runs the datagram tests over another provider. */
    if (getenv("RT_DGRAM_PROVIDER"))
        setenv("DEMI_RDMA_DGRAM_PROVIDER", getenv("RT_DGRAM_PROVIDER"), 1);
    for (int i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        setenv(extra[i], extra[i + 1], 1);
}

int rt_spawn(struct rt_child *ch, rt_server_fn fn, void *arg, const char *const *extra)
{
    int port_pipe[2], res_pipe[2], sig_pipe[2];
    struct pollfd pfd;

    if (pipe(port_pipe) || pipe(res_pipe) || pipe(sig_pipe))
        return -1;
    ch->pid = fork();
    if (ch->pid < 0)
        return -1;
    if (ch->pid == 0) {
        struct rt_result res = {0};
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof(sin);
        int qd, rc = 90;

        close(port_pipe[0]);
        close(res_pipe[0]);
        close(sig_pipe[0]);
        child_signal_fd = sig_pipe[1];
        rt_env(extra);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (demi_init(NULL) != 0 || demi_socket(&qd, AF_INET, SOCK_STREAM, 0) != 0 ||
            demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || demi_listen(qd, 128) != 0 ||
            demi_getsockname(qd, (struct sockaddr *)&sin, &len) != 0)
            _exit(rc);
        if (write(port_pipe[1], &sin.sin_port, sizeof(sin.sin_port)) != sizeof(sin.sin_port))
            _exit(rc);
        close(port_pipe[1]);
        res.rss0_kb = rt_rss_kb();
        rc = fn(qd, arg, &res);
        res.status = rc;
        res.hwm_kb = rt_hwm_kb();
        demi_fini();
        if (write(res_pipe[1], &res, sizeof(res)) != sizeof(res))
            _exit(91);
        _exit(rc);
    }
    close(port_pipe[1]);
    close(res_pipe[1]);
    close(sig_pipe[1]);
    ch->result_fd = res_pipe[0];
    ch->signal_fd = sig_pipe[0];
    pfd.fd = port_pipe[0];
    pfd.events = POLLIN;
    if (poll(&pfd, 1, 10000) != 1 || read(port_pipe[0], &ch->port, sizeof(ch->port)) != sizeof(ch->port)) {
        close(port_pipe[0]);
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, NULL, 0);
        return -1;
    }
    close(port_pipe[0]);
    ch->port = ntohs(ch->port);
    return 0;
}

void rt_child_signal(void)
{
    char b = 1;

    if (child_signal_fd >= 0 && write(child_signal_fd, &b, 1) != 1)
        _exit(92);
}

void rt_child_send(const void *data, size_t len)
{
    if (child_signal_fd >= 0 && write(child_signal_fd, data, len) != (ssize_t)len)
        _exit(92);
}

int rt_wait_data(struct rt_child *ch, void *data, size_t len, int timeout_ms)
{
    struct pollfd pfd = {.fd = ch->signal_fd, .events = POLLIN};

    if (poll(&pfd, 1, timeout_ms) != 1 || read(ch->signal_fd, data, len) != (ssize_t)len)
        return -1;
    return 0;
}

int rt_wait_signal(struct rt_child *ch, int timeout_ms)
{
    struct pollfd pfd = {.fd = ch->signal_fd, .events = POLLIN};
    char b;

    if (poll(&pfd, 1, timeout_ms) != 1 || read(ch->signal_fd, &b, 1) != 1)
        return -1;
    return 0;
}

int rt_reap(struct rt_child *ch, int timeout_ms, struct rt_result *res)
{
    struct pollfd pfd = {.fd = ch->result_fd, .events = POLLIN};
    int status = 0, rc = -1;

    if (res)
        memset(res, 0, sizeof(*res));
    if (poll(&pfd, 1, timeout_ms) == 1) {
        struct rt_result r;
        if (read(ch->result_fd, &r, sizeof(r)) == sizeof(r) && res)
            *res = r;
    }
    for (int i = 0; i < 200; i++) {
        if (waitpid(ch->pid, &status, WNOHANG) == ch->pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            goto out;
        }
        usleep(10000);
    }
    kill(ch->pid, SIGKILL);
    waitpid(ch->pid, &status, 0);
out:
    close(ch->result_fd);
    close(ch->signal_fd);
    return rc;
}

int rt_wait(demi_qtoken_t qt, demi_qresult_t *qr, int timeout_ms)
{
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};

    return demi_wait(qr, qt, &ts);
}

void rt_fill(demi_sgarray_t *sga, uint32_t seed)
{
    uint64_t off = 0;

    for (uint32_t s = 0; s < sga->sga_numsegs; s++) {
        uint8_t *p = sga->sga_segs[s].sgaseg_buf;
        for (uint32_t i = 0; i < sga->sga_segs[s].sgaseg_len; i++)
            p[i] = rt_byte(seed, off + i);
        off += sga->sga_segs[s].sgaseg_len;
    }
}

bool rt_check(const demi_sgarray_t *sga, uint32_t seed)
{
    uint64_t off = 0;

    for (uint32_t s = 0; s < sga->sga_numsegs; s++) {
        const uint8_t *p = sga->sga_segs[s].sgaseg_buf;
        for (uint32_t i = 0; i < sga->sga_segs[s].sgaseg_len; i++)
            if (p[i] != rt_byte(seed, off + i))
                return false;
        off += sga->sga_segs[s].sgaseg_len;
    }
    return true;
}

uint64_t rt_sga_len(const demi_sgarray_t *sga)
{
    uint64_t n = 0;

    for (uint32_t s = 0; s < sga->sga_numsegs; s++)
        n += sga->sga_segs[s].sgaseg_len;
    return n;
}

static uint64_t status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t v = 0;
    size_t n = strlen(field);

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0)
            v = strtoull(line + n, NULL, 10);
    fclose(f);
    return v;
}

uint64_t rt_rss_kb(void)
{
    return status_kb("VmRSS:");
}

uint64_t rt_hwm_kb(void)
{
    return status_kb("VmHWM:");
}

uint64_t rt_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the command (which may hold spaces) start after its ')'. */
    if (!(p = strrchr(buf, ')')))
        return 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

int rt_connect(uint16_t port, int timeout_ms)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd, err;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((err = demi_socket(&qd, AF_INET, SOCK_STREAM, 0)) != 0)
        return -err;
    if ((err = demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin))) != 0 ||
        (err = rt_wait(qt, &qr, timeout_ms)) != 0) {
        demi_close(qd);
        return -err;
    }
    if (qr.qr_opcode != DEMI_OPC_CONNECT) {
        demi_close(qd);
        return -(int)(qr.qr_ret ? qr.qr_ret : EIO);
    }
    return qd;
}

/* Echoes every message on every connection until `*(int *)arg` connections
 * ended (EOF). Fails on any error or after 120 s. */
int rt_echo_server(int lqd, void *arg, struct rt_result *res)
{
    int expected = *(int *)arg, ended = 0;
    demi_qtoken_t qts[RT_MAX_TOKENS];
    int owners[RT_MAX_TOKENS], n = 0, idx;
    uint64_t deadline = rt_now_ms() + 120000;
    demi_qresult_t qr;

    if (demi_accept(&qts[n], lqd) != 0)
        return 1;
    owners[n++] = lqd;
    while (ended < expected) {
        struct timespec ts = {.tv_sec = 1};
        int err;

        if (rt_now_ms() > deadline)
            return 2;
        err = demi_wait_any(&qr, &idx, qts, n, &ts);
        if (err == ETIMEDOUT)
            continue;
        if (err)
            return 3;
        int qd = owners[idx];
        qts[idx] = qts[--n];
        owners[idx] = owners[n];
        switch (qr.qr_opcode) {
        case DEMI_OPC_ACCEPT:
            if (demi_pop(&qts[n], qr.qr_value.ares.qd) != 0)
                return 4;
            owners[n++] = qr.qr_value.ares.qd;
            if (demi_accept(&qts[n], lqd) != 0)
                return 5;
            owners[n++] = lqd;
            break;
        case DEMI_OPC_POP:
            if (rt_sga_len(&qr.qr_value.sga) == 0) {   /* end of stream */
                demi_sgafree(&qr.qr_value.sga);
                demi_close(qd);
                ended++;
                break;
            }
            res->msgs++;
            res->bytes += rt_sga_len(&qr.qr_value.sga);
            if ((err = demi_push(&qts[n], qd, &qr.qr_value.sga)) != 0) {
                res->err = err;
                return 6;
            }
            owners[n++] = -1;
            demi_sgafree(&qr.qr_value.sga);
            if (demi_pop(&qts[n], qd) != 0)
                return 7;
            owners[n++] = qd;
            break;
        case DEMI_OPC_PUSH:
            break;
        default:
            res->err = qr.qr_ret;
            return 8;
        }
        if (n + 3 > RT_MAX_TOKENS)
            return 9;
    }
    return 0;
}

int rt_session(struct rt_child *ch, rt_server_fn fn, void *arg, const char *const *srv_env,
               const char *const *cli_env)
{
    if (rt_spawn(ch, fn, arg, srv_env) != 0)
        return -ECHILD;
    rt_env(cli_env);
    if (demi_init(NULL) != 0)
        return -EIO;
    return rt_connect(ch->port, 10000);
}

int rt_echo(int qd, demi_sgarray_t *sga, uint32_t seed)
{
    uint64_t size = rt_sga_len(sga);
    demi_qresult_t qr;
    demi_qtoken_t qt;

    rt_fill(sga, seed);
    if (demi_push(&qt, qd, sga) != 0 || rt_wait(qt, &qr, 30000) != 0)
        return 1;
    if (qr.qr_opcode != DEMI_OPC_PUSH)
        return 2;
    if (demi_pop(&qt, qd) != 0 || rt_wait(qt, &qr, 30000) != 0)
        return 3;
    if (qr.qr_opcode != DEMI_OPC_POP)
        return 4;
    int rc = rt_sga_len(&qr.qr_value.sga) != size ? 5 : !rt_check(&qr.qr_value.sga, seed) ? 6 : 0;
    demi_sgafree(&qr.qr_value.sga);
    return rc;
}
