"""Derived figures of a machine run (bandwidths, utilisations, stall shares) and their text form."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.machine.model import STALL_NAMES, MachineSpec
from sim.machine.stats import TIMELINE_ROWS, MachineStats, n_links, timeline_row


def _gbps(nbytes: float, ps: int) -> float:
    return nbytes / ps * 1e3 if ps > 0 else 0.0  # bytes per ps * 1e12 / 1e9


def tier_peaks(spec: MachineSpec) -> dict[str, float]:
    """Peak bandwidth of each tier in GB/s (data-bus or port limits)."""
    sp = spec.cores * spec.sp_banks * spec.sp_ports * spec.sp_bytes_per_clock / spec.sp_clock_ps
    host = spec.dies * 2 * spec.host_link_bytes / spec.cycle_ps  # both directions
    return {
        "dram": spec.dram_peak_bytes_per_s() / 1e9,
        "scratchpad": sp * 1e3,
        "host": host * 1e3,
    }


def link_classes(spec: MachineSpec) -> dict[str, slice]:
    nodes = spec.mesh_x * spec.mesh_y
    mesh = spec.dies * nodes * 4
    die = mesh + spec.dies * spec.dies
    return {"mesh": slice(0, mesh), "die": slice(mesh, die), "host": slice(die, n_links(spec))}


def summarize(spec: MachineSpec, st: MachineStats) -> dict[str, Any]:
    """A JSON-ready summary: simulated time, tiers, links, cores, stalls, atomics, timeline."""
    T = st.end_ps
    peaks = tier_peaks(spec)
    tiers = {}
    for name, rd, wr, req in (
        ("dram", st.dram_bytes_read, st.dram_bytes_written, st.dram_requests),
        ("scratchpad", st.sp_bytes_read, st.sp_bytes_written, st.sp_requests),
        ("host", st.host_bytes_read, st.host_bytes_written, None),
    ):
        total = int(rd.sum() + wr.sum())
        bw = _gbps(total, T)
        tiers[name] = {
            "bytes_read": int(rd.sum()), "bytes_written": int(wr.sum()),
            "requests": int(req.sum()) if req is not None else None,
            "bandwidth_gb_per_s": bw, "peak_gb_per_s": peaks[name],
            "utilization": bw / peaks[name] if peaks[name] > 0 else 0.0,
        }
    tiers["dram"]["row_hit_rate"] = (float(st.dram_row_hits.sum() / st.dram_accesses.sum())
                                     if st.dram_accesses.sum() else 0.0)
    per_ctrl = [_gbps(int(st.dram_bytes_read[g] + st.dram_bytes_written[g]), T)
                for g in range(spec.controllers)]
    tiers["dram"]["per_controller_gb_per_s"] = per_ctrl
    links = {}
    for cls, sl in link_classes(spec).items():
        busy = st.link_busy_slots[sl]
        used = busy > 0
        cycles = T / spec.cycle_ps if T else 0
        links[cls] = {
            "links_used": int(used.sum()), "packets": int(st.link_packets[sl].sum()),
            "bytes": int(st.link_bytes[sl].sum()),
            "busiest_utilization": float(busy.max() / cycles) if cycles and len(busy) else 0.0,
        }
    # timelines: GB/s per bin; DRAM summed over controllers, then the other rows
    nbins = max(int(np.ceil(T / st.timeline_bin_ps)) if T else 0, 1)
    rows = {"dram": st.timeline[:spec.controllers].sum(axis=0)}
    for name in TIMELINE_ROWS:
        rows[name] = st.timeline[timeline_row(spec, name)]
    series = {name: [float(b) / st.timeline_bin_ps * 1e3 for b in row[:nbins]]
              for name, row in rows.items()}
    # stalls: shares of all thread time (threads with a stream)
    has = st.thread_done_ps >= 0
    stall = st.stall_ps[has].sum(axis=0).astype(float)
    busy_ps = float(st.thread_ops[has].sum() * spec.cycle_ps)
    whole = stall.sum() + busy_ps
    stalls = {n: (float(stall[i] / whole) if whole else 0.0) for i, n in enumerate(STALL_NAMES)}
    stalls["busy"] = busy_ps / whole if whole else 0.0
    # per thread group (the MTP threads and the STP threads of each core, and of all cores)
    tpc, mt = spec.threads_per_core, spec.mtp * spec.threads_per_mtp
    local = np.arange(spec.threads) % tpc
    groups: dict[str, dict[str, float]] = {}
    for kind, sel in (("mtp", local < mt), ("stp", local >= mt)):
        for c in [None, *range(spec.cores)]:
            mask = has & sel & ((np.arange(spec.threads) // tpc == c) if c is not None else True)
            if not mask.any():
                continue
            g = st.stall_ps[mask].sum(axis=0).astype(float)
            busy = float(st.thread_ops[mask].sum() * spec.cycle_ps)
            tot = g.sum() + busy
            shares = {n: (float(g[i] / tot) if tot else 0.0) for i, n in enumerate(STALL_NAMES)}
            shares["busy"] = busy / tot if tot else 0.0
            groups[f"{kind}" if c is None else f"core{c}.{kind}"] = shares
    cycles = T / spec.cycle_ps if T else 0
    issue_util = (st.core_issue_slots / (spec.pipelines_per_core * cycles)).tolist() if cycles else []
    loads = int(st.load_count.sum())
    atomics = int(st.dram_atomics.sum() + st.sp_atomics.sum())
    return {
        "machine": spec.name,
        "sim_time_ns": T / 1e3,
        "ops": int(st.thread_ops.sum()),
        "threads": int(has.sum()),
        "tiers": tiers,
        "links": links,
        "cores": {"issue_utilization": issue_util,
                  "mean_issue_utilization": float(np.mean(issue_util)) if issue_util else 0.0},
        "stalls": stalls,
        "stall_groups": groups,
        "loads": {"count": loads,
                  "mean_latency_ns": float(st.load_latency_ps.sum() / loads / 1e3) if loads else 0.0},
        "atomics": {"dram": int(st.dram_atomics.sum()), "scratchpad": int(st.sp_atomics.sum()),
                    "per_s": atomics / (T * 1e-12) if T else 0.0},
        "l1": {"hits": int(st.l1_hits.sum()), "misses": int(st.l1_misses.sum())},
        "dma": {"jobs": int(st.dma_jobs.sum()), "bytes": int(st.dma_bytes.sum())},
        # bank-level PIM: bytes read inside the channels (not DRAM tier traffic)
        "pim": {"ops": int(st.pim_ops.sum()), "bytes": int(st.pim_bytes.sum()),
                "internal_gb_per_s": _gbps(int(st.pim_bytes.sum()), T)},
        "timeline": {"bin_ns": st.timeline_bin_ps / 1e3, "series": series},
    }


def format_summary(s: dict[str, Any]) -> str:
    """The summary as aligned text for the terminal."""
    lines = [f"machine {s['machine']}: {s['ops']:,} ops on {s['threads']} threads, "
             f"simulated {s['sim_time_ns']:,.1f} ns"]
    lines.append(f"  {'tier':<11}{'read':>14}{'written':>14}{'GB/s':>10}{'peak GB/s':>11}{'util':>7}")
    for name, t in s["tiers"].items():
        lines.append(f"  {name:<11}{t['bytes_read']:>14,}{t['bytes_written']:>14,}"
                     f"{t['bandwidth_gb_per_s']:>10.2f}{t['peak_gb_per_s']:>11.1f}"
                     f"{100 * t['utilization']:>6.1f}%")
    d = s["tiers"]["dram"]
    lines.append(f"  DRAM row-hit rate {100 * d['row_hit_rate']:.1f}%, mean load latency "
                 f"{s['loads']['mean_latency_ns']:.1f} ns over {s['loads']['count']:,} loads")
    lines.append(f"  core issue-slot utilisation {100 * s['cores']['mean_issue_utilization']:.1f}%"
                 f"; atomics {s['atomics']['dram']:,} at DRAM, {s['atomics']['scratchpad']:,}"
                 f" in scratchpads")
    pim = s.get("pim", {})
    if pim.get("ops"):
        lines.append(f"  PIM {pim['ops']:,} ops read {pim['bytes']:,} B inside the channels "
                     f"({pim['internal_gb_per_s']:.2f} GB/s over the run)")
    for cls, li in s["links"].items():
        if li["packets"]:
            lines.append(f"  {cls} links: {li['packets']:,} packets, {li['bytes']:,} B, busiest "
                         f"{100 * li['busiest_utilization']:.1f}% busy")
    shares = sorted(((v, k) for k, v in s["stalls"].items() if v > 0), reverse=True)
    lines.append("  thread time: " + ", ".join(f"{k} {100 * v:.1f}%" for v, k in shares))
    for kind in ("mtp", "stp"):
        g = s.get("stall_groups", {}).get(kind)
        if g:
            top = sorted(((v, k) for k, v in g.items() if v > 0), reverse=True)[:4]
            lines.append(f"    {kind.upper()} threads: " + ", ".join(f"{k} {100 * v:.1f}%"
                                                                  for v, k in top))
    return "\n".join(lines)
