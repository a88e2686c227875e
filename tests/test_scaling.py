"""Worker count from CPUs (affinity, cgroup quota) and memory (psutil, cgroups); the memory gate."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.execution import cgroups
from concurrent_test_app.execution.cgroups import cgroup_cpu_limit, cgroup_memory_headroom
from concurrent_test_app.execution.scaling import (
    GB,
    MB,
    MemoryGate,
    available_memory_bytes,
    decide_workers,
    memory_workers,
    rss_mb,
    usable_cpus,
)

HOST_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DJANGO_TEST_"):
            monkeypatch.delenv(name)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


@pytest.fixture
def cgroup(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Return (fake /sys/fs/cgroup, fake /proc/self/cgroup)."""
    root = tmp_path / "sys_fs_cgroup"
    root.mkdir()
    yield root, tmp_path / "proc_self_cgroup"


# -- CPUs --------------------------------------------------------------------------------------


def test_v2_quota_smallest_along_the_path(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    write_tree(
        root,
        {
            "cgroup.controllers": "cpu memory",
            "cpu.max": "max 100000",
            "ci/cpu.max": "150000 100000",
            "ci/job/cpu.max": "max 100000",
        },
    )
    proc.write_text("0::/ci/job\n")
    assert cgroup_cpu_limit(root, proc) == 1.5
    assert usable_cpus(root, proc) == min(HOST_CPUS, 2)
    (root / "ci/job/cpu.max").write_text("50000 100000\n")
    assert cgroup_cpu_limit(root, proc) == 0.5
    assert usable_cpus(root, proc) == 1


def test_v2_no_limit(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    write_tree(root, {"cgroup.controllers": "cpu", "cpu.max": "max 100000"})
    proc.write_text("0::/\n")
    assert cgroup_cpu_limit(root, proc) is None
    assert usable_cpus(root, proc) == HOST_CPUS


def test_v2_namespaced_container_path_missing_under_mount(cgroup: tuple[Path, Path]) -> None:
    # Without a cgroup namespace the listed path is the host's; the mount is the container's own.
    root, proc = cgroup
    write_tree(root, {"cgroup.controllers": "cpu", "cpu.max": "100000 100000"})
    proc.write_text("0::/kubepods/burstable/pod1234/abcdef\n")
    assert cgroup_cpu_limit(root, proc) == 1.0
    assert usable_cpus(root, proc) == 1


def test_v1_quota(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    write_tree(
        root,
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "-1",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000",
            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000",
        },
    )
    proc.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_cpu_limit(root, proc) == 3.0
    assert usable_cpus(root, proc) == min(HOST_CPUS, 3)
    (root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(root, proc) is None


def test_v1_separate_cpu_mount(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    write_tree(root, {"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"})
    proc.write_text("2:cpuacct:/\n1:cpu:/\n")
    assert cgroup_cpu_limit(root, proc) == 0.5


def test_missing_or_garbled_files_set_no_limit(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    assert cgroup_cpu_limit(root, proc) is None  # no /proc/self/cgroup at all
    write_tree(root, {"cgroup.controllers": "cpu", "cpu.max": "lots"})
    proc.write_text("0::/\n")
    assert cgroup_cpu_limit(root, proc) is None
    assert usable_cpus(root, proc) == HOST_CPUS


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity mask here")
def test_affinity_mask_is_honoured(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os
        from concurrent_test_app.execution.scaling import usable_cpus
        os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})
        print(usable_cpus({str(tmp_path)!r}, {str(tmp_path / "none")!r}))
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "1"


def test_real_host() -> None:
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)


# -- memory ------------------------------------------------------------------------------------


def test_cgroup_v2_memory_headroom(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    write_tree(
        root,
        {
            "cgroup.controllers": "memory",
            "memory.max": "max",
            "job/memory.max": str(4 * GB),
            "job/memory.current": str(1 * GB),
            "job/memory.stat": f"anon 1234\ninactive_file {GB // 2}\nactive_file 5",
        },
    )
    proc.write_text("0::/job\n")
    assert cgroup_memory_headroom(root, proc) == 3 * GB + GB // 2
    measured = available_memory_bytes(root, proc)
    assert measured is not None and measured <= 3 * GB + GB // 2


def test_cgroup_v1_memory_headroom(cgroup: tuple[Path, Path]) -> None:
    root, proc = cgroup
    write_tree(
        root,
        {
            "memory/memory.limit_in_bytes": "9223372036854771712",
            "memory/memory.usage_in_bytes": str(8 * GB),
            "memory/ci/memory.limit_in_bytes": str(2 * GB),
            "memory/ci/memory.usage_in_bytes": str(3 * GB),
        },
    )
    proc.write_text("5:memory:/ci\n")
    assert cgroup_memory_headroom(root, proc) == 0  # over its limit: no headroom, not negative
    (root / "memory/ci/memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert cgroup_memory_headroom(root, proc) is None


def test_real_available_memory() -> None:
    measured = available_memory_bytes()
    assert measured is not None and measured > 0


@pytest.mark.parametrize(
    ("available", "per_worker_mb", "expected"),
    [
        (8 * GB, 512, 16),
        (10 * GB, 3000, 3),
        (2 * GB, 512, 4),
        (int(1.5 * GB), 512, 2),
        (int(1.5 * GB), 1024, 1),
        (300 * MB, 512, 1),
        (0, 512, 1),
    ],
)
def test_memory_workers(available: int, per_worker_mb: float, expected: int) -> None:
    assert memory_workers(available, per_worker_mb) == expected


def test_low_memory_warning_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="concurrent_test_app.execution.scaling"):
        assert memory_workers(int(1.54 * GB), 256) == 2
    assert caplog.messages == ["[CONCURRENT] Low memory available: 1.5GB, limiting workers"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="concurrent_test_app.execution.scaling"):
        memory_workers(3 * GB, 256)
    assert caplog.messages == []


def test_memory_workers_refuses_a_zero_estimate() -> None:
    with pytest.raises(ConfigurationError, match="DJANGO_TEST_MEMORY_PER_WORKER_MB"):
        memory_workers(GB, 0)


def test_rss_of_a_real_process() -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "b = bytearray(200 * 2**20)\n"
            "b[::4096] = b'x' * len(b[::4096])\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert rss_mb(holder.pid) >= 200
    finally:
        holder.kill()
        holder.wait()
    assert rss_mb(holder.pid) == 0.0
    assert 5 < rss_mb(os.getpid())


# -- the decision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "units", "expected"),
    [(4, 10, 4), (8, 3, 3), ("6", 10, 6), (" 2 ", 10, 2), (1, 1, 1), (5, 0, 0)],
)
def test_explicit_workers_used_as_given(requested: int | str, units: int, expected: int) -> None:
    decision = decide_workers(requested, units, cpus=1, available_bytes=GB)
    assert decision.count == expected


def test_explicit_workers_ignore_min_max(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "2")
    decision = decide_workers(6, 10)
    assert decision.count == 6
    assert decision.reason == "--workers 6"
    assert decide_workers(6, 4).reason == "--workers 6, lowered to the 4 work units"


@pytest.mark.parametrize("bad", [0, -2, "0", "zero", "", "2.5", True])
def test_bad_worker_counts(bad: int | str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        decide_workers(bad, 10)
    assert str(caught.value) == (
        f"--workers {bad} is not a number of workers; pass a whole number of 1 or more, or auto."
    )


def test_auto_is_the_smallest_of_cpus_memory_units() -> None:
    by_cpu = decide_workers("auto", 40, cpus=3, available_bytes=32 * GB)
    assert by_cpu.count == 3
    assert by_cpu.cpus == 3 and by_cpu.memory_workers == 64 and by_cpu.per_worker_mb == 512
    assert by_cpu.reason.startswith("auto chose 3: the smallest of 3 usable CPUs, 64 by memory")
    assert decide_workers("AUTO", 40, cpus=12, available_bytes=4 * GB).count == 8
    assert decide_workers("auto", 5, cpus=12, available_bytes=32 * GB).count == 5


def test_auto_uses_the_history_p90() -> None:
    decision = decide_workers("auto", 40, cpus=12, available_bytes=4 * GB, history_p90_mb=1024)
    assert decision.count == 4
    assert decision.per_worker_mb == 1024
    assert "p90 worker peak in the timing history" in decision.reason
    assert decide_workers("auto", 40, cpus=12, available_bytes=4 * GB, history_p90_mb=0).count == 8


def test_auto_clamped_to_min_and_max(monkeypatch: pytest.MonkeyPatch) -> None:
    raised = decide_workers("auto", 40, cpus=1, available_bytes=32 * GB)
    assert raised.count == 2
    assert raised.reason.endswith("is 1, raised to DJANGO_TEST_MIN_WORKERS=2")
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "3")
    lowered = decide_workers("auto", 40, cpus=12, available_bytes=32 * GB)
    assert lowered.count == 3
    assert lowered.reason.endswith("is 12, lowered to DJANGO_TEST_MAX_WORKERS=3")
    # Never more workers than units, even when the minimum asks for more.
    monkeypatch.setenv("DJANGO_TEST_MIN_WORKERS", "3")
    assert decide_workers("auto", 1, cpus=12, available_bytes=32 * GB).count == 1
    assert decide_workers("auto", 2, cpus=1, available_bytes=32 * GB).count == 2


def test_auto_low_memory(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="concurrent_test_app.execution.scaling"):
        decision = decide_workers("auto", 40, cpus=8, available_bytes=int(1.2 * GB))
    assert decision.count == 2
    assert "low memory: 1.2 GB available" in decision.reason
    assert "[CONCURRENT] Low memory available: 1.2GB, limiting workers" in caplog.messages


def test_auto_refuses_min_above_max(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_TEST_MIN_WORKERS", "5")
    monkeypatch.setenv("DJANGO_TEST_MAX_WORKERS", "4")
    with pytest.raises(ConfigurationError, match="DJANGO_TEST_MIN_WORKERS=5 is above"):
        decide_workers("auto", 40, cpus=8, available_bytes=32 * GB)


def test_auto_without_psutil(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # psutil absent (None in sys.modules makes the import fail) and no cgroup memory limit.
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(cgroups, "PROC_SELF_CGROUP", tmp_path / "none")
    assert available_memory_bytes() is None
    with caplog.at_level(logging.WARNING, logger="concurrent_test_app.execution.scaling"):
        decision = decide_workers("auto", 40, cpus=5)
    assert decision.count == 5
    assert decision.memory_workers is None
    assert "memory unknown (psutil is not installed)" in decision.reason
    assert any("psutil is not installed" in message for message in caplog.messages)
    assert rss_mb(os.getpid()) == 0.0


def test_auto_measures_the_real_host() -> None:
    decision = decide_workers("auto", 100)
    assert decision.cpus == usable_cpus()
    assert 2 <= decision.count <= 16


# -- the memory gate ---------------------------------------------------------------------------


def readings(*values: float | None) -> Callable[[], float | None]:
    it = iter(values)
    return lambda: next(it)


def test_gate_pauses_below_floor_and_resumes_above_resume_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = MemoryGate(500, resume_mb=600, reader=readings(1000, 400, 550, 650, 450))
    with caplog.at_level(logging.INFO, logger="concurrent_test_app.execution.scaling"):
        assert [gate.should_pause(busy=2) for _ in range(5)] == [False, True, True, False, True]
    assert gate.pauses == 2
    assert any("holding back new work units" in m for m in caplog.messages)
    assert any("handing out work units again" in m for m in caplog.messages)


def test_gate_resumes_at_the_floor_by_default() -> None:
    gate = MemoryGate(500, reader=readings(499, 500))
    assert gate.resume_mb == 500
    assert gate.should_pause() is True
    assert gate.should_pause() is False


def test_gate_never_stalls_an_idle_pool() -> None:
    gate = MemoryGate(500, reader=readings(100, 100))
    assert gate.should_pause(busy=1) is True
    assert gate.should_pause(busy=0) is False
    assert gate.paused is False


def test_gate_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MemoryGate(0, reader=readings(1)).should_pause() is False
    assert MemoryGate(500, reader=readings(None)).should_pause() is False
    monkeypatch.setenv("DJANGO_TEST_MEMORY_FLOOR_MB", "0")
    assert MemoryGate().floor_mb == 0
    assert MemoryGate().should_pause() is False


def test_gate_reads_real_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = MemoryGate()
    assert gate.floor_mb == 256
    available = gate.available_mb()
    assert available is not None and available > 0
    # A floor above everything this machine could have pauses; one of 1 MB does not.
    assert MemoryGate(1024 * 1024 * 1024).should_pause() is True
    assert MemoryGate(1).should_pause() is False
