/*
 * Removing the XDP program of AF_XDP netdevs when the process dies of a
 * signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT), where atexit handlers (and so
 * demi_fini -> netdev close) do not run.
 *
 * xdp_detach_register records an interface; the first registration installs
 * a handler for each of those signals whose disposition is still SIG_DFL.
 * The handler sends one RTM_SETLINK per recorded interface with IFLA_XDP_FD
 * = -1 over a fresh netlink socket (only async-signal-safe calls, no
 * malloc), restores the default disposition and re-raises the signal so the
 * process ends as it would have. The last xdp_detach_unregister restores the
 * dispositions.
 */
#include "xdp_detach.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define XDP_DETACH_MAX 16

static const int detach_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_DETACH_SIGNALS (sizeof(detach_signals) / sizeof(detach_signals[0]))

static volatile sig_atomic_t detach_ifindex[XDP_DETACH_MAX];
static int detach_count;
static int handler_installed[N_DETACH_SIGNALS];

/* Asks the kernel to remove the XDP program of ifindex in the given
 * attach mode (XDP_FLAGS_*). Async-signal-safe; errors are ignored. */
static void xdp_netlink_detach(int ifindex, uint32_t mode)
{
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        char attrs[64];
    } req;
    struct sockaddr_nl sa;
    struct rtattr *xdp, *fd_attr, *flags_attr;
    int32_t no_fd = -1;
    char ack[256];
    int s;

    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_type = RTM_SETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.nh.nlmsg_seq = 1;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = ifindex;
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));

    xdp = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    xdp->rta_type = IFLA_XDP | NLA_F_NESTED;
    fd_attr = (struct rtattr *)((char *)xdp + RTA_LENGTH(0));
    fd_attr->rta_type = IFLA_XDP_FD;
    fd_attr->rta_len = RTA_LENGTH(sizeof(no_fd));
    memcpy(RTA_DATA(fd_attr), &no_fd, sizeof(no_fd));
    flags_attr = (struct rtattr *)((char *)fd_attr + RTA_ALIGN(fd_attr->rta_len));
    flags_attr->rta_type = IFLA_XDP_FLAGS;
    flags_attr->rta_len = RTA_LENGTH(sizeof(mode));
    memcpy(RTA_DATA(flags_attr), &mode, sizeof(mode));
    xdp->rta_len = (unsigned short)(RTA_LENGTH(0) + RTA_ALIGN(fd_attr->rta_len) + RTA_ALIGN(flags_attr->rta_len));
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(xdp->rta_len);

    s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    if (sendto(s, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) >= 0)
        (void)recv(s, ack, sizeof(ack), 0);
    close(s);
}

static void xdp_detach_all(void)
{
    for (int i = 0; i < XDP_DETACH_MAX; i++) {
        int ifindex = detach_ifindex[i];
        if (ifindex <= 0)
            continue;
        /* The program sits in exactly one mode; the other request fails. */
        xdp_netlink_detach(ifindex, XDP_FLAGS_DRV_MODE);
        xdp_netlink_detach(ifindex, XDP_FLAGS_SKB_MODE);
        detach_ifindex[i] = 0;
    }
}

static void xdp_detach_on_signal(int sig)
{
    xdp_detach_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void xdp_detach_register(int ifindex)
{
    for (int i = 0; i < XDP_DETACH_MAX; i++) {
        if (detach_ifindex[i] == 0) {
            detach_ifindex[i] = ifindex;
            break;
        }
    }
    if (detach_count++ > 0)
        return;
    for (size_t i = 0; i < N_DETACH_SIGNALS; i++) {
        struct sigaction old, sa;

        handler_installed[i] = 0;
        if (sigaction(detach_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL)
            continue;   /* the application handles it: leave it alone */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = xdp_detach_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        if (sigaction(detach_signals[i], &sa, NULL) == 0)
            handler_installed[i] = 1;
    }
}

void xdp_detach_unregister(int ifindex)
{
    for (int i = 0; i < XDP_DETACH_MAX; i++) {
        if (detach_ifindex[i] == ifindex) {
            detach_ifindex[i] = 0;
            break;
        }
    }
    if (detach_count == 0 || --detach_count > 0)
        return;
    for (size_t i = 0; i < N_DETACH_SIGNALS; i++) {
        struct sigaction cur;

        if (!handler_installed[i])
            continue;
        handler_installed[i] = 0;
        /* Restore SIG_DFL only if the handler is still ours. */
        if (sigaction(detach_signals[i], NULL, &cur) == 0 && cur.sa_handler == xdp_detach_on_signal)
            signal(detach_signals[i], SIG_DFL);
    }
}
