"""The interactive explorer (ketsim.apps.explorer, ketsim.apps.explore_cli): the day-stepping
wrapper shows the
real model, controls rebuild valid scenarios (and name the control when they do not), patient
details, the command line without solara, and the served page in headless Chromium."""

from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ketsim.apps.explorer import (
    AE_SHOWN,
    ControlError,
    TrialExplorer,
    build_scenario,
    default_values,
    figure_ae,
    figure_nrs,
    figure_patient_diary,
    figure_patients,
    figure_titration,
    model_params,
    patient_detail,
    scenario_controls,
    settings_lines,
)
from ketsim.config.scenario import load_scenario, parse_scenario
from ketsim.sim.trial import simulate_trial

ROOT = Path(__file__).resolve().parents[2]
SIG = ROOT / "scenarios/published/sigtermans2009.yaml"
CROSSOVER = ROOT / "scenarios/designs/pickering_style_crossover.yaml"
EERW = ROOT / "scenarios/designs/eerw_ketamine_infusion.yaml"


@pytest.fixture(scope="module")
def sig():
    return load_scenario(SIG)


@pytest.fixture(scope="module")
def small(sig):
    """Sigtermans 2009 with 10 patients per arm (a fast trial)."""
    return build_scenario(sig, {"arm0_n": 10, "arm1_n": 10})


def _reference_daily(res) -> pd.Series:
    """Arm x day mean NRS from simulate_trial's diary (missing days skipped)."""
    d = res.diary.dropna(subset=["nrs"])
    return d.groupby(["arm", "day"], observed=True)["nrs"].mean()


def _explorer_daily(ex: TrialExplorer) -> pd.Series:
    df = ex.arm_daily_nrs().dropna(subset=["mean_nrs"])
    return df.set_index(["arm", "day"])["mean_nrs"]


# -- the wrapper shows the real model ----------------------------------------------------------
def test_day_by_day_equals_simulate_trial(small):
    """Stepping day by day gives, on every day so far, exactly simulate_trial's arm means for the
    same scenario and seed, and at the end the same per-patient diary."""
    ex = TrialExplorer(base=small)
    assert ex.error is None and ex.n_patients == 20 and ex.day == 0
    ref = _reference_daily(simulate_trial(small))
    res = simulate_trial(small)
    for day in (1, 2, 7, 30):
        while ex.day < day:
            ex.step()
        got = _explorer_daily(ex)
        want = ref[ref.index.get_level_values("day") <= day]
        assert got.index.equals(want.index)
        np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    ex.run_to_end()
    assert ex.day == ex.n_days == 84 and not ex.running and ex.steps == 84
    got = _explorer_daily(ex)
    np.testing.assert_array_equal(got.loc[ref.index].to_numpy(), ref.to_numpy())
    np.testing.assert_array_equal(ex.nrs, res.arrays.nrs)
    # AE counts and dropouts agree with the trial's patient table
    counts = ex.ae_counts().set_index("arm")
    p = res.patients
    for arm, g in p.groupby("arm", observed=True):
        assert counts.loc[arm, "psychotomimetic"] == g["ae_psychotomimetic"].sum()
        assert counts.loc[arm, "nausea"] == g["ae_nausea"].sum()
        assert counts.loc[arm, "discontinued"] == g["discontinued"].sum()
        assert counts.loc[arm, "dropout"] == g["dropped_out"].sum()


@pytest.mark.parametrize("path", [CROSSOVER, EERW], ids=["crossover", "eerw"])
def test_other_designs_end_with_simulate_trial_means(path):
    """Crossover (sequences) and EERW (randomised after the run-in) label patients as the
    trial's tables do, so the final daily means match too."""
    sc = load_scenario(path)
    ex = TrialExplorer(base=sc)
    assert ex.error is None
    if sc.design.type == "enrichment":
        assert ex.arm_labels()[0] == ["run-in"]
    ex.run_to_end()
    ref = _reference_daily(simulate_trial(sc))
    got = _explorer_daily(ex)
    np.testing.assert_array_equal(got.loc[ref.index].to_numpy(), ref.to_numpy())


