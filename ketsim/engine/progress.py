"""Progress of a run: replicates done, rate and time left, and how far each named phase of the
run has got (main trial, power curve, sensitivity, true-effect trial, sweep cells), on stderr."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field


# -- progress ------------------------------------------------------------------------------------
@dataclass
class Progress:
    """A one-line progress bar with ETA on stderr (silent unless stderr is a terminal).

    ``phases`` maps a phase's name to its ``[done, total]`` units; each is shown by name after
    the bar, so a run says what it is doing (e.g. "power curve 120/450").
    """

    total: int
    label: str = "replicates"
    enabled: bool | None = None
    done: int = 0
    phases: dict[str, list[int]] = field(default_factory=dict)
    _t0: float = field(default_factory=time.perf_counter)
    _last: float = 0.0

    def __post_init__(self) -> None:
        if self.enabled is None:
            self.enabled = sys.stderr.isatty() and not os.environ.get("KETSIM_NO_PROGRESS")

    def update(self, k: int, phase: str | None = None, count: bool = True) -> None:
        """``k`` more units done, in ``phase`` if given; ``count=False`` advances only the
        phase (work outside the bar's total, such as true-effect trial pieces)."""
        if count:
            self.done += k
        if phase is not None and phase in self.phases:
            self.phases[phase][0] += k
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        el = now - self._t0
        frac = self.done / self.total if self.total else 1.0
        eta = el * (1 - frac) / frac if frac > 0 else float("nan")
        width = 30
        bar = "#" * int(width * frac) + "." * (width - int(width * frac))
        ph = "; ".join(f"{name} {d}/{t}" for name, (d, t) in self.phases.items())
        sys.stderr.write(
            f"\r[{bar}] {self.done}/{self.total} {self.label} {100 * frac:3.0f}% "
            f"elapsed {_fmt_s(el)} ETA {_fmt_s(eta)}{' | ' + ph if ph else ''}   "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _fmt_s(s: float) -> str:
    if s != s:
        return "?"
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(s), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"
