"""The flash SSD model against closed forms from the presets' numbers and hand sums."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.config.errors import ConfigError
from sim.memory.flash import flash_read_bandwidth, list_flash, load_flash, simulate
from workloads.traces import make_trace, write_trace

KiB, MiB = 1 << 10, 1 << 20
PS = 10**12
# PCIe x4 data rate per direction: lanes x GT/s x 128/130 / 8, floored to whole B/s, then
# x 256 / 280 for 256 B max-payload TLPs with 24 B each of framing, header and LCRC
# (PCIe Base Specification 4.0 / 5.0; the numbers hw_configs/links/pcie_gen{4,5}_x4 carry)
PCIE4_X4 = 4 * 16 * 10**9 * 128 // (130 * 8) * 256 // 280  # 7,201,758,240
PCIE5_X4 = 4 * 32 * 10**9 * 128 // (130 * 8) * 256 // 280
PCIE_LATENCY_PS = 500_000  # the PCIe presets' one-way latency (500 ns, ASSUMED there)
# random 4 KiB read IOPS from the datasheets (sources in the presets' comments)
DATASHEET_READ_IOPS = {"pm9a3": 900_000, "pm1743": 2_500_000, "samsung_980pro_1tb": 1_000_000}


def ceil_ps(nbytes: int, rate: int) -> int:
    return -(-nbytes * PS // rate)


# pm9a3's unloaded 4 KiB read: controller 5 us + tR 45 us + 4096 B over a 1.4 GB/s channel
# + 4096 B over the link + the link's latency
PM9A3_4K_READ_PS = (5_000_000 + 45_000_000 + ceil_ps(4096, 1_400_000_000)
                    + ceil_ps(4096, PCIE4_X4) + PCIE_LATENCY_PS)

# A small drive whose dies are the bottleneck: 2 x 2 dies x 2 planes x 4 KiB per 50 us =
# 655 MB/s, while its channels move 2 x 1.6 GB/s and its link 8 GB/s.
DIE_BOUND = """\
name: die_bound
kind: flash
geometry:
  channels: {channels}
  dies_per_channel: 2
  planes_per_die: 2
  page_bytes: 4 KiB
  pages_per_block: 64
  blocks_per_plane: 64
timing:
  tR: 50 us
  tPROG: 500 us
channel:
  rate: 1600 MT/s
  bus_bytes: 1
controller:
  latency: 2 us{controller}
link:
  name: test_link
  bandwidth: {bandwidth}
  latency: 1 us
  max_payload: 256 B
  packet_overhead: 0 B
  transfer_overhead: 0 ns
