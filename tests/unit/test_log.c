/*
 * Unit tests of src/core/log.c: level names, filtering by level and the
 * line format on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <demi/libos.h>

#include "unit_util.h"
#include "log.h"

static int saved_level;

static int log_setup(void **state)
{
    saved_level = log_level_current;
    return leak_setup(state);
}

static int log_teardown(void **state)
{
    log_level_current = saved_level;
    return leak_teardown(state);
}

#define LOG_TEST(fn) cmocka_unit_test_setup_teardown(fn, log_setup, log_teardown)

/* Captures what log calls write to stderr: begin swaps stderr for a temp
 * file, end restores it and returns the text (static buffer). */
static int capture_saved_fd = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    capture_saved_fd = dup(STDERR_FILENO);
    assert_true(capture_saved_fd >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

static const char *capture_end(void)
{
    static char text[65536];
    fflush(stderr);
    assert_true(dup2(capture_saved_fd, STDERR_FILENO) >= 0);
    close(capture_saved_fd);
    capture_saved_fd = -1;
    rewind(capture_file);
    size_t n = fread(text, 1, sizeof(text) - 1, capture_file);
    text[n] = '\0';
    fclose(capture_file);
    capture_file = NULL;
    return text;
}

static void test_level_names(void **state)
{
    static const struct {
        const char *name;
        int level;
    } cases[] = {
        {"error", LOG_LEVEL_ERROR},
        {"warn", LOG_LEVEL_WARN},
        {"info", LOG_LEVEL_INFO},
        {"debug", LOG_LEVEL_DEBUG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        log_level_current = cases[(i + 1) % 4].level;
        assert_int_equal(log_set_level_name(cases[i].name), 0);
        assert_int_equal(log_level_current, cases[i].level);
    }
}

static void test_level_bad_names(void **state)
{
    static const char *bad[] = {"", "loud", "warning2", "errors", "debugx", "5", "-1", " warn"};
    assert_int_equal(log_set_level_name("info"), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (log_set_level_name(bad[i]) != -1)
            fail_msg("log_set_level_name(\"%s\") accepted", bad[i]);
        /* the level does not change */
        assert_int_equal(log_level_current, LOG_LEVEL_INFO);
    }
}

static void test_format(void **state)
{
    assert_int_equal(log_set_level_name("debug"), 0);
    capture_begin();
    log_write(LOG_LEVEL_WARN, "hello %d", 5);
    const char *out = capture_end();
    assert_int_equal(strncmp(out, "libdemi", 7), 0);
    assert_non_null(strstr(out, "warn: hello 5"));
    /* one line */
    assert_non_null(strchr(out, '\n'));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);

    capture_begin();
    log_write(LOG_LEVEL_ERROR, "e");
    log_write(LOG_LEVEL_INFO, "i");
    log_write(LOG_LEVEL_DEBUG, "d");
    out = capture_end();
    assert_non_null(strstr(out, "error: e"));
    assert_non_null(strstr(out, "info: i"));
    assert_non_null(strstr(out, "debug: d"));
}

static void test_filtering(void **state)
{
    assert_int_equal(log_set_level_name("error"), 0);
    capture_begin();
    log_err("shown-error");
    log_warn("hidden-warn");
    log_info("hidden-info");
    log_debug("hidden-debug");
    const char *out = capture_end();
    assert_non_null(strstr(out, "shown-error"));
    assert_null(strstr(out, "hidden"));

    assert_int_equal(log_set_level_name("info"), 0);
    capture_begin();
    log_warn("shown-warn");
    log_info("shown-info");
    log_debug("hidden-debug");
    out = capture_end();
    assert_non_null(strstr(out, "shown-warn"));
    assert_non_null(strstr(out, "shown-info"));
    assert_null(strstr(out, "hidden"));
}

static void test_long_message(void **state)
{
    enum { N = 20000 };
    char *big = malloc(N + 1);
    assert_non_null(big);
    memset(big, 'x', N);
    big[N] = '\0';
    assert_int_equal(log_set_level_name("warn"), 0);
    capture_begin();
    log_warn("%s", big);
    log_warn("after");
    const char *out = capture_end();
    /* a long message is written (possibly cut), and logging goes on */
    assert_int_equal(strncmp(out, "libdemi", 7), 0);
    assert_non_null(strstr(out, "warn: after\n"));
    free(big);
}

/* docs/configuration.md (DEMI_LOG): lines look like "libdemi <level>: <text>",
 * also with a libOS running (src/core/log.h's comment still shows "libdemi[posix]"). */
static void test_format_with_libos(void **state)
{
    setenv("DEMI_LIBOS", "posix", 1);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(log_set_level_name("warn"), 0);
    capture_begin();
    log_warn("with libos");
    const char *out = capture_end();
    assert_int_equal(demi_fini(), 0);
    assert_string_equal(out, "libdemi warn: with libos\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOG_TEST(test_level_names),
        LOG_TEST(test_level_bad_names),
        LOG_TEST(test_format),
        LOG_TEST(test_filtering),
        LOG_TEST(test_long_message),
        LOG_TEST(test_format_with_libos),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
