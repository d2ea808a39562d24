/*
 * plain-echo: demi-echo over plain kernel sockets (see plain_echo.h).
 *
 *   plain-echo server --addr IP:PORT [--proto tcp|udp|both] [--spin]
 *   plain-echo client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]
 *                     [--duration SEC] [--conns N] [--warmup N] [--timeout SEC] [--json] [--spin]
 */
#include "plain_echo.h"

static const struct echo_prog plain_echo_prog = {
    .name = PLAIN_PROG,
    .max_conns = PLAIN_MAX_CONNS,
    .features = ECHO_FEAT_SPIN,
    .about = "demi-echo's server and client over plain Linux sockets (no libdemi): the same options,\n"
             "messages, checks and output as demi-echo. The client runs one thread per connection with\n"
             "blocking sockets, one message outstanding each; the server is one epoll loop.",
};

int main(int argc, char **argv)
{
    struct echo_opts o;
    int rc = echo_opts_parse(&plain_echo_prog, argc, argv, &o);
    if (rc >= 0)
        return rc;
    return o.server ? plain_server_run(&o) : plain_client_run(&o);
}
