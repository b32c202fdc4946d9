#!/usr/bin/python3
"""Aggregates scripts/bench's raw measurements into the table, results.json
and the data files chart.gp plots.  Standard library only (Debian's python3).

Input: lines "<system> <metric> <value>" (one per measurement; a metric
repeated once per run), and "NA <system> <metric> <reason...>" lines.
Usage: report.py RAW OUTDIR [--smoke]
"""
import json
import statistics
import sys
from collections import defaultdict

raw_path, outdir = sys.argv[1], sys.argv[2]
smoke = "--smoke" in sys.argv
vals = defaultdict(list)
na = {}
meta = {}
for line in open(raw_path):
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "NA":
        na[(parts[1], parts[2])] = " ".join(parts[3:])
    elif parts[0] == "META":
        meta[parts[1]] = " ".join(parts[2:])
    else:
        vals[(parts[0], parts[1])].append(float(parts[2]))


def stat(system, metric):
    v = vals.get((system, metric))
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v), "runs": v}


SYSTEMS = [("lwsp", "lwsp (WSP)"), ("pump", "TAP pump"), ("kernel", "kernel veth"),
           ("rawlwip", "raw lwIP"), ("stocklwip", "stock lwIP"), ("slirp", "libslirp")]
# metric key, label, unit scale, unit, higher is better, {system: metric key of that baseline}
G = 1e9
ROWS = [
    ("tx_bps@1500", "bulk TCP lwsp->kernel, MTU 1500", G, "Gbit/s", True, {"pump": "pump1514.in_bps"}),
    ("rx_bps@1500", "bulk TCP kernel->lwsp, MTU 1500", G, "Gbit/s", True, {"pump": "pump1514.out_bps"}),
    ("tx_bps@65521", "bulk TCP lwsp->kernel, MTU 65521", G, "Gbit/s", True, {"pump": "pump65535.in_bps"}),
    ("rx_bps@65521", "bulk TCP kernel->lwsp, MTU 65521", G, "Gbit/s", True, {"pump": "pump65535.out_bps"}),
    ("tx_bps_plain@1500", "same, plain frames (offloads off)", G, "Gbit/s", True,
     {"pump": "pump1514.in_bps", "kernel": "tx_bps@1500", "rawlwip": "tx_bps@1500", "stocklwip": "tx_bps@1500"}),
    ("rx_bps_plain@1500", "kernel->lwsp, plain frames", G, "Gbit/s", True,
     {"pump": "pump1514.out_bps", "kernel": "rx_bps@1500", "rawlwip": "rx_bps@1500", "stocklwip": "rx_bps@1500"}),
] + [
    # CPU time per GiB over the same steady-state interval: this process
    # (user + system, with the kernel's work in its system calls) and the
    # whole machine (every CPU's non-idle time: the peer too).
    (f"{d}_bps{cpu}_cpu_s_per_gib@{mtu}", f"CPU per GiB {lbl}, MTU {mtu} ({who})", 1, "s/GiB", False,
     {"pump": None})
    for mtu in (1500, 65521) for d, lbl in (("tx", "lwsp->kernel"), ("rx", "kernel->lwsp"))
    for cpu, who in (("", "process"), ("_machine", "machine"))
] + [
    # --contended: the same with a CPU-bound `nice 19` process beside them.
    (f"contended.{d}_bps@{mtu}", f"contended: bulk {lbl}, MTU {mtu}", G, "Gbit/s", True, {"pump": None})
    for mtu in (1500, 65521) for d, lbl in (("tx", "lwsp->kernel"), ("rx", "kernel->lwsp"))
] + [
    ("contended.rr.rtt_p50_us@1500", "contended: 1-byte RTT median", 1, "us", False, {"pump": None}),
    ("contended.rr.rtt_p99_us@1500", "contended: 1-byte RTT p99", 1, "us", False, {"pump": None}),
] + [
    ("rr.rtt_p50_us@1500", "1-byte RTT median", 1, "us", False, {}),
    ("rr.rtt_p99_us@1500", "1-byte RTT p99", 1, "us", False, {}),
    ("rr_busy.rtt_p50_us@1500", "1-byte RTT median, busy poll 50us", 1, "us", False,
     {"kernel": "rr.rtt_p50_us@1500", "rawlwip": "rr.rtt_p50_us@1500", "stocklwip": "rr.rtt_p50_us@1500"}),
    ("rr_busy.rtt_p99_us@1500", "1-byte RTT p99, busy poll 50us", 1, "us", False,
     {"kernel": "rr.rtt_p99_us@1500", "rawlwip": "rr.rtt_p99_us@1500", "stocklwip": "rr.rtt_p99_us@1500"}),
    ("rr_noinline.rtt_p50_us@1500", "1-byte RTT median, inline receive off", 1, "us", False,
     {"kernel": "rr.rtt_p50_us@1500", "rawlwip": "rr.rtt_p50_us@1500", "stocklwip": "rr.rtt_p50_us@1500"}),
    ("rr_noinline.rtt_p99_us@1500", "1-byte RTT p99, inline receive off", 1, "us", False,
     {"kernel": "rr.rtt_p99_us@1500", "rawlwip": "rr.rtt_p99_us@1500", "stocklwip": "rr.rtt_p99_us@1500"}),
    ("crr_per_s@1500", "connect+1B req/resp+close", 1, "conn/s", True, {}),
    ("crr_noinline_per_s@1500", "connect+1B req/resp+close, inline receive off", 1, "conn/s", True,
     {"kernel": "crr_per_s@1500", "rawlwip": "crr_per_s@1500", "stocklwip": "crr_per_s@1500"}),
    ("shim.wsp_s", "shim: loopback transfer wall time, WSP", 1e-3, "ms", False, {"rawlwip": "shim.raw_s"}),
    ("shim.wsp_cpu_s", "shim cost: loopback transfer CPU time, WSP", 1e-3, "ms", False, {"rawlwip": "shim.raw_cpu_s"}),
    ("flows_bps@1500", "100 bulk flows lwsp->kernel at once, sum", G, "Gbit/s", True, {"pump": None}),
    ("flows_jain@1500", "same, Jain's fairness index (1 = even)", 1, "", True, {"pump": None}),
    ("flows_machine_cpu_s_per_gib@1500", "same, CPU per GiB (machine)", 1, "s/GiB", False, {"pump": None}),
    ("mem_idle.idle_cpu_percent", "CPU while 10,000 connections idle", 1, "% core", False, {}),
    ("mem_idle.heap_per_conn", "heap per idle conn (bufs excl.)", 1, "B", False, {}),
    ("mem_buf.heap_per_conn", "heap per conn, 1 unread segment", 1, "B", False, {}),
    ("mem_idle.malloc_per_conn", "process malloc per idle conn", 1, "B", False, {}),
    ("mem_buf.malloc_per_conn", "process malloc per conn w/ data", 1, "B", False, {}),
    ("mem_idle.pcbs_per_conn", "lwIP tcp pcbs per idle conn", 1, "", False, {}),
    ("mem_buf.pbufs_per_conn", "lwIP pbufs per conn w/ data", 1, "", False, {}),
]
PUMP_EXTRA = [("pump1514.in_bps", "TAP pump 1514-B frames, write"), ("pump1514.out_bps", "TAP pump 1514-B frames, read"),
              ("pump65535.in_bps", "TAP pump 65535-B frames, write"), ("pump65535.out_bps", "TAP pump 65535-B frames, read"),
              ("pump1514.in_fps", "TAP pump 1514-B frames/s, write"), ("pump1514.out_fps", "TAP pump 1514-B frames/s, read")]


