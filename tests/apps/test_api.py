"""The curated public API (``ketsim.__all__``) and the README's Python example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import ketsim

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_resolves_and_is_listed():
    for name in ketsim.__all__:
        assert getattr(ketsim, name) is not None, name
    assert set(ketsim.__all__) <= set(dir(ketsim))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ketsim.nope  # noqa: B018


def test_import_is_light():
    """``import ketsim`` loads neither mesa nor pandas (names load on first use)."""
    code = "import ketsim, sys; print('mesa' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- python-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README.md lost its <!-- python-example --> block"
    return m.group(1)


def test_readme_python_example_runs(tmp_path):
    """The README example runs as written, from a directory laid out like the repository."""
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios", target_is_directory=True)
    out = subprocess.run(
        [sys.executable, "-c", _readme_example()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    # the trial summary, the power table and the report line, with the override applied
    assert "psychotomimetic_pct" in out.stdout and "mc_se" in out.stdout
    assert out.stdout.strip().endswith("antagonist")
    report = tmp_path / "runs" / "api-example" / "report.html"
    assert report.is_file() and report.stat().st_size > 10_000
