"""The hardware as the transfer level sees it: named memories and compute units on resources.

A ``Platform`` is three tables, no behaviour per kind of hardware:
  * ``memories``: name -> ``MemoryPort`` (the resource that serves its traffic, a bandwidth
    function of the access shape, and a latency added after each transfer);
  * ``units``: name -> ``ComputeUnit`` (its resource, FLOP/s, latency and instances);
  * ``routes``: (source, destination) -> ``MemoryPort``: a path that does not follow the
    bottleneck rule of sim/transfer/bind.py, such as a PIM unit reading its HBM banks at a
    multiple of the stack's external bandwidth, or in-storage compute reading its flash
    without crossing the host link. A route's bandwidth is priced at the access shape of
    its ``side`` ("src" or "dst": the memory it reads or writes).
A PIM unit or a tier's compute named P is unit "P" with its operands staged in memory
"P.buf" (workloads/llm/placement.py ``place_names``, the one rule for these names).
The resources are the distinct resource names of the memories, routes and units, in that
order; several may share one resource, and then they share it in time (processor
sharing): an xPU reading HBM and a PIM unit reading the same stacks' banks (Duplex's
bank bundles serve one at a time) each get a share of the stacks' time, at their own
rate. A unit with ``instances`` = k > 1 (an xPU's tensor cores as k SMs) adds k more
resources after its own, named ``<resource>[0]`` .. ``<resource>[k-1]``
(``ComputeUnit.instance_resource``): instance i serves the tasks of places p with
p % k == i, each at flops_per_s / k, so a kernel with fewer thread blocks than SMs cannot
use the idle SMs' FLOPs. The unit's own resource still serves tasks without a place
(place -1) at the whole flops_per_s. The pooled resource and the instances are separate
queues (an approximation: a place -1 task does not slow the per-place tasks beside it).
A bandwidth is any object with ``bytes_per_s(chunk_bytes, read_fraction) -> int``: a
measured ``CalibratedBandwidth`` (a CalibrationTable times a count of identical devices),
a ``FlatBandwidth`` (an on-chip SRAM), a link (sim/memory/link.py), a flash device
(``FlashBandwidth``: sim/memory/flash.py's request-level model, run at the tier's queue
depth), or ``LesserBandwidth`` / ``ScaledBandwidth`` of those.

``platform_for_xpu`` builds the platform of an xPU (sim/xpu.py):
  * "hbm": the calibration table of ``xpu.hbm_preset`` times ``xpu.hbm_stacks`` (the device
    spreads consecutive data over all stacks, so each stack sees the same shape), latency
    ``xpu.hbm_latency_ps``;
  * "sram": flat ``sms x sram_bytes_per_clock_per_sm x clock_hz``, latency 0 (XpuSpec
    carries no SRAM latency; it is small beside HBM's and hidden by the pipelined loads);
  * "tensor": ``xpu.flops_per_s``, latency 0 (XpuSpec carries none); with
    ``per_sm_compute`` one instance per SM (``xpu.sms``), see above. Off by default: the
    pooled unit is what the summaries and benchmarks were written against;
  * each tier (sim/tier.py) T: memory "T". A DRAM tier is its preset's calibration table
    times its channels; behind a link, the lesser of that and the link (sim/memory/link.py,
    per-transfer overhead included), served by resource "T" or "T.link", whichever has the
    lower peak (every transfer to or from T crosses both; the engine charges the
    bottleneck). A flash tier is the request-level flash model's sustained read bandwidth
    for the shape at the tier's queue depth, its host link included, times its devices,
    on resource "T". Latency: the memory's plus the link's;
  * a tier with ``compute``: unit "T" and place ("T.buf", "T"); the unit reads and writes
    T through a route on resource "T" at the device's own bandwidth (no link: in-storage or
    host-side compute), and data from elsewhere reaches "T.buf" over the link, resource
    "T.link";
  * each PIM unit P (sim/pim.py): unit "P" at ``flops_per_s`` of the stacks' peak
    bandwidth, place ("P.buf", "P"); routes hbm <-> P.buf on resource "hbm" at
    ``bandwidth_multiple`` x the device's peak HBM bandwidth, latency the PIM's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sim.memory.calibration import CalibrationTable, load_calibration
from sim.tier import TierSpec
from sim.xpu import XpuSpec
from workloads.llm.placement import place_names


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
class LesserBandwidth:
    """The lower of two bandwidths for each shape (a memory behind a link)."""

    a: Bandwidth
    b: Bandwidth

    def bytes_per_s(self, chunk_bytes: int, read_fraction: float) -> int:
        return min(self.a.bytes_per_s(chunk_bytes, read_fraction),
                   self.b.bytes_per_s(chunk_bytes, read_fraction))


@dataclass(frozen=True)
class ScaledBandwidth:
    """``multiple`` x a bandwidth (identical devices striped)."""

    base: Bandwidth
    multiple: int

    def bytes_per_s(self, chunk_bytes: int, read_fraction: float) -> int:
        return self.multiple * self.base.bytes_per_s(chunk_bytes, read_fraction)


@dataclass(frozen=True)
class FlashBandwidth:
    """A flash device (sim/memory/flash.py) read at ``queue_depth`` outstanding requests of
    the shape's size; ``through_link`` False for compute inside the drive. Writes are
    priced as reads (an assumption stated in docs/tiers.md)."""

    spec: object  # sim.memory.flash.FlashSpec
    queue_depth: int
    through_link: bool = True

    def bytes_per_s(self, chunk_bytes: int, read_fraction: float) -> int:
        from sim.memory.flash import flash_read_bandwidth

        return flash_read_bandwidth(self.spec, max(1, int(chunk_bytes)), self.queue_depth,
                                    through_link=self.through_link)


@dataclass(frozen=True)
class MemoryPort:
    resource: str
    bandwidth: Bandwidth
    latency_ps: int = 0
    side: str = "src"  # a route's memory: whose access shape prices it ("src" or "dst")




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
    routes: Mapping[tuple[str, str], MemoryPort] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, m in [*self.memories.items(), *self.routes.items()]:
            if m.latency_ps < 0:
                raise ValueError(f"memory {name}: latency must be >= 0")
            if m.side not in ("src", "dst"):
                raise ValueError(f"memory {name}: side must be 'src' or 'dst'")
        for name, u in self.units.items():
            if u.flops_per_s <= 0 or u.latency_ps < 0:
                raise ValueError(f"unit {name}: needs flops_per_s > 0 and latency >= 0")
            if u.instances < 1 or u.flops_per_s < u.instances:
                raise ValueError(f"unit {name}: needs 1 <= instances <= flops_per_s")

    @property
    def resources(self) -> tuple[str, ...]:
        """Distinct resource names, memories' first, in table order (the engine's indices)."""
        names = [m.resource for m in self.memories.values()]
        names += [r.resource for r in self.routes.values()]
        for u in self.units.values():
            names += [u.resource] + u.instance_resources()
        return tuple(dict.fromkeys(names))


def platform_for_xpu(xpu: XpuSpec, table: CalibrationTable | None = None, *,
                     per_sm_compute: bool = False) -> Platform:
    """The xPU's HBM, SRAM and tensor unit, its tiers and PIM units (see the module
    docstring); ``table`` overrides the stored calibration of ``xpu.hbm_preset`` (tests,
    what-if studies); ``per_sm_compute`` gives the tensor unit one instance per SM."""
    table = table if table is not None else load_calibration(xpu.hbm_preset)
    sram = xpu.sms * xpu.sram_bytes_per_clock_per_sm * xpu.clock_hz
    memories = {
        "hbm": MemoryPort("hbm", CalibratedBandwidth(table, xpu.hbm_stacks), xpu.hbm_latency_ps),
        "sram": MemoryPort("sram", FlatBandwidth(sram), 0),
    }
    units = {"tensor": ComputeUnit("tensor", xpu.flops_per_s, 0,
                                   xpu.sms if per_sm_compute else 1)}
    routes: dict[tuple[str, str], MemoryPort] = {}
    for tier in xpu.tiers:
        _add_tier(tier, memories, units, routes)
    for pim in xpu.pim:
        internal = FlatBandwidth(pim.spec.internal_bytes_per_s(xpu.hbm_bytes_per_s))
        buf = place_names(pim.name).buffer
        memories[buf] = MemoryPort("hbm", internal, pim.spec.latency_ps)
        routes[("hbm", buf)] = MemoryPort("hbm", internal, pim.spec.latency_ps, "src")
        routes[(buf, "hbm")] = MemoryPort("hbm", internal, pim.spec.latency_ps, "dst")
        units[pim.name] = ComputeUnit(pim.name, pim.spec.flops_per_s(xpu.hbm_bytes_per_s))
    return Platform(name=xpu.name, memories=memories, units=units, routes=routes)


@dataclass(frozen=True)
class TierPaths:
    """How a tier is reached: ``port`` from outside (the xPU), ``device`` from compute
    beside it (no link), ``link`` (None: wired to the chip), and their latencies."""

    port: MemoryPort
    device: Bandwidth
    device_latency_ps: int
    link: Bandwidth | None
    link_latency_ps: int
    peak_bytes_per_s: int  # of the port, for large transfers (what users compare against)


def tier_paths(tier: TierSpec) -> TierPaths:
    """The tier's paths (rules in the module docstring)."""
    if tier.kind == "flash":
        from sim.memory.flash import load_flash

        spec = load_flash(tier.preset)
        # a page's first byte: controller, then the die's read
        latency = spec.controller_latency_ps + spec.t_read_ps
        device = ScaledBandwidth(FlashBandwidth(spec, tier.queue_depth, False), tier.devices)
        link = ScaledBandwidth(FlatBandwidth(spec.link_bytes_per_s), tier.devices)
        # from outside, the flash model prices its own link (shared by all its reads)
        outside = ScaledBandwidth(FlashBandwidth(spec, tier.queue_depth, True), tier.devices)
        port = MemoryPort(tier.name, outside, latency + spec.link_latency_ps)
        return TierPaths(port, device, latency, link, spec.link_latency_ps,
                         spec.peak_read_bytes_per_s * tier.devices)
    device = CalibratedBandwidth(load_calibration(tier.preset), tier.devices)
    if tier.link is None:
        return TierPaths(MemoryPort(tier.name, device, tier.latency_ps), device,
                         tier.latency_ps, None, 0, _peak(device))
    resource = tier.name if _peak(device) <= _peak(tier.link) else f"{tier.name}.link"
    port = MemoryPort(resource, LesserBandwidth(device, tier.link),
                      tier.latency_ps + tier.link.latency_ps)
    return TierPaths(port, device, tier.latency_ps, tier.link, tier.link.latency_ps,
                     _peak(port.bandwidth))


def _peak(bw: Bandwidth) -> int:
    return bw.bytes_per_s(1 << 30, 1.0)


def _add_tier(tier: TierSpec, memories: dict, units: dict, routes: dict) -> None:
    paths = tier_paths(tier)
    memories[tier.name] = paths.port
    if not tier.has_compute:
        return
    buf = place_names(tier.name).buffer
    if paths.link is None:
        memories[buf] = MemoryPort(tier.name, paths.device, paths.device_latency_ps)
    else:
        memories[buf] = MemoryPort(f"{tier.name}.link", paths.link, paths.link_latency_ps)
    for key, side in (((tier.name, buf), "src"), ((buf, tier.name), "dst")):
        routes[key] = MemoryPort(tier.name, paths.device, paths.device_latency_ps, side)
    units[tier.name] = ComputeUnit(tier.name, tier.compute_flops_per_s)
