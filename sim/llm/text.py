"""The text a person reads after an LLM point: time, throughput, traffic, and where time went."""

from __future__ import annotations

from typing import Any

from sim.report_table import render_table

TOP_LABELS = 12  # labels listed in the share table (the rest are summed in one line)


def format_llm_summary(s: dict[str, Any]) -> str:
    """A transfer-level summary (sim/llm/summary.py) or a request-level one, as text."""
    if "request_level" in s:
        r = s["request_level"]
        return (f"request level: {r.get('time_ps', 0) / 1e6:,.3f} us, "
                f"{r.get('ops', 0):,} ops on {r.get('threads', 0)} threads, HBM "
                f"{r.get('hbm_bytes_read', 0):,} B read, {r.get('hbm_bytes_written', 0):,} B "
                f"written, row hits {r.get('dram_row_hits', 0):,} of "
                f"{r.get('dram_accesses', 0):,} accesses")
    lines = [f"transfer level: {s['tasks']:,} tasks, {s['steps']} step(s), "
             f"{s['time_s'] * 1e3:,.3f} ms ({s['time_per_step_s'] * 1e3:,.3f} ms per step)"
             + (f", {s['tokens_per_s']:,.0f} tokens/s" if s.get("tokens") else "")]
    rows = [(name, f"{m['read']:,}", f"{m['written']:,}", f"{m['bandwidth_bytes_per_s'] / 1e9:,.1f}")
            for name, m in s["memories"].items()]
    lines.append(render_table(("memory", "bytes read", "bytes written", "GB/s"), rows))
    rows = [(name, f"{u['flops']:,}", f"{u['flops_per_s'] / 1e12:,.1f}",
             f"{u['utilisation'] * 100:.1f}") for name, u in s["units"].items()]
    lines.append(render_table(("unit", "FLOPs", "TFLOP/s", "util %"), rows))
    busy = ", ".join(f"{k} {v['busy'] * 100:.1f}%" for k, v in s["resources"].items())
    lines.append(f"  busy: {busy}; bottleneck: {s['bottleneck']}")
    labels = sorted(s["labels"].items(), key=lambda kv: -kv[1]["share"])
    rows = [(name, f"{v['share'] * 100:.1f}", f"{v['exclusive'] * 100:.1f}", f"{v['tasks']:,}")
            for name, v in labels[:TOP_LABELS]]
    if len(labels) > TOP_LABELS:
        rows.append((f"({len(labels) - TOP_LABELS} more)", "", "", ""))
    lines.append(render_table(("task label", "share of time %", "alone %", "tasks"), rows))
    lines.append(f"  overlap (two or more labels active) {s['overlap'] * 100:.1f}%, "
                 f"idle {s['idle'] * 100:.1f}%")
    return "\n".join(lines)