def test_event_series_cover_the_infusion(small):
    """Concentrations, sensitization and nominal rates are kept at every event: during the
    titrated infusion the rates step by the titration step."""
    ex = TrialExplorer(base=small)
    for _ in range(5):
        ex.step()
    e = ex.n_events
    assert e > 5 * 2  # checks every 2 h by day during the infusion
    assert np.all(np.diff(ex.event_h[:e]) >= 0)
    tm = ex.trial
    ket = tm.arm == 0
    assert np.nanmax(ex.cp[:e, ket]) > 50  # ng/mL during a 1.2-7.2 µg/kg/min infusion
    assert np.all(ex.cp[:e, ~ket] == 0)  # placebo: saline
    steps = ex.rate[:e] / (tm.pop.weight_kg[None, :] * 0.06)  # µg/kg/min
    levels = np.unique(np.round(steps[steps > 0], 6))
    np.testing.assert_allclose(levels, 1.2 * np.round(levels / 1.2), atol=1e-6)
    assert np.all(ex.sens[:e] >= 0) and np.all(ex.sens[:e] <= 1)


# -- controls -> scenario ------------------------------------------------------------------------
def test_controls_of_sigtermans(sig):
    keys = {c.key: c for c in scenario_controls(sig)}
    assert keys["arm0_n"].value == 30 and keys["arm0_n"].kind == "SliderInt"
    assert keys["arm0_reg0_rate"].value == pytest.approx(1.2)
    assert "µg/kg/min" in keys["arm0_reg0_rate"].label
    assert keys["arm0_reg0_hours"].value == 100.0
    assert keys["arm0_reg0_max_rate"].value == pytest.approx(7.2)
    assert keys["seed"].value == "20090304" and keys["seed"].kind == "InputText"
    assert keys["switch_functional_unblinding"].kind == "Checkbox"
    assert keys["switch_cyp2b6_effect"].values == ("in_vitro", "null")
    assert keys["switch_norketamine_analgesia"].kind == "Select"
    params = model_params(sig)
    assert params["base"] is sig  # fixed parameter: travels unchanged to the model on Reset
    assert params["arm0_reg0_rate"]["type"] == "SliderFloat"
    assert params["arm0_reg0_rate"]["min"] == 0.0 and params["arm0_reg0_rate"]["max"] >= 6


def test_default_controls_rebuild_the_scenario(sig):
    """Untouched controls give back the scenario (no unit round trip)."""
    sc = build_scenario(sig, default_values(sig))
    drop = {"expected", "sweep"}
    assert sc.model_dump(exclude=drop) == sig.model_dump(exclude=drop)


