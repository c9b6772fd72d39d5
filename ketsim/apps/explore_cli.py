"""``ketsim explore FILE``: serve the interactive trial explorer (:mod:`ketsim.apps.explorer`).

This module stays light (no mesa, no solara at import) so that the command line can register the
subcommand cheaply; the server runs ``solara run ketsim.apps.explorer`` in a child process with
the scenario
path in :data:`ketsim.apps.explorer.SCENARIO_ENV`, waits until the page is served, prints its URL
and stops
the child on Ctrl-C (or SIGTERM).

Exit codes follow :mod:`ketsim.apps.cli`: 0 after a clean stop, 1 when the optional dependencies are
missing or the server cannot start, 2 for bad input (invalid scenario, bad port).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "add_explore_parser",
    "cmd_explore",
    "main",
    "missing_dependencies",
    "serve",
]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
#: the scenario file the served page explores (same name as ketsim.apps.explorer.SCENARIO_ENV)
SCENARIO_ENV = "KETSIM_EXPLORE_SCENARIO"
INSTALL_HINT = (
    'ketsim explore needs the optional explorer dependencies: pip install "ketsim[explore]"'
)
#: seconds to wait for the server to answer before giving up
START_TIMEOUT_S = 90.0


def missing_dependencies() -> list[str]:
    """The optional packages the explorer needs that cannot be imported (solara, altair)."""
    missing = []
    for name in ("solara", "altair"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def add_explore_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``ketsim explore FILE`` to an argparse sub-parser set (``func`` = handler)."""
    p = subparsers.add_parser(
        "explore",
        help="interactive explorer of one simulated trial in the browser (mesa SolaraViz)",
        description="Serve a page that steps one simulated trial of FILE day by day, with "
        "controls, live plots and a patient inspector. Needs: pip install 'ketsim[explore]'. "
        "Stop with Ctrl-C.",
    )
    _arguments(p)
    p.set_defaults(func=cmd_explore)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="scenario YAML with 'arms' (a trial)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free one)"
    )
    p.add_argument(
        "--no-browser", action="store_true", help="do not open a web browser on the page"
    )


def _free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _port_in_use(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port (None when it can)."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as s:
            # as uvicorn binds: a port in TIME_WAIT is free, a listening one is not
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as err:
        return err.strerror or str(err)
    return None


def _url(host: str, port: int) -> str:
    # a wildcard address is reached on the loopback address
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _wait_until_served(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Poll ``url`` until it answers (True), the child exits or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server child: SIGINT (uvicorn's graceful stop), then terminate, then kill."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0)):
        try:
            proc.send_signal(sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
    proc.kill()
    proc.wait()


class _Terminate(Exception):
    pass


def serve(path: str | Path, host: str, port: int, open_browser: bool = True) -> int:
    """Run the explorer server for the scenario at ``path`` until Ctrl-C or SIGTERM.

    Returns the exit code (0 after a clean stop, 1 if the server could not start).
    """
    if port == 0:
        port = _free_port(host)
    busy = _port_in_use(host, port)
    if busy:
        print(
            f"ketsim explore: cannot listen on {host}:{port} ({busy}); choose another --port",
            file=sys.stderr,
        )
        return EXIT_ERROR
    env = os.environ.copy()
    env[SCENARIO_ENV] = str(Path(path).resolve())
    # the child must import this very ketsim (a working tree, not another installed copy)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    # solara's usage statistics would be sent to a third-party server: off
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    # solara warns on every page load that is not on 'localhost' that cookies fall back to
    # samesite=lax: expected for a local http server, and noise in the terminal
    quiet = "ignore:Cookies with samesite=none require https:UserWarning"
    env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS"), quiet) if w)
    cmd = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "ketsim.apps.explorer",
        "--host",
        host,
        "--port",
        str(port),
        "--no-open",
        "--production",
        "--log-level",
        "warning",
    ]
    url = _url(host, port)

    def on_term(signum, frame):  # a SIGTERM stops the child too, never orphaning it
        raise _Terminate

    old = signal.signal(signal.SIGTERM, on_term)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    try:
        if not _wait_until_served(url, proc, START_TIMEOUT_S):
            code = proc.poll()
            why = f"exited with code {code}" if code is not None else "did not answer in time"
            print(f"ketsim explore: the server {why} (see the messages above)", file=sys.stderr)
            return EXIT_ERROR
        print(f"ketsim explore: {Path(path).name} at {url} (Ctrl-C to stop)", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        code = proc.wait()
        if code != 0:
            print(f"ketsim explore: the server stopped with code {code}", file=sys.stderr)
            return EXIT_ERROR
        return EXIT_OK
    except (KeyboardInterrupt, _Terminate):
        print("\nketsim explore: stopped", file=sys.stderr)
        return EXIT_OK
    finally:
        _stop(proc)
        signal.signal(signal.SIGTERM, old)


def cmd_explore(args: argparse.Namespace) -> int:
    """Handler of ``ketsim explore``: check the dependencies and the scenario, then serve."""
    if missing_dependencies():
        print(INSTALL_HINT, file=sys.stderr)
        return EXIT_ERROR
    if not 0 <= args.port <= 65535:
        print(f"ketsim explore: --port must be in 0-65535 (got {args.port})", file=sys.stderr)
        return EXIT_USAGE
    from ketsim.apps.common import load_trial_scenario

    if load_trial_scenario(args.file, "explore") is None:
        return EXIT_USAGE
    return serve(args.file, args.host, args.port, open_browser=not args.no_browser)


def main(argv: list[str] | None = None) -> int:
    """``python -m ketsim.apps.explorer FILE ...`` / ``python -m ketsim.apps.explore_cli FILE
    ...``."""
    p = argparse.ArgumentParser(
        prog="ketsim explore", description="Interactive explorer of one simulated trial."
    )
    _arguments(p)
    return cmd_explore(p.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
