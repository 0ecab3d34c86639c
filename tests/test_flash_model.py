"""The flash SSD model against closed forms from the presets' numbers and hand sums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.config.errors import ConfigError
from sim.memory.flash import flash_read_bandwidth, list_flash, load_flash, simulate
from workloads.traces import make_trace, write_trace

KiB, MiB = 1 << 10, 1 << 20

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
  latency: 2 us
link:
  name: test_link
  bandwidth: {bandwidth}
  latency: 1 us
"""


def write_preset(tmp_path: Path, channels: object = 2, bandwidth: str = "8 GB/s",
                 drop: str = "") -> Path:
    text = DIE_BOUND.format(channels=channels, bandwidth=bandwidth)
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
    assert (pm.link_name, pm.link_bytes_per_s, pm.link_latency_ps) == ("pcie_gen4_x4", 7_200_000_000, 10**6)
    assert load_flash("pm1743").link_name == "pcie_gen5_x4"


# ----------------------------------------------------------------------------- latency


def test_single_4k_read_at_qd1_is_the_hand_sum() -> None:
    spec = load_flash("pm9a3")
    res = simulate(spec, np.array([0], np.uint64), 4096, np.array([False]), np.array([0]),
                   queue_depth=1)
    # controller 5 us + tR 45 us + 4096 B at 1.4 GB/s (2,925,714.3 ps, rounded up)
    # + 4096 B at 7.2 GB/s (568,888.9 ps, rounded up) + link latency 1 us
    assert res.raw.complete[0] == 5_000_000 + 45_000_000 + 2_925_715 + 568_889 + 1_000_000
    assert res.summary["read_latency_us"]["mean"] == pytest.approx(54.494604)


def test_single_write_and_internal_read_are_hand_sums() -> None:
    spec = load_flash("pm9a3")
    w = simulate(spec, np.array([0], np.uint64), 4096, np.array([True]), np.array([0]))
    # controller + link to device + channel + tPROG 450 us + link latency
    assert w.raw.complete[0] == 5_000_000 + 568_889 + 2_925_715 + 450_000_000 + 1_000_000
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
    assert np.all(np.diff(res.raw.complete) == 54_494_604)


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
    one = 4096 * 10**12 / (5e6 + 45e6 + 4096e12 / 1.4e9 + 4096e12 / 7.2e9 + 1e6)
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
