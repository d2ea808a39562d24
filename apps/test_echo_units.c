/* Unit tests of demi-echo's helpers: message patterns and the echo check,
 * the command line (echo_opts.c), the qd map. No libOS is started. The
 * histogram has its own test (test_echo_hist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <arpa/inet.h>

#include "echo.h"
#include "echo_pattern.h"
#include "echo_opts.h"

/* An sga over plain memory split into segments of the given lengths. */
static demi_sgarray_t make_sga(uint8_t *mem, const uint32_t *lens, uint32_t n)
{
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = n;
    for (uint32_t i = 0; i < n; i++) {
        sga.sga_segs[i].sgaseg_buf = mem;
        sga.sga_segs[i].sgaseg_len = lens[i];
        mem += lens[i];
    }
    return sga;
}

static void test_pattern_roundtrip(void **state)
{
    (void)state;
    enum { LEN = 4099 };
    uint8_t *a = malloc(LEN), *b = malloc(LEN);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t seed = echo_pattern_seed(3, 17);
    uint32_t one[1] = {LEN};
    demi_sgarray_t sa = make_sga(a, one, 1);
    echo_pattern_fill(&sa, seed);
    uint32_t split[3] = {5, 1000, LEN - 1005};  /* odd boundaries */
    demi_sgarray_t sb = make_sga(b, split, 3);
    echo_pattern_fill(&sb, seed);
    assert_memory_equal(a, b, LEN);

    /* checking any piece at its offset succeeds */
    assert_int_equal(echo_pattern_check(a, LEN, seed, 0), LEN);
    for (size_t off = 0; off < 40; off++)
        assert_int_equal(echo_pattern_check(a + off, 77, seed, off), 77);
    for (size_t i = 0; i < LEN; i += 97)
        assert_int_equal(a[i], echo_pattern_byte(seed, i));

    /* a flipped byte is found where it is */
    a[2050] ^= 0x40;
    assert_int_equal(echo_pattern_check(a, LEN, seed, 0), 2050);
    assert_int_equal(echo_pattern_check(a + 2001, 100, seed, 2001), 49);

    /* the check of an echo names the byte, and refuses more than was sent */
    char why[160];
    assert_false(echo_check_echo(a + 2001, 100, seed, 2001, LEN, why, sizeof(why)));
    assert_non_null(strstr(why, "echo mismatch at byte 2050 of 4099"));
    a[2050] ^= 0x40;
    assert_true(echo_check_echo(a + 2001, 100, seed, 2001, LEN, why, sizeof(why)));
    assert_false(echo_check_echo(a, 100, seed, LEN - 50, LEN, why, sizeof(why)));
    assert_non_null(strstr(why, "echo has 4149 bytes, more than the 4099 sent"));

    /* another message, or the right bytes at the wrong offset, fail */
    assert_true(echo_pattern_check(a, 64, echo_pattern_seed(3, 18), 0) < 64);
    assert_true(echo_pattern_check(a, 64, echo_pattern_seed(4, 17), 0) < 64);
    assert_true(echo_pattern_check(a + 8, 64, seed, 0) < 64);
    assert_true(echo_pattern_check(a, 64, seed, 2048) < 64);
    free(a);
    free(b);
}

static void test_parse_addr(void **state)
{
    (void)state;
    struct sockaddr_in sin;
    assert_int_equal(echo_parse_addr("127.0.0.1:7000", &sin), 0);
    assert_int_equal(sin.sin_family, AF_INET);
    assert_int_equal(ntohs(sin.sin_port), 7000);
    assert_int_equal(ntohl(sin.sin_addr.s_addr), 0x7f000001);
    assert_int_equal(echo_parse_addr("0.0.0.0:0", &sin), 0);
    assert_int_equal(echo_parse_addr("10.1.2.3:65535", &sin), 0);
    const char *bad[] = {"", "1.2.3.4", "1.2.3.4:", ":80", "localhost:80", "1.2.3.4:65536", "1.2.3.4:-1",
                         "1.2.3.4:80x", "1.2.3:80", "::1:80", "[::1]:80", "1.2.3.4: 80", "1.2.3.4:+80",
                         "255.255.255.255.255:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(echo_parse_addr(bad[i], &sin), EINVAL);
    char buf[32];
    assert_int_equal(echo_parse_addr("192.168.0.9:53", &sin), 0);
    assert_string_equal(echo_addr_str(&sin, buf, sizeof(buf)), "192.168.0.9:53");
}

static void test_qdmap(void **state)
{
    (void)state;
    struct echo_qdmap m = {0};
    int x, y;
    assert_null(echo_qdmap_get(&m, 0));
    assert_null(echo_qdmap_get(&m, -1));
    assert_int_equal(echo_qdmap_set(&m, -1, &x), EINVAL);
    assert_int_equal(echo_qdmap_set(&m, 3, &x), 0);
    assert_int_equal(echo_qdmap_set(&m, 5000, &y), 0);
    assert_ptr_equal(echo_qdmap_get(&m, 3), &x);
    assert_ptr_equal(echo_qdmap_get(&m, 5000), &y);
    assert_null(echo_qdmap_get(&m, 4));
    assert_null(echo_qdmap_get(&m, 1 << 30));
    assert_int_equal(echo_qdmap_set(&m, 3, NULL), 0);
    assert_null(echo_qdmap_get(&m, 3));
    echo_qdmap_free(&m);
}

static const struct echo_prog test_prog = {
    .name = "test-echo", .max_conns = 1000, .features = ECHO_FEAT_OPEN_LOOP | ECHO_FEAT_PROGRESS,
};
static const struct echo_prog test_prog_plain = {.name = "test-plain", .max_conns = 10, .features = ECHO_FEAT_SPIN};

/* Parses a command line given as one string (words split at spaces). */
static int parse(const struct echo_prog *p, const char *line, struct echo_opts *o)
{
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof(buf), "prog %s", line);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");  /* the usage text of the refusals */
    int rc = echo_opts_parse(p, argc, argv, o);
    fclose(stderr);
    stderr = saved;
    return rc;
}