def test_changed_controls_rebuild_a_valid_scenario(sig):
    values = default_values(sig) | {
        "arm0_reg0_rate": 2.4,
        "arm0_reg0_hours": 48.0,
        "arm0_reg0_max_rate": 4.8,
        "arm1_n": 12,
        "seed": " 77 ",
        "switch_norketamine_analgesia": "conventional",
        "switch_sex_effect_on_clearance": False,
    }
    sc = build_scenario(sig, values)
    reg = sc.arms[0].regimens[0]
    assert reg.rate.per_kg and reg.rate.value == pytest.approx(2.4 * 0.06)
    assert reg.duration == 48.0
    assert reg.titration.max_rate.value == pytest.approx(4.8 * 0.06)
    assert reg.titration.step == sig.arms[0].regimens[0].titration.step
    assert sc.arms[1].n == 12 and sc.seed == 77
    assert sc.switches.norketamine_analgesia == "conventional"
    assert not sc.switches.sex_effect_on_clearance
    ex = TrialExplorer(base=sig, **values)
    assert ex.error is None and ex.n_patients == 42
    assert any("titrated up to 4.8 µg/kg/min" in line for line in settings_lines(sc))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"arm0_reg0_hours": 0.0}, "ketamine: infusion hours: must be > 0 h (got 0 h)"),
        ({"arm0_reg0_rate": 0.0}, "ketamine: rate (µg/kg/min): must be > 0"),
        ({"seed": "abc"}, "seed: must be a whole number >= 0 (got 'abc')"),
        ({"seed": "-3"}, "seed: must be a whole number >= 0"),
        ({"arm1_n": None}, "placebo: patients: not a number (got None)"),
        ({"nonsense": 1}, "unknown control(s): nonsense"),
        (
            {"switch_cyp2b6_effect": "maybe"},
            "switch: CYP2B6 genotype effect on clearance: must be one of",
        ),
    ],
)
def test_invalid_controls_give_readable_messages(sig, change, expected):
    """Bad values raise ControlError naming the control; the explorer keeps the message, does
    not raise, and has nothing to step or draw."""
    with pytest.raises(ControlError) as err:
        build_scenario(sig, default_values(sig) | change)
    assert any(expected in line for line in err.value.problems), err.value.problems
    ex = TrialExplorer(base=sig, **(default_values(sig) | change))
    assert ex.trial is None and not ex.running
    assert any(expected in line for line in ex.error)
    ex.step()  # a no-op, not an error
    assert ex.day == 0
    for fig in (figure_nrs(ex), figure_patients(ex), figure_titration(ex), figure_ae(ex)):
        fig.savefig(io.BytesIO(), format="png")


def test_overlapping_sessions_name_the_regimen():
    """A cross-field problem (repeated infusions overlapping) names the arm's regimen."""
    sc = parse_scenario(
        {
            "name": "sessions",
            "arms": [
                {
                    "name": "ket",
                    "n": 4,
                    "regimens": [
                        {
                            "route": "iv_infusion",
                            "rate": "0.5 mg/kg/h",
                            "duration": "4 h",
                            "repeats": 5,
                            "interval": "24 h",
                        }
                    ],
                },
                {"name": "pbo", "n": 4, "treatment": "placebo", "regimens": ["20 mg/h over 4h"]},
            ],
            "trial": {"weeks": 2},
            "seed": 1,
        }
    )
    keys = {c.key for c in scenario_controls(sc)}
    assert {"arm0_reg0_repeats", "arm0_reg0_rate", "arm1_reg0_rate"} <= keys
    sc2 = build_scenario(sc, {"arm0_reg0_repeats": 8})
    assert sc2.arms[0].regimens[0].repeats == 8
    with pytest.raises(ControlError) as err:
        build_scenario(sc, {"arm0_reg0_hours": 30.0})
    (line,) = err.value.problems
    assert line.startswith("ket regimen: ") and "arms[0].regimens[0]" in line
    assert "shorter than 'duration'" in line


def test_crossover_and_eerw_patient_controls():
    xo = load_scenario(CROSSOVER)
    keys = {c.key: c for c in scenario_controls(xo)}
    assert keys["patients"].value == 4 and "sequence" in keys["patients"].label
    assert "arm0_n" not in keys  # crossovers size their sequences
    assert "arm1_reg0_amount" in keys and keys["arm1_reg0_amount"].value == 0.5
    assert build_scenario(xo, {"patients": 2}).design.crossover.n_per_sequence == 2
    eerw = load_scenario(EERW)
    assert build_scenario(eerw, {"patients": 40}).design.enrichment.n == 40


def test_scenario_file_path_and_missing_base(tmp_path):
    ex = TrialExplorer(base=str(SIG), arm0_n=3, arm1_n=3)
    assert ex.error is None and ex.n_patients == 6
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\narms: []\n")
    assert TrialExplorer(base=bad).error
    assert TrialExplorer().error == ["no scenario to explore"]


