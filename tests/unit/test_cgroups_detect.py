"""Pure parts of the cgroups backend: layout detection, limits rendering, usage parsing."""

import pytest

from colony.errors import HostError
from colony.isolation.cgroups import Limits, parse_usage, render_limits
from colony.isolation.layout import detect, parse_mounts, unified_mount

# This machine (Debian 12 dev/CI): v1 controllers, cgroup2 on /unified offering hugetlb only.
HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

# CentOS 7 style: pure v1, cpu and cpuacct mounted together, shared tags before " - ".
PURE_V1 = """\
24 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
25 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid shared:9 - cgroup cgroup rw,xattr,name=systemd
28 24 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
29 24 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory
30 24 0:27 / /sys/fs/cgroup/pids rw,nosuid shared:14 - cgroup cgroup rw,pids
31 24 0:28 / /sys/fs/cgroup/freezer rw,nosuid shared:15 - cgroup cgroup rw,freezer
"""

PURE_V2 = """\
22 27 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n"


def test_hybrid_tracks_in_v1_pids() -> None:
    """When the machine is hybrid, processes are tracked in the v1 pids hierarchy."""
    layout = detect(HYBRID, "hugetlb\n")
    assert layout.tracking.path == "/sys/fs/cgroup/pids"
    assert layout.tracking.version == 1


def test_hybrid_uses_v1_controllers_and_freezer() -> None:
    """When the machine is hybrid, cpu, memory, io (blkio), cpuacct and freezer come from v1."""
    layout = detect(HYBRID, "hugetlb\n")
    paths = {c: m.path for c, m in layout.by_controller.items()}
    assert paths == {
        "pids": "/sys/fs/cgroup/pids",
        "memory": "/sys/fs/cgroup/memory",
        "cpu": "/sys/fs/cgroup/cpu",
        "io": "/sys/fs/cgroup/blkio",
        "cpuacct": "/sys/fs/cgroup/cpuacct",
        "freezer": "/sys/fs/cgroup/freezer",
    }
    assert layout.mounts[0] == layout.tracking
    assert len(layout.mounts) == 6


def test_pure_v1_shares_comounted_hierarchy() -> None:
    """When cpu and cpuacct are mounted together, the colony gets one directory for both."""
    layout = detect(PURE_V1)
    assert layout.tracking.path == "/sys/fs/cgroup/pids"
    assert layout.by_controller["cpu"] is layout.by_controller["cpuacct"]
    assert [m.path for m in layout.mounts] == [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/cpu,cpuacct",
        "/sys/fs/cgroup/freezer",
    ]


def test_pure_v2_uses_one_unified_hierarchy() -> None:
    """When /sys/fs/cgroup is cgroup2 with the controllers, everything is v2 in one tree."""
    layout = detect(PURE_V2, V2_CONTROLLERS)
    assert layout.tracking.path == "/sys/fs/cgroup"
    assert layout.tracking.version == 2
    assert set(layout.by_controller) == {"pids", "memory", "cpu", "io"}
    assert layout.mounts == (layout.tracking,)


def test_v2_without_pids_controller_still_tracks_in_unified() -> None:
    """When cgroup2 lacks the pids controller and v1 has none, tracking stays on cgroup2."""
    layout = detect(PURE_V2, "cpu memory\n")
    assert layout.tracking.version == 2
    assert "pids" not in layout.by_controller
    assert layout.version("memory") == 2


def test_no_cgroups_is_a_host_error() -> None:
    """When no cgroup hierarchy is mounted, detection raises HostError."""
    with pytest.raises(HostError, match="no usable cgroup hierarchy"):
        detect("22 27 0:20 / /sys rw - sysfs sysfs rw\n")


def test_proc_mounts_format_is_accepted() -> None:
    """When given /proc/mounts text, the same hierarchies are found."""
    text = "cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n"
    text += "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"
    assert parse_mounts(text) == [
        ("/sys/fs/cgroup/pids", "cgroup", frozenset({"rw", "relatime", "pids"})),
        ("/sys/fs/cgroup/unified", "cgroup2", frozenset({"rw", "relatime"})),
    ]
    assert detect(text).tracking.path == "/sys/fs/cgroup/pids"


def test_escaped_mount_point_is_decoded() -> None:
    """When a mount point contains a space, mountinfo's octal escape is decoded."""
    text = r"41 31 0:38 / /mnt/cg\040two rw - cgroup2 cgroup2 rw" + "\n"
    assert unified_mount(text) == "/mnt/cg two"


def test_render_limits_v1() -> None:
    """When limits go to v1, cpu becomes a CFS quota and memory limit_in_bytes."""
    files = render_limits(Limits(cpus=1.5, memory=2 << 30, pids=500), detect(HYBRID, "hugetlb"))
    assert files == [
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "150000"),
        ("memory.limit_in_bytes", str(2 << 30)),
        ("pids.max", "500"),
    ]


def test_render_limits_v2() -> None:
    """When limits go to v2, cpu becomes cpu.max and memory memory.max."""
    files = render_limits(
        Limits(cpus=0.5, memory=1 << 30, pids=64), detect(PURE_V2, V2_CONTROLLERS)
    )
    assert files == [("cpu.max", "50000 100000"), ("memory.max", str(1 << 30)), ("pids.max", "64")]


def test_render_no_limits_resets_to_unlimited() -> None:
    """When no limit is set, every control file is reset to unlimited."""
    assert render_limits(Limits(), detect(PURE_V2, V2_CONTROLLERS)) == [
        ("cpu.max", "max 100000"),
        ("memory.max", "max"),
        ("pids.max", "max"),
    ]
    assert render_limits(Limits(), detect(HYBRID, "hugetlb")) == [
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "-1"),
        ("memory.limit_in_bytes", "-1"),
        ("pids.max", "max"),
    ]


def test_parse_usage_v1() -> None:
    """When v1 files are read, cpuacct nanoseconds become microseconds."""
    files = {"cpuacct.usage": "2500000\n", "memory.usage_in_bytes": "4096\n", "pids.current": "3\n"}
    assert parse_usage(files) == {"cpu_usec": 2500, "memory": 4096, "pids": 3}


def test_parse_usage_v2_skips_missing_files() -> None:
    """When v2 files are read and one is missing, its key is left out."""
    files = {"cpu.stat": "usage_usec 1234\nuser_usec 1000\n", "memory.current": None}
    assert parse_usage(files) == {"cpu_usec": 1234}
