/*
 * Unit tests of src/core/config.c: defaults, environment override, the
 * DEMI_CONFIG file, K/M/G suffixes, malformed values, booleans, and that
 * every variable of src/core/config_vars.h is documented.
 *
 * Arguments (from meson): argv[1] = docs/configuration.md,
 * argv[2] = src/core/config_vars.h. The environment variables
 * DEMI_TEST_CONFIG_DOC / DEMI_TEST_CONFIG_VARS override them.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_util.h"
#include "config.h"

static const char *doc_path;
static const char *vars_path;
static char tmp_path[64];

/* Unsets every declared DEMI_* variable so tests see only what they set. */
static void clear_env(void)
{
    for (size_t i = 0; i < config_var_count(); i++)
        unsetenv(config_var_name(i));
    unsetenv("LIBOS");
}

static int cfg_setup(void **state)
{
    clear_env();
    config_reset();
    tmp_path[0] = '\0';
    return leak_setup(state);
}

static int cfg_teardown(void **state)
{
    if (tmp_path[0])
        unlink(tmp_path);
    clear_env();
    config_reset();
    return leak_teardown(state);
}

#define CFG_TEST(fn) cmocka_unit_test_setup_teardown(fn, cfg_setup, cfg_teardown)

/* Writes text to a fresh temporary file and points DEMI_CONFIG at it. */
static void write_config_file(const char *text)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/demi-test-config-%d-XXXXXX", (int)getpid());
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    assert_int_equal(setenv("DEMI_CONFIG", tmp_path, 1), 0);
}

static void test_declared_vars(void **state)
{
    size_t n = config_var_count();
    assert_true(n >= 8);
    for (size_t i = 0; i < n; i++) {
        const char *name = config_var_name(i);
        assert_non_null(name);
        assert_int_equal(strncmp(name, "DEMI_", 5), 0);
        assert_non_null(config_var_default(i));
        assert_non_null(config_var_help(i));
        assert_true(strlen(config_var_help(i)) > 0);
        /* names are unique */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, config_var_name(j));
    }
}

static void test_defaults(void **state)
{
    for (size_t i = 0; i < config_var_count(); i++) {
        const char *v = config_get(config_var_name(i));
        assert_non_null(v);
        assert_string_equal(v, config_var_default(i));
    }
    assert_string_equal(config_get("DEMI_LIBOS"), "posix");
    int64_t v;
    assert_int_equal(config_get_int("DEMI_SPIN_US", &v), 0);
    assert_int_equal(v, 50);
    assert_int_equal(config_get_int("DEMI_SGA_SEGSIZE", &v), 0);
    assert_int_equal(v, 1048576);
}

static void test_env_override(void **state)
{
    assert_int_equal(setenv("DEMI_SPIN_US", "7", 1), 0);
    assert_string_equal(config_get("DEMI_SPIN_US"), "7");
    int64_t v = 0;
    assert_int_equal(config_get_int("DEMI_SPIN_US", &v), 0);
    assert_int_equal(v, 7);
    unsetenv("DEMI_SPIN_US");
    assert_string_equal(config_get("DEMI_SPIN_US"), "50");
}

static void test_int_suffixes(void **state)
{
    static const struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"0", 0},
        {"-1", -1},
        {"123", 123},
        {"4K", 4096},
        {"2M", 2097152},
        {"1G", 1073741824},
        {"3G", 3221225472ll},
        {"64M", 67108864},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(setenv("DEMI_SGA_MAX", cases[i].text, 1), 0);
        int64_t v = 12345;
        int rc = config_get_int("DEMI_SGA_MAX", &v);
        if (rc != 0)
            fail_msg("config_get_int(\"%s\") returned %d", cases[i].text, rc);
        assert_int_equal(v, cases[i].want);
    }
}

