"""``ketsim bench power``: the quickstart power run timed end to end, as users run it.

The inner-loop benchmarks (``bench trial``, ``bench pk``) leave out process start-up, the run
store, the true-effect trial, the report's extra cells and the report itself, so they overstate
what a user waits for. This one runs the README's quickstart command (``ketsim power
scenarios/published/sigtermans2009.yaml --replicates 1000 --jobs 2``) as a fresh process
``repeats`` times and reports, as medians:

* wall time from process start to report written, and requested trials per second;
* CPU seconds of the process and its (reaped) worker processes, from ``os.wait4``;
* peak resident memory of the whole process tree, sampled every 20 ms from ``/proc`` (Linux;
  elsewhere the largest single process from ``ru_maxrss``);
* time by phase: interpreter start and imports (timed separately, as a fresh ``python -c``
  importing the same modules), simulation of main / auxiliary / true-effect work (wall of the
  single pool pass and each kind's summed worker seconds, from the run's manifest), summaries
  and tables, and the rest (scenario loading, report, exit) as the residual;
* within one in-process chunk, the share of trial simulation vs analyses.

With ``against`` (a source checkout of another ketsim version, e.g. ``git worktree add
/tmp/ketsim-old <commit>``) every repeat also runs that version's same command, interleaved with
this one (paired: both see the same machine load), and the ratios of the medians are reported.
The load average before and after is recorded: these 2-core machines are noisy.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ketsim.apps.bench import _published
from ketsim.config.scenario import load_scenario
from ketsim.engine.chunks import _chunk_tables
from ketsim.sim.trial import TrialModel, trial_arrays

__all__ = ["bench_power"]

#: what the command imports before it starts working (timed as the "imports" phase); modules a
#: version does not have are skipped, so older checkouts can be timed too
_IMPORTS = (
    "import importlib\n"
    "for m in ('ketsim.apps.cli', 'ketsim.engine.power', 'ketsim.engine.chunks', 'ketsim.cli',"
    " 'ketsim.montecarlo'):\n"
    "    try:\n        importlib.import_module(m)\n    except ImportError:\n        pass\n"
)


def _descendants(root: int) -> list[int]:
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", encoding="ascii") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: split after the last ")"
        parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [root], [root]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier]
        out += frontier
    return out


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _TreeMemory:
    """Peak summed RSS of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        self.pid, self.every_s, self.peak = pid, every_s, 0
        self.available = Path("/proc/self/status").is_file()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_rss_bytes(p) for p in _descendants(self.pid)))
            self._stop.wait(self.every_s)

    def __enter__(self) -> _TreeMemory:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.available:
            self._thread.join()


