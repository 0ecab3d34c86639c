"""Configuration: YAML with line numbers and `extends:`, exact units, validated presets.

Every problem in a config file is a ConfigError whose one-line message reads
"file:line: key.path: what is wrong".
"""

from sim.config.errors import ConfigError
from sim.config.memory import list_memory_presets, load_memory_config
from sim.config.sram import list_sram_presets, load_sram_config
from sim.config.units import (
    UnitError,
    parse_bandwidth,
    parse_bytes,
    parse_frequency_hz,
    parse_time_ps,
    parse_transfer_rate,
)
from sim.config.yamlfile import Node, load_yaml

__all__ = [
    "ConfigError",
    "Node",
    "UnitError",
    "list_memory_presets",
    "list_sram_presets",
    "load_memory_config",
    "load_sram_config",
    "load_yaml",
    "parse_bandwidth",
    "parse_bytes",
    "parse_frequency_hz",
    "parse_time_ps",
    "parse_transfer_rate",
]
