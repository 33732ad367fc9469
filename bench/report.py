#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py RESULTS_DIR: turns RESULTS_DIR/bench.json (Google Benchmark, all repetitions) into
results.md (tables with ratios to the pipe and to the floor, and the issue's targets) and
throughput.dat (messages/s by size, for bench/throughput.gp). Medians are taken here over the
repetitions of each case, so a lost repetition shows as a smaller n rather than a wrong median.
Standard library only."""
import json
import os
import statistics
import sys

SIZES = [8, 64, 256, 1024, 4000]
RINGS = ["shmring-copy", "shmring-zerocopy", "shmring-batch", "floor"]
PEERS = ["pipe", "socketpair", "posix-mq", "boost-mq"]


def load(path):
    with open(path) as f:
        doc = json.load(f)
    runs, errors = {}, {}
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        name = b["run_name"].split("/iterations:")[0]
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        runs.setdefault(name, []).append(b)
    return doc["context"], runs, errors


class Results:
    def __init__(self, runs, errors):
        self.runs, self.errors = runs, errors

    def med(self, name, key):
        vals = [r[key] for r in self.runs.get(name, []) if key in r]
        return statistics.median(vals) if vals else None

    def reps(self, name):
        return len(self.runs.get(name, []))

    def why(self, name):
        e = self.errors.get(name)
        if e is None:
            return "not run"
        return "N/A" if e.startswith("N/A") else "ERROR: " + e

    def tput(self, t, m, s):
        return self.med("tput/%s/%s/%d" % (t, m, s), "msgs_per_s")

    def rtt(self, t, mode, s, key="p50_ns"):
        return self.med("rtt/%s/%s/%d" % (t, mode, s), key)


def fmt_rate(v):
    if v is None:
        return None
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return "%.3g%s" % (v / div, suf)
    return "%.3g" % v


def fmt_ns(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return "%.3g ms" % (v / 1e6)
    if v >= 1e3:
        return "%.3g us" % (v / 1e3)
    return "%.0f ns" % v


def fmt_int(v):
    return "—" if v is None else "%g" % v


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_x(v):
    return "—" if v is None else ("%.2fx" % v if v < 100 else "%.0fx" % v)


def throughput_table(R):
    out = ["| size | transport | mapping | msgs/s | MB/s | x pipe | x floor | line RTT | preempted "
           "| n |",
           "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in SIZES:
        pipe = R.tput("pipe", "-", s)
        rows = [(t, m) for m in ("4K", "1M") for t in RINGS] + [(t, "-") for t in PEERS]
        for t, m in rows:
            name = "tput/%s/%s/%d" % (t, m, s)
            v = R.tput(t, m, s)
            floor = R.tput("floor", m if m != "-" else "1M", s)
            if v is None:
                out.append("| %d | %s | %s | %s | | | | | | |" % (s, t, m, R.why(name)))
                continue
            mb = R.med(name, "MB_per_s")
            xf = R.med(name, "x_floor_paired")
            out.append("| %d | %s | %s | %s | %.0f | %s | %s | %s | %s | %d |" % (
                s, t, m if m != "-" else "(own)", fmt_rate(v), mb, fmt_x(ratio(v, pipe)),
                fmt_x(xf) + " (p)" if xf is not None else fmt_x(ratio(v, floor)),
                fmt_ns(R.med(name, "line_rtt_ns")), fmt_int(R.med(name, "preempted")),
                R.reps(name)))
    return out


def latency_table(R):
    out = ["| size | transport | mode | median | p99 | x pipe | x floor rings | x cache line "
           "| sleeps/rt | line RTT | preempted | n |",
           "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mode in ("busy", "sleep", "sleep1cpu"):
        for s in (8, 1024):
            pipe = R.rtt("pipe", mode, s)
            floor = R.rtt("floor", "busy", s)
            line = R.rtt("cacheline", "busy", 8)
            for t in ["shmring-copy", "floor", "cacheline"] + PEERS:
                name = "rtt/%s/%s/%d" % (t, mode, s)
                if name not in R.runs and name not in R.errors:
                    continue
                p50 = R.rtt(t, mode, s)
                if p50 is None:
                    out.append("| %d | %s | %s | %s | | | | | | | | |" % (s, t, mode, R.why(name)))
                    continue
                sl = R.rtt(t, mode, s, "sleeps_per_rt")
                xp = R.med(name, "x_pipe_paired")
                xf = R.med(name, "x_floor_paired")
                out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                    s, t, mode, fmt_ns(p50), fmt_ns(R.rtt(t, mode, s, "p99_ns")),
                    fmt_x(xp) + " (p)" if xp is not None else fmt_x(ratio(p50, pipe)),
                    fmt_x(xf) + " (p)" if xf is not None else fmt_x(ratio(p50, floor)),
                    fmt_x(ratio(p50, line)) if s == 8 else "—",
                    "%.2f" % sl if sl is not None else "—", fmt_ns(R.med(name, "line_rtt_ns")),
                    fmt_int(R.med(name, "preempted")), R.reps(name)))
    return out


def targets(R):
    rows = []

    def add(case, target, value, ok):
        rows.append("| %s | %s | %s | %s |" % (
            case, target, "—" if value is None else value,
            "—" if ok is None else ("met" if ok else "**missed**")))

    def ge(v, t):
        return None if v is None else v >= t

    def le(v, t):
        return None if v is None else v <= t

    def paired(kind, t, a, sz, key="x_floor_paired"):
        return R.med("%s/%s/%s/%d" % (kind, t, a, sz), key)

    c8 = R.tput("shmring-copy", "1M", 8)
    f = paired("tput", "shmring-copy", "1M", 8)
    p = ratio(c8, R.tput("pipe", "-", 8))
    add("8 B, copy API, 1 MiB", ">= 0.5x floor", fmt_x(f), ge(f, 0.5))
    add("8 B, copy API, 1 MiB", ">= 10x pipe", fmt_x(p), ge(p, 10))
    b = paired("tput", "shmring-batch", "1M", 8)
    add("8 B, batch API, 1 MiB", ">= 0.8x floor", fmt_x(b), ge(b, 0.8))
    v = paired("tput", "shmring-copy", "1M", 64)
    add("64 B, copy API, 1 MiB", ">= 1.0x floor", fmt_x(v), ge(v, 1.0))
    for s in (256, 1024, 4000):
        v = paired("tput", "shmring-copy", "1M", s)
        add("%d B, copy API, 1 MiB" % s, ">= 0.95x floor", fmt_x(v), ge(v, 0.95))
    v = paired("tput", "shmring-copy", "4K", 64)
    add("64 B, copy API, 4 KiB", ">= 0.8x floor (4 KiB)", fmt_x(v), ge(v, 0.8))
    v = paired("rtt", "shmring-copy", "busy", 8)
    add("8 B round trip, busy (median)", "<= 1.5x floor rings", fmt_x(v), le(v, 1.5))
    v = paired("rtt", "shmring-copy", "sleep", 8, "x_pipe_paired")
    add("8 B round trip, sleeping (median)", "<= 1.2x pipe", fmt_x(v), le(v, 1.2))
    v = ratio(c8, R.tput("boost-mq", "-", 8))
    add("8 B, copy API 1 MiB vs Boost message_queue", ">= 20x", fmt_x(v), ge(v, 20))
    return ["| case | target | measured | |", "|---|---|---:|---|"] + rows


def write_dat(R, path):
    series = [("shmring-copy", "1M"), ("shmring-zerocopy", "1M"), ("shmring-batch", "1M"),
              ("floor", "1M"), ("shmring-copy", "4K"), ("floor", "4K"),
              ("pipe", "-"), ("socketpair", "-"), ("posix-mq", "-"), ("boost-mq", "-")]
    with open(path, "w") as f:
        f.write("# size " + " ".join("%s@%s" % s for s in series) + "\n")
        for s in SIZES:
            vals = [R.tput(t, m, s) for t, m in series]
            f.write("%d %s\n" % (s, " ".join("NaN" if v is None else "%.6g" % v for v in vals)))


def main():
    d = sys.argv[1]
    ctx, runs, errors = load(os.path.join(d, "bench.json"))
    R = Results(runs, errors)
    caches = ", ".join("L%d%s %dK" % (c["level"], c["type"][0].lower(), c["size"] // 1024)
                       for c in ctx.get("caches", []))
    meta = os.environ.get("BENCH_META", "")
    lines = ["# shmring benchmark results", ""]
    if meta:
        lines += [meta, ""]
    lines += [
        "- date: %s" % ctx.get("date", "?"),
        "- host: %s, %d CPUs at %s MHz%s" % (ctx.get("host_name", "?"), ctx.get("num_cpus", 0),
                                            ctx.get("mhz_per_cpu", "?"),
                                            " (%s)" % caches if caches else ""),
        "- pinning: %s" % ctx.get("pinning", "?"),
        "- load average at start (1/5/15 min): %s" % ", ".join(
            "%.2f" % x for x in ctx.get("load_avg", [])),
        "- measured round: %s ms; timestamp cost per latency sample: %s ns" % (
            ctx.get("round_target_ms", "?")[:5], ctx.get("timer_overhead_ns", "?")[:5]),
        "- medians over n repetitions, run in random interleaved order. (p): the median of "
        "ratios paired within each repetition (shmring, then its baseline right after it, "
        "under the same conditions); the targets are judged on these. Other ratios are "
        "ratios of medians. Peers have no mapping size: their x floor is against the 1 MiB "
        "floor. line RTT: a cache line's round trip between the two CPUs measured just before "
        "each case (in a VM the host moves the virtual CPUs, and this moves with it). "
        "preempted: median count of involuntary context switches of the two processes during "
        "the measured round (other work took the CPU; busy-polling results with many are "
        "disturbed).",
        "",
        "## Targets (issue #5)", ""] + targets(R) + [
        "", "## Throughput", ""] + throughput_table(R) + [
        "", "## Round trips", "",
        "x floor rings: against two floor rings, busy. sleeps/rt: kernel sleeps per round trip, "
        "both sides (shmring only).", ""] + latency_table(R) + [""]
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(lines))
    write_dat(R, os.path.join(d, "throughput.dat"))
    bad = [n for n, e in errors.items() if not e.startswith("N/A")]
    if bad:
        print("report: cases with errors: " + ", ".join(sorted(bad)), file=sys.stderr)


if __name__ == "__main__":
    main()
