"""Plain-text and Markdown tables of DRAM replay summaries (the dict of sim.memory.dram.summarize)."""

from __future__ import annotations

from collections.abc import Sequence

Row = Sequence[object]

BREAKDOWN_LABELS = {
    "queued": "queued (other requests, bus, scheduler)",
    "row_conflict": "row (tRP/tRCD/tRAS/tRTP/tRC)",
    "faw_rrd": "activate window (tRRD/tFAW)",
    "refresh": "refresh (tRFC)",
    "turnaround": "turnaround (write-to-read, rank switch)",
    "transfer": "transfer (CL + burst)",
}


def _cell(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _is_number(text: str) -> bool:
    t = text.replace(",", "").replace("%", "").strip()
    try:
        float(t)
    except ValueError:
        return False
    return True


def render_table(headers: Row, rows: Sequence[Row], indent: str = "  ") -> str:
    """Columns padded to width; numeric columns right-aligned, text left-aligned."""
    head = [_cell(h) for h in headers]
    body = [[_cell(c) for c in r] for r in rows]
    ncol = len(head)
    widths = [max([len(head[j])] + [len(r[j]) for r in body]) for j in range(ncol)]
    numeric = [bool(body) and all(_is_number(r[j]) or r[j] in ("", "-") for r in body)
               for j in range(ncol)]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return (indent + "  ".join(parts)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(r) for r in body)])


def render_markdown(headers: Row, rows: Sequence[Row]) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned."""
    head = [_cell(h) for h in headers]
    body = [[_cell(c).replace("|", "\\|") for c in r] for r in rows]
    align = []
    for j in range(len(head)):
        num = bool(body) and all(_is_number(r[j]) or r[j] in ("", "-") for r in body)
        align.append("---:" if num else "---")
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}" if whole > 0 else "-"


def summary_rows(summary: dict) -> list[tuple[str, str]]:
    """(quantity with unit, value) pairs for the headline numbers of one replay."""
    lat = summary["read_latency_ns"]
    return [
        ("requests", f"{summary['requests']:,}"),
        ("bytes read (B)", f"{summary['bytes_read']:,}"),
        ("bytes written (B)", f"{summary['bytes_written']:,}"),
        ("simulated time (ns)", f"{summary['sim_time_ns']:,.2f}"),
        ("bandwidth (GB/s)", f"{summary['bandwidth_gb_per_s']:.2f}"),
        ("peak bandwidth (GB/s)", f"{summary['peak_gb_per_s']:.2f}"),
        ("utilization (%)", f"{100.0 * summary['utilization']:.1f}"),
        ("read latency mean (ns)", f"{lat['mean']:.2f}"),
        ("read latency p50 (ns)", f"{lat['p50']:.2f}"),
        ("read latency p99 (ns)", f"{lat['p99']:.2f}"),
        ("row hit rate (%)", f"{100.0 * summary['row_hit_rate']:.1f}"),
        ("row miss rate (%)", f"{100.0 * summary['row_miss_rate']:.1f}"),
        ("row conflict rate (%)", f"{100.0 * summary['row_conflict_rate']:.1f}"),
    ]


def breakdown_rows(summary: dict) -> list[tuple[str, str, str]]:
    """(component, ns, % of mean read latency) rows, plus a total row."""
    bd = summary["latency_breakdown_ns"]
    mean = summary["read_latency_ns"]["mean"]
    rows = [(BREAKDOWN_LABELS.get(k, k), f"{v:.2f}", _pct(v, mean)) for k, v in bd.items()]
    total = sum(bd.values())
    rows.append(("total", f"{total:.2f}", _pct(total, mean)))
    return rows


def channel_line(summary: dict) -> str:
    """One line: per-channel bandwidth min / mean / max."""
    per = summary["per_channel_gb_per_s"]
    if not per:
        return "per-channel bandwidth (GB/s): no channels"
    return (f"per-channel bandwidth (GB/s) over {len(per)} channel{'s' if len(per) != 1 else ''}: "
            f"min {min(per):.2f}  mean {sum(per) / len(per):.2f}  max {max(per):.2f}")


def summary_table(summary: dict, title: str = "") -> str:
    """The whole replay summary as terminal text."""
    parts = []
    if title:
        parts.append(title)
        parts.append("")
    parts.append(render_table(("quantity", "value"), summary_rows(summary)))
    parts.append("")
    parts.append(render_table(("read latency breakdown", "ns", "% of mean"), breakdown_rows(summary)))
    parts.append("")
    parts.append("  " + channel_line(summary))
    return "\n".join(parts)


def top_component(summary: dict) -> str:
    """The largest latency-breakdown component as 'name ns (pct%)', or '-' without reads."""
    bd = summary["latency_breakdown_ns"]
    if not bd or max(bd.values()) <= 0:
        return "-"
    key = max(bd, key=lambda k: bd[k])
    mean = summary["read_latency_ns"]["mean"]
    pct = _pct(bd[key], mean)
    return f"{key} {bd[key]:.1f} ns ({pct}%)" if pct != "-" else f"{key} {bd[key]:.1f} ns"


COMPARISON_HEADERS = ("memory", "trace", "bandwidth (GB/s)", "utilization (%)",
                      "mean latency (ns)", "p99 latency (ns)", "row hit (%)",
                      "top latency component")


def comparison_rows(results: Sequence[tuple[str, str, dict]]) -> list[tuple[str, ...]]:
    """One row per (memory, trace, summary)."""
    rows = []
    for memory, trace, s in results:
        lat = s["read_latency_ns"]
        rows.append((memory, trace, f"{s['bandwidth_gb_per_s']:.2f}",
                     f"{100.0 * s['utilization']:.1f}", f"{lat['mean']:.1f}", f"{lat['p99']:.1f}",
                     f"{100.0 * s['row_hit_rate']:.1f}", top_component(s)))
    return rows
