"""The issue's two-level check: the same small attention kernels on the request-level
machine (sim/llm_machine) and the transfer-level engine (sim/transfer), on one device:
simulated times within 15% and HBM bytes equal.

The device is an A100 cut to 4 SMs and one HBM2e stack (sim/llm_machine/device.py
small_xpu); the same XpuSpec builds the machine (machine_for_xpu) and the transfer-level
platform (platform_for_xpu, tensor unit per SM), so both levels see the same SMs, FLOPs,
SRAM and HBM.

Both levels model the same DRAM: the stack is hbm2e_a100_norefresh, hbm2e_a100 without
refresh. The machine's DRAM controller models no refresh (sim/machine/model.py), while
the transfer level's calibration table comes from the detailed controller, where refresh
alone costs about 9% of streaming bandwidth; with refresh on one side only, the test
would measure that difference instead of the transfer-level abstraction.

Two modelling rules make the levels comparable (each measured in the lead's report):
  * the transfer level prices a tile that continues its place's previous tile as part of
    one stream (sim/transfer/bind.py): the DRAM sees a sequential run, not tiles at random
    addresses;
  * the request level hashes HBM addresses onto banks as a GPU does (sim/llm_machine/
    expand.py, "Bank hash"); without it the contiguous KV layout (1 MiB per (request,
    head)) starts every stream on the same bank and the machine is 53% slower.

The case marked xfail is out of tolerance for a reason neither level models faithfully:
flash-N512-d128-M96K runs two thread blocks per SM with identical work. Processor sharing
keeps identical places in exact lockstep (all load, then all compute: no overlap of
memory and compute), while the machine's in-order DMA engine lets one block compute while
the other loads. Starting the second block of each SM 0.5 us later takes the transfer
level from 203 us to 135 us (the machine: 152 us): the result depends on the blocks'
phase, which the transfer level's symmetric start pins to its worst case. Serving each
SM's tensor resource first-come first-served instead (one COMPUTE at a time, as the
machine's pipeline holds one) was tried and brackets the machine from the other side:
125 us here (22% too fast, perfect overlap of one block's compute with the other's
loads) and 27% too fast on the full-size FlashAttention of Fig. 2, where processor
sharing is within 8%; so the engine keeps processor sharing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.config.xpu import load_xpu
from sim.llm_machine.device import machine_for_xpu, small_xpu
from sim.llm_machine.run import run_graph_on_machine
from sim.transfer.bind import bind
from sim.transfer.engine import run_transfer
from sim.transfer.platform import platform_for_xpu
from workloads.llm.attention_shape import AttentionShape
from workloads.llm.decode_attention import decode_attention
from workloads.llm.flash_attention import flash_attention
from workloads.llm.kv_layout import make_layout

TOLERANCE = 0.15
SMS = 4
HBM = "hbm2e_a100_norefresh"  # both levels: see the module docstring
OFF = "out of tolerance (cause in the module docstring)"


@pytest.fixture(scope="module")
def device():
    xpu = replace(small_xpu(load_xpu("a100"), sms=SMS, stacks=1), hbm_preset=HBM)
    return machine_for_xpu(xpu), platform_for_xpu(xpu, per_sm_compute=True)


def flash(n: int, d: int, sram: int, heads: int):
    shape = AttentionShape(batch=1, heads=heads, seq_q=n, seq_kv=n, head_dim=d)
    return flash_attention(shape, sram_bytes=sram, granularity="tile", places=heads)


def decode(kind: str, **params):
    shape = AttentionShape(batch=4, heads=8, kv_heads=8, seq_q=1, seq_kv=1, head_dim=128)
    layout = make_layout({"kind": kind, **params}, max_len=4096)
    return decode_attention(shape, np.array([700, 1500, 1000, 2000]), layout=layout,
                            granularity="tile", places=8)


MAKERS = {
    "flash-N256-d64-M32K": lambda: flash(256, 64, 32 * 1024, 4),
    "flash-N512-d64-M64K": lambda: flash(512, 64, 64 * 1024, 4),
    "flash-N1024-d64-M64K": lambda: flash(1024, 64, 64 * 1024, 4),
    "flash-N512-d128-M96K": lambda: flash(512, 128, 96 * 1024, 8),
    "decode-contiguous": lambda: decode("contiguous"),
    "decode-paged16": lambda: decode("paged", block_tokens=16),
    "decode-paged64": lambda: decode("paged", block_tokens=64),
}
OUT_OF_TOLERANCE = {"flash-N512-d128-M96K"}
BYTES_CASES = [pytest.param(m, id=k) for k, m in MAKERS.items()]
TIME_CASES = [pytest.param(m, id=k, marks=[pytest.mark.xfail(reason=OFF, strict=False)]
                           if k in OUT_OF_TOLERANCE else []) for k, m in MAKERS.items()]


@pytest.mark.parametrize("make", BYTES_CASES)
def test_bytes_equal_on_both_levels(device, make):
    machine, _ = device
    g = make()
    r = run_graph_on_machine(g, machine)
    assert r["hbm_bytes_read"] == g.bytes_read("hbm") > 0
    assert r["hbm_bytes_written"] == g.bytes_written("hbm") > 0


@pytest.mark.parametrize("make", TIME_CASES)
def test_times_within_tolerance(device, make):
    machine, platform = device
    g = make()
    t_machine = run_graph_on_machine(g, machine)["time_ps"]
    t_transfer = run_transfer(bind(g, platform)).end_time
    assert abs(t_machine - t_transfer) <= TOLERANCE * t_transfer, \
        f"request level {t_machine} ps, transfer level {t_transfer} ps"
