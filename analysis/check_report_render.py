"""Render a run's report.html in headless Chromium and save a screenshot (a manual check).

Usage::

    python analysis/check_report_render.py RUN_DIR [--out shot.png] [--height 9000]

Needs the Debian package ``chromium``. Prints the screenshot's path and the share of non-white
pixels (a blank or broken page shows ~0). ``tests/apps/test_report.py`` runs the same check when
Chromium is installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", default="report-screenshot.png")
    p.add_argument("--height", type=int, default=9000)
    args = p.parse_args(argv)
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        print("check_report_render: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    report = Path(args.run_dir) / "report.html"
    if not report.is_file():
        print(
            f"check_report_render: {report} not found (run: ketsim report RUN_DIR)", file=sys.stderr
        )
        return 2
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--screenshot={args.out}",
        f"--window-size=1200,{args.height}",
        report.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    from PIL import Image

    im = Image.open(args.out).convert("L")
    hist = im.histogram()
    print(
        f"{args.out}: {im.size[0]}x{im.size[1]}, non-white share {sum(hist[:200]) / sum(hist):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
