"""Run a task graph request by request: expand it to op streams, run the machine, summarise."""

from __future__ import annotations

from typing import Any

from sim.engine import run_machine
from sim.llm_machine.device import XpuMachine
from sim.llm_machine.expand import expand_graph
from workloads.llm.taskgraph import TaskGraph


class BytesNotConserved(AssertionError):
    """The machine moved other DRAM bytes than the expansion says it must (a bug)."""


def run_graph_on_machine(graph: TaskGraph, device: XpuMachine, *, engine: str = "fast",
                         hbm: str = "hbm", sram: str = "sram",
                         bank_hash: bool = True) -> dict[str, Any]:
    """Simulate ``graph`` on ``device``; time in ps, HBM bytes, compute cycles.

    Keys: time_ps; hbm_bytes_read / hbm_bytes_written (the machine's DRAM statistics,
    payload); graph_hbm_bytes_read / graph_hbm_bytes_written (counted from the graph);
    hbm_access_bytes (whole DRAM accesses, reads + writes: the bus traffic); compute_cycles
    (COMPUTE cycles issued, all SMs); dram_row_hits, dram_accesses; dma_jobs, barriers,
    threads, ops; stats (the MachineStats). Raises BytesNotConserved if the machine's DRAM
    payload or access bytes differ from what the expansion says its DMAs move (see
    sim/llm_machine/expand.py, Bytes). ``bank_hash``: expand.py, Bank hash.
    """
    ex = expand_graph(graph, device.spec, device.flops_per_cycle,
                      sram_bytes=device.sram_bytes, hbm=hbm, sram=sram, bank_hash=bank_hash)
    src = ex.source()
    stats = run_machine(device.spec, src, engine=engine)
    read, written = int(stats.dram_bytes_read.sum()), int(stats.dram_bytes_written.sum())
    bus = int(stats.dram_accesses.sum()) * device.spec.access_bytes
    if (read, written, bus) != (ex.dram_bytes_read, ex.dram_bytes_written, ex.dram_access_bytes):
        raise BytesNotConserved(
            f"machine DRAM bytes read/written/accessed {read}/{written}/{bus}, the expansion "
            f"expects {ex.dram_bytes_read}/{ex.dram_bytes_written}/{ex.dram_access_bytes}")
    return {
        "time_ps": int(stats.end_ps),
        "hbm_bytes_read": read,
        "hbm_bytes_written": written,
        "graph_hbm_bytes_read": graph.bytes_between(src=hbm),
        "graph_hbm_bytes_written": graph.bytes_between(dst=hbm),
        "hbm_access_bytes": bus,
        "compute_cycles": ex.compute_cycles,
        "dram_accesses": int(stats.dram_accesses.sum()),
        "dram_row_hits": int(stats.dram_row_hits.sum()),
        "dma_jobs": ex.dma_jobs,
        "barriers": ex.barriers,
        "threads": sum(1 for s in ex.streams if len(s)),
        "ops": src.total_ops(),
        "stats": stats,
    }