# -- patient details -----------------------------------------------------------------------------
def test_patient_detail(small):
    ex = TrialExplorer(base=small)
    for _ in range(6):
        ex.step()
    tm = ex.trial
    i = int(np.flatnonzero(tm.arm == 0)[0])  # a ketamine patient
    det = patient_detail(ex, i)
    assert det.label == f"P{i:03d} · ketamine"
    assert list(det.sections) == ["patient", "genotype", "covariates", "latent traits", "now"]
    geno = det.sections["genotype"]
    assert geno["cyp2b6"] == tm.pop.cyp2b6[i] and {"cyp3a4", "cyp3a5", "cyp2c9"} <= set(geno)
    cov = det.sections["covariates"]
    assert cov["weight (kg)"] == pytest.approx(tm.pop.weight_kg[i])
    assert cov["sex"] in ("female", "male")
    assert det.sections["latent traits"]["ketamine responder"] == bool(tm.responder[i])
    assert det.sections["now"]["day"] == pytest.approx(6.0)
    # the diary so far: 7 baseline days and 6 treatment days, observed as in the trial's tables
    assert list(det.diary["day"]) == [*range(-6, 1), *range(1, 7)]
    res = simulate_trial(small)
    ref = res.diary[(res.diary["patient"] == i) & (res.diary["day"] <= 6)]
    np.testing.assert_array_equal(det.diary["nrs"].to_numpy(), ref["nrs"].to_numpy())
    # titration: the nominal rate changed at the checks of the first day
    rates = det.events[det.events["event"] == "rate_mg_h"]
    assert len(rates) >= 3 and rates["time_h"].iloc[0] == 0.0
    with pytest.raises(ValueError, match="does not exist"):
        patient_detail(ex, 99)


def test_figures_draw(small):
    ex = TrialExplorer(base=small)
    for _ in range(3):
        ex.step()
    for fig in (
        figure_nrs(ex),
        figure_patients(ex, 0),
        figure_titration(ex, 0),
        figure_ae(ex),
        figure_patient_diary(ex, 0),
    ):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.tell() > 1000
    summary = ex.arm_summary()
    assert list(summary["arm"]) == ["ketamine", "placebo"]
    assert set(AE_SHOWN) | {"dropout", "in_study", "nrs_today"} <= set(summary.columns)


