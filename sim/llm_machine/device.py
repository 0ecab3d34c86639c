"""An xPU as a request-level machine: the machine preset resized to an XpuSpec.

The xPU preset (hw_configs/xpu/*.yaml, an ``XpuSpec``) says what the device is: SM count
and clock, shared memory per SM, FLOP/s, HBM preset and stacks, load latency. The machine
preset (hw_configs/xpu_a100_slice.yaml) adds what only the request level needs: the link
width of the SM-to-memory network, DMA slots and chunk, interleave, barrier costs.
``machine_for_xpu`` joins the two, so the transfer level (sim/transfer/platform.py
platform_for_xpu) and the request level run exactly the same device:

- cores = the SMs (``core.cores_per_die``);
- core clock = the SM clock;
- DRAM controllers = every pseudo-channel of every stack (``memory.controllers_per_die``);
- DRAM preset = the xPU's HBM preset;
- the mesh = ``mesh_layout(sms, controllers)`` (below);
- tensor work runs at ``flops_per_cycle`` = flops_per_s / (sms x clock) per SM.

The mesh stands for the GPU's SM-to-L2/HBM crossbar
    A GPU connects every SM to every L2 slice (and its memory controller) through a
    crossbar; the machine has a 2-D mesh with XY routing. ``mesh_layout`` makes the mesh
    near-square, one node per SM and per controller (x = ceil(sqrt(sms + controllers)),
    y = ceil((sms + controllers) / x)), and mixes the two kinds over the whole mesh, so
    that SM<->controller traffic is spread over every row and column: under uniform
    traffic a mesh of width k carries 4 k x link bytes per cycle across its bisection,
    which grows with the device. (A mesh with the SMs on one row and the controllers on
    another carries one link's worth between the halves, whatever the SM count: a
    108-SM device then streamed 282 GB/s of its 1,555.) The link width is the machine
    preset's; hw_configs/xpu_a100_slice.yaml states why it stands for the crossbar.

    Placement: the kind with fewer nodes is spread evenly over the rows (row r gets
    floor((r+1)m/y) - floor(rm/y) of its m nodes) and within each row evenly over the
    columns, each row's columns shifted by r/y of a spacing (so no column collects them
    all); the other kind takes evenly spaced nodes (in row-major order) of the remaining
    ones (sim/config/machine.py spread_nodes), so the x * y - sms - controllers empty
    nodes are spread too.

The machine's scratchpad address range (a power of two) may exceed the xPU's usable SRAM;
``XpuMachine.sram_bytes`` is the usable part, which sim/llm_machine/expand.py allocates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sim.config.machine import load_machine_config, make_node, spread_nodes
from sim.config.memory import load_memory_config
from sim.config.yamlfile import Node
from sim.errors import UserError
from sim.machine.model import MachineSpec
from sim.xpu import XpuSpec

DEFAULT_PRESET = "xpu_a100_slice"

# overrides that fix the mesh themselves: with any of them machine_for_xpu derives no layout
_MESH_KEYS = ("network.mesh.x", "network.mesh.y", "network.core_nodes",
              "network.controller_nodes")


@dataclass(frozen=True)
class XpuMachine:
    """A machine standing for an xPU, and the two numbers MachineSpec has no field for."""

    spec: MachineSpec
    flops_per_cycle: int  # tensor FLOPs one SM does per core cycle
    sram_bytes: int  # usable scratchpad bytes per SM (<= spec.sp_size)
    xpu: XpuSpec | None = None


@dataclass(frozen=True)
class MeshLayout:
    """Where SMs and memory controllers sit on the mesh (node = y * x + column)."""

    x: int
    y: int
    core_nodes: tuple[int, ...]
    controller_nodes: tuple[int, ...]


def pseudo_channels_per_stack(hbm_preset: str) -> int:
    """Independent DRAM channels one stack of ``hbm_preset`` has (channels x pseudo)."""
    dram = load_memory_config(hbm_preset)
    return dram.channels * max(1, dram.pseudo_channels)


def spread_over_rows(count: int, x: int, y: int) -> list[int]:
    """``count`` distinct nodes of an x-by-y mesh spread evenly over rows and columns."""
    out = []
    for r in range(y):
        in_row = (r + 1) * count // y - r * count // y
        # column of the k-th: (k + r / y) spacings of x / in_row, in integers
        out += [r * x + (k * y + r) * x // (in_row * y) for k in range(in_row)]
    return out


def mesh_layout(sms: int, controllers: int) -> MeshLayout:
    """The near-square mesh of ``sms`` SMs and ``controllers`` controllers (module docstring)."""
    if sms < 1 or controllers < 1:
        raise UserError(f"a device needs at least one SM and one controller, "
                        f"got {sms} and {controllers}")
    n = sms + controllers
    x = math.isqrt(n - 1) + 1  # ceil(sqrt(n))
    y = -(-n // x)
    fewer = min(sms, controllers)
    spread = spread_over_rows(fewer, x, y)
    rest = spread_nodes(n - fewer, x * y, spread)  # evenly over the other nodes
    cores, ctrls = (spread, rest) if sms <= controllers else (rest, spread)
    return MeshLayout(x=x, y=y, core_nodes=tuple(cores), controller_nodes=tuple(ctrls))


def machine_for_xpu(xpu: XpuSpec, preset: str = DEFAULT_PRESET,
                    overrides: dict | None = None) -> XpuMachine:
    """The machine ``preset`` resized to ``xpu`` (see the module docstring).

    ``overrides`` (dotted machine keys, sim/config/machine.py) apply after the xPU's. The
    mesh is laid out for the final SM and controller counts (overrides of
    ``core.cores_per_die`` or ``memory.controllers_per_die`` included); an override of
    ``network.mesh.*`` or of a node list replaces the derived layout altogether, so it
    must come with node lists that fit (the preset lists its slice's core nodes).
    """
    overrides = dict(overrides or {})
    controllers = xpu.hbm_stacks * pseudo_channels_per_stack(xpu.hbm_preset)
    derived: dict = {
        "core.clock": f"{round(1e12 / xpu.clock_hz)} ps",
        "core.cores_per_die": xpu.sms,
        "memory.preset": xpu.hbm_preset,
        "memory.controllers_per_die": controllers,
    }
    if not any(k in overrides for k in _MESH_KEYS):
        def count(key: str) -> int:
            v = overrides.get(key, derived[key])
            return v.value if isinstance(v, Node) else v

        cores, ctrls = count("core.cores_per_die"), count("memory.controllers_per_die")
        if isinstance(cores, int) and isinstance(ctrls, int):  # else the config reports it
            mesh = mesh_layout(cores, ctrls)
            derived.update({"network.mesh.x": mesh.x, "network.mesh.y": mesh.y,
                            "network.core_nodes": list(mesh.core_nodes),
                            "network.controller_nodes": list(mesh.controller_nodes)})
    derived.update(overrides)
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
