"""What the kernel's control groups limit this process to: a CPU quota and memory headroom.

Both cgroup versions are read: v2 (``cpu.max``, ``memory.max``) and v1
(``cpu.cfs_quota_us``, ``memory.limit_in_bytes``), on the process's own cgroup and every
ancestor, since a limit anywhere above applies too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# cgroup v1 reports "no limit" as a huge page-aligned number rather than a word.
_UNLIMITED = 1 << 62


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _memberships(proc_cgroup: Path) -> list[tuple[list[str], str]]:
    """Return (controllers, path) for each line of /proc/<pid>/cgroup ([] controllers: v2)."""
    text = _read(proc_cgroup)
    if text is None:
        return []
    found = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            controllers = [c for c in parts[1].split(",") if c]
            found.append((controllers, parts[2]))
    return found


def _walk_up(mount: Path, cgroup_path: str) -> Iterator[Path]:
    """Yield the process's cgroup folder under ``mount`` and each ancestor up to the mount.

    A limit on any ancestor applies too. Inside a container the listed path may not exist
    under the (namespaced) mount; the walk then still reaches the mount itself, which is the
    container's own cgroup.
    """
    parts = [p for p in cgroup_path.split("/") if p and p not in (".", "..")]
    for depth in range(len(parts), -1, -1):
        folder = mount.joinpath(*parts[:depth])
        if folder.is_dir():
            yield folder


def _v1_mount(root: Path, controller: str, controllers: list[str]) -> Path | None:
    for name in (
        ",".join(controllers),
        controller,
        f"{controller},cpuacct",
        f"cpuacct,{controller}",
    ):
        if (root / name).is_dir():
            return root / name
    return None


def _cgroup_folders(
    cgroup_root: Path | str | None, proc_cgroup: Path | str | None, controller: str
) -> Iterator[tuple[int, Path]]:
    """Yield (cgroup version, folder) pairs whose files may limit ``controller``.

    None means the real files, :data:`CGROUP_ROOT` and :data:`PROC_SELF_CGROUP`.
    """
    root = Path(CGROUP_ROOT if cgroup_root is None else cgroup_root)
    for controllers, path in _memberships(
        Path(PROC_SELF_CGROUP if proc_cgroup is None else proc_cgroup)
    ):
        if not controllers:
            mount = root if (root / "cgroup.controllers").exists() else root / "unified"
            if mount.is_dir():
                for folder in _walk_up(mount, path):
                    yield 2, folder
        elif controller in controllers:
            v1_mount = _v1_mount(root, controller, controllers)
            if v1_mount is not None:
                for folder in _walk_up(v1_mount, path):
                    yield 1, folder


def cgroup_cpu_limit(
    cgroup_root: Path | str | None = None, proc_cgroup: Path | str | None = None
) -> float | None:
    """Return the cgroup CPU quota in CPUs (quota / period, smallest on the path), or None."""
    limits = []
    for version, folder in _cgroup_folders(cgroup_root, proc_cgroup, "cpu"):
        if version == 2:
            quota_text, _, period_text = (_read(folder / "cpu.max") or "").partition(" ")
        else:
            quota_text = _read(folder / "cpu.cfs_quota_us") or ""
            period_text = _read(folder / "cpu.cfs_period_us") or ""
        try:
            quota, period = int(quota_text), int(period_text)
        except ValueError:
            continue  # "max", "-1" handled below; a missing or garbled file sets no limit
        if quota > 0 and period > 0:
            limits.append(quota / period)
    return min(limits) if limits else None


def _stat_value(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def cgroup_memory_headroom(
    cgroup_root: Path | str | None = None, proc_cgroup: Path | str | None = None
) -> int | None:
    """Return the bytes left under the tightest cgroup memory limit, or None without a limit.

    Reclaimable page cache (inactive files) counts as free, as the kernel drops it before it
    calls the OOM killer.
    """
    headrooms = []
    for version, folder in _cgroup_folders(cgroup_root, proc_cgroup, "memory"):
        if version == 2:
            limit_text, usage_text = _read(folder / "memory.max"), _read(folder / "memory.current")
            inactive = _stat_value(_read(folder / "memory.stat"), "inactive_file")
        else:
            limit_text = _read(folder / "memory.limit_in_bytes")
            usage_text = _read(folder / "memory.usage_in_bytes")
            inactive = _stat_value(_read(folder / "memory.stat"), "total_inactive_file")
        try:
            limit, usage = int(limit_text or ""), int(usage_text or "")
        except ValueError:
            continue  # "max" or an unreadable file: no limit here
        if 0 < limit < _UNLIMITED:
            headrooms.append(max(0, limit - usage + inactive))
    return min(headrooms) if headrooms else None
