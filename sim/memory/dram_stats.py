"""Replay statistics beyond the headline numbers, as DRAMSim3, Ramulator and gem5 report them.

Everything here is computed after the run from what the engines already return: the
per-access admission clock (enter), column-command clock (col) and row outcome (kind), the
accesses' bank and direction, and, when the run kept it, the command log. Nothing here
touches the timing model, so the numba kernel and the SimPy reference give identical
statistics by construction.

Why the command counts need the log: an access's kind says whether it needed an ACT (miss)
or a PRE and an ACT (conflict), but refresh also precharges open banks, and an access whose
row was closed by refresh before its column command activates again. On 1M random DDR4
requests the log holds ~0.6% more ACTs and ~1.2% more PREs than the kinds imply, so ACT,
PRE and REF counts are read from the log and never derived.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.config.units import UnitError, parse_time_ps
from sim.errors import UserError
from sim.kernels import dram as K
from sim.memory.commands import ACT, COMMAND_NAMES, PRE

if TYPE_CHECKING:
    from sim.memory.dram import DramResult

HIST_BINS = 25  # at most this many bins up to the 99th percentile, then one overflow bin
MAX_EPOCHS = 1_000_000


def command_counts(res: DramResult) -> dict[str, int] | None:
    """ACT/PRE/RD/WR/REF counts from the command log; None when the run kept no log."""
    log = res.raw.log
    if log is None:
        return None
    counts = np.bincount(log[:, 1], minlength=len(COMMAND_NAMES)) if len(log) else [0] * 5
    return {name: int(counts[i]) for i, name in enumerate(COMMAND_NAMES)}


def _request_span(res: DramResult, writes: bool) -> np.ndarray:
    """Per request of one direction: last column clock - first admission clock."""
    acc, raw = res.accesses, res.raw
    per = acc.per
    n = len(acc) // per
    sel = acc.is_write[::per][:n] == writes
    col = raw.col.reshape(n, per)[sel]
    enter = raw.enter.reshape(n, per)[sel]
    return col.max(axis=1) - enter.min(axis=1) if len(col) else np.zeros(0, np.int64)


def _moments(clocks: np.ndarray, tck_ps: int) -> dict[str, float]:
    if len(clocks) == 0:
        return {"mean": 0.0, "p50": 0.0, "p99": 0.0}
    ns = tck_ps / 1000.0
    p50, p99 = np.percentile(clocks, [50, 99])
    return {"mean": float(clocks.mean()) * ns, "p50": float(p50) * ns, "p99": float(p99) * ns}


def write_latency_ns(res: DramResult) -> dict[str, float]:
    """Write requests: admission to the last write-data beat (column + CWL + BURST)."""
    t = res.cfg.timing
    return _moments(_request_span(res, True) + t.CWL + t.BURST, res.cfg.tck_ps)


def _nice(x: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above x."""
    if x <= 0:
        return 1.0
    k = math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10.0**k >= x * (1 - 1e-12):
            return m * 10.0**k
    return 10.0 ** (k + 1)


def latency_histogram(clocks: np.ndarray, tck_ps: int) -> dict[str, Any]:
    """Fixed-width bins (a 1/2/2.5/5 step in ns) from the minimum to the 99th percentile, and
    one overflow bin for the tail beyond; counts sum to len(clocks)."""
    if len(clocks) == 0:
        return {"bin_ns": 0.0, "edges_ns": [], "counts": [], "overflow": 0}
    ns = clocks * (tck_ps / 1000.0)
    lo_v, p99 = float(ns.min()), float(np.percentile(ns, 99))
    width = max(_nice((p99 - lo_v) / HIST_BINS), tck_ps / 1000.0)
    lo = math.floor(lo_v / width) * width
    nbins = max(1, math.floor((p99 - lo) / width) + 1)
    idx = np.floor((ns - lo) / width).astype(np.int64)
    counts = np.bincount(np.minimum(idx, nbins), minlength=nbins + 1)
    return {"bin_ns": width, "edges_ns": [lo + i * width for i in range(nbins + 1)],
            "counts": [int(c) for c in counts[:nbins]], "overflow": int(counts[nbins])}