def fmt(s, scale):
    if s is None:
        return None
    m, lo, hi = s["median"] / scale, s["min"] / scale, s["max"] / scale
    d = 3 if abs(m) < 10 else (1 if abs(m) < 1000 else 0)
    return f"{m:.{d}f} [{lo:.{d}f}-{hi:.{d}f}]"


results = {"meta": meta, "smoke": smoke, "metrics": [], "goals": []}
table = []
notes = []
header = ["metric", "unit"] + [lbl for _, lbl in SYSTEMS]
for key, label, scale, unit, higher, alias in ROWS:
    row = [label, unit]
    entry = {"metric": key, "label": label, "unit": unit, "scale": scale, "higher_is_better": higher, "systems": {}}
    lw = stat("lwsp", key)
    for sysname, _ in SYSTEMS:
        mkey = alias.get(sysname, key)
        if mkey is None:  # not measured for this system
            row.append("")
            entry["systems"][sysname] = None
            continue
        src = "pump" if sysname == "pump" else sysname
        s = stat(src, mkey) if not (sysname == "rawlwip" and key.startswith("shim.")) else stat("lwsp", mkey)
        reason = na.get((sysname, key)) or na.get((sysname, mkey))
        if s is None:
            if reason:
                if reason not in notes:
                    notes.append(reason)
                row.append(f"n/a [{notes.index(reason) + 1}]")
            else:
                row.append("-")
            entry["systems"][sysname] = {"na": reason} if reason else None
            continue
        cell = fmt(s, scale)
        e = dict(s)
        if sysname != "lwsp" and lw is not None and s["median"] != 0:
            ratio = lw["median"] / s["median"]
            e["ratio_lwsp_to_this"] = ratio
            cell += f" ({ratio:.2f}x)"
        row.append(cell)
        entry["systems"][sysname] = e
    table.append(row)
    results["metrics"].append(entry)
