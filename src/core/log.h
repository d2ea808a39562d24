/*
 * Logging to stderr, filtered by DEMI_LOG=error|warn|info|debug (default
 * warn). Messages look like "libdemi warn: text".
 */
#ifndef DEMI_CORE_LOG_H_
#define DEMI_CORE_LOG_H_

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN = 1, LOG_LEVEL_INFO = 2, LOG_LEVEL_DEBUG = 3 };

extern int log_level_current;

/* Sets the level from a name; returns 0, or -1 for an unknown name. */
int log_set_level_name(const char *name);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                                                               \
    do {                                                                                                               \
        if ((lvl) <= log_level_current)                                                                                \
            log_write((lvl), __VA_ARGS__);                                                                             \
    } while (0)
#define log_err(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* DEMI_CORE_LOG_H_ */
