"""Random small machines and op streams for the machine's differential tests."""

from __future__ import annotations

import numpy as np

from sim.engine import channel_capacity
from sim.machine.model import MachineSpec
from tests.machine_specs import spec as tiny_spec
from workloads import ops as O


def random_spec(rng: np.random.Generator) -> MachineSpec:
    dies = int(rng.choice([1, 1, 2]))
    mx, my = [(2, 2), (3, 2), (2, 3), (3, 3)][rng.integers(4)]
    nodes = mx * my
    cpd = int(rng.integers(1, min(3, nodes) + 1))
    core_nodes = tuple(int(x) for x in rng.choice(nodes, cpd, replace=False))
    cpdie = int(rng.integers(1, 4))
    ctrl_nodes = tuple(int(x) for x in rng.integers(0, nodes, cpdie))
    ways = int(rng.choice([1, 2, 4]))
    line = int(rng.choice([32, 64]))
    sets = int(rng.choice([1, 2, 4]))
    bg, ba, ra = int(rng.integers(0, 2)), int(rng.integers(0, 2)), int(rng.integers(0, 2))
    co = int(rng.integers(2, 5))
    access = int(rng.choice([8, 32]))
    fields = [("co", co), ("bg", bg), ("ba", ba), ("ra", ra), ("ro", 6)]
    rng.shuffle(fields)
    fields = tuple((f, b) for f, b in fields if b > 0)
    return tiny_spec(
        dies=dies, cores_per_die=cpd, mtp=int(rng.integers(1, 3)),
        threads_per_mtp=int(rng.integers(1, 4)), stp=int(rng.integers(0, 2)),
        stp_speedup=int(rng.integers(1, 4)), max_posted=int(rng.integers(1, 4)),
        l1_size=int(rng.choice([0, line * ways * sets])), l1_ways=ways, l1_line=line,
        l1_latency=int(rng.integers(1, 4)),
        sp_banks=int(rng.choice([1, 2, 4])), sp_interleave=int(rng.choice([8, 16])),
        sp_clock_ps=int(rng.choice([500, 1000, 1250])), sp_latency=int(rng.integers(1, 4)),
        sp_ports=int(rng.integers(1, 3)), sp_atomic_latency=int(rng.integers(1, 6)),
        sp_atomic_per_clock=int(rng.integers(1, 3)), sp_bytes_per_clock=int(rng.choice([4, 8])),
        mesh_x=mx, mesh_y=my, hop_latency=int(rng.integers(1, 3)),
        link_bytes=int(rng.choice([8, 16, 32])), header_bytes=int(rng.choice([8, 16])),
        core_nodes=core_nodes, controller_nodes=ctrl_nodes, gateway_node=int(rng.integers(nodes)),
        die_link_latency=int(rng.integers(5, 30)), die_link_bytes=int(rng.choice([8, 32])),
        host_node=int(rng.integers(nodes)), host_link_latency=int(rng.integers(10, 60)),
        host_link_bytes=int(rng.choice([8, 16])), host_latency=int(rng.integers(20, 120)),
        controllers_per_die=cpdie, interleave_bytes=int(rng.choice([64, 128])),
        access_bytes=access, tck_ps=int(rng.choice([454, 625, 1000])),
        controller_latency=int(rng.integers(0, 5)), ranks=1 << ra, bank_groups=1 << bg,
        banks_per_group=1 << ba, dram_fields=fields,
        CL=int(rng.integers(10, 25)), CWL=int(rng.integers(8, 20)), RCD=int(rng.integers(10, 25)),
        RP=int(rng.integers(10, 25)), RAS=int(rng.integers(25, 50)), RTP=int(rng.integers(4, 12)),
        WR=int(rng.integers(10, 30)), CCD_L=int(rng.integers(4, 9)), RRD_S=int(rng.integers(2, 8)),
        FAW=int(rng.integers(10, 40)), BURST=int(rng.choice([2, 4, 8])),
        atomic_interval=int(rng.integers(1, 5)), atomic_latency=int(rng.integers(1, 10)),
        dma_slots=int(rng.integers(1, 3)), dma_chunk_bytes=int(rng.choice([16, 64])),
        max_handles=4, barrier_latency=(int(rng.integers(1, 5)), int(rng.integers(5, 20)),
                                        int(rng.integers(10, 50))),
        timeline_bin_ps=int(rng.choice([1000, 50_000])), timeline_bins=16,
        # PIM: tRC (0: not given), and columns wider than an access (co >= 2 keeps 4 of
        # them in a row)
        RC=int(rng.choice([0, 40, 80])), column_bytes=access * int(rng.choice([0, 1, 2, 4])),
    )