static void test_opts(void **state)
{
    (void)state;
    struct echo_opts o;
    assert_int_equal(parse(&test_prog, "client --addr 127.0.0.1:7", &o), -1);
    assert_false(o.server);
    assert_int_equal(o.size, 64);
    assert_int_equal(o.count, 10000);
    assert_int_equal(o.pipeline, 1);
    assert_true(o.rate == 0 && o.duration_sec == 0);
    assert_int_equal(o.progress, ECHO_PROGRESS_AUTO);

    assert_int_equal(parse(&test_prog, "client -a 10.0.0.1:80 -s 2k -n 5 -c 3 -w 7 -t 0.5 -P 8 --quiet", &o), -1);
    assert_int_equal(o.size, 2048);
    assert_int_equal(o.count, 5);
    assert_int_equal(o.conns, 3);
    assert_int_equal(o.warmup, 7);
    assert_int_equal(o.pipeline, 8);
    assert_int_equal(o.progress, ECHO_PROGRESS_OFF);

    /* --duration alone: no count limit; with --count: both limits */
    assert_int_equal(parse(&test_prog, "client --addr 127.0.0.1:7 --duration 2.5 --progress", &o), -1);
    assert_int_equal(o.count, ECHO_COUNT_UNLIMITED);
    assert_true(o.duration_sec == 2.5);
    assert_int_equal(o.progress, ECHO_PROGRESS_ON);
    assert_int_equal(parse(&test_prog, "client --addr 127.0.0.1:7 --duration 2 --count 9", &o), -1);
    assert_int_equal(o.count, 9);

    /* --rate: open loop, with a deeper pipeline unless one is given */
    assert_int_equal(parse(&test_prog, "client --addr 127.0.0.1:7 --rate 1000", &o), -1);
    assert_true(o.rate == 1000);
    assert_int_equal(o.pipeline, ECHO_RATE_PIPELINE);
    assert_int_equal(parse(&test_prog, "client --addr 127.0.0.1:7 --rate 1e4 --pipeline 2", &o), -1);
    assert_int_equal(o.pipeline, 2);

    assert_int_equal(parse(&test_prog, "server --addr 0.0.0.0:0", &o), -1);
    assert_true(o.server);
    assert_int_equal(o.proto, ECHO_PROTO_BOTH);

    const char *bad[] = {
        "", "bogus", "client", "client --addr 127.0.0.1:0", "client --addr 0.0.0.0:7",
        "client --addr 127.0.0.1:7 --size 0", "client --addr 127.0.0.1:7 --size 2g",
        "client --addr 127.0.0.1:7 --proto udp --size 65508", "client --addr 127.0.0.1:7 --proto both",
        "client --addr 127.0.0.1:7 --conns 1001", "client --addr 127.0.0.1:7 --pipeline 0",
        "client --addr 127.0.0.1:7 --pipeline 4097", "client --addr 127.0.0.1:7 --rate 0",
        "client --addr 127.0.0.1:7 --rate -5", "client --addr 127.0.0.1:7 --rate nan",
        "client --addr 127.0.0.1:7 --duration 0", "client --addr 127.0.0.1:7 --duration x",
        "client --addr 127.0.0.1:7 --timeout 0", "client --addr 127.0.0.1:7 --count 0",
        "client --addr 127.0.0.1:7 extra", "client --addr 127.0.0.1:7 --spin",
        "server --addr 127.0.0.1:7 --count 3", "server --addr 127.0.0.1:7 --rate 10", "--help",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse(&test_prog, bad[i], &o) != 2)
            fail_msg("accepted: %s", bad[i]);

    /* a program without a feature refuses its options; --spin where it has it */
    assert_int_equal(parse(&test_prog_plain, "client --addr 127.0.0.1:7 --rate 10", &o), 2);
    assert_int_equal(parse(&test_prog_plain, "client --addr 127.0.0.1:7 --pipeline 2", &o), 2);
    assert_int_equal(parse(&test_prog_plain, "client --addr 127.0.0.1:7 --quiet", &o), 2);
    assert_int_equal(parse(&test_prog_plain, "client --addr 127.0.0.1:7 --conns 11", &o), 2);
    assert_int_equal(parse(&test_prog_plain, "server --addr 127.0.0.1:7 --spin", &o), -1);
    assert_true(o.spin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_roundtrip),
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_qdmap),
    };
    return cmocka_run_group_tests_name("demi-echo units", tests, NULL, NULL);
}
