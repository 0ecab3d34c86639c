"""The `power:` section of a DRAM preset: supply voltage and IDD currents -> DramPower.

A preset may end with

    power:
      source: "Micron ... datasheet, DDR4-3200 column"
      estimated: false        # true when the currents are not a datasheet's for this part
      tCK: 0.625 ns           # speed bin the currents belong to
      devices_per_rank: 8     # default: bus_width / device_width
      VDD: 1.2 V
      IDD0: 57 mA             # one bank ACT-PRE cycling at tRC
      IDD2N: 37 mA            # precharge standby
      IDD3N: 52 mA            # active standby
      IDD4R: 168 mA           # burst read
      IDD4W: 150 mA           # burst write
      IDD5B: 250 mA           # burst refresh (REF every tRFC)

IDD currents are specified per speed bin, so a preset that `extends:` another at a different
tCK does not inherit them silently: power_for() then returns no DramPower and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from sim.config import yamlfile as y
from sim.config.units import parse_time_ps
from sim.config.yamlfile import Node
from sim.memory.dram_config import DramConfig

CURRENTS = ("IDD0", "IDD2N", "IDD3N", "IDD4R", "IDD4W", "IDD5B")
POWER_KEYS = ("source", "estimated", "tCK", "devices_per_rank", "VDD", *CURRENTS)

_AMPERES = {"A": Fraction(1), "mA": Fraction(1, 1000), "uA": Fraction(1, 10**6),
            "µA": Fraction(1, 10**6)}
_VOLTS = {"V": Fraction(1), "mV": Fraction(1, 1000)}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(\S+)\s*$")


@dataclass(frozen=True)
class DramPower:
    """Electrical data of one device type (SI units: volts, amperes)."""

    vdd: float
    idd0: float
    idd2n: float
    idd3n: float
    idd4r: float
    idd4w: float
    idd5b: float
    devices_per_rank: int
    tck_ps: int  # the speed bin the currents were specified at
    source: str
    estimated: bool
    path: str = ""


def _quantity(node: Node, units: dict[str, Fraction], example: str) -> float:
    m = _QUANTITY.match(str(node.value)) if isinstance(node.value, str) else None
    if m is None or m.group(2) not in units:
        raise node.error(f"expected a value with a unit such as '{example}' "
                         f"(units: {', '.join(units)}), got {node.value!r}")
    value = Fraction(m.group(1)) * units[m.group(2)]
    if value <= 0:
        raise node.error(f"must be positive, got {node.value!r}")
    return float(value)


def power_from_node(node: Node, cfg: DramConfig) -> DramPower:
    """Validate a `power:` mapping against the preset it belongs to."""
    y.check_keys(node, POWER_KEYS)
    source = y.as_str(y.require(node, "source"))
    if not source.strip():
        raise node.value["source"].error("must name where the currents come from")
    est = node.get("estimated")
    tck = y.require(node, "tCK")
    tck_ps = y.as_unit(tck, parse_time_ps)
    if tck_ps <= 0:
        raise tck.error(f"must be a positive time, got {tck.value!r}")
    dev = node.get("devices_per_rank")
    devices = y.as_int(dev) if dev is not None else max(1, cfg.bus_width // cfg.device_width)
    amps = {k: _quantity(y.require(node, k), _AMPERES, "57 mA") for k in CURRENTS}
    p = DramPower(vdd=_quantity(y.require(node, "VDD"), _VOLTS, "1.2 V"),
                  idd0=amps["IDD0"], idd2n=amps["IDD2N"], idd3n=amps["IDD3N"],
                  idd4r=amps["IDD4R"], idd4w=amps["IDD4W"], idd5b=amps["IDD5B"],
                  devices_per_rank=devices, tck_ps=tck_ps, source=source,
                  estimated=False if est is None else y.as_bool(est), path=node.path)
    # every per-command energy is a current above the active-standby background: a
    # current below IDD3N would give negative energy, which is a typo, not physics
    for key in ("IDD4R", "IDD4W", "IDD5B"):
        if amps[key] <= p.idd3n:
            raise node.value[key].error(f"must exceed IDD3N ({p.idd3n * 1e3:g} mA): the "
                                        "energy above active standby would be negative")
    if p.idd3n < p.idd2n:
        raise node.value["IDD3N"].error(f"active standby must not be below precharge "
                                        f"standby IDD2N ({p.idd2n * 1e3:g} mA)")
    t = cfg.timing
    if p.idd0 * t.RC <= p.idd3n * t.RAS + p.idd2n * (t.RC - t.RAS):
        raise node.value["IDD0"].error(
            "IDD0 x tRC must exceed IDD3N x tRAS + IDD2N x (tRC - tRAS): the activate "
            "energy would be negative")
    return p


def power_for(cfg: DramConfig) -> tuple[DramPower | None, str]:
    """The preset's DramPower, or (None, why not) when it has none that applies."""
    from sim.config.memory import PRESET_DIR, _replaces

    if not cfg.path:
        return None, f"{cfg.name} was not loaded from a file; no power: section"
    root = y.load_yaml(cfg.path, preset_dir=PRESET_DIR, replaces=_replaces)
    node = y.section(root, "power", required=False)
    if node is None:
        return None, (f"{cfg.name} has no power: section (IDD currents), so no energy "
                      "is reported")
    power = power_from_node(node, cfg)
    if power.tck_ps != cfg.tck_ps:
        return None, (f"{cfg.name} runs at tCK {cfg.tck_ps} ps but its power: currents "
                      f"(from {Path(power.path).name}) are for tCK {power.tck_ps} ps; give the preset its "
                      "own power: section for this speed bin")
    return power, ""
