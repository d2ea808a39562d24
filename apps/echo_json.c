/* The --json output of demi-echo and plain-echo, built with json-c. */
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

/* Appends value to the array arr, which then owns it; false (value freed) on failure. */
static bool json_append(struct json_object *arr, struct json_object *value)
{
    if (!value)
        return false;
    if (json_object_array_add(arr, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

/* The summary in microseconds, as printed by every version of demi-echo. */
static struct json_object *json_rtt(const struct echo_summary *s)
{
    struct json_object *rtt = json_object_new_object();
    if (rtt && json_put(rtt, "min", json_us(s->min_ns)) && json_put(rtt, "p50", json_us(s->p50_ns)) &&
        json_put(rtt, "p90", json_us(s->p90_ns)) && json_put(rtt, "p99", json_us(s->p99_ns)) &&
        json_put(rtt, "p999", json_us(s->p999_ns)) && json_put(rtt, "max", json_us(s->max_ns)) &&
        json_put(rtt, "mean", json_object_new_double(s->mean_ns / 1e3)))
        return rtt;
    json_object_put(rtt);
    return NULL;
}

/* A 128-bit count: exact while it fits in 64 bits. */
static struct json_object *json_u128(unsigned __int128 v)
{
    return v <= UINT64_MAX ? json_object_new_uint64((uint64_t)v) : json_object_new_double((double)v);
}

/* The histogram: its layout, exact n/min/max/sum (ns) and the non-empty
 * buckets as [lowest value in ns, count] in increasing order. */
static struct json_object *json_hist(const struct echo_hist *h)
{
    struct json_object *o = json_object_new_object();
    bool ok = o && json_put(o, "unit", json_object_new_string("ns")) &&
              json_put(o, "sub_bucket_bits", json_object_new_int(ECHO_HIST_SUB_BITS)) &&
              json_put(o, "n", json_object_new_uint64(h->n)) &&
              json_put(o, "min", json_object_new_uint64(h->n ? h->min : 0)) &&
              json_put(o, "max", json_object_new_uint64(h->max)) && json_put(o, "sum", json_u128(h->sum));
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    struct json_object *b = json_object_new_array();
    ok = b != NULL;
    for (size_t i = 0; ok && i < ECHO_HIST_BUCKETS; i++) {
        if (!h->counts[i])
            continue;
        struct json_object *pair = json_object_new_array();
        if (!pair || !json_append(pair, json_object_new_uint64(echo_hist_bucket_low(i))) ||
            !json_append(pair, json_object_new_uint64(h->counts[i]))) {
            json_object_put(pair);
            ok = false;
        } else {
            ok = json_append(b, pair);  /* frees pair on failure */
        }
    }
    if (!ok) {
        json_object_put(b);
        json_object_put(o);
        return NULL;
    }
    if (!json_put(o, "buckets", b)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int echo_report_json(FILE *f, const struct echo_result *r)
{
    struct echo_summary s;
    echo_hist_summarize(r->hist, &s);
    int rc = ENOMEM;
    struct json_object *root = json_object_new_object();
    if (!root)
        return ENOMEM;
    bool ok = json_put(root, "libos", json_object_new_string(r->libos)) &&
              json_put(root, "proto", json_object_new_string(r->proto)) &&
              json_put(root, "size", json_object_new_uint64(r->size)) &&
              json_put(root, "count", json_object_new_uint64(r->count)) &&
              json_put(root, "conns", json_object_new_uint64(r->conns)) && json_put(root, "rtt_us", json_rtt(&s)) &&
              json_put(root, "msgs_per_sec", json_object_new_double(echo_result_msgs_per_sec(r))) &&
              json_put(root, "bytes_per_sec", json_object_new_double(echo_result_bytes_per_sec(r))) &&
              json_put(root, "errors", json_object_new_uint64(r->errors)) &&
              json_put(root, "elapsed_sec", json_object_new_double(r->elapsed_sec)) &&
              json_put(root, "pipeline", json_object_new_uint64(r->pipeline)) &&
              json_put(root, "rate", json_object_new_double(r->rate)) &&
              json_put(root, "max_rss_kib", json_object_new_uint64(r->max_rss_kib)) &&
              json_put(root, "rtt_hist", json_hist(r->hist));
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
    json_object_put(root);
    return rc;
}