static void test_int_malformed(void **state)
{
    static const char *bad[] = {"", "abc", "12x", "4KK", "K", "1.5", "0x", "4 K x", "99999999999999999999",
                                "9999999999999G", "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(setenv("DEMI_SGA_MAX", bad[i], 1), 0);
        int64_t v = 777;
        int rc = config_get_int("DEMI_SGA_MAX", &v);
        if (rc != EINVAL)
            fail_msg("config_get_int(\"%s\") returned %d (value %lld), want EINVAL", bad[i], rc, (long long)v);
    }
}

static void test_bool(void **state)
{
    static const struct {
        const char *text;
        bool want;
    } cases[] = {
        {"1", true}, {"0", false}, {"true", true}, {"false", false},
        {"yes", true}, {"no", false}, {"on", true}, {"off", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(setenv("DEMI_LOG", cases[i].text, 1), 0);
        bool v = !cases[i].want;
        int rc = config_get_bool("DEMI_LOG", &v);
        if (rc != 0)
            fail_msg("config_get_bool(\"%s\") returned %d", cases[i].text, rc);
        assert_int_equal(v, cases[i].want);
    }
    static const char *bad[] = {"", "2", "maybe", "yess", "onn", "-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(setenv("DEMI_LOG", bad[i], 1), 0);
        bool v = false;
        int rc = config_get_bool("DEMI_LOG", &v);
        if (rc != EINVAL)
            fail_msg("config_get_bool(\"%s\") returned %d, want EINVAL", bad[i], rc);
    }
}

static void test_no_config_file(void **state)
{
    assert_int_equal(config_load(), 0);
    assert_string_equal(config_get("DEMI_SPIN_US"), "50");
}

static void test_config_file(void **state)
{
    write_config_file("DEMI_SPIN_US=33\n"
                      "DEMI_SGA_SEGSIZE=2M\n"
                      "DEMI_LOG=info\n");
    assert_int_equal(config_load(), 0);
    assert_string_equal(config_get("DEMI_SPIN_US"), "33");
    assert_string_equal(config_get("DEMI_LOG"), "info");
    int64_t v;
    assert_int_equal(config_get_int("DEMI_SGA_SEGSIZE", &v), 0);
    assert_int_equal(v, 2097152);
    /* not in the file: default */
    assert_string_equal(config_get("DEMI_MAX_QUEUES"), "1048576");
    /* the environment overrides the file */
    assert_int_equal(setenv("DEMI_SPIN_US", "9", 1), 0);
    assert_string_equal(config_get("DEMI_SPIN_US"), "9");
    unsetenv("DEMI_SPIN_US");
    assert_string_equal(config_get("DEMI_SPIN_US"), "33");
    /* config_reset forgets the file */
    config_reset();
    assert_string_equal(config_get("DEMI_SPIN_US"), "50");
    assert_string_equal(config_get("DEMI_LOG"), "warn");
}

static void test_config_file_no_trailing_newline(void **state)
{
    write_config_file("DEMI_SPIN_US=44");
    assert_int_equal(config_load(), 0);
    assert_string_equal(config_get("DEMI_SPIN_US"), "44");
}

static void test_config_file_reload(void **state)
{
    write_config_file("DEMI_SPIN_US=1\n");
    assert_int_equal(config_load(), 0);
    unlink(tmp_path);
    write_config_file("DEMI_MAX_OPS=5\n");
    config_reset();
    assert_int_equal(config_load(), 0);
    /* the first file's value is gone */
    assert_string_equal(config_get("DEMI_SPIN_US"), "50");
    assert_string_equal(config_get("DEMI_MAX_OPS"), "5");
}

static void test_config_file_missing(void **state)
{
    assert_int_equal(setenv("DEMI_CONFIG", "/nonexistent/demi-test/none.conf", 1), 0);
    assert_int_equal(config_load(), ENOENT);
    assert_string_equal(config_get("DEMI_SPIN_US"), "50");
}

static void test_config_file_malformed(void **state)
{
    static const char *bad[] = {
        "DEMI_SPIN_US\n",              /* no '=' */
        "DEMI_SPIN_US=3\ngarbage\n",   /* one bad line among good ones */
        "=5\n",                        /* no name */
        "DEMI_NO_SUCH_VARIABLE=1\n",   /* unknown name */
        "HOME=/root\n",                /* not a DEMI_ name */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_config_file(bad[i]);
        int rc = config_load();
        if (rc != EINVAL)
            fail_msg("config_load of \"%s\" returned %d, want EINVAL", bad[i], rc);
        unlink(tmp_path);
        tmp_path[0] = '\0';
        config_reset();
    }
}

/* Reading an undeclared name is a programming error: the process aborts. */
static void test_undeclared_aborts(void **state)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        (void)config_get("DEMI_NOT_DECLARED_ANYWHERE");
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Reads a whole file into a NUL-terminated heap string (caller frees). */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
        }
    }
    s[n] = '\0';
    fclose(f);
    return s;
}

