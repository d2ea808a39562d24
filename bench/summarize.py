#!/usr/bin/env python3
"""Summarize one bench/run.sh run: medians per configuration and size.

Reads the raw JSON-lines file run.sh wrote and writes
  --csv  the summary (one row per configuration and size),
  --dat  the data gnuplot draws (bench/latency.gp),
  --doc  the table, machine facts and commands between <!-- bench:begin --> and
         <!-- bench:end --> in docs/benchmarks.md (appended when the markers are missing),
and prints a short table on stdout.
Nothing is estimated: a configuration without results is shown as n/a with its reason.
The rows are the configurations in the order the run recorded them, each described by its
"desc" record (bench/lib.sh's CFG_DESC); CONFIGS below only describes runs written before
those records existed. To merge the runs' latency histograms instead, see histmerge.py.
"""
import argparse
import csv
import json
import statistics
import sys

from docblock import splice
from histmerge import json_lines

CONFIGS = [  # descriptions of runs without "desc" records
    ("plain", "Linux TCP, plain kernel sockets (plain-echo, blocking), loopback"),
    ("plain-spin", "Linux TCP, plain kernel sockets, busy-polling (plain-echo --spin), loopback"),
    ("plain-veth", "Linux TCP to Linux TCP (plain-echo), veth between two namespaces"),
    ("posix", "libdemi posix libOS, loopback"),
    ("afpacket", "libdemi afpacket, veth between two namespaces"),
    ("xdp", "libdemi xdp, veth between two namespaces"),
    ("dpdk", "libdemi dpdk, net_memif between two processes"),
    ("rdma", "libdemi rdma, libfabric tcp provider, loopback"),
    ("fi_pingpong", "libfabric fi_pingpong -p tcp -e msg, loopback (mean RTT only)"),
]
LAT_SIZES = [64, 1024, 65536]
TPUT_SIZE = 1048576