"""


def write_preset(tmp_path: Path, channels: object = 2, bandwidth: str = "8 GB/s",
                 drop: str = "", controller: str = "") -> Path:
    text = DIE_BOUND.format(channels=channels, bandwidth=bandwidth, controller=controller)
    if drop:
        text = "".join(line + "\n" for line in text.splitlines() if not line.strip().startswith(drop))
    path = tmp_path / "ssd.yaml"
    path.write_text(text)
    return path


def line_of(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1)
                if line.strip().startswith(f"{key}:"))


# ----------------------------------------------------------------------------- presets


def test_presets_load_and_limits_are_the_closed_forms() -> None:
    assert {"pm9a3", "pm1743"} <= set(list_flash())
    for name in list_flash():
        s = load_flash(name)
        die = s.channels * s.dies_per_channel * s.planes_per_die * s.page_bytes * 10**12 // s.t_read_ps
        channel = s.channels * s.channel_bytes_per_s
        assert s.die_read_bytes_per_s == die
        # a page transfer is a whole number of ps, rounded up: off by under 1e-6
        assert s.internal_read_bytes_per_s == pytest.approx(min(die, channel), rel=1e-6)
        assert s.peak_read_bytes_per_s == min(s.internal_read_bytes_per_s, s.link_bytes_per_s)
        assert s.capacity_bytes == (s.channels * s.dies_per_channel * s.planes_per_die
                                    * s.blocks_per_plane * s.pages_per_block * s.page_bytes)
    pm = load_flash("pm9a3")  # the numbers written in hw_configs/storage/pm9a3.yaml
    assert (pm.channels, pm.dies_per_channel, pm.planes_per_die, pm.page_bytes) == (8, 8, 4, 16384)
    assert (pm.t_read_ps, pm.channel_bytes_per_s) == (45_000_000, 1_400_000_000)


def test_presets_take_their_link_from_the_link_presets() -> None:
    for name, link, rate in (("pm9a3", "pcie_gen4_x4", PCIE4_X4),
                             ("samsung_980pro_1tb", "pcie_gen4_x4", PCIE4_X4),
                             ("pm1743", "pcie_gen5_x4", PCIE5_X4)):
        s = load_flash(name)
        assert (s.link_name, s.link_bytes_per_s, s.link_latency_ps) == (link, rate, PCIE_LATENCY_PS)


def test_presets_carry_the_datasheet_command_rates() -> None:
    for name, iops in DATASHEET_READ_IOPS.items():
        s = load_flash(name)
        assert s.controller_read_ps == -(-PS // iops), name  # ps per command, rounded up
        assert s.controller_write_ps == s.controller_read_ps, name  # see the presets' comments


# ----------------------------------------------------------------------------- latency


def test_single_4k_read_at_qd1_is_the_hand_sum() -> None:
    spec = load_flash("pm9a3")
    res = simulate(spec, np.array([0], np.uint64), 4096, np.array([False]), np.array([0]),
                   queue_depth=1)
    # controller 5 us + tR 45 us + 4096 B at 1.4 GB/s (2,925,714.3 ps, rounded up)
    # + 4096 B at 7.2018 GB/s (568,750.2 ps, rounded up) + link latency 0.5 us
    assert res.raw.complete[0] == 5_000_000 + 45_000_000 + 2_925_715 + 568_751 + 500_000
    assert res.raw.complete[0] == PM9A3_4K_READ_PS
    assert res.summary["read_latency_us"]["mean"] == pytest.approx(53.994466)


def test_single_write_and_internal_read_are_hand_sums() -> None:
    spec = load_flash("pm9a3")
    w = simulate(spec, np.array([0], np.uint64), 4096, np.array([True]), np.array([0]))
    # controller + link to device + channel + tPROG 450 us + link latency
    assert w.raw.complete[0] == 5_000_000 + 568_751 + 2_925_715 + 450_000_000 + 500_000
    r = simulate(spec, np.array([0], np.uint64), 4096, np.array([False]), np.array([0]),
                 through_link=False)
    assert r.raw.complete[0] == 5_000_000 + 45_000_000 + 2_925_715


def test_pages_stripe_over_channels_then_dies_then_planes() -> None:
    spec = load_flash("pm9a3")
    page = spec.page_bytes
    res = simulate(spec, np.array([page * 7], np.uint64), 3 * page, np.array([False]),
                   np.array([0]))
    assert list(res.units.chan) == [7, 0, 1]  # pages 7, 8, 9
    assert list(res.units.die) == [7 * 8, 0 * 8 + 1, 1 * 8 + 1]  # page 8 moves to die 1
    far = simulate(spec, np.array([page * 64], np.uint64), 10, np.array([False]), np.array([0]))
    assert (far.units.chan[0], far.units.die[0], far.units.plane[0]) == (0, 0, 1)


def test_reads_on_two_planes_of_one_die_share_one_tR(tmp_path: Path) -> None:
    spec = load_flash(str(write_preset(tmp_path)))
    plane_stride = spec.page_bytes * spec.channels * spec.dies_per_channel  # next plane, same die
    two_planes = simulate(spec, np.array([0, plane_stride], np.uint64), 4096,
                          np.zeros(2, bool), np.zeros(2, np.int64))
    assert two_planes.raw.die_ops[0] == 1
    assert list(two_planes.raw.d_end) == [2_000_000 + 50_000_000] * 2
    same_plane = simulate(spec, np.array([0, 2 * plane_stride], np.uint64), 4096,
                          np.zeros(2, bool), np.zeros(2, np.int64))
    assert same_plane.raw.die_ops[0] == 2
    assert list(same_plane.raw.d_end) == [52_000_000, 102_000_000]


def test_closed_loop_issues_each_request_at_a_completion() -> None:
    spec = load_flash("pm9a3")
    n = 6
    addr = (np.arange(n, dtype=np.uint64) * np.uint64(spec.page_bytes * 64))  # all on die 0
    res = simulate(spec, addr, 4096, np.zeros(n, bool), np.zeros(n, np.int64), queue_depth=1)
    assert res.raw.issue[0] == 0
    assert np.array_equal(res.raw.issue[1:], res.raw.complete[:-1])
    assert np.all(np.diff(res.raw.complete) == PM9A3_4K_READ_PS)


# --------------------------------------------------------------------------- bandwidth


def test_bandwidth_rises_with_request_size_and_queue_depth() -> None:
    spec = load_flash("pm9a3")
    sizes, depths = (4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB), (1, 4, 16)
    bw = np.array([[flash_read_bandwidth(spec, s, q) for q in depths] for s in sizes], float)
    peak = spec.link_bytes_per_s
    for row in bw:  # deeper queues: more bandwidth until the link is full
        assert np.all((np.diff(row) > 0) | (row[1:] > 0.98 * peak)), row
    for col in bw.T:
        assert np.all((np.diff(col) > 0) | (col[1:] > 0.98 * peak)), col
    # QD1: one request at a time, latency by hand (controller, tR, channel, link, latency)
    one = 4096 * 10**12 / (5e6 + 45e6 + 4096e12 / 1.4e9 + 4096e12 / PCIE4_X4 + 0.5e6)
    assert bw[0, 0] == pytest.approx(one, rel=2e-3)


@pytest.mark.parametrize("name", ["pm9a3", "pm1743"])
def test_large_deep_reads_saturate_at_the_link(name: str) -> None:
    spec = load_flash(name)
    die = spec.channels * spec.dies_per_channel * spec.planes_per_die * spec.page_bytes / (spec.t_read_ps * 1e-12)
    channel = spec.channels * spec.channel_bytes_per_s
    limit = min(die, channel, spec.link_bytes_per_s)
    assert limit == spec.link_bytes_per_s  # both presets are link-bound
    bw = flash_read_bandwidth(spec, MiB, 64)
    assert 0.97 * limit <= bw <= 1.001 * limit


def test_internal_reads_saturate_at_the_channels() -> None:
    spec = load_flash("pm9a3")
    channel = spec.channels * spec.channel_bytes_per_s  # 8 x 1400 MT/s x 1 B
    bw = flash_read_bandwidth(spec, MiB, 64, through_link=False)
    assert 0.97 * channel <= bw <= 1.001 * channel
    assert bw > 1.4 * flash_read_bandwidth(spec, MiB, 64)  # the link no longer binds


def test_die_bound_drive_saturates_at_the_die_limit(tmp_path: Path) -> None:
    spec = load_flash(str(write_preset(tmp_path)))
    die = 2 * 2 * 2 * 4096 / 50e-6  # dies x planes x page / tR
    assert die < 2 * 1.6e9 and die < 8e9  # channels and link have room to spare
    bw = flash_read_bandwidth(spec, 256 * KiB, 32)
    assert 0.97 * die <= bw <= 1.001 * die
    # single-page random reads rarely find a partner on another plane: well below it
    assert flash_read_bandwidth(spec, 4 * KiB, 2) < 0.5 * die


# -------------------------------------------------------------------------- controller


@pytest.mark.parametrize("name", sorted(DATASHEET_READ_IOPS))
def test_small_deep_reads_run_at_the_controller_command_rate(name: str) -> None:
    spec = load_flash(name)
    limit = DATASHEET_READ_IOPS[name]
    iops = flash_read_bandwidth(spec, 4 * KiB, 256) / (4 * KiB)
    assert iops == pytest.approx(limit, rel=0.02)
    # the same drive without the limit goes well past it: the controller is what binds
    free = dataclasses.replace(spec, controller_read_ps=0, controller_write_ps=0)
    assert flash_read_bandwidth(free, 4 * KiB, 256) / (4 * KiB) > 1.2 * limit


@pytest.mark.parametrize("name", sorted(DATASHEET_READ_IOPS))
def test_large_reads_are_still_bound_by_dies_channels_or_link(name: str) -> None:
    s = load_flash(name)
    die = s.channels * s.dies_per_channel * s.planes_per_die * s.page_bytes * PS / s.t_read_ps
    channel = s.channels * s.channel_bytes_per_s
    link = {"pm1743": PCIE5_X4}.get(name, PCIE4_X4)
    assert DATASHEET_READ_IOPS[name] * MiB > 10 * min(die, channel, link)  # far from binding
    bw = flash_read_bandwidth(s, MiB, 32)
    assert 0.97 * min(die, channel, link) <= bw <= 1.001 * min(die, channel, link)
    inside = flash_read_bandwidth(s, MiB, 64, through_link=False)
    assert 0.97 * min(die, channel) <= inside <= 1.001 * min(die, channel)


def test_commands_queue_at_the_controller_one_at_a_time(tmp_path: Path) -> None:
    # 100K read IOPS = 10 us per read command, 50K write IOPS = 20 us per write command
    path = write_preset(tmp_path, controller="\n  max_read_iops: 100000\n  max_write_iops: 50000")
    spec = load_flash(str(path))
    page = spec.page_bytes
    # three reads on three different dies, a write, a read; all arrive at 0 (QD 0)
    addr = np.array([0, page, 2 * page, 3 * page, 5 * page], np.uint64)
    write = np.array([False, False, False, True, False])
    res = simulate(spec, addr, 4096, write, np.zeros(5, np.int64))
    us = 1_000_000
    assert list(res.raw.ctrl_start) == [0, 10 * us, 20 * us, 30 * us, 50 * us]
    assert res.raw.ctrl_busy[0] == (4 * 10 + 20) * us
    # a read: controller start + latency 2 us + tR 50 us + channel (4096 B at 1.6 GB/s)
    # + link (4096 B at 8 GB/s) + link latency 1 us
    unloaded = 2 * us + 50 * us + ceil_ps(4096, 1_600_000_000) + ceil_ps(4096, 8 * 10**9) + us
    for i in (0, 1, 2):
        assert res.raw.complete[i] == res.raw.ctrl_start[i] + unloaded
    # at QD 1 a command (10 us) never waits for the one before (~56 us): start = issue
    qd1 = simulate(spec, addr[:3], 4096, write[:3], np.zeros(3, np.int64), queue_depth=1)
    assert np.array_equal(qd1.raw.ctrl_start, qd1.raw.issue)
    assert list(qd1.raw.complete) == [unloaded, 2 * unloaded, 3 * unloaded]


# ------------------------------------------------------------------------------ errors


def test_non_power_of_two_channels_is_a_one_line_config_error(tmp_path: Path) -> None:
    path = write_preset(tmp_path, channels=6)
    with pytest.raises(ConfigError) as err:
        load_flash(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line_of(path, 'channels')}: geometry.channels: ")
    assert "power of two" in msg and "\n" not in msg


def test_zero_link_bandwidth_is_a_config_error(tmp_path: Path) -> None:
    path = write_preset(tmp_path, bandwidth="0 GB/s")
    with pytest.raises(ConfigError) as err:
        load_flash(str(path))
    assert str(err.value).startswith(f"{path}:{line_of(path, 'bandwidth')}: link.bandwidth: ")


def test_bad_command_rate_is_a_config_error(tmp_path: Path) -> None:
    path = write_preset(tmp_path, controller="\n  max_read_iops: 0")
    with pytest.raises(ConfigError) as err:
        load_flash(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line_of(path, 'max_read_iops')}: controller.max_read_iops: ")
    assert "positive integer" in msg and "\n" not in msg


def test_unknown_link_preset_is_a_config_error(tmp_path: Path) -> None:
    path = write_preset(tmp_path)
    text = path.read_text()
    path.write_text(text[:text.index("link:")] + "link: pcie_gen9_x4\n")
    with pytest.raises(ConfigError) as err:
        load_flash(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line_of(path, 'link')}: link: unknown link preset 'pcie_gen9_x4'")
    assert "pcie_gen4_x4" in msg and "\n" not in msg


def test_missing_key_is_a_config_error(tmp_path: Path) -> None:
    path = write_preset(tmp_path, drop="tR:")
    with pytest.raises(ConfigError) as err:
        load_flash(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line_of(path, 'timing')}: timing.tR: ")
    assert "missing required key 'tR'" in msg


def test_request_beyond_capacity_is_a_user_error() -> None:
    from sim.errors import UserError

    spec = load_flash("pm9a3")
    with pytest.raises(UserError, match="beyond the .* capacity of pm9a3"):
        simulate(spec, np.array([spec.capacity_bytes - 100], np.uint64), 4096,
                 np.array([False]), np.array([0]))


# --------------------------------------------------------------------------------- CLI


def test_cli_replay_on_a_flash_preset(tmp_path: Path) -> None:
    trace = make_trace(np.arange(20, dtype=np.uint64) * 65536, np.arange(20) % 5 == 4,
                       np.arange(20) * 1000)
    path = tmp_path / "small.trace"
    write_trace(trace, path, "dramsim3")
    result = CliRunner().invoke(main, ["replay", "-m", "pm9a3", "-t", str(path), "--qd", "4"])
    assert result.exit_code == 0, result.output
    assert "read bandwidth (GB/s)" in result.output
    assert "read latency p99 (us)" in result.output


def test_cli_sweep_prints_the_curve() -> None:
    result = CliRunner().invoke(main, ["replay", "-m", "pm9a3", "--sweep"])
    assert result.exit_code == 0, result.output
    assert "QD 256" in result.output and "1 MiB" in result.output


def test_cli_bad_flash_preset_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = write_preset(tmp_path, channels=6)
    trace = tmp_path / "t.trace"
    trace.write_text("0x0 READ 0\n")
    result = CliRunner().invoke(main, ["replay", "-m", str(cfg), "-t", str(trace)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"membound: {cfg}:"), result.stderr
    assert "geometry.channels" in lines[0] and "Traceback" not in result.output