for key, label in PUMP_EXTRA:
    s = stat("pump", key)
    if s is None:
        continue
    scale, unit = (G, "Gbit/s") if key.endswith("bps") else (1e3, "kframe/s")
    table.append([label, unit, "", fmt(s, scale)] + [""] * (len(SYSTEMS) - 2))
    results["metrics"].append({"metric": key, "label": label, "unit": unit, "scale": scale, "systems": {"pump": s}})
for key, label in [("shim.raw_s", "shim: same transfer wall time, raw API"),
                   ("shim.raw_cpu_s", "shim: same transfer CPU time, raw API")]:
    shim_raw = stat("lwsp", key)
    if shim_raw:
        table.append([label, "ms", fmt(shim_raw, 1e-3)] + [""] * (len(SYSTEMS) - 1))


def median(system, metric):
    s = stat(system, metric)
    return None if s is None else s["median"]


def goal(name, value, baseline, op, threshold, note=""):
    if value is None or baseline is None:
        status, ratio = "n/a", None
    else:
        ratio = value / baseline
        ok = ratio >= threshold if op == ">=" else ratio <= threshold
        status = "met" if ok else "MISSED"
    results["goals"].append({"goal": name, "ratio": ratio, "threshold": f"{op} {threshold}", "status": status,
                             "note": note})


lw_tx, lw_rx = median("lwsp", "tx_bps@1500"), median("lwsp", "rx_bps@1500")
goal("bulk tx MTU1500 >= 0.6x TAP pump (write)", lw_tx, median("pump", "pump1514.in_bps"), ">=", 0.6)
goal("bulk rx MTU1500 >= 0.6x TAP pump (read)", lw_rx, median("pump", "pump1514.out_bps"), ">=", 0.6)
# The same two goals with offloads off: the TAP pump writes 1514-byte
# frames, while lwsp's offloaded frames carry up to 64 KiB of segments.
goal("(plain frames) bulk tx MTU1500 >= 0.6x TAP pump (write)", median("lwsp", "tx_bps_plain@1500"),
     median("pump", "pump1514.in_bps"), ">=", 0.6)
goal("(plain frames) bulk rx MTU1500 >= 0.6x TAP pump (read)", median("lwsp", "rx_bps_plain@1500"),
     median("pump", "pump1514.out_bps"), ">=", 0.6)
