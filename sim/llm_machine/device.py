"""An xPU as a request-level machine: the machine preset resized to an XpuSpec.

The xPU preset (hw_configs/xpu/*.yaml, an ``XpuSpec``) says what the device is: SM count
and clock, shared memory per SM, FLOP/s, HBM preset and stacks, load latency. The machine
preset (hw_configs/xpu_a100_slice.yaml) adds what only the request level needs: the
crossbar as a mesh, DMA slots and chunk, interleave, barrier costs. ``machine_for_xpu``
joins the two, so the transfer level (sim/transfer/platform.py platform_for_xpu) and the
request level run exactly the same device:

- cores = the SMs (``core.cores_per_die``; the mesh is ``sms`` x 2, SMs on row 0);
- core clock = the SM clock;
- DRAM controllers = every pseudo-channel of every stack (``memory.controllers_per_die``);
- DRAM preset = the xPU's HBM preset;
- tensor work runs at ``flops_per_cycle`` = flops_per_s / (sms x clock) per SM.

The machine's scratchpad address range (a power of two) may exceed the xPU's usable SRAM;
``XpuMachine.sram_bytes`` is the usable part, which sim/llm_machine/expand.py allocates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sim.config.machine import load_machine_config, make_node
from sim.config.memory import load_memory_config
from sim.errors import UserError
from sim.machine.model import MachineSpec
from sim.xpu import XpuSpec

DEFAULT_PRESET = "xpu_a100_slice"


@dataclass(frozen=True)
class XpuMachine:
    """A machine standing for an xPU, and the two numbers MachineSpec has no field for."""

    spec: MachineSpec
    flops_per_cycle: int  # tensor FLOPs one SM does per core cycle
    sram_bytes: int  # usable scratchpad bytes per SM (<= spec.sp_size)
    xpu: XpuSpec | None = None


def pseudo_channels_per_stack(hbm_preset: str) -> int:
    """Independent DRAM channels one stack of ``hbm_preset`` has (channels x pseudo)."""
    dram = load_memory_config(hbm_preset)
    return dram.channels * max(1, dram.pseudo_channels)


def machine_for_xpu(xpu: XpuSpec, preset: str = DEFAULT_PRESET,
                    overrides: dict | None = None) -> XpuMachine:
    """The machine ``preset`` resized to ``xpu`` (see the module docstring).

    ``overrides`` (dotted machine keys, sim/config/machine.py) apply after the xPU's.
    """
    derived = {
        "core.clock": f"{round(1e12 / xpu.clock_hz)} ps",
        "core.cores_per_die": xpu.sms,
        "network.mesh.x": xpu.sms,
        "memory.preset": xpu.hbm_preset,
        "memory.controllers_per_die": xpu.hbm_stacks * pseudo_channels_per_stack(xpu.hbm_preset),
    }
    derived.update(overrides or {})
    nodes = {k: make_node(v, "<machine_for_xpu>", 1) for k, v in derived.items()}
    spec = load_machine_config(preset, nodes)
    if xpu.sram_bytes_per_sm > spec.sp_size:
        raise UserError(f"{xpu.name}: {xpu.sram_bytes_per_sm} B of SRAM per SM do not fit the "
                        f"{spec.sp_size} B scratchpad of machine preset {preset}")
    fpc = xpu.flops_per_sm_per_clock
    if fpc < 1:
        raise UserError(f"{xpu.name}: less than one FLOP per SM per clock")
    return XpuMachine(spec=spec, flops_per_cycle=fpc, sram_bytes=xpu.sram_bytes_per_sm, xpu=xpu)


def small_xpu(base: XpuSpec, sms: int, stacks: int = 1) -> XpuSpec:
    """``base`` cut down to ``sms`` SMs and ``stacks`` HBM stacks, per-SM figures kept.

    FLOP/s and bandwidth scale with the counts, so FLOPs per SM per clock and bandwidth
    per stack are those of the full device.
    """
    if sms < 1 or stacks < 1:
        raise UserError(f"a device needs at least one SM and one stack, got {sms} and {stacks}")
    return replace(
        base, name=f"{base.name}-{sms}sm-{stacks}stack", sms=sms, hbm_stacks=stacks,
        flops_per_s=base.flops_per_s * sms // base.sms,
        hbm_bytes_per_s=base.hbm_bytes_per_s * stacks // base.hbm_stacks,
        hbm_capacity_bytes=base.hbm_capacity_bytes * stacks // base.hbm_stacks)
