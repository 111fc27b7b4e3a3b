"""Limits and accounting as text, usage and resource events, decided purely (issue 3)."""

from colony import contract_responses as answers
from colony.cli.top import format_top
from colony.core.resources import cpu_percent, due, format_size, plan_events
from colony.isolation.layout import detect
from colony.isolation.limits import Limits, fallback, parse_counters, parse_usage, render_limits
from colony.present import format_limits, format_sandbox, format_user
from tests.answers import a_colony, a_containment, a_sample, containment_json
from tests.unit.test_cgroups_detect import HYBRID, PURE_V2, V2_CONTROLLERS

V1 = detect(HYBRID, "hugetlb")
V2 = detect(PURE_V2, V2_CONTROLLERS)


def test_render_swap_and_io_weight_v2() -> None:
    """When swap and an I/O weight are set on v2, memory.swap.max and io.weight follow."""
    files = render_limits(Limits(memory=128 << 20, swap=0, io_weight=200), V2)
    assert ("memory.swap.max", "0") in files
    assert ("io.weight", "default 200") in files


def test_render_swap_and_io_weight_v1() -> None:
    """When swap is set on v1, memsw is memory + swap, written after the memory limit; the
    I/O weight goes to BFQ's blkio.bfq.weight (at most 1000)."""
    files = render_limits(Limits(memory=128 << 20, swap=64 << 20, io_weight=5000), V1)
    names = [name for name, _ in files]
    assert names.index("memory.memsw.limit_in_bytes") > names.index("memory.limit_in_bytes")
    assert ("memory.memsw.limit_in_bytes", str(192 << 20)) in files
    assert ("blkio.bfq.weight", "1000") in files


def test_v1_swap_needs_a_memory_limit() -> None:
    """When swap is set without memory on v1, there is nothing to add it to: left out."""
    assert not [n for n, _ in render_limits(Limits(swap=0), V1) if "memsw" in n]


def test_io_weight_fallbacks() -> None:
    """When the first I/O weight file is missing, the other scheduler's file is used."""
    assert fallback("io.weight", "default 5000") == ("io.bfq.weight", "default 1000")
    assert fallback("blkio.bfq.weight", "5") == ("blkio.weight", "10")
    assert fallback("memory.swap.max", "0") is None


def test_parse_usage_reads_io_bytes_v1_and_v2() -> None:
    """When blkio or io.stat text is read, read and written bytes are summed over devices."""
    v1 = "8:0 Read 4096\n8:0 Write 1024\n8:0 Sync 5120\n8:16 Read 1\nTotal 5121\n"
    assert parse_usage({"blkio.throttle.io_service_bytes_recursive": v1}) == {
        "io_read": 4097,
        "io_write": 1024,
    }
    v2 = "8:0 rbytes=100 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2\n"
    assert parse_usage({"io.stat": v2}) == {"io_read": 101, "io_write": 22}


def test_parse_counters_v1_and_v2() -> None:
    """When event files are read, OOM kills, memory limit hits and refused forks come out."""
    v2 = {
        "memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
        "pids.events": "max 3\n",
    }
    assert parse_counters(v2) == {"oom_kills": 1, "memory_hits": 12, "pids_hits": 3}
    v1 = {
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        "memory.failcnt": "40\n",
        "pids.events": "max 0\n",
    }
    assert parse_counters(v1) == {"oom_kills": 2, "memory_hits": 40, "pids_hits": 0}
    assert parse_counters({"memory.failcnt": None}) == {}


def test_cpu_percent_from_two_samples() -> None:
    """When half a second of CPU is used in one second, that is 50% (of one core)."""
    assert cpu_percent({"cpu_usec": 1_000_000}, {"cpu_usec": 1_500_000}, 1.0) == 50.0
    assert cpu_percent({"cpu_usec": 0}, {"cpu_usec": 3_000_000}, 1.5) == 200.0
    assert cpu_percent(None, {"cpu_usec": 5}, 1.0) is None


def test_first_sample_is_the_baseline() -> None:
    """When a colony is sampled for the first time, nothing is reported."""
    assert plan_events(None, {"oom_kills": 4}, {}, {}, 100.0) == ([], {})