def _run_once(cmd: list[str], env: dict[str, str], cwd: str) -> dict:
    """One timed run of ``cmd``: wall, CPU (process tree), peak tree RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with _TreeMemory(proc.pid) as mem:
        # read the pipes in threads so a chatty child never blocks on a full pipe
        outs: dict[str, str] = {}
        readers = [
            threading.Thread(target=lambda k=k, s=s: outs.__setitem__(k, s.read()))
            for k, s in (("stdout", proc.stdout), ("stderr", proc.stderr))
        ]
        for r in readers:
            r.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        for r in readers:
            r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{outs['stderr']}"
        )
    peak = mem.peak if mem.available else usage.ru_maxrss * 1024
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": peak / 2**20,
        "peak_rss_kind": "process tree" if mem.available else "largest process",
        "stdout": outs["stdout"],
    }


def _import_seconds(env: dict[str, str], cwd: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _IMPORTS], env=env, cwd=cwd, check=True)
    return time.perf_counter() - t0


def _chunk_split(scenario: Path, replicates: int = 133) -> dict[str, float]:
    """Seconds to simulate vs analyse one in-process chunk (after a warm-up chunk)."""

    sc = load_scenario(scenario)

    def once(reps: range) -> tuple[float, float]:
        t0 = time.perf_counter()
        m = TrialModel(sc, 1, list(reps), with_agents=False)
        m.run_model()
        ta = trial_arrays(m)
        t1 = time.perf_counter()
        _chunk_tables(ta, sc)
        return t1 - t0, time.perf_counter() - t1

    once(range(10**6, 10**6 + 10))
    sim, ana = once(range(replicates))
    return {"replicates": replicates, "simulate_s": sim, "analyse_s": ana}


def _env_for(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    return env


def _summary(runs: list[dict], imports: list[float], replicates: int) -> dict:
    med = statistics.median
    out = {
        "wall_s": med(r["wall_s"] for r in runs),
        "wall_s_all": [round(r["wall_s"], 3) for r in runs],
        "cpu_s": med(r["cpu_s"] for r in runs),
        "peak_rss_mb": med(r["peak_rss_mb"] for r in runs),
        "peak_rss_kind": runs[0]["peak_rss_kind"],
        "imports_s": med(imports),
    }
    out["requested_trials_per_s"] = replicates / out["wall_s"]
    phases = [r.get("timings") or {} for r in runs]
    keys = sorted({k for p in phases for k, v in p.items() if isinstance(v, (int, float))})
    out["manifest_timings"] = {k: med(p.get(k, 0) for p in phases) for k in keys}
    t = out["manifest_timings"]
    if "simulate_wall_s" in t:
        accounted = out["imports_s"] + t["simulate_wall_s"] + t.get("summaries_wall_s", 0.0)
        out["residual_s"] = out["wall_s"] - accounted
    return out


def bench_power(
    replicates: int = 1000,
    jobs: int = 2,
    repeats: int = 3,
    scenario: str | None = None,
    against: str | None = None,
    extra_args: list[str] | None = None,
) -> dict:
    """Time the quickstart power command end to end (see the module docstring).

    Parameters
    ----------
    replicates, jobs : the command's ``--replicates`` and ``--jobs``.
    repeats : runs per version (medians are reported).
    scenario : scenario file (default ``scenarios/published/sigtermans2009.yaml``).
    against : source checkout of another ketsim version to time in the same session.
    extra_args : further arguments passed to both versions' command.

    Returns
    -------
    dict
        ``current`` (and ``against``, ``ratios``) summaries, the command, the in-process chunk
        split, the machine's CPU count and load averages before and after.
    """

    path = Path(scenario).resolve() if scenario else _published("sigtermans2009.yaml").resolve()
    here = Path(__file__).resolve().parents[2]
    versions: dict[str, Path | None] = {"current": None}
    if against:
        old = Path(against).resolve()
        if not (old / "ketsim" / "__init__.py").is_file():
            raise ValueError(f"--against {against}: not a ketsim source checkout (no ketsim/)")
        versions["against"] = old
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {v: [] for v in versions}
    imports: dict[str, list[float]] = {v: [] for v in versions}
    with tempfile.TemporaryDirectory(prefix="ketsim-bench-power-") as tmp:
        for i in range(repeats):
            for name, src in versions.items():
                env = _env_for(src if src is not None else here)
                out = Path(tmp) / f"{name}-{i}"
                cmd = [sys.executable, "-m", "ketsim", "power", str(path)]
                cmd += ["--replicates", str(replicates), "--jobs", str(jobs), "--out", str(out)]
                cmd += list(extra_args or [])
                r = _run_once(cmd, env, tmp)
                man = out / "manifest.json"
                r["timings"] = json.loads(man.read_text())["timings_s"] if man.is_file() else {}
                r["report_written"] = (out / "report.html").is_file()
                runs[name].append(r)
                imports[name].append(_import_seconds(env, tmp))
    result: dict = {
        "benchmark": "power",
        "command": f"ketsim power {path.name} --replicates {replicates} --jobs {jobs}",
        "replicates": replicates,
        "jobs": jobs,
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "report_written": all(r["report_written"] for r in runs["current"]),
    }
    for name in versions:
        result[name] = _summary(runs[name], imports[name], replicates)
    result["chunk_split"] = _chunk_split(path)
    if against:
        cur, old = result["current"], result["against"]
        result["ratios"] = {
            "wall_speedup": old["wall_s"] / cur["wall_s"],
            "cpu_ratio": old["cpu_s"] / cur["cpu_s"],
            "memory_ratio": old["peak_rss_mb"] / cur["peak_rss_mb"],
        }
    return result


def format_bench_power(r: dict) -> str:
    """Human-readable lines of a :func:`bench_power` result."""
    lines = [
        f"{r['command']}  ({r['repeats']} runs, {r['cpu_count']} CPUs, load "
        f"{r['load_before'][0]:.2f} before / {r['load_after'][0]:.2f} after)"
    ]
    for name in ("current", "against"):
        if name not in r:
            continue
        s, t = r[name], r[name]["manifest_timings"]
        lines.append(
            f"  {name}: wall {s['wall_s']:.2f} s (runs {s['wall_s_all']}), "
            f"{s['requested_trials_per_s']:.0f} requested trials/s, CPU {s['cpu_s']:.1f} s, "
            f"peak {s['peak_rss_mb']:.0f} MB ({s['peak_rss_kind']})"
        )
        parts = [f"imports {s['imports_s']:.2f}"]
        if "simulate_wall_s" in t:
            parts.append(f"simulation pass {t['simulate_wall_s']:.2f}")
            for k, label in (
                ("main_worker_s", "main"),
                ("aux_worker_s", "aux cells"),
                ("truth_worker_s", "truth"),
            ):
                if k in t:
                    parts.append(f"{label} {t[k]:.2f} worker-s")
            parts.append(f"summaries+tables {t.get('summaries_wall_s', 0):.2f}")
            parts.append(f"rest (load, report, exit) {s['residual_s']:.2f}")
        elif "wall_s" in t:
            parts.append(f"engine {t['wall_s']:.2f}")
        lines.append("    phases (s): " + ", ".join(parts))
    c = r["chunk_split"]
    tot = c["simulate_s"] + c["analyse_s"]
    lines.append(
        f"  one in-process chunk of {c['replicates']}: simulate {c['simulate_s']:.2f} s "
        f"({100 * c['simulate_s'] / tot:.0f}%), analyse {c['analyse_s']:.2f} s"
    )
    if "ratios" in r:
        q = r["ratios"]
        lines.append(
            f"  against the other version: {q['wall_speedup']:.2f}x faster wall, "
            f"{q['cpu_ratio']:.2f}x less CPU, {q['memory_ratio']:.2f}x less peak memory"
        )
    return "\n".join(lines)
