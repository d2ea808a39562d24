/*
 * plain-echo: demi-echo over plain kernel sockets (see plain_echo.h).
 *
 *   plain-echo server --addr IP:PORT [--proto tcp|udp|both]
 *   plain-echo client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]
 *                     [--conns N] [--json] [--timeout SEC] [--warmup N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plain_echo.h"

#define PLAIN_MAX_SIZE (1ull << 30)

uint64_t plain_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PLAIN_PROG " server --addr IP:PORT [--proto tcp|udp|both]\n"
            "       " PLAIN_PROG " client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]\n"
            "                  [--conns N] [--json] [--timeout SEC] [--warmup N]\n"
            "both take --spin: busy-poll (client: non-blocking recv in a loop; server: epoll_wait\n"
            "with timeout 0) instead of sleeping in the kernel, as libdemi's libOSes poll\n"
            "\n"
            "demi-echo's server and client over plain Linux sockets (no libdemi): the same options,\n"
            "messages, checks and output as demi-echo (see demi-echo --help). The client runs one\n"
            "thread per connection (--conns at most %u) with blocking sockets; the server is one\n"
            "epoll loop. Sizes take a k, m or g suffix (KiB, MiB, GiB); udp messages are at most %u B.\n",
            PLAIN_MAX_CONNS, PLAIN_UDP_MAX);
}

/* Parses a decimal integer in [min, max], with a k/m/g (binary) suffix when
 * suffix_ok. Returns 0 or EINVAL. */
static int parse_u64(const char *s, bool suffix_ok, uint64_t min, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    const char *suffixes = "kmg";
    const char *p = suffix_ok && *end ? strchr(suffixes, *end | 0x20) : NULL;
    if (p) {
        unsigned shift = 10 * (unsigned)(p - suffixes + 1);
        if (v > (UINT64_MAX >> shift))
            return EINVAL;
        v <<= shift;
        end++;
    }
    if (errno || *end || v < min || v > max)
        return EINVAL;
    *out = v;
    return 0;
}

/* Parses "a.b.c.d:port". Returns 0 or EINVAL. */
static int parse_addr(const char *s, struct sockaddr_in *out)
{
    const char *colon = strrchr(s, ':');
    char ip[INET_ADDRSTRLEN];
    uint64_t port;
    if (!colon || colon - s >= (long)sizeof(ip) || parse_u64(colon + 1, false, 0, 65535, &port) != 0)
        return EINVAL;
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, ip, &out->sin_addr) == 1 ? 0 : EINVAL;
}

static int bad_value(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, PLAIN_PROG ": bad value for --%s: '%s' (%s)\n", opt, val, why);
    usage(stderr);
    return 2;
}

/* Parses the options after the subcommand. Returns 0, or 2 after printing usage. */
static int parse_opts(int argc, char **argv, bool server, struct plain_opts *o)
{
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, 'a'},    {"proto", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},    {"count", required_argument, NULL, 'n'},
        {"conns", required_argument, NULL, 'c'},   {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'}, {"warmup", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},          {"spin", no_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    bool have_addr = false;
    uint64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "a:p:s:n:c:jt:w:hS", longopts, NULL)) != -1) {
        if (server && strchr("sncjtw", opt)) {
            fprintf(stderr, PLAIN_PROG ": option '%s' is for the client only\n", argv[optind - 1]);
            return 2;
        }
        switch (opt) {
        case 'a':
            if (parse_addr(optarg, &o->addr) != 0)
                return bad_value("addr", optarg, "expected IPv4:PORT");
            have_addr = true;
            break;
        case 'p':
            if (!strcmp(optarg, "tcp"))
                o->proto = PLAIN_TCP;
            else if (!strcmp(optarg, "udp"))
                o->proto = PLAIN_UDP;
            else if (!strcmp(optarg, "both") && server)
                o->proto = PLAIN_BOTH;
            else
                return bad_value("proto", optarg, server ? "tcp, udp or both" : "tcp or udp");
            break;
        case 's':
            if (parse_u64(optarg, true, 1, PLAIN_MAX_SIZE, &v) != 0)
                return bad_value("size", optarg, "1 byte to 1 GiB");
            o->size = (size_t)v;
            break;
        case 'n':
            if (parse_u64(optarg, false, 1, UINT64_MAX >> 20, &o->count) != 0)
                return bad_value("count", optarg, "a positive integer");
            break;
        case 'c':
            if (parse_u64(optarg, false, 1, PLAIN_MAX_CONNS, &v) != 0)
                return bad_value("conns", optarg, "1 to 1024");
            o->conns = (uint32_t)v;
            break;
        case 'w':
            if (parse_u64(optarg, false, 0, UINT64_MAX >> 20, &o->warmup) != 0)
                return bad_value("warmup", optarg, "a non-negative integer");
            break;
        case 't': {
            char *end;
            errno = 0;
            o->timeout_sec = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(o->timeout_sec > 0) || o->timeout_sec > 86400)
                return bad_value("timeout", optarg, "seconds, more than 0 and at most 86400");
            break;
        }
        case 'j':
#ifndef ECHO_HAVE_JSON
            fprintf(stderr, PLAIN_PROG ": --json: this build has no json-c (install libjson-c-dev and rebuild)\n");
            return 2;
#endif
            o->json = true;
            break;
        case 'S':
            o->spin = true;
            break;
        case 'h':
            usage(stdout);
            return 2;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PLAIN_PROG ": unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!have_addr) {
        fprintf(stderr, PLAIN_PROG ": --addr IP:PORT is required\n");
        usage(stderr);
        return 2;
    }
    if (!server && (o->addr.sin_port == 0 || o->addr.sin_addr.s_addr == htonl(INADDR_ANY))) {
        fprintf(stderr, PLAIN_PROG ": the client needs the server's address and a port other than 0\n");
        return 2;
    }
    if (!server && o->proto == PLAIN_UDP && o->size > PLAIN_UDP_MAX) {
        fprintf(stderr, PLAIN_PROG ": --size: at most %u over udp\n", PLAIN_UDP_MAX);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return 2;
    }
    bool server = !strcmp(argv[1], "server");
    if (!server && strcmp(argv[1], "client") != 0) {
        fprintf(stderr, PLAIN_PROG ": unknown command '%s' (expected server or client)\n", argv[1]);
        return 2;
    }
    struct plain_opts o = {
        .proto = server ? PLAIN_BOTH : PLAIN_TCP,
        .size = 64,
        .count = 10000,
        .conns = 1,
        .timeout_sec = 5.0,
    };
    int rc = parse_opts(argc - 1, argv + 1, server, &o);
    if (rc != 0)
        return rc;
    return server ? plain_server_run(&o) : plain_client_run(&o);
}
