/*
 * demi-echo: try and measure libdemi.
 *
 *   demi-echo server --addr IP:PORT [--proto tcp|udp|both]
 *   demi-echo client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]
 *                    [--conns N] [--json] [--timeout SEC] [--warmup N]
 *
 * This file parses the command line; echo_server.c and echo_client.c do
 * the work. The libOS is chosen by DEMI_LIBOS (and other DEMI_* variables),
 * never by an option.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"

#define ECHO_MAX_SIZE (1ull << 30)  /* TCP message size limit (1 GiB) */
#define ECHO_MAX_CONNS 100000u

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " ECHO_PROG " server --addr IP:PORT [--proto tcp|udp|both]\n"
            "       " ECHO_PROG " client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]\n"
            "                 [--conns N] [--json] [--timeout SEC] [--warmup N]\n"
            "\n"
            "server: echoes every TCP connection and UDP datagram on IP:PORT until SIGINT or SIGTERM\n"
            "  -a, --addr IP:PORT    IPv4 address and port to serve (port 0: any)\n"
            "  -p, --proto P         tcp, udp or both (default both, one port)\n"
            "\n"
            "client: sends messages ping-pong style and checks every echoed byte\n"
            "  -a, --addr IP:PORT    the server\n"
            "  -p, --proto P         tcp or udp (default tcp)\n"
            "  -s, --size BYTES      bytes per message, suffix k, m or g for KiB, MiB, GiB\n"
            "                        (default 64; udp at most %u)\n"
            "  -n, --count N         measured messages in all, split across the connections (default 10000)\n"
            "  -c, --conns N         concurrent connections, one message outstanding on each (default 1)\n"
            "  -w, --warmup N        unmeasured messages in all, sent before the measured ones (default 0)\n"
            "  -t, --timeout SEC     fail when a message or connect is outstanding this long (default 5)\n"
            "  -j, --json            print the result as one JSON object on stdout\n"
            "  -h, --help            this text\n"
            "\n"
            "The libOS is chosen with DEMI_LIBOS (default posix); see docs/configuration.md.\n",
            ECHO_UDP_MAX);
}

/* Parses a decimal integer in [min, max] with an optional k/m/g (binary)
 * suffix when suffix_ok. Returns 0 or EINVAL / ERANGE. */
static int parse_u64(const char *s, bool suffix_ok, uint64_t min, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return ERANGE;
    unsigned shift = 0;
    if (suffix_ok && *end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return EINVAL;
        }
        end++;
    }
    if (*end != '\0')
        return EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return ERANGE;
    v <<= shift;
    if (v < min || v > max)
        return ERANGE;
    *out = v;
    return 0;
}

/* Reports a bad option value and returns the usage exit code. */
static int bad_value(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, ECHO_PROG ": bad value for --%s: '%s' (%s)\n", opt, val, why);
    usage(stderr);
    return 2;
}

/* Parses the options after the subcommand into *o. Returns 0, or 2 after
 * printing the usage text. */
static int parse_opts(int argc, char **argv, bool server, struct echo_opts *o)
{
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, 'a'},    {"proto", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},    {"count", required_argument, NULL, 'n'},
        {"conns", required_argument, NULL, 'c'},   {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'}, {"warmup", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *addr_arg = NULL;
    uint64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "a:p:s:n:c:jt:w:h", longopts, NULL)) != -1) {
        if (server && strchr("sncjtw", opt)) {
            fprintf(stderr, ECHO_PROG ": option '%s' is for the client only\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        switch (opt) {
        case 'a':
            if (echo_parse_addr(optarg, &o->addr) != 0)
                return bad_value("addr", optarg, "expected IPv4:PORT, e.g. 127.0.0.1:7000");
            addr_arg = optarg;
            break;
        case 'p':
            if (!strcmp(optarg, "tcp"))
                o->proto = ECHO_PROTO_TCP;
            else if (!strcmp(optarg, "udp"))
                o->proto = ECHO_PROTO_UDP;
            else if (!strcmp(optarg, "both") && server)
                o->proto = ECHO_PROTO_BOTH;
            else
                return bad_value("proto", optarg, server ? "tcp, udp or both" : "tcp or udp");
            break;
        case 's':
            if (parse_u64(optarg, true, 1, ECHO_MAX_SIZE, &v) != 0)
                return bad_value("size", optarg, "1 byte to 1 GiB");
            o->size = (size_t)v;
            break;
        case 'n':
            if (parse_u64(optarg, false, 1, UINT64_MAX >> 20, &o->count) != 0)
                return bad_value("count", optarg, "a positive integer");
            break;
        case 'c':
            if (parse_u64(optarg, false, 1, ECHO_MAX_CONNS, &v) != 0)
                return bad_value("conns", optarg, "1 to 100000");
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
            fprintf(stderr, ECHO_PROG ": --json: this build has no json-c (install libjson-c-dev and rebuild)\n");
            return 2;
#endif
            o->json = true;
            break;
        case 'h':
            usage(stdout);
            return 2;
        default:  /* getopt_long printed what was wrong */
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, ECHO_PROG ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!addr_arg) {
        fprintf(stderr, ECHO_PROG ": --addr IP:PORT is required\n");
        usage(stderr);
        return 2;
    }
    if (!server && (o->addr.sin_port == 0 || o->addr.sin_addr.s_addr == htonl(INADDR_ANY)))
        return bad_value("addr", addr_arg, "the client needs the server's address and a port other than 0");
    if (!server && o->proto == ECHO_PROTO_UDP && o->size > ECHO_UDP_MAX) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%zu", o->size);
        return bad_value("size", buf, "at most 65507 over udp");
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 2;
    }
    bool server = !strcmp(cmd, "server");
    if (!server && strcmp(cmd, "client") != 0) {
        fprintf(stderr, ECHO_PROG ": unknown command '%s' (expected server or client)\n", cmd);
        usage(stderr);
        return 2;
    }
    struct echo_opts o = {
        .proto = server ? ECHO_PROTO_BOTH : ECHO_PROTO_TCP,
        .size = 64,
        .count = 10000,
        .conns = 1,
        .warmup = 0,
        .timeout_sec = 5.0,
    };
    int rc = parse_opts(argc - 1, argv + 1, server, &o);
    if (rc != 0)
        return rc;
    return server ? echo_server_run(&o) : echo_client_run(&o);
}