# -- command line without solara -----------------------------------------------------------------
def test_imports_stay_light():
    """`import ketsim.apps.explorer` needs no solara; the CLI module does not even import mesa."""
    code = (
        "import sys, ketsim.apps.explorer, ketsim.apps.explore_cli; "
        "assert 'solara' not in sys.modules, 'solara imported'; "
        "import importlib; del sys.modules['ketsim.apps.explore_cli']; "
        "[sys.modules.pop(m) for m in list(sys.modules) if m.startswith(('mesa', 'ketsim'))]; "
        "import ketsim.apps.explore_cli; assert 'mesa' not in sys.modules, 'mesa imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_explore_without_solara_says_how_to_install(monkeypatch, capsys):
    from ketsim.apps import explore_cli

    monkeypatch.setitem(sys.modules, "solara", None)  # import solara -> ImportError
    assert explore_cli.missing_dependencies()[0] == "solara"
    assert explore_cli.main([str(SIG), "--no-browser"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "ketsim[explore]"' in err[0]


def test_explore_rejects_bad_input(monkeypatch, capsys, tmp_path):
    from ketsim.apps import explore_cli

    monkeypatch.setattr(explore_cli, "missing_dependencies", lambda: [])
    monkeypatch.setattr(explore_cli, "serve", lambda *a, **k: pytest.fail("must not serve"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\narms:\n  - {name: a, n: 0, regimens: ['20 mg/h over 4h']}\n")
    assert explore_cli.main([str(bad)]) == 2
    assert f"{bad}: arms[0].n: " in capsys.readouterr().err
    pk = ROOT / "scenarios/examples/sigtermans_infusion_pk.yaml"
    assert explore_cli.main([str(pk)]) == 2
    assert "'ketsim explore' runs a trial" in capsys.readouterr().err
    assert explore_cli.main([str(SIG), "--port", "70000"]) == 2


def test_add_explore_parser():
    import argparse

    from ketsim.apps.explore_cli import add_explore_parser, cmd_explore

    p = argparse.ArgumentParser(prog="ketsim")
    add_explore_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["explore", "x.yaml", "--port", "9000", "--no-browser"])
    assert (args.file, args.host, args.port, args.no_browser) == ("x.yaml", "127.0.0.1", 9000, True)
    assert args.func is cmd_explore


# -- the page in a real browser ------------------------------------------------------------------
def _browser_requirements() -> str | None:
    """Why the browser test cannot run here (None when it can)."""
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed"
    for mod, why in (
        ("solara", "solara is not installed (pip install 'ketsim[explore]')"),
        ("altair", "altair is not installed (pip install 'ketsim[explore]')"),
        ("playwright", "playwright is not installed (pip install playwright)"),
        ("solara_assets", "solara-assets is not installed: the page's scripts would need a CDN"),
    ):
        if importlib.util.find_spec(mod) is None:
            return why
    return _missing_page_scripts()


def _missing_page_scripts() -> str | None:
    """The server proxies the page's scripts from a local cache (solara-assets); a solara newer
    than the installed solara-assets asks for versions the cache lacks, which would then have to
    come from a CDN."""
    import ipyvue
    import solara

    name = "solara-vuetify3-app" if ipyvue.__version__.startswith("3") else "solara-vuetify-app"
    template = Path(solara.__file__).parent / "server" / "templates" / "solara.html.j2"
    m = re.search(rf"@widgetti/{name}@([\d.]+)", template.read_text(encoding="utf-8"))
    # solara's settings.assets.proxy_cache_dir, without importing the server (it writes ~/.solara)
    user = site.getuserbase()
    prefix = user if user and solara.__file__.startswith(user) else sys.prefix
    default = Path(prefix) / "share" / "solara" / "cdn"
    cache = Path(os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR", default))
    if m and not (cache / "@widgetti" / f"{name}@{m.group(1)}").is_dir():
        return f"solara-assets lacks {name}@{m.group(1)}, which this solara's page loads"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def explorer_server(tmp_path):
    """`python -m ketsim.apps.explorer sigtermans2009.yaml --port P` until it serves; its URL."""
    why = _browser_requirements()
    if why:
        pytest.skip(why)
    port = _free_port()
    env = os.environ.copy()
    # every asset must come from the local solara-assets cache: a miss fails here, it never
    # reaches out to a CDN
    env["SOLARA_ASSETS_CDN"] = "http://127.0.0.1:9/"
    log = (tmp_path / "server.log").open("w")  # closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ketsim.apps.explorer",
            str(SIG),
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the solara child is stopped with it
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {(tmp_path / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not answer within 180 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # ketsim explore stops its solara child on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


#: upper bound of every wait for page state in the browser test (a busy 2-core machine can take
#: tens of seconds to answer a click; the test waits for state, never for a fixed time)
STATE_TIMEOUT_MS = 180_000


def _shows(page, text: str, within_ms: int = 10_000) -> bool:
    """Whether ``text`` appears on the page within ``within_ms``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for(timeout=within_ms)
    except PlaywrightTimeout:
        return False
    return True


def _until(condition, message: str, limit_s: float = STATE_TIMEOUT_MS / 1000) -> None:
    """Poll ``condition()`` until it is true; fail with ``message`` after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def test_page_in_headless_chromium(explorer_server, tmp_path):
    """Load the page, change controls (seed and n per arm), Reset, Step, and see the plots and
    numbers change; an invalid seed shows a message, not a traceback."""
    from playwright.sync_api import expect, sync_playwright

    t0 = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            # every wait below is for page state, bounded only by this generous limit, so a busy
            # machine makes the test slower, not red
            page.set_default_timeout(STATE_TIMEOUT_MS)
            page.goto(explorer_server)
            step = page.get_by_role("button", name="Step")
            step.wait_for()
            # expect() polls the page until the state holds (its own default limit is 5 s)
            expect(page).to_have_title(
                re.compile("ketsim explorer · sigtermans2009"), timeout=STATE_TIMEOUT_MS
            )
            page.get_by_text("Model Parameters").wait_for()
            # (vuetify's slider thumb has no box of its own: attached, not "visible")
            page.get_by_role("slider", name="ketamine: patients").wait_for(state="attached")
            nrs_img = page.locator(".ketsim-nrs img")
            nrs_img.wait_for()
            page.locator(".ketsim-ae img").wait_for()
            overview = page.locator(".ketsim-overview")
            expect(overview).to_contain_text("60 patients, seed 20090304", timeout=STATE_TIMEOUT_MS)
            # every slider shows its value without being dragged
            thumb = page.get_by_role("slider", name="ketamine: patients").locator(
                ".v-slider__thumb-label"
            )
            expect(thumb).to_be_visible()
            expect(thumb).to_have_text("30")
            # switches carry words, not scenario keys
            expect(page.get_by_text("switch: women clear ketamine 20% faster")).to_be_visible()
            expect(page.get_by_text("switch: sex effect on clearance")).to_have_count(0)
            # the summary's headers are whole and its table fits inside its panel
            summary = page.locator(".ketsim-summary")
            expect(summary).to_contain_text("mean infusion rate now (mg/h)")
            expect(summary).to_contain_text("psychotomimetic effects (patients)")
            panel_box = overview.bounding_box()
            table_box = summary.locator("table").bounding_box()
            assert table_box["x"] + table_box["width"] <= panel_box["x"] + panel_box["width"] + 1

            # change controls: the seed (text, sent on Enter) and the ketamine arm's n (slider,
            # 10 steps down with the keyboard), then Reset rebuilds the trial from them
            seed = page.get_by_label("seed")
            seed.fill("12345")
            seed.press("Enter")
            slider = page.get_by_role("slider", name="ketamine: patients")
            slider.focus()
            for _ in range(10):
                slider.press("ArrowLeft")
            expect(slider).to_have_attribute("aria-valuenow", "20", timeout=STATE_TIMEOUT_MS)
            expect(thumb).to_have_text("20")
            # the slider's value reaches the server asynchronously: press Reset until the rebuilt
            # trial shows the new controls (state, not a fixed sleep)
            _until(
                lambda: (
                    page.get_by_role("button", name="Reset").click()
                    or _shows(page, "50 patients, seed 12345")
                ),
                "Reset did not rebuild the trial with the changed controls",
            )
            page.get_by_text("day 0 of 84").wait_for()
            before = nrs_img.screenshot()
            summary_before = page.locator(".ketsim-summary").inner_text()

            # step three days: the day counter, the summary table and the NRS plot change
            for day in (1, 2, 3):
                step.click()
                page.get_by_text(f"day {day} of 84").wait_for()
            _until(lambda: nrs_img.screenshot() != before, "the NRS plot did not change")
            _until(
                lambda: page.locator(".ketsim-summary").inner_text() != summary_before,
                "the summary table did not change",
            )
            # select a patient by clicking its tile: the patient panel shows it
            page.locator(".ketsim-tile", has_text="7").first.click()
            page.get_by_text("P007 ·").first.wait_for()

            shot = tmp_path / "explorer.png"
            page.screenshot(path=str(shot), full_page=True)

            # an invalid control value: a readable message in the page, no traceback
            seed.fill("abc")
            seed.press("Enter")
            # as above: press Reset until the rebuilt (invalid) trial shows its message
            _until(
                lambda: (
                    page.get_by_role("button", name="Reset").click()
                    or _shows(page, "seed: must be a whole number >= 0 (got 'abc')")
                ),
                "Reset did not show the invalid seed's message",
            )
            page.locator(".ketsim-error-line").first.wait_for()
            assert "Traceback" not in page.locator("body").inner_text()
        finally:
            browser.close()
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] > 500 and img.shape[1] > 500
    assert img[..., :3].std() > 0.05  # not blank
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 100
    print(f"browser test: {time.monotonic() - t0:.1f} s")
