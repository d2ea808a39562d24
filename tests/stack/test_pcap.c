/*
 * pcap: a capture of a stack's frames (through the inet_stack capture hook)
 * parses back as a classic pcap file holding exactly those frames; when
 * tcpdump is installed it must read the file too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "inet/proto.h"
#include "inet/udp.h"
#include "netdev/pcap.h"
#include "test_util.h"

struct cap {
    struct pcap_writer *w;
    struct harness *h;
    int in, out;
};

static void capture(void *arg, const struct buf *frame, int outgoing)
{
    struct cap *c = arg;

    assert_int_equal(pcap_write(c->w, frame->data, frame->len, harness_now(c->h)), 0);
    if (outgoing)
        c->out++;
    else
        c->in++;
}

static void test_pcap_roundtrip(void **state)
{
    char path[64];
    struct harness *h = harness_new(2, 5, NULL, NULL);
    struct cap c = {.h = h};
    struct udp_sock *a, *b;
    FILE *f;
    uint32_t hdr[6], rec[4];
    uint8_t data[2048];
    int frames = 0;

    snprintf(path, sizeof(path), "/tmp/demi-test-pcap-%d.pcap", (int)getpid());
    c.w = pcap_open(path);
    assert_non_null(c.w);
    harness_record(h, 1);
    harness_stack(h, 0)->capture = capture;
    harness_stack(h, 0)->capture_arg = &c;
    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, NULL, NULL), 0);
    assert_int_equal(udp_bind(b, 0, htons(9)), 0);
    for (int i = 0; i < 10; i++) {
        struct buf *p = buf_alloc(100 + (size_t)i);
        memset(p->data, i, p->len);
        assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(9)), 0);
        harness_run_for(h, NS_PER_MS);
    }
    /* an unbound port: the ICMP error comes back in too */
    struct buf *p = buf_copy_from("x", 1);
    assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(10)), 0);
    harness_run_for(h, NS_PER_MS);
    assert_int_equal(pcap_frames(c.w), 14);     /* out: ARP request, 10 + 1 datagrams; in: ARP reply, ICMP */
    assert_int_equal(pcap_close(c.w), 0);
    assert_int_equal(c.out, 12);
    assert_int_equal(c.in, 2);

    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(hdr, sizeof(hdr), 1, f), 1);
    assert_int_equal(hdr[0], 0xa1b2c3d4u);
    assert_int_equal(hdr[1], 2u | 4u << 16);
    assert_int_equal(hdr[5], 1);                /* LINKTYPE_ETHERNET */
    /* the wire saw the same frames in the same order (the capture is of stack 0 only) */
    size_t wi = 0;
    while (fread(rec, sizeof(rec), 1, f) == 1) {
        assert_int_equal(rec[2], rec[3]);
        assert_true(rec[2] <= sizeof(data));
        assert_int_equal(fread(data, 1, rec[2], f), rec[2]);
        size_t len;
        const uint8_t *w;
        do {
            w = harness_frame_at(h, wi++, &len, NULL, NULL);
            assert_non_null(w);
        } while (len != rec[2] || memcmp(w, data, len) != 0);
        frames++;
    }
    assert_int_equal(frames, 14);
    fclose(f);

    /* tcpdump reads it, when present */
    if (access("/usr/bin/tcpdump", X_OK) == 0 || access("/usr/sbin/tcpdump", X_OK) == 0) {
        char cmd[160];
        char line[256];
        int lines = 0;
        snprintf(cmd, sizeof(cmd), "PATH=/usr/sbin:/usr/bin:$PATH tcpdump -nn -r %s 2>/dev/null", path);
        FILE *t = popen(cmd, "r");
        assert_non_null(t);
        while (fgets(line, sizeof(line), t))
            lines++;
        assert_int_equal(pclose(t), 0);
        assert_int_equal(lines, 14);
    }
    unlink(path);
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
