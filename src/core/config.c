/*
 * Configuration: DEMI_* environment variables over an optional file of
 * NAME=VALUE lines (DEMI_CONFIG), over the defaults in config_vars.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

struct config_var {
    const char *name;
    const char *def;
    const char *help;
};

static const struct config_var vars[] = {
#define DEMI_CFG(name, def, help) {#name, def, help},
#include "config_vars.h"
#undef DEMI_CFG
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))

/* Values read from the DEMI_CONFIG file, indexed like vars[]. */
static char *file_values[NVARS];

static int var_index(const char *name)
{
    for (size_t i = 0; i < NVARS; i++)
        if (strcmp(vars[i].name, name) == 0)
            return (int)i;
    return -1;
}

void config_reset(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        free(file_values[i]);
        file_values[i] = NULL;
    }
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Parses one "NAME=VALUE" line; returns 0 or EINVAL. */
static int parse_line(char *line, const char *path, int lineno)
{
    char *eq, *name, *value;
    int idx;

    line = trim(line);
    if (*line == '\0' || *line == '#')
        return 0;
    eq = strchr(line, '=');
    if (!eq) {
        log_err("%s:%d: expected NAME=VALUE", path, lineno);
        return EINVAL;
    }
    *eq = '\0';
    name = trim(line);
    value = trim(eq + 1);
    if (strncmp(name, "export ", 7) == 0)
        name = trim(name + 7);
    idx = var_index(name);
    if (idx < 0) {
        log_err("%s:%d: unknown configuration variable %s", path, lineno, name);
        return EINVAL;
    }
    /* Strip one level of matching quotes. */
    size_t vl = strlen(value);
    if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
        value[vl - 1] = '\0';
        value++;
    }
    free(file_values[idx]);
    file_values[idx] = strdup(value);
    return file_values[idx] ? 0 : ENOMEM;
}

int config_load(void)
{
    const char *path = getenv("DEMI_CONFIG");
    char line[4096];
    int lineno = 0, err = 0;
    FILE *f;

    config_reset();
    if (!path || !*path)
        return 0;
    f = fopen(path, "r");
    if (!f) {
        err = errno;
        log_err("cannot read DEMI_CONFIG file %s: %s", path, strerror(err));
        return err;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        err = parse_line(line, path, lineno);
        if (err)
            break;
    }
    fclose(f);
    if (err)
        config_reset();
    return err;
}

const char *config_get(const char *name)
{
    int idx = var_index(name);
    const char *v;

    if (idx < 0) {
        log_err("internal error: undeclared configuration variable %s", name);
        abort();
    }
    v = getenv(name);
    if (v)
        return v;
    if (file_values[idx])
        return file_values[idx];
    return vars[idx].def;
}

int config_get_int(const char *name, int64_t *out)
{
    const char *s = config_get(name);
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 0);
    if (end == s || errno == ERANGE)
        goto bad;
    long long mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024LL; end++; break;
    case 'm': case 'M': mult = 1024LL * 1024; end++; break;
    case 'g': case 'G': mult = 1024LL * 1024 * 1024; end++; break;
    default: break;
    }
    if (__builtin_mul_overflow(v, mult, &v))
        goto bad;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        goto bad;
    *out = v;
    return 0;
bad:
    log_err("%s=%s is not an integer", name, s);
    return EINVAL;
}

int config_get_bool(const char *name, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    const char *s = config_get(name);

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    log_err("%s=%s is not a boolean (use 1/0, true/false, yes/no, on/off)", name, s);
    return EINVAL;
}

size_t config_var_count(void)
{
    return NVARS;
}

const char *config_var_name(size_t i)
{
    return i < NVARS ? vars[i].name : NULL;
}

const char *config_var_default(size_t i)
{
    return i < NVARS ? vars[i].def : NULL;
}

const char *config_var_help(size_t i)
{
    return i < NVARS ? vars[i].help : NULL;
}
