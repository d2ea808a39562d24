/*
 * demi-echo: try and measure libdemi.
 *
 *   demi-echo server --addr IP:PORT [--proto tcp|udp|both]
 *   demi-echo client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]
 *                    [--duration SEC] [--conns N] [--warmup N] [--timeout SEC]
 *                    [--rate MSG/S] [--pipeline N] [--json] [--progress|--quiet]
 *
 * The command line is echo_opts.c's (shared with plain-echo);
 * echo_server.c and echo_client.c do the work. The libOS is chosen by
 * DEMI_LIBOS (and other DEMI_* variables), never by an option.
 */
#include "echo.h"

static const struct echo_prog demi_echo_prog = {
    .name = ECHO_PROG,
    .max_conns = 100000,
    .features = ECHO_FEAT_OPEN_LOOP | ECHO_FEAT_PROGRESS,
    .about = "The libOS is chosen with DEMI_LIBOS (default posix); see docs/configuration.md.",
};

int main(int argc, char **argv)
{
    struct echo_opts o;
    int rc = echo_opts_parse(&demi_echo_prog, argc, argv, &o);
    if (rc >= 0)
        return rc;
    return o.server ? echo_server_run(&o) : echo_client_run(&o);
}
