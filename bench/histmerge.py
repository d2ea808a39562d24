#!/usr/bin/env python3
"""Merge the RTT histograms of demi-echo / plain-echo runs (their --json output).

    bench/histmerge.py [--table] FILE...      (FILE may be - for stdin)

Each FILE holds JSON objects, one per line: demi-echo's or plain-echo's --json
output, or the raw records bench/run.sh writes (their "result" objects). Every
object with an "rtt_hist" is added in; the merged histogram gives percentiles
over all the runs' messages together (not a median of medians), with the same
bound as one run's (within 1/128 of the true value; min, max and mean exact).
Prints one JSON object: "runs", "count", "rtt_us" (min/p50/p90/p99/p999/max/mean,
microseconds, as demi-echo prints them) and the merged "rtt_hist"; --table
prints a line of text instead. Exit 1 when no histogram is found or the layouts
differ.
"""
import json
import sys


class Hist:
    """A log-linear histogram as apps/echo_hist.c lays it out."""

    def __init__(self, sub_bits):
        self.sub_bits = sub_bits
        self.n = 0
        self.min = None
        self.max = 0
        self.sum = 0
        self.counts = {}  # lowest value of a bucket -> count

    def width(self, low):
        """How many values the bucket starting at low spans."""
        if low < 1 << self.sub_bits:
            return 1
        return 1 << (low.bit_length() - self.sub_bits)

    def add(self, h):
        """Adds one --json "rtt_hist" object."""
        if h.get("unit", "ns") != "ns" or h.get("sub_bucket_bits") != self.sub_bits:
            raise ValueError(f"histogram layout {h.get('sub_bucket_bits')} {h.get('unit')}, "
                             f"expected {self.sub_bits} ns")
        if not h.get("n"):
            return
        for low, count in h["buckets"]:
            self.counts[low] = self.counts.get(low, 0) + count
        self.n += h["n"]
        self.sum += h["sum"]
        self.min = h["min"] if self.min is None else min(self.min, h["min"])
        self.max = max(self.max, h["max"])

    def percentile(self, ppm):
        """Nearest-rank percentile in parts per million, as echo_hist_percentile."""
        if self.n == 0:
            return 0
        rank = (min(ppm, 1000000) * self.n + 999999) // 1000000
        if rank <= 1:
            return self.min
        if rank >= self.n:
            return self.max
        seen = 0
        for low in sorted(self.counts):
            seen += self.counts[low]
            if seen >= rank:
                v = low + (self.width(low) - 1) // 2
                return min(max(v, self.min), self.max)
        return self.max

    def to_json(self):
        return {"unit": "ns", "sub_bucket_bits": self.sub_bits, "n": self.n, "min": self.min or 0,
                "max": self.max, "sum": self.sum, "buckets": [[k, self.counts[k]] for k in sorted(self.counts)]}


def json_lines(path, who="histmerge"):
    """The JSON objects of a file with one per line (- is stdin); exits on a bad line."""
    f = sys.stdin if path == "-" else open(path)
    with f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{who}: {path}:{lineno}: bad JSON: {e}")


def objects(path):
    """The result objects with a histogram in a file of JSON lines."""
    for rec in json_lines(path):
        rec = rec.get("result", rec) if isinstance(rec, dict) else None
        if isinstance(rec, dict) and "rtt_hist" in rec:
            yield rec


def merge(paths):
    """Returns (Hist, number of runs) over every result in paths."""
    hist, runs = None, 0
    for p in paths:
        for rec in objects(p):
            h = rec["rtt_hist"]
            if hist is None:
                hist = Hist(h.get("sub_bucket_bits"))
            hist.add(h)
            runs += 1
    return hist, runs


def summary(hist, runs):
    us = lambda ns: round(ns / 1e3, 3)  # noqa: E731
    rtt = {k: us(hist.percentile(p)) for k, p in
           (("min", 0), ("p50", 500000), ("p90", 900000), ("p99", 990000), ("p999", 999000), ("max", 1000000))}
    rtt["mean"] = us(hist.sum / hist.n) if hist.n else 0.0
    return {"runs": runs, "count": hist.n, "rtt_us": rtt, "rtt_hist": hist.to_json()}


def main():
    args = sys.argv[1:]
    table = "--table" in args
    paths = [a for a in args if a != "--table"]
    if not paths or any(a.startswith("--") for a in paths):
        sys.exit(__doc__.strip())
    try:
        hist, runs = merge(paths)
    except (ValueError, KeyError, TypeError) as e:
        print(f"histmerge: {e}", file=sys.stderr)
        return 1
    if hist is None:
        print("histmerge: no rtt_hist found", file=sys.stderr)
        return 1
    s = summary(hist, runs)
    if table:
        r = s["rtt_us"]
        print(f"{runs} runs, {s['count']} messages: rtt us min {r['min']} p50 {r['p50']} p90 {r['p90']} "
              f"p99 {r['p99']} p99.9 {r['p999']} max {r['max']} mean {r['mean']}")
    else:
        print(json.dumps(s, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