goal("bulk tx MTU1500 >= 2x stock lwIP", lw_tx, median("stocklwip", "tx_bps@1500"), ">=", 2.0)
goal("bulk rx MTU1500 >= 2x stock lwIP", lw_rx, median("stocklwip", "rx_bps@1500"), ">=", 2.0,
     "stock lwIP cannot receive bulk data here" + (f" [{notes.index(na[('stocklwip', 'rx_bps@1500')]) + 1}]"
                                                 if ('stocklwip', 'rx_bps@1500') in na else ""))
goal("bulk tx MTU1500 >= 0.8x raw lwIP", lw_tx, median("rawlwip", "tx_bps@1500"), ">=", 0.8)
goal("bulk rx MTU1500 >= 0.8x raw lwIP", lw_rx, median("rawlwip", "rx_bps@1500"), ">=", 0.8)
goal("bulk tx MTU65521 >= 0.4x kernel veth", median("lwsp", "tx_bps@65521"), median("kernel", "tx_bps@65521"),
     ">=", 0.4)
goal("bulk rx MTU65521 >= 0.4x kernel veth", median("lwsp", "rx_bps@65521"), median("kernel", "rx_bps@65521"),
     ">=", 0.4)
for d in ("tx", "rx"):
    goal(f"bulk {d} MTU65521 >= 1x raw lwIP", median("lwsp", f"{d}_bps@65521"), median("rawlwip", f"{d}_bps@65521"),
         ">=", 1.0)
goal("1-byte RTT (median) <= 1.5x kernel veth", median("lwsp", "rr.rtt_p50_us@1500"),
     median("kernel", "rr.rtt_p50_us@1500"), "<=", 1.5)
goal("1-byte RTT (p99) <= 2x kernel veth", median("lwsp", "rr.rtt_p99_us@1500"),
     median("kernel", "rr.rtt_p99_us@1500"), "<=", 2.0)
goal("(busy poll 50us) 1-byte RTT (median) <= 1.5x kernel veth", median("lwsp", "rr_busy.rtt_p50_us@1500"),
     median("kernel", "rr.rtt_p50_us@1500"), "<=", 1.5)
goal("connection rate >= 0.8x kernel veth", median("lwsp", "crr_per_s@1500"), median("kernel", "crr_per_s@1500"),
     ">=", 0.8)
goal("connection rate >= 0.8x raw lwIP", median("lwsp", "crr_per_s@1500"), median("rawlwip", "crr_per_s@1500"),
     ">=", 0.8)
goal("shim cost <= 1.10x raw lwIP time (process CPU time)", median("lwsp", "shim.wsp_cpu_s"),
     median("lwsp", "shim.raw_cpu_s"), "<=", 1.10)
goal("(wall time) shim cost <= 1.10x raw lwIP time", median("lwsp", "shim.wsp_s"), median("lwsp", "shim.raw_s"),
     "<=", 1.10, "WSP sender and receiver are two threads on two cores; the raw-API transfer is one thread")
pcb = median("lwsp", "tcp_pcb_size")
idle = median("lwsp", "mem_idle.heap_per_conn")
goal(f"idle conn memory <= sizeof(tcp_pcb)+256 = {pcb + 256 if pcb else '?'} B", idle,
     (pcb + 256) if pcb else None, "<=", 1.0, f"sizeof(tcp_pcb) = {pcb:.0f} B" if pcb else "")
# libslirp (slirp4netns): ahead of it on every row; both are measured in
# the same run, so this is the same as comparing their ratios to veth.
for key, label in [("tx_bps@1500", "bulk tx MTU1500"), ("rx_bps@1500", "bulk rx MTU1500"),
                   ("tx_bps@65521", "bulk tx MTU65521"), ("rx_bps@65521", "bulk rx MTU65521")]:
    goal(f"{label} >= 1x libslirp", median("lwsp", key), median("slirp", key), ">=", 1.0)