def _bank_index(res: DramResult) -> tuple[np.ndarray, int]:
    """Global bank number of each access, ordered (scheduled channel, rank, group, bank)."""
    cfg, acc = res.cfg, res.accesses
    per_ctrl = cfg.pseudo_channels * cfg.ranks * cfg.banks_per_rank
    g = acc.controller.astype(np.int64) * per_ctrl + acc.bank
    return g, cfg.channels * per_ctrl


def per_bank(res: DramResult) -> dict[str, list[int]]:
    """Columns, one entry per bank: its address and its accesses, row outcomes and ACTs."""
    cfg, raw = res.cfg, res.raw
    g, nb = _bank_index(res)
    b = np.arange(nb)
    bpr = cfg.banks_per_rank
    out: dict[str, Any] = {
        "channel": b // (cfg.ranks * bpr), "rank": (b // bpr) % cfg.ranks,
        "bankgroup": (b % bpr) // cfg.banks_per_group, "bank": b % cfg.banks_per_group,
        "accesses": np.bincount(g, minlength=nb),
        "reads": np.bincount(g, weights=~res.accesses.is_write, minlength=nb),
    }
    for key, k in (("row_hits", K.K_HIT), ("row_misses", K.K_MISS),
                   ("row_conflicts", K.K_CONFLICT)):
        out[key] = np.bincount(g, weights=raw.kind == k, minlength=nb)
    log = raw.log
    if log is not None:
        lg = (log[:, 2] * cfg.ranks + log[:, 3]) * bpr + log[:, 4] * cfg.banks_per_group + log[:, 5]
        for key, c in (("activates", ACT), ("precharges", PRE)):
            sel = log[:, 1] == c
            out[key] = np.bincount(lg[sel], minlength=nb)
    return {k: [int(x) for x in v] for k, v in out.items()}


def parse_epoch(text: str, tck_ps: int) -> int:
    """An epoch length in clocks: a bare integer is clocks, otherwise a time ('500 ns')."""
    s = str(text).strip()
    if s.isdigit():
        clocks = int(s)
    else:
        try:
            ps = parse_time_ps(s)
        except UnitError as exc:
            raise UserError(f"--epoch: {exc} (or a whole number of clocks)") from None
        clocks = round(ps / tck_ps)
    if clocks < 1:
        raise UserError(f"--epoch {text!r} is shorter than one clock ({tck_ps} ps)")
    return clocks


