/* The --json output of the demi-echo client, built with json-c. */
#include "echo_report.h"

#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>

/* Adds key: value to obj, which then owns value; on failure (out of
 * memory) frees value and returns false. */
static bool json_put(struct json_object *obj, const char *key, struct json_object *value)
{
    if (!value)
        return false;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

static struct json_object *json_us(uint64_t ns)
{
    return json_object_new_double((double)ns / 1e3);
}

int echo_report_json(FILE *f, const struct echo_result *r)
{
    const struct echo_summary *s = &r->rtt;
    int rc = ENOMEM;
    struct json_object *root = json_object_new_object();
    struct json_object *rtt = json_object_new_object();
    if (!root || !rtt)
        goto err;
    if (!json_put(rtt, "min", json_us(s->min_ns)) || !json_put(rtt, "p50", json_us(s->p50_ns)) ||
        !json_put(rtt, "p90", json_us(s->p90_ns)) || !json_put(rtt, "p99", json_us(s->p99_ns)) ||
        !json_put(rtt, "p999", json_us(s->p999_ns)) || !json_put(rtt, "max", json_us(s->max_ns)) ||
        !json_put(rtt, "mean", json_object_new_double(s->mean_ns / 1e3)))
        goto err;
    bool ok = json_put(root, "libos", json_object_new_string(r->libos)) &&
              json_put(root, "proto", json_object_new_string(r->proto)) &&
              json_put(root, "size", json_object_new_uint64(r->size)) &&
              json_put(root, "count", json_object_new_uint64(r->count)) &&
              json_put(root, "conns", json_object_new_uint64(r->conns));
    if (!ok)
        goto err;
    ok = json_put(root, "rtt_us", rtt);
    rtt = NULL;  /* json_put gave it to root, or freed it */
    if (!ok)
        goto err;
    ok = json_put(root, "msgs_per_sec", json_object_new_double(echo_result_msgs_per_sec(r))) &&
         json_put(root, "bytes_per_sec", json_object_new_double(echo_result_bytes_per_sec(r))) &&
         json_put(root, "errors", json_object_new_uint64(r->errors)) &&
         json_put(root, "elapsed_sec", json_object_new_double(r->elapsed_sec));
    if (!ok)
        goto err;

    /* microseconds to the nanosecond; no 17-digit float noise */
    json_c_set_serialization_double_format("%.3f", JSON_C_OPTION_THREAD);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    rc = EIO;
    if (!text || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0)
        goto err;
    rc = 0;
err:
    json_object_put(rtt);
    json_object_put(root);
    return rc;
}