def size_name(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB" if n >= 1024 else f"{n} B"


def load(path):
    facts, end, na, cmds, ok, err, order, skip = {}, {}, {}, {}, {}, {}, {}, {}
    for rec in json_lines(path, "summarize"):
        if rec.get("desc") or ("config" in rec and rec["config"] not in order):
            order[rec["config"]] = rec.get("desc")  # the rows in the order the run made them
        if "facts" in rec:
            facts = rec["facts"]
        elif "facts_end" in rec:
            end = rec["facts_end"]
        elif "na" in rec:
            na[rec["config"]] = rec["na"]
        elif "command" in rec:
            cmds.setdefault(rec["config"], []).append((rec["role"], rec["command"]))
        elif "result" in rec:
            ok.setdefault((rec["config"], rec["size"]), []).append(rec["result"])
        elif "error" in rec:
            err.setdefault((rec["config"], rec["size"]), []).append(rec["error"])
        elif "skip" in rec:  # a size the configuration cannot carry
            skip[(rec["config"], rec["size"])] = rec["skip"]
    return facts, end, na, cmds, ok, err, order, skip


def stats(results):
    """Medians over the runs: p50, p99, p999, mean (us) and bytes per second."""
    if not results:
        return None
    if "usec_per_xfer" in results[0]:  # fi_pingpong: one xfer is one way
        rtts = [2 * r["usec_per_xfer"] for r in results]
        size = results[0]["size"]
        return {"p50": None, "p99": None, "p999": None, "mean": statistics.median(rtts),
                "bps": statistics.median(size / (t * 1e-6) for t in rtts)}
    med = lambda key: statistics.median(r["rtt_us"][key] for r in results)  # noqa: E731
    return {"p50": med("p50"), "p99": med("p99"), "p999": med("p999"), "mean": med("mean"),
            "bps": statistics.median(r["bytes_per_sec"] for r in results)}


def fmt(v):
    return "—" if v is None else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--csv")
    ap.add_argument("--dat")
    ap.add_argument("--doc")
    a = ap.parse_args()
    facts, end, na, cmds, ok, err, order, skip = load(a.raw)
    runs = facts.get("runs", 1)
    known = dict(CONFIGS)
    configs = [(c, d or known.get(c, c)) for c, d in order.items()]
    summary = {(c, s): stats(ok.get((c, s), [])) for c, _ in configs for s in LAT_SIZES + [TPUT_SIZE]}

    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["run_id", "config", "size", "runs_ok", "runs_failed", "p50_us", "p99_us", "p999_us",
                        "mean_us", "bytes_per_sec", "status"])
            for c, _ in configs:
                for s in LAT_SIZES + [TPUT_SIZE]:
                    st = summary[(c, s)]
                    status = (f"n/a ({na[c]})" if c in na else "ok" if st
                              else f"n/a ({skip[(c, s)]})" if (c, s) in skip
                              else "failed: " + "; ".join(err.get((c, s), [])))
                    vals = [("" if st is None or st[k] is None else round(st[k], 3))
                            for k in ("p50", "p99", "p999", "mean", "bps")]
                    w.writerow([facts.get("run_id", ""), c, s, len(ok.get((c, s), [])), len(err.get((c, s), []))]
                               + vals + [status])

    if a.dat:
        with open(a.dat, "w") as f:
            f.write("# config " + " ".join(f"p50_{s} p99_{s}" for s in LAT_SIZES) + "\n")
            for c, _ in configs:
                if c.startswith("fi_pingpong"):
                    continue  # only a mean: not drawn beside percentiles
                label = c + (" (n/a)" if c in na else "")
                vals = []
                for s in LAT_SIZES:
                    st = summary[(c, s)]
                    vals += ["NaN" if not st or st[k] is None else f"{st[k]:.3f}" for k in ("p50", "p99")]
                f.write(f'"{label}" ' + " ".join(vals) + "\n")

    print(f"{'configuration':<12} " + " ".join(f"{size_name(s) + ' p50/p99 us':>22}" for s in LAT_SIZES)
          + f" {'1 MiB MB/s':>11}")
    for c, _ in configs:
        if c in na:
            print(f"{c:<12} n/a ({na[c]})")
            continue
        cells = []
        for s in LAT_SIZES:
            st = summary[(c, s)]
            cells.append("n/a" if not st and (c, s) in skip else "failed" if not st
                         else f"mean {fmt(st['mean'])}" if st["p50"] is None
                         else f"{fmt(st['p50'])} / {fmt(st['p99'])}")
        st = summary[(c, TPUT_SIZE)]
        tput = f"{st['bps'] / 1e6:.0f}" if st else "n/a" if (c, TPUT_SIZE) in skip else "failed"
        print(f"{c:<12} " + " ".join(f"{x:>22}" for x in cells) + f" {tput:>11}")

    if not a.doc:
        return
    lines = ["<!-- generated by bench/run.sh (bench/summarize.py): edits between these markers are lost -->", ""]
    lines.append(f"- **Run**: {facts.get('date_utc', '?')}, commit `{facts.get('commit', '?')}`, "
                 f"`{facts.get('command', 'bench/run.sh')}`")
    lines.append(f"- **Machine**: {facts.get('kernel', '?')}, nproc {facts.get('nproc', '?')}, "
                 f"{facts.get('cpu', '?') or 'CPU model not reported'}, {facts.get('mem', '?')} RAM; load average "
                 f"{facts.get('loadavg_start', '?')} at the start"
                 + (f", {end['loadavg_end']} at the end" if "loadavg_end" in end else ""))
    lines.append(f"- **Counts**: {facts.get('counts', '?').strip().rstrip(';')}; every measurement run {runs} "
                 "time(s), the table shows the medians over the runs of each statistic")
    if facts.get("note"):
        lines.append(f"- **Note**: {facts['note']}")
    lines += ["", "RTT in microseconds (p50 / p99 / p99.9); throughput of one connection ping-ponging 1 MiB messages "
              "(payload one way, MB/s = 10^6 B/s).", ""]
    head = ["configuration"] + [f"{size_name(s)} RTT" for s in LAT_SIZES] + ["1 MiB MB/s", "64 B p50 vs plain"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    base = summary.get(("plain", 64))
    notes = []
    for c, desc in configs:
        row = [f"**{c}**: {desc}"]
        if c in na:
            row += [f"n/a ({na[c]})"] + ["—"] * (len(head) - 2)
            lines.append("| " + " | ".join(row) + " |")
            continue
        for s in LAT_SIZES:
            st = summary[(c, s)]
            if not st and (c, s) in skip:
                row.append(f"n/a ({skip[(c, s)]})")
            elif not st:
                row.append("failed")
            elif st["p50"] is None:
                row.append(f"mean {fmt(st['mean'])}")
            else:
                row.append(f"{fmt(st['p50'])} / {fmt(st['p99'])} / {fmt(st['p999'])}")
        st = summary[(c, TPUT_SIZE)]
        row.append(f"{st['bps'] / 1e6:.0f}" if st else "n/a" if (c, TPUT_SIZE) in skip else "failed")
        st64 = summary[(c, 64)]
        if base and st64 and base["p50"] and st64["p50"]:
            row.append(f"{base['p50'] / st64['p50']:.2f}×")
        else:
            row.append("—")
        lines.append("| " + " | ".join(row) + " |")
        for s in LAT_SIZES + [TPUT_SIZE]:
            bad = err.get((c, s), [])
            if bad:
                notes.append(f"- {c}, {size_name(s)}: {len(bad)} of {runs} run(s) failed: {bad[0]}")
    lines += ["", "\"64 B p50 vs plain\" is plain's 64 B p50 divided by the configuration's: above 1 is faster than "
              "Linux TCP over loopback."]
    dp, pl = summary.get(("dpdk", 64)), base
    if dp and pl and dp["p50"]:
        ratio = pl["p50"] / dp["p50"]
        lines.append(f"Issue 4's aim (64 B RTT over dpdk/memif at least 10× lower than Linux TCP over loopback): "
                     f"{ratio:.1f}× in this run — {'met' if ratio >= 10 else 'not met'}.")
    else:
        why = "dpdk is n/a." if "dpdk" in na or not dp else "no plain baseline."
        lines.append("Issue 4's aim (64 B RTT over dpdk/memif at least 10× lower than Linux TCP over loopback) "
                     "could not be checked in this run: " + why)
    for mine, theirs in (("rdma", "fi_pingpong"), ("rdma-shm", "fi_pingpong-shm")):
        pairs = [(s, summary.get((mine, s)), summary.get((theirs, s))) for s in LAT_SIZES]
        pairs = [(s, r, f) for s, r, f in pairs if r and f]
        if not pairs:
            continue
        text = ", ".join(f"{size_name(s)} {fmt(r['mean'])} vs {fmt(f['mean'])} µs" for s, r, f in pairs)
        rt, ft = summary.get((mine, TPUT_SIZE)), summary.get((theirs, TPUT_SIZE))
        tput = f"; 1 MiB throughput {rt['bps'] / 1e6:.0f} vs {ft['bps'] / 1e6:.0f} MB/s" if rt and ft else ""
        lines.append(f"libdemi ({mine}) against libfabric's own fi_pingpong on the same provider ({theirs}; mean "
                     f"RTT, the only statistic fi_pingpong gives): {text}{tput}.")
    r64, f64 = summary.get(("rdma", 64)), summary.get(("fi_pingpong", 64))
    rt, ft = summary.get(("rdma", TPUT_SIZE)), summary.get(("fi_pingpong", TPUT_SIZE))
    if r64 and f64 and rt and ft:
        lat, thr = r64["mean"] / f64["mean"], rt["bps"] / ft["bps"]
        lines.append(f"Issue 11's aims (rdma's 64 B mean RTT at most 1.1× fi_pingpong's, its 1 MiB throughput at "
                     f"least 0.9× fi_pingpong's; demi-echo checks every byte, fi_pingpong none): {lat:.2f}× — "
                     f"{'met' if lat <= 1.1 else 'not met'}; {thr:.2f}× — {'met' if thr >= 0.9 else 'not met'}.")
    if notes:
        lines += ["", "Failed runs (medians above are over the runs that succeeded):", ""] + notes
    lines += ["", "Commands (SIZE, N and W as in Counts; `--addr 127.0.0.1:0` makes the server pick a port, which the "
              "client then uses):", "", "```sh"]
    for c, _ in configs:
        for role, cmd in cmds.get(c, []):
            lines.append(f"# {c} {role}")
            lines.append(cmd)
    lines += ["```", "", "![RTT p50 and p99 per configuration and message size (log scale)](img/latency.png)"]
    splice(a.doc, "bench", "\n".join(lines))
    print(f"summarize: wrote the table into {a.doc}")


if __name__ == "__main__":
    main()
