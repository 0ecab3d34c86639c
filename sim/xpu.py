"""An xPU (GPU-like accelerator) as the LLM workloads see it: hw_configs/xpu/*.yaml resolved.

sim/config/xpu.py loads it from YAML (every value cited there); integers only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.tier import PimUnit, TierSpec


@dataclass(frozen=True)
class XpuSpec:
    name: str
    sms: int  # streaming multiprocessors (the machine's cores at the request level)
    clock_hz: int  # SM clock the FLOP/s figure is quoted at
    sram_bytes_per_sm: int  # shared memory / L1 per SM usable as a scratchpad
    sram_bytes_per_clock_per_sm: int  # SRAM bandwidth per SM
    flops_per_s: int  # dense FP16 tensor peak, whole device
    hbm_preset: str  # memory preset (hw_configs/memory) of one stack
    hbm_stacks: int
    hbm_capacity_bytes: int  # usable device memory
    hbm_bytes_per_s: int  # the cited device bandwidth (checked against preset x stacks)
    hbm_latency_ps: int  # load-to-use latency of an HBM access (cited or assumed)
    flops_per_s_8bit: int = 0  # dense 8-bit floating-point tensor peak (0: no FP8 units,
    #                            8-bit data is widened and runs at the 16-bit rate)
    source: str = ""
    path: str = ""
    tiers: tuple[TierSpec, ...] = ()  # memories beyond the HBM (sim/tier.py)
    pim: tuple[PimUnit, ...] = ()  # PIM units in the HBM stacks

    def tier(self, name: str) -> TierSpec | None:
        return next((t for t in self.tiers if t.name == name), None)

    def pim_unit(self, name: str) -> PimUnit | None:
        return next((u for u in self.pim if u.name == name), None)

    def flops_for(self, bytes_per_element: int) -> int:
        """Tensor peak for operands of this width (FP8 where the device has it)."""
        if bytes_per_element == 1 and self.flops_per_s_8bit:
            return self.flops_per_s_8bit
        return self.flops_per_s

    @property
    def sram_bytes(self) -> int:
        return self.sms * self.sram_bytes_per_sm

    @property
    def flops_per_sm_per_clock(self) -> int:
        return self.flops_per_s // (self.sms * self.clock_hz)
