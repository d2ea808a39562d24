/*
 * A large transfer through 2% loss, 2% reordering and 1% duplication in
 * both directions, arriving byte-exact: SHA-256 of what was sent and of
 * what arrived are compared (OpenSSL EVP when libcrypto is there, else a
 * byte-by-byte comparison). The size is TT_BULK_MB in MiB (default 32 when
 * run by hand; meson test runs the 1 GiB, 64 MiB under sanitizers).
 */
#include "tcp_test_util.h"

#if __has_include(<openssl/evp.h>)
#include <openssl/evp.h>
#define TT_HAVE_EVP 1
#else
#define TT_HAVE_EVP 0
#endif

#define PAT_LEN (1u << 20)

struct bulk {
    struct tt_ep *sv;
    size_t total, got;
    int bad;
#if TT_HAVE_EVP
    EVP_MD_CTX *md;
#endif
};

/* Hashes (and checks) what the server receives, without keeping it. */
static void bulk_cb(void *user, struct tcp_conn *c, enum tcp_event ev, int err)
{
    struct bulk *b = user;

    if (ev != TCP_EV_READABLE) {
        tt_cb(b->sv, c, ev, err);
        return;
    }
    for (int guard = 0; guard < 100000; guard++) {
        struct buf *x = NULL;
        ssize_t n = tcp_recv(c, &x, 1 << 20);
        if (n <= 0) {
            if (n == 0)
                b->sv->eof = 1;
            break;
        }
#if TT_HAVE_EVP
        EVP_DigestUpdate(b->md, x->data, (size_t)n);
#endif
        for (ssize_t k = 0; k < n; k++)
            if (x->data[k] != tt_byte(b->got + (size_t)k))
                b->bad++;
        b->got += (size_t)n;
        buf_unref(x);
    }
}

static int cond_done(void *arg)
{
    struct bulk *b = arg;
    return b->sv->eof;
}

static void test_bulk_lossy(void **state)
{
    struct harness *h = harness_new(2, 61, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct bulk b = {.sv = &sv};
    struct sim_faults f = {.delay_ns = 1000000,
                           .loss_ppm = 20000,
                           .reorder_ppm = 20000,
                           .reorder_ns = 2000000,
                           .dup_ppm = 10000};
    const char *env = getenv("TT_BULK_MB");
    size_t mb = env ? strtoul(env, NULL, 10) : 32;

    (void)state;
    if (mb == 0)
        mb = 32;
    b.total = mb << 20;
    tt_static_arp(h, 2);
    tt_listen(h, 1, &l, 4);
    tt_connect(h, 0, 1, &cl);
    {
        struct tt_pair p = {&cl, &l, &sv};
        assert_int_equal(harness_run_until(h, tt_cond_established, &p, 30ull * NS_PER_SEC), 0);
    }
    assert_int_equal(tcp_accept(l.c, &sv.c, bulk_cb, &b), 0);
#if TT_HAVE_EVP
    b.md = EVP_MD_CTX_new();
    assert_non_null(b.md);
    assert_int_equal(EVP_DigestInit_ex(b.md, EVP_sha256(), NULL), 1);
#endif
    sim_wire_set_faults(harness_wire(h), -1, &f);
    cl.pat = tt_pattern(PAT_LEN);
    cl.tx_total = b.total;
    cl.close_when_sent = 1;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_done, &b, 3600ull * NS_PER_SEC), 0);
    assert_int_equal(b.got, b.total);
    assert_int_equal(b.bad, 0);
#if TT_HAVE_EVP
    {
        unsigned char d_rx[32], d_tx[32];
        unsigned int n;
        EVP_MD_CTX *tx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestFinal_ex(b.md, d_rx, &n), 1);
        assert_int_equal(n, 32);
        assert_int_equal(EVP_DigestInit_ex(tx, EVP_sha256(), NULL), 1);
        for (size_t off = 0; off < b.total; off += PAT_LEN)
            EVP_DigestUpdate(tx, cl.pat->data, b.total - off < PAT_LEN ? b.total - off : PAT_LEN);
        assert_int_equal(EVP_DigestFinal_ex(tx, d_tx, &n), 1);
        assert_memory_equal(d_rx, d_tx, 32);
        EVP_MD_CTX_free(tx);
        EVP_MD_CTX_free(b.md);
    }
#endif
    /* the faults happened and the stack repaired them */
    {
        const struct sim_stats *st = sim_wire_stats(harness_wire(h));
        assert_true(st->lost > 0 && st->reordered > 0 && st->duplicated > 0);
    }
    assert_true(harness_counter(h, 0, "tcp.retransmits") > 0);
    assert_true(harness_counter(h, 0, "tcp.fast_retransmits") > 0);
    assert_true(harness_counter(h, 1, "tcp.rx_ooo_segments") > 0);
    assert_true(harness_counter(h, 1, "tcp.rx_dup_segments") > 0);
    print_message("bulk: %zu MiB in %.1f s virtual, %llu retransmits, %llu RTOs, %llu fast, %llu SACK recoveries\n",
                  mb, (double)harness_now(h) / 1e9,
                  (unsigned long long)harness_counter(h, 0, "tcp.retransmits"),
                  (unsigned long long)harness_counter(h, 0, "tcp.rto_events"),
                  (unsigned long long)harness_counter(h, 0, "tcp.fast_retransmits"),
                  (unsigned long long)harness_counter(h, 0, "tcp.sack_recoveries"));
    tcp_close(cl.c);
    tcp_close(sv.c);
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    tt_ep_free(&sv);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_lossy),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_bulk", tests, NULL, NULL);
}