/* True if text has a table line (starting with '|') naming var as a whole word. */
static bool doc_has_row(const char *text, const char *var)
{
    size_t vl = strlen(var);
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        const char *p = line;
        while (p < line + ll && isspace((unsigned char)*p))
            p++;
        if (p < line + ll && *p == '|') {
            for (const char *q = p; q + vl <= line + ll; q++) {
                if (memcmp(q, var, vl) != 0)
                    continue;
                char before = q > line ? q[-1] : ' ';
                char after = q + vl < line + ll ? q[vl] : ' ';
                if (!(isalnum((unsigned char)before) || before == '_') &&
                    !(isalnum((unsigned char)after) || after == '_'))
                    return true;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}

static void test_every_var_documented(void **state)
{
    if (!doc_path || !vars_path)
        fail_msg("pass docs/configuration.md and src/core/config_vars.h as arguments");
    char *doc = read_file(doc_path);
    if (!doc)
        fail_msg("cannot read %s", doc_path);
    char *vars = read_file(vars_path);
    if (!vars)
        fail_msg("cannot read %s", vars_path);

    /* every name compiled into the library */
    int missing = 0;
    for (size_t i = 0; i < config_var_count(); i++) {
        if (!doc_has_row(doc, config_var_name(i))) {
            print_error("%s is not in a table row of %s\n", config_var_name(i), doc_path);
            missing++;
        }
    }
    /* every DEMI_CFG( line of the header, and the count matches */
    size_t in_header = 0;
    for (const char *p = strstr(vars, "\nDEMI_CFG("); p; p = strstr(p + 1, "\nDEMI_CFG(")) {
        const char *name = p + strlen("\nDEMI_CFG(");
        size_t len = strcspn(name, ", )");
        char buf[128];
        assert_true(len > 0 && len < sizeof(buf));
        memcpy(buf, name, len);
        buf[len] = '\0';
        in_header++;
        if (!doc_has_row(doc, buf)) {
            print_error("%s (config_vars.h) is not in a table row of %s\n", buf, doc_path);
            missing++;
        }
    }
    free(doc);
    free(vars);
    assert_int_equal(in_header, config_var_count());
    assert_int_equal(missing, 0);
}

int main(int argc, char **argv)
{
    doc_path = getenv("DEMI_TEST_CONFIG_DOC");
    vars_path = getenv("DEMI_TEST_CONFIG_VARS");
    if (!doc_path && argc > 1)
        doc_path = argv[1];
    if (!vars_path && argc > 2)
        vars_path = argv[2];

    const struct CMUnitTest tests[] = {
        CFG_TEST(test_declared_vars),
        CFG_TEST(test_defaults),
        CFG_TEST(test_env_override),
        CFG_TEST(test_int_suffixes),
        CFG_TEST(test_int_malformed),
        CFG_TEST(test_bool),
        CFG_TEST(test_no_config_file),
        CFG_TEST(test_config_file),
        CFG_TEST(test_config_file_no_trailing_newline),
        CFG_TEST(test_config_file_reload),
        CFG_TEST(test_config_file_missing),
        CFG_TEST(test_config_file_malformed),
        CFG_TEST(test_undeclared_aborts),
        CFG_TEST(test_every_var_documented),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