def test_every_oom_kill_is_reported_and_hides_memory_hits() -> None:
    """When processes are OOM-killed, one oom event says how many; the memory hits of that
    round are not reported separately."""
    events, _ = plan_events(
        {"oom_kills": 1, "memory_hits": 5},
        {"oom_kills": 3, "memory_hits": 900},
        {"memory": 128 << 20},
        {},
        100.0,
    )
    assert events == [("oom", "OOM kill: 2 processes ended at the memory limit of 128M")]


def test_limit_hits_are_reported_at_most_every_ten_seconds() -> None:
    """When a limit keeps being hit, a limit event comes at most once per resource every 10s."""
    limits = {"pids": 64, "memory": 1 << 30}
    events, last = plan_events({"pids_hits": 0}, {"pids_hits": 7}, limits, {}, 100.0)
    assert events == [("limit", "pids limit of 64 reached: 7 forks refused")]
    again, last = plan_events({"pids_hits": 7}, {"pids_hits": 9}, limits, last, 105.0)
    assert again == []
    memory, _ = plan_events({"memory_hits": 0}, {"memory_hits": 1}, limits, last, 106.0)
    assert memory == [("limit", "memory limit of 1G reached (1 time)")]
    later, _ = plan_events({"pids_hits": 9}, {"pids_hits": 10}, limits, last, 111.0)
    assert later == [("limit", "pids limit of 64 reached: 1 fork refused")]


def test_format_size() -> None:
    """When sizes are shown, they use K, M, G with at most one decimal."""
    assert [format_size(n) for n in (0, 1536, 128 << 20, 3 << 30)] == ["0", "1.5K", "128M", "3G"]


def test_format_top_table() -> None:
    """When usage is shown, CPU is in percent of a core with its limit, memory and pids with
    theirs, and colonies are sorted by name."""
    samples = [
        a_sample(
            colony="web",
            state="running",
            level="strict",
            user="alice",
            cpu_percent=49.5,
            memory=64 << 20,
            pids=12,
            io_read=4096,
            io_write=0,
            oom_kills=1,
            limits={"cpu": 0.5, "memory": 128 << 20, "pids": 64},
        ),
        a_sample(colony="api", state="stopped", level="basic"),
    ]
    assert format_top(samples).plain.splitlines() == [
        "COLONY  STATE    LEVEL   USER   CPU          MEMORY      PIDS     I/O R/W  OOM",
        "api     stopped  basic   -      -            -           -        -        -",
        "web     running  strict  alice  49.5% / 50%  64M / 128M  12 / 64  4K / 0   1",
    ]
    assert format_top([]).plain.startswith("no colonies")


def test_show_states_level_user_and_limits_plainly() -> None:
    """When a colony is shown, its level is explained, its user named with the reason, and
    its limits spelled out (or 'none (unlimited)'), with those the kernel does not offer."""
    nobody = {"name": "nobody", "uid": 65534, "gid": 65534}
    changes = {
        "user": {**nobody, "why": "owner root: colonies never run as root"},
        "unapplied_limits": ["swap"],
    }
    containment = a_containment(**changes)
    colony = a_colony(sandbox="basic", containment=containment_json(**changes))
    assert format_sandbox(colony) == "basic: own network namespace and cgroup"
    assert format_user(containment) == (
        "nobody (uid 65534): owner root: colonies never run as root; no_new_privs"
    )
    limits = answers.Limits(cpu=1.5, memory=2 << 30, swap=0, pids=512)
    assert format_limits(limits, containment) == (
        "cpu 1.5 cores, memory 2G, swap 0, pids 512; not offered by this kernel: swap"
    )
    assert format_limits(answers.Limits(), a_containment()) == "none (unlimited)"


def test_reads_are_budgeted_never_read_first_then_the_longest_unread() -> None:
    """When more colonies live than a round may read, those never read come first, then
    those read longest ago; every colony is read within ceil(n / budget) rounds."""
    assert due({"a": 5.0, "b": None, "c": 1.0, "d": 3.0}, 2) == ["b", "c"]
    assert due({"a": 5.0}, 50) == ["a"]
    last: dict[str, float | None] = dict.fromkeys("abcdefg")
    seen: set[str] = set()
    for now in range(4):
        picked = due(last, 2)
        seen |= set(picked)
        last.update(dict.fromkeys(picked, float(now)))
    assert seen == set("abcdefg")