def random_streams(rng: np.random.Generator, spec: MachineSpec, max_ops: int = 30,
                   barriers: bool = True) -> list[np.ndarray]:
    """Valid streams for a random subset of threads; barrier-free ones never deadlock."""
    n_threads = int(rng.integers(1, spec.threads + 1))
    cap = channel_capacity(spec) * spec.controllers
    il = spec.interleave_bytes
    n_ops = [int(rng.integers(0, max_ops + 1)) for _ in range(n_threads)]
    # machine barriers: the same count in every stream that has ops
    n_bar = int(rng.integers(0, 3)) if barriers else 0
    locality = rng.random()
    # bank-level PIM ops in about half of the cases: a few rows of every bank of a channel
    pim_rate = 0.06 if rng.random() < 0.5 else 0.0
    row_bytes = spec.row_bytes
    sp_span = spec.sp_size // 8 - 4 if rng.random() < 0.6 else 8  # else: a few hot words
    streams = []
    for s in range(n_threads):
        if n_ops[s] == 0:
            streams.append(O.stream([]))
            continue
        core = s // spec.threads_per_core
        ops: list[tuple] = []
        pending: list[int] = []
        base = int(rng.integers(0, cap // il)) * il
        for _ in range(n_ops[s]):
            k = rng.random()
            size = int(rng.choice([8, 8, 16, 32]))
            if rng.random() < locality:
                addr = base + int(rng.integers(0, 4)) * il
            else:
                addr = int(rng.integers(0, cap // il)) * il
            addr = min(addr + int(rng.integers(0, il // size)) * size, cap - size)
            addr -= addr % size
            if rng.random() < pim_rate:
                ops.append(O.pim(int(rng.integers(0, cap)), int(rng.integers(1, 3 * row_bytes))))
            elif k < 0.30:
                sp = int(rng.choice([O.DRAM, O.DRAM, O.SP_LOCAL, O.SP_REMOTE, O.HOST]))
                tgt = int(rng.integers(spec.cores))
                a = addr if sp in (O.DRAM, O.HOST) else int(rng.integers(0, sp_span)) * 8
                ops.append(O.load(a, size, sp, tgt, bypass=bool(rng.random() < 0.4)))
            elif k < 0.45:
                sp = int(rng.choice([O.DRAM, O.SP_LOCAL, O.SP_REMOTE, O.HOST]))
                tgt = int(rng.integers(spec.cores))
                a = addr if sp in (O.DRAM, O.HOST) else int(rng.integers(0, sp_span)) * 8
                ops.append(O.store(a, size, sp, tgt))
            elif k < 0.57:
                sp = int(rng.choice([O.DRAM, O.SP_LOCAL, O.SP_REMOTE]))
                tgt = int(rng.integers(spec.cores))
                a = addr - addr % 8 if sp == O.DRAM else int(rng.integers(0, sp_span)) * 8
                kind = int(rng.integers(3)) | (16 if rng.random() < 0.3 else 0)
                ops.append(O.atomic(a, kind, sp, tgt))
            elif k < 0.75:
                ops.append(O.compute(int(rng.integers(1, 9))))
            elif k < 0.85 and len(pending) < spec.max_handles:
                h = next(x for x in range(spec.max_handles) if x not in pending)
                src_sp = int(rng.choice([O.DRAM, O.SP_LOCAL, O.HOST]))
                dst_sp = int(rng.choice([O.DRAM, O.SP_LOCAL, O.SP_REMOTE, O.HOST]))
                count = int(rng.integers(1, 4))
                esize = int(rng.choice([8, 24, 64, 100]))
                st1 = esize * int(rng.integers(1, 3))
                st2 = esize * int(rng.integers(1, 3))
                span1, span2 = (count - 1) * st1 + esize, (count - 1) * st2 + esize

                def place(space: int, span: int) -> int:
                    if space in (O.SP_LOCAL, O.SP_REMOTE):
                        return int(rng.integers(0, spec.sp_size - span))
                    return int(rng.integers(0, cap - span))

                ops.append(O.dma(src_sp, place(src_sp, span1), dst_sp, place(dst_sp, span2),
                                 esize, h, count, st1, st2, int(rng.integers(spec.cores))))
                pending.append(h)
            elif pending:
                h = pending.pop(int(rng.integers(len(pending))))
                ops.append(O.wait(h))
            else:
                ops.append(O.compute(1))
        for h in pending:
            ops.append(O.wait(h))
        # barriers at random but common ordinal positions (every stream has n_bar of them)
        positions = sorted(int(x) for x in rng.integers(0, len(ops) + 1, n_bar))
        for b in reversed(range(n_bar)):
            ops.insert(positions[b], O.barrier(O.SCOPE_MACHINE, b))
        del core
        streams.append(O.stream(ops))
    return streams
