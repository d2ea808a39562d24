/*
 * Configuration from DEMI_* environment variables and an optional file
 * (DEMI_CONFIG). Every variable is declared in config_vars.h with its
 * default; reading an undeclared name is a programming error (abort).
 * Call order: config_load (in demi_init) -> config_get* -> config_reset.
 */
#ifndef DEMI_CORE_CONFIG_H_
#define DEMI_CORE_CONFIG_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the DEMI_CONFIG file if set. Returns 0, or errno of the failure to
 * read it / EINVAL for a malformed line or an unknown name in it (logged). */
int config_load(void);

/* Forgets the file's values (tests, demi shutdown). */
void config_reset(void);

/* Value of name: the environment, else the config file, else the default. */
const char *config_get(const char *name);

/* Integer value, accepting K/M/G suffixes (powers of 1024). Returns 0 and
 * sets *out, or EINVAL (logged, naming the variable) if malformed. */
int config_get_int(const char *name, int64_t *out);

/* Boolean: 1/0, true/false, yes/no, on/off. Returns 0 or EINVAL. */
int config_get_bool(const char *name, bool *out);

/* Number of declared variables, and the i-th one's name/default/help. */
size_t config_var_count(void);
const char *config_var_name(size_t i);
const char *config_var_default(size_t i);
const char *config_var_help(size_t i);

#endif /* DEMI_CORE_CONFIG_H_ */
