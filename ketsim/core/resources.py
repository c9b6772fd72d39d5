"""Memory estimates checked before a large allocation: refuse with the estimate, never thrash.

A scenario can pass validation and still ask for more memory than the machine has (10^7 PK
patients on an hourly 12-week grid is ~1.6 TB). Before allocating, the PK study and the trial
model estimate their peak from the array shapes and call :func:`check_memory`, which raises
:class:`ResourceLimitError` naming the estimate, the limit and how to lift it.

The limit is ``KETSIM_MEMORY_LIMIT_GB`` if set (the override for big machines, or to be
stricter), else 80% of the memory the kernel reports available (``MemAvailable`` in
``/proc/meminfo``; where that is unknown, no limit). Estimates are upper-bound-ish multiples of
the main arrays (tables and their parquet buffers double them); they aim to catch the orders of
magnitude that kill a machine, not to predict the last megabyte.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = [
    "ENV_LIMIT",
    "ResourceLimitError",
    "check_disk",
    "check_memory",
    "memory_limit_bytes",
]

#: environment variable overriding the memory limit, in GB (decimal)
ENV_LIMIT = "KETSIM_MEMORY_LIMIT_GB"
#: share of the available memory a single run may plan to use
AVAILABLE_SHARE = 0.8


class ResourceLimitError(ValueError):
    """A run whose estimated memory exceeds the limit (the message says by how much and why)."""


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_limit_bytes() -> tuple[float, str]:
    """The limit in bytes and where it comes from (``inf`` when nothing is known)."""
    env = os.environ.get(ENV_LIMIT)
    if env:
        try:
            gb = float(env)
        except ValueError:
            raise ResourceLimitError(
                f"{ENV_LIMIT}={env!r} is not a number of gigabytes (e.g. 64)"
            ) from None
        return gb * 1e9, f"{ENV_LIMIT}={env}"
    avail = _available_bytes()
    if avail is None:
        return float("inf"), "no memory information on this system"
    return AVAILABLE_SHARE * avail, f"{AVAILABLE_SHARE:.0%} of the {avail / 1e9:.1f} GB available"


def _size(b: float) -> str:
    return f"{b / 1e9:,.1f} GB" if b >= 1e9 else f"{b / 1e6:,.1f} MB"


def check_memory(estimate_bytes: float, what: str, hint: str = "") -> None:
    """Raise :class:`ResourceLimitError` if ``estimate_bytes`` exceeds the limit.

    Parameters
    ----------
    estimate_bytes : estimated peak memory of the work.
    what : the work, in words (``"population PK of 10,000,000 patients x 2,017 times"``).
    hint : how to make the work smaller (added to the message).
    """
    limit, source = memory_limit_bytes()
    if estimate_bytes <= limit:
        return
    msg = (
        f"{what} needs about {_size(estimate_bytes)}, more than the limit of {_size(limit)} "
        f"({source})"
    )
    if hint:
        msg += f"; {hint}"
    msg += f"; to allow it on a bigger machine set {ENV_LIMIT}"
    raise ResourceLimitError(msg)


def check_disk(estimate_bytes: float, directory, what: str, hint: str = "") -> None:
    """Raise :class:`ResourceLimitError` if ``estimate_bytes`` exceed the free space of
    ``directory`` (its nearest existing parent); a streamed run would otherwise fail hours in.

    Parameters
    ----------
    estimate_bytes : estimated size of the files to write.
    directory : where they go.
    what : the output, in words.
    hint : how to make it smaller.
    """
    d = Path(directory).absolute()
    while not d.exists() and d != d.parent:
        d = d.parent
    try:
        free = shutil.disk_usage(d).free
    except OSError:
        return
    if estimate_bytes <= free:
        return
    msg = (
        f"{what} needs about {_size(estimate_bytes)} of disk, more than the {_size(free)} "
        f"free in {d}"
    )
    if hint:
        msg += f"; {hint}"
    raise ResourceLimitError(msg)
