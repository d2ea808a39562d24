/*
 * Logging to stderr, filtered by DEMI_LOG.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int log_level_current = LOG_LEVEL_WARN;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_set_level_name(const char *name)
{
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            log_level_current = i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        log_level_current = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

void log_write(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    if (level < 0 || level > LOG_LEVEL_DEBUG)
        level = LOG_LEVEL_ERROR;
    n = snprintf(line, sizeof(line), "libdemi %s: ", level_names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so lines from several processes do not interleave. */
    fprintf(stderr, "%s\n", line);
}
