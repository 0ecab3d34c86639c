"""The hardware as the transfer level sees it: named memories and compute units on resources.

A ``Platform`` is three tables, no behaviour per kind of hardware:
  * ``memories``: name -> ``MemoryPort`` (the resource that serves its traffic, a bandwidth
    function of the access shape, and a latency added after each transfer);
  * ``units``: name -> ``ComputeUnit`` (its resource, FLOP/s, latency and instances);
  * the resources are the distinct resource names of both tables, memories first, in
    insertion order; several memories or units may share one resource. A unit with
    ``instances`` = k > 1 (an xPU's tensor cores as k SMs) adds k more resources after its
    own, named ``<resource>[0]`` .. ``<resource>[k-1]`` (``ComputeUnit.instance_resource``):
    instance i serves the tasks of places p with p % k == i, each at flops_per_s / k, so
    a kernel with fewer thread blocks than SMs cannot use the idle SMs' FLOPs. The unit's
    own resource still serves tasks without a place (place -1) at the whole flops_per_s.
    The pooled resource and the instances are separate queues (an approximation: a
    place -1 task does not slow the per-place tasks it runs beside).
A bandwidth is any object with ``bytes_per_s(chunk_bytes, read_fraction) -> int``: a
measured ``CalibratedBandwidth`` (a CalibrationTable times a count of identical devices)
or a ``FlatBandwidth`` (an on-chip SRAM, later a link). Later tiers (host memory behind a
link, flash, PIM units) are more rows in these tables, not new code in the binder.

``platform_for_xpu`` builds the platform of an xPU (sim/xpu.py):
  * "hbm": the calibration table of ``xpu.hbm_preset`` times ``xpu.hbm_stacks`` (the device
    spreads consecutive data over all stacks, so each stack sees the same shape), latency
    ``xpu.hbm_latency_ps``;
  * "sram": flat ``sms x sram_bytes_per_clock_per_sm x clock_hz``, latency 0 (XpuSpec
    carries no SRAM latency; it is small beside HBM's and hidden by the pipelined loads);
  * "tensor": ``xpu.flops_per_s``, latency 0 (XpuSpec carries none); with
    ``per_sm_compute`` one instance per SM (``xpu.sms``), see above. Off by default: the
    pooled unit is what the summaries and benchmarks were written against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sim.memory.calibration import CalibrationTable, load_calibration
from sim.xpu import XpuSpec


class Bandwidth(Protocol):
    def bytes_per_s(self, chunk_bytes: int, read_fraction: float) -> int: ...


@dataclass(frozen=True)
class FlatBandwidth:
    """The same bandwidth for every access shape (on-chip SRAM, a link)."""

    value: int  # bytes/s

    def bytes_per_s(self, chunk_bytes: int, read_fraction: float) -> int:
        return self.value


@dataclass(frozen=True)
class CalibratedBandwidth:
    """``devices`` identical devices, each sustaining what its calibration table says."""

    table: CalibrationTable
    devices: int = 1

    def bytes_per_s(self, chunk_bytes: int, read_fraction: float) -> int:
        return self.devices * self.table.bandwidth(chunk_bytes, read_fraction)


@dataclass(frozen=True)
class MemoryPort:
    resource: str
    bandwidth: Bandwidth
    latency_ps: int = 0


@dataclass(frozen=True)
class ComputeUnit:
    resource: str
    flops_per_s: int
    latency_ps: int = 0
    instances: int = 1  # identical parts (SMs) serving places p % instances; see above

    def instance_resource(self, i: int) -> str:
        """Name of the resource of instance ``i`` (only when instances > 1)."""
        return f"{self.resource}[{i}]"

    def instance_resources(self) -> list[str]:
        return [self.instance_resource(i) for i in range(self.instances)] \
            if self.instances > 1 else []


@dataclass(frozen=True)
class Platform:
    name: str
    memories: Mapping[str, MemoryPort] = field(default_factory=dict)
    units: Mapping[str, ComputeUnit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, m in self.memories.items():
            if m.latency_ps < 0:
                raise ValueError(f"memory {name}: latency must be >= 0")
        for name, u in self.units.items():
            if u.flops_per_s <= 0 or u.latency_ps < 0:
                raise ValueError(f"unit {name}: needs flops_per_s > 0 and latency >= 0")
            if u.instances < 1 or u.flops_per_s < u.instances:
                raise ValueError(f"unit {name}: needs 1 <= instances <= flops_per_s")

    @property
    def resources(self) -> tuple[str, ...]:
        """Distinct resource names, memories' first, in table order (the engine's indices)."""
        names = [m.resource for m in self.memories.values()]
        for u in self.units.values():
            names += [u.resource] + u.instance_resources()
        return tuple(dict.fromkeys(names))


def platform_for_xpu(xpu: XpuSpec, table: CalibrationTable | None = None, *,
                     per_sm_compute: bool = False) -> Platform:
    """The xPU's HBM, SRAM and tensor unit (see the module docstring); ``table`` overrides
    the stored calibration of ``xpu.hbm_preset`` (tests, what-if studies);
    ``per_sm_compute`` gives the tensor unit one instance per SM."""
    table = table if table is not None else load_calibration(xpu.hbm_preset)
    sram = xpu.sms * xpu.sram_bytes_per_clock_per_sm * xpu.clock_hz
    return Platform(
        name=xpu.name,
        memories={
            "hbm": MemoryPort("hbm", CalibratedBandwidth(table, xpu.hbm_stacks), xpu.hbm_latency_ps),
            "sram": MemoryPort("sram", FlatBandwidth(sram), 0),
        },
        units={"tensor": ComputeUnit("tensor", xpu.flops_per_s, 0,
                                     xpu.sms if per_sm_compute else 1)},
    )