goal("1-byte RTT (median) <= 1x libslirp", median("lwsp", "rr.rtt_p50_us@1500"), median("slirp", "rr.rtt_p50_us@1500"),
     "<=", 1.0)
proc = median("lwsp", "mem_idle.malloc_per_conn")
goal(f"process memory per idle conn <= sizeof(tcp_pcb)+1024 = {pcb + 1024 if pcb else '?'} B", proc,
     (pcb + 1024) if pcb else None, "<=", 1.0, "malloc growth at 10,000 idle connections")
results["tcp_pcb_size"] = pcb

# ---- print ----
widths = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
lines = []
lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
lines.append("  ".join("-" * w for w in widths))
for r in table:
    lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
lines.append("")
lines.append("cells: median [min-max] over the runs; (Nx) = lwsp's median / that baseline's median")
for i, reason in enumerate(notes):
    lines.append(f"[{i + 1}] {reason}")
lines.append("")
lines.append("goals (ratios to same-run baselines):")
for g in results["goals"]:
    r = "n/a" if g["ratio"] is None else f"{g['ratio']:.2f}"
    lines.append(f"  [{g['status']:>6}] {g['goal']}: ratio {r} (needs {g['threshold']})" +
                 (f" — {g['note']}" if g["note"] else ""))
text = "\n".join(lines)
print(text)
open(f"{outdir}/table.txt", "w").write(text + "\n")
json.dump(results, open(f"{outdir}/results.json", "w"), indent=2)

# ---- chart data: one panel per metric, lwsp beside each baseline ----
# chart.gp plots block i of chart.dat under title line i of chart_titles.txt:
# one bar per system (median, min-max error bar), labelled with lwsp's own
# value on lwsp's bar and lwsp's ratio to that baseline on the others.
PANELS = [
    ("tx_bps@1500", "bulk lwsp->kernel, MTU 1500 (Gbit/s)"),
    ("rx_bps@1500", "bulk kernel->lwsp, MTU 1500 (Gbit/s)"),
    ("tx_bps@65521", "bulk lwsp->kernel, MTU 65521 (Gbit/s)"),
    ("rx_bps@65521", "bulk kernel->lwsp, MTU 65521 (Gbit/s)"),
    ("tx_bps_cpu_s_per_gib@65521", "CPU per GiB lwsp->kernel, MTU 65521 (s, process; lower is better)"),
    ("rx_bps_cpu_s_per_gib@65521", "CPU per GiB kernel->lwsp, MTU 65521 (s, process; lower is better)"),
    ("rr.rtt_p50_us@1500", "1-byte RTT median (us; lower is better)"),
    ("crr_per_s@1500", "connect + 1 B request/reply + close (conn/s)"),
    ("contended.tx_bps@65521", "contended: bulk lwsp->kernel, MTU 65521 (Gbit/s)"),
]
by_metric = {m["metric"]: m for m in results["metrics"]}
labels = dict(SYSTEMS)
with open(f"{outdir}/chart.dat", "w") as f, open(f"{outdir}/chart_titles.txt", "w") as t:
    for key, title in PANELS:
        entry = by_metric.get(key)
        if entry is None or not entry["systems"].get("lwsp"):
            continue
        scale = entry["scale"]
        t.write(title + "\n")
        f.write(f"# {key}\n")
        for sysname, _ in SYSTEMS:
            e = entry["systems"].get(sysname)
            if not e or "median" not in e:
                continue
            if sysname == "lwsp":
                v = e["median"] / scale
                note = f"{v:.0f}" if v >= 1000 else f"{v:.3g}"
            else:
                note = f"{e['ratio_lwsp_to_this']:.2f}x" if "ratio_lwsp_to_this" in e else ""
            f.write(f"\"{labels[sysname]}\" {e['median'] / scale} {e['min'] / scale} {e['max'] / scale} \"{note}\"\n")
        f.write("\n\n")