def epoch_stats(res: DramResult, epoch_clk: int) -> dict[str, Any]:
    """Per epoch of `epoch_clk` clocks: bandwidth of the data that completed in it,
    requests completed, row-hit rate of the column commands issued in it, ACTs."""
    cfg, acc, raw = res.cfg, res.accesses, res.raw
    t = cfg.timing
    n_ep = -(-raw.end_clk // epoch_clk)
    if n_ep > MAX_EPOCHS:
        raise UserError(f"--epoch {epoch_clk} clocks gives {n_ep:,} epochs over "
                        f"{raw.end_clk:,} clocks; the limit is {MAX_EPOCHS:,}")
    tail = np.where(acc.is_write, t.CWL + t.BURST, t.CL + t.BURST)
    done = raw.col + tail  # the clock the access's last data beat ends
    ep = np.minimum((done - 1) // epoch_clk, max(n_ep - 1, 0))
    bytes_per_access = res.request_bytes // acc.per
    moved = np.bincount(ep, minlength=n_ep)[:n_ep] * bytes_per_access
    req_done = ep.reshape(-1, acc.per).max(axis=1) if len(ep) else ep
    requests = np.bincount(req_done, minlength=n_ep)[:n_ep]
    ep_col = raw.col // epoch_clk
    cols = np.bincount(ep_col, minlength=n_ep)[:n_ep]
    hits = np.bincount(ep_col, weights=raw.kind == K.K_HIT, minlength=n_ep)[:n_ep]
    starts = np.arange(n_ep, dtype=np.int64) * epoch_clk
    length_ps = (np.minimum(starts + epoch_clk, raw.end_clk) - starts) * cfg.tck_ps
    out: dict[str, Any] = {
        "epoch_clocks": epoch_clk,
        "epoch_ns": epoch_clk * cfg.tck_ps / 1000.0,
        "start_ns": [float(s) * cfg.tck_ps / 1000.0 for s in starts],
        "bandwidth_gb_per_s": [float(b) / float(p) * 1000.0 if p > 0 else 0.0
                               for b, p in zip(moved, length_ps, strict=True)],
        "requests": [int(r) for r in requests],
        "row_hit_rate": [float(h / c) if c else 0.0 for h, c in zip(hits, cols, strict=True)],
    }
    if raw.log is not None:
        log = raw.log
        sel = log[:, 1] == ACT
        acts = np.bincount(np.minimum(log[sel, 0] // epoch_clk, max(n_ep - 1, 0)),
                           minlength=n_ep)[:n_ep]
        out["activates"] = [int(a) for a in acts]
    return out


def write_command_trace(res: DramResult, path: str | Path) -> int:
    """Write the command log as text, one command per line; returns the number of lines."""
    log = res.raw.log
    if log is None:
        raise ValueError("simulate(..., with_log=True) keeps the command log")
    tck = res.cfg.tck_ps
    head = (f"# membound command trace: {res.cfg.name}, tCK {tck} ps; REF is rank-wide "
            "(bankgroup, bank, row -1)\n# clk time_ns cmd channel rank bankgroup bank row\n")
    names = np.array(COMMAND_NAMES)
    try:
        with open(path, "w") as f:
            f.write(head)
            for s in range(0, len(log), 65536):
                part = log[s:s + 65536]
                f.write("".join(
                    f"{c} {c * tck / 1000.0:.3f} {n} {ch} {r} {bg} {b} {row}\n"
                    for (c, _, ch, r, bg, b, row), n in zip(part.tolist(), names[part[:, 1]],
                                                            strict=True)))
    except OSError as exc:
        raise UserError(f"{path}: cannot write the command trace: {exc.strerror or exc}") from None
    return len(log)


# --- terminal rendering ----------------------------------------------------------------

TOP_BANKS = 8
EPOCH_ROWS = 24


def _bar(count: int, most: int, width: int = 30) -> str:
    return "#" * max(1 if count else 0, round(width * count / most)) if most else ""


def stats_table(summary: dict[str, Any]) -> str:
    """The statistics of this module as terminal text (after sim.report_table.summary_table)."""
    from sim.report_table import render_table

    parts: list[str] = []
    cmd = summary.get("commands")
    if cmd:
        reqs = summary["requests"]
        rows = [(k, f"{v:,}", f"{v / reqs:.3f}" if reqs else "-") for k, v in cmd.items()]
        parts.append(render_table(("command", "count", "per request"), rows))
    wl, rl = summary["write_latency_ns"], summary["read_latency_ns"]
    parts.append(render_table(("latency (ns)", "mean", "p50", "p99"), [
        ("read", *(f"{rl[k]:.2f}" for k in ("mean", "p50", "p99"))),
        ("write", *((f"{wl[k]:.2f}" if summary["bytes_written"] else "-")
                    for k in ("mean", "p50", "p99")))]))
    h = summary["read_latency_histogram"]
    if h["counts"]:
        total = sum(h["counts"]) + h["overflow"]
        most = max(*h["counts"], h["overflow"])
        e, w = h["edges_ns"], h["bin_ns"]
        rows = [(f"{e[i]:g}-{e[i] + w:g}", f"{c:,}", f"{100 * c / total:.1f}", _bar(c, most))
                for i, c in enumerate(h["counts"])]
        rows.append((f">= {e[-1]:g}", f"{h['overflow']:,}", f"{100 * h['overflow'] / total:.1f}",
                     _bar(h["overflow"], most)))
        parts.append(render_table(("read latency (ns)", "reads", "%", ""), rows))
    parts.append(_bank_text(summary["per_bank"]))
    ep = summary.get("epochs")
    if ep:
        parts.append(_epoch_text(ep))
    parts.append(_energy_text(summary))
    return "\n\n".join(p for p in parts if p)


def _bank_text(pb: dict[str, list[int]]) -> str:
    from sim.report_table import render_table

    acc = np.asarray(pb["accesses"])
    if acc.sum() == 0:
        return "  per-bank: no accesses"
    used = int(np.count_nonzero(acc))
    line = (f"  per-bank accesses over {len(acc)} banks ({used} used): min {acc.min():,}  "
            f"mean {acc.mean():,.1f}  max {acc.max():,}")
    top = np.argsort(-acc, kind="stable")[:TOP_BANKS]
    has_act = "activates" in pb
    rows = []
    for b in top:
        if acc[b] == 0:
            break
        a = acc[b]
        row = [str(pb[k][b]) for k in ("channel", "rank", "bankgroup", "bank")]
        row += [f"{a:,}", *(f"{100 * pb[k][b] / a:.1f}"
                           for k in ("row_hits", "row_misses", "row_conflicts"))]
        if has_act:
            row.append(f"{pb['activates'][b]:,}")
        rows.append(row)
    head = ["channel", "rank", "bank group", "bank", "accesses", "hit %", "miss %", "conflict %"]
    if has_act:
        head.append("ACTs")
    title = f"  busiest {len(rows)} bank{'s' if len(rows) != 1 else ''}:"
    return "\n".join([line, title, render_table(head, rows)])


def _epoch_text(ep: dict[str, Any]) -> str:
    from sim.report_table import render_table

    n = len(ep["start_ns"])
    has_act = "activates" in ep
    rows = []
    for i in range(min(n, EPOCH_ROWS)):
        row = [f"{ep['start_ns'][i]:,.1f}", f"{ep['bandwidth_gb_per_s'][i]:.2f}",
               f"{ep['requests'][i]:,}", f"{100 * ep['row_hit_rate'][i]:.1f}"]
        if has_act:
            row.append(f"{ep['activates'][i]:,}")
        rows.append(row)
    head = ["epoch start (ns)", "bandwidth (GB/s)", "requests done", "row hit %"]
    if has_act:
        head.append("ACTs")
    text = (f"  epochs of {ep['epoch_clocks']:,} clocks ({ep['epoch_ns']:,.2f} ns): {n}\n"
            + render_table(head, rows))
    if n > EPOCH_ROWS:
        text += f"\n  ... {n - EPOCH_ROWS} more epochs in the JSON"
    return text


ENERGY_LABELS = {
    "activate": "activate + precharge",
    "read": "read bursts",
    "write": "write bursts",
    "refresh": "refresh",
    "background_active": "background, bank open (IDD3N)",
    "background_precharged": "background, all closed (IDD2N)",
}


def _energy_text(summary: dict[str, Any]) -> str:
    from sim.report_table import render_table

    en = summary.get("energy")
    if en is None:
        note = summary.get("energy_note")
        return f"  energy: not reported: {note}" if note else ""
    total = en["total_nj"]
    rows = [(ENERGY_LABELS[k], f"{v:,.1f}", f"{100 * v / total:.1f}" if total else "-")
            for k, v in en["components_nj"].items()]
    rows.append(("total", f"{total:,.1f}", "100.0" if total else "-"))
    est = " (ESTIMATED currents)" if en["estimated"] else ""
    return "\n".join([
        render_table(("energy", "nJ", "%"), rows),
        f"  average power {en['average_power_mw']:,.1f} mW over {en['devices']} devices, "
        f"{en['pj_per_bit']:.2f} pJ per requested bit{est}",
        f"  IDD source: {en['source']}",
    ])
