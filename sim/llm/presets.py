"""Plain-text tables of the shipped LLM models and xPU presets (for `membound presets`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sim.config.memory import load_memory_config
from sim.config.xpu import XPU_DIR, list_xpus, load_xpu
from sim.errors import UserError
from sim.report_table import render_table
from sim.xpu import XpuSpec
from workloads.llm.model_spec import ModelSpec
from workloads.llm.models import MODEL_DIR, list_models, load_model


def _table(names: list[str], load: Callable[[str], Any], row: Callable[[Any], Sequence[str]],
           headers: Sequence[str], problems: list[str]) -> str:
    rows = []
    for name in names:
        try:
            rows.append((name, *row(load(name))))
        except UserError as exc:  # listed anyway; the problem is reported after the tables
            rows.append((name, *["-"] * (len(headers) - 2), "(cannot load)"))
            problems.append(str(exc))
    return render_table(headers, rows)


def _model_row(m: ModelSpec) -> tuple[str, ...]:
    experts = f"{m.top_k} of {m.experts}" if m.experts > 1 else "dense"
    return (str(m.layers), str(m.hidden), f"{m.heads}/{m.kv_heads}", m.attention_type,
            str(m.ffn), experts, f"{m.parameters() / 1e9:.2f}",
            f"{m.kv_bytes_per_token() / 2**10:g}", str(m.max_context))


def _xpu_row(x: XpuSpec) -> tuple[str, ...]:
    dram = load_memory_config(x.hbm_preset)
    return (str(x.sms), f"{x.clock_hz / 1e6:g}", f"{x.sram_bytes_per_sm / 2**10:g}",
            f"{x.flops_per_s / 1e12:g}", f"{x.hbm_stacks} x {x.hbm_preset}",
            f"{x.hbm_bytes_per_s / 1e9:,.0f}",
            f"{dram.peak_bytes_per_s * x.hbm_stacks / 1e9:,.0f}",
            f"{x.hbm_capacity_bytes / 2**30:.1f}")


def _tier_tables(problems: list[str]) -> list[str]:
    """Links, flash drives and PIM units (docs/tiers.md)."""
    from sim.config.pim import PIM_DIR, list_pim, load_pim
    from sim.config.storage import STORAGE_DIR
    from sim.memory.flash import list_flash, load_flash
    from sim.memory.link import LINK_DIR, list_links, load_link

    links = _table(list_links(), load_link, lambda k: (
        f"{k.peak_bytes_per_s() / 1e9:,.2f}", f"{k.latency_ps / 1e3:g}",
        f"{k.transfer_overhead_ps / 1e3:g}"),
        ("name", "peak (GB/s)", "latency (ns)", "per transfer (ns)"), problems)
    flash = _table(list_flash(), load_flash, lambda f: (
        f"{f.channels} x {f.dies_per_channel} x {f.planes_per_die}",
        f"{f.internal_read_bytes_per_s / 1e9:,.1f}", f"{f.link_bytes_per_s / 1e9:,.1f}",
        f"{f.capacity_bytes / 2**30:,.0f}"),
        ("name", "channels x dies x planes", "internal (GB/s)", "link (GB/s)", "GiB"), problems)
    pim = _table(list_pim(), load_pim, lambda u: (
        u.kind, f"{u.bandwidth_multiple}x", f"{u.flops_per_byte:g}", u.memory_preset),
        ("name", "kind", "bandwidth", "FLOP/B", "memory"), problems)
    return [f"\nlinks in {LINK_DIR}\n", links, f"\nflash drives in {STORAGE_DIR}\n", flash,
            f"\nPIM units in {PIM_DIR}\n", pim]


def presets_tables() -> str:
    """The model and xPU preset tables, then one line per preset that failed to load."""
    problems: list[str] = []
    models = _table(list_models(), load_model, _model_row,
                    ("name", "layers", "hidden", "heads/kv", "attention", "ffn", "experts",
                     "params (1e9)", "KV/token (KiB)", "max context"), problems)
    xpus = _table(list_xpus(), load_xpu, _xpu_row,
                  ("name", "SMs", "clock (MHz)", "SRAM/SM (KiB)", "FP16 (TFLOP/s)", "HBM",
                   "HBM cited (GB/s)", "HBM modelled (GB/s)", "HBM (GiB)"), problems)
    out = [f"LLM models in {MODEL_DIR}\n", models, f"\nxPU presets in {XPU_DIR}\n", xpus,
           *_tier_tables(problems)]
    out += [f"problem: {p}" for p in problems]
    return "\n".join(out)
