"""Session assessments: readings timed by the dosing sessions, their scales, noise and endpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ketsim.analysis.analyses import alternative_for, analyse_trials
from ketsim.analysis.endpoints import compute_endpoint
from ketsim.config.scenario import ScenarioError, load_scenario, parse_scenario
from ketsim.core.pd import diary
from ketsim.sim.assessments import sessions_of
from ketsim.sim.trial_model import TrialModel

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "scenarios/designs/session_assessments.yaml"

#: 15 min after the start, the end of the 40-min infusion, 180 min after it (h)
OFFSETS_H = (0.25, 40 / 60, 40 / 60 + 3.0)


def _scenario(n: int = 25, noise_sd: float | None = 0.0, **extra):
    """Ketamine vs placebo, one 40-min infusion; NRS 15 min after start, at its end and 180 min
    after it, plus VAS and % relief readings every 10 min."""
    sd = {} if noise_sd is None else {"noise_sd": noise_sd}
    data = {
        "name": "assess",
        "arms": [
            {"name": "ketamine", "n": n, "regimens": ["0.5 mg/kg over 40min"]},
            {
                "name": "placebo",
                "n": n,
                "treatment": "placebo",
                "regimens": ["0.5 mg/kg over 40min"],
            },
        ],
        "trial": {"weeks": 1},
        "assessments": [
            {"name": "start15", "times": ["15 min"], **sd},
            {"name": "after", "relative_to": "end", "times": ["0 min", "180 min"], **sd},
            {"name": "vas", "every": "10 min", "scale": "vas", **sd},
            {"name": "relief", "every": "10 min", "scale": "percent_relief", **sd},
        ],
        "endpoints": [
            {"name": "rel_end", "type": "session_relief", "assessment": "after", "time": "0 min"},
            {"name": "peak", "type": "peak_session_relief", "assessment": "relief"},
            {"name": "peak_nrs", "type": "peak_session_relief", "assessment": "after"},
            {"name": "nrs15", "type": "session_score", "assessment": "start15", "time": "15 min"},
        ],
        "analyses": [
            {"endpoint": "rel_end", "method": "t_test"},
            {"endpoint": "peak", "method": "wilcoxon"},
            {"endpoint": "nrs15", "method": "ancova"},
        ],
    }
    data.update(extra)
    return parse_scenario(data)


def _post(tab, name):
    return tab[(tab["name"] == name) & ~tab["pre"]]


def test_expected_at_readings_is_the_diary_read_at_that_clock_time():
    # the old workaround (issue 17): move trial.diary_hour so that day 1's diary falls on the
    # reading; that independent path must give the same expected pain for every patient
    res = TrialModel(_scenario(), 3, (0,)).result()
    tab = res.assessments
    readings = [
        _post(tab, "start15"),
        _post(tab, "after").query("offset_min == 0"),
        _post(tab, "after").query("offset_min == 180"),
    ]
    for off, got in zip(OFFSETS_H, readings, strict=True):
        assert np.allclose(got["time_h"], off, atol=1e-12)
        moved = _scenario(
            assessments=[],
            endpoints=[],
            analyses=[],
            trial={"weeks": 1, "start_hour": 8.0, "diary_hour": 8.0 + off},
        )
        d = TrialModel(moved, 3, (0,)).result().diary
        day1 = d[d["day"] == 1].set_index("patient")["expected_nrs"]
        assert len(got) == len(day1) == 50
        np.testing.assert_allclose(
            got.set_index("patient")["expected_nrs"].sort_index(), day1.sort_index(), atol=1e-9
        )
    # the ketamine arm has relief at the end of the infusion; saline does not move the drug part
    end = readings[1].groupby("arm", observed=True)["expected_nrs"].mean()
    pre = tab[tab["pre"] & (tab["name"] == "after")].groupby("arm", observed=True)
    assert end["ketamine"] < pre["expected_nrs"].mean()["ketamine"] - 0.5


def test_expected_equals_model_pain_at_the_reading_times():
    m = TrialModel(_scenario(n=6), 5, (0,))
    want = {}
    while m.running:
        m.step()
        if m.time_h in (0.0, *OFFSETS_H[:1]):
            want[m.time_h] = m._pain(m.time_h).copy()
    tab = m.result().assessments
    for t, pain in want.items():
        got = tab[(tab["name"] == "start15") & np.isclose(tab["time_h"], t)]
        np.testing.assert_array_equal(got.sort_values("patient")["expected_nrs"], pain)


def test_scales_without_noise_map_exactly():
    res = TrialModel(_scenario(), 7, (0,)).result()
    tab = res.assessments
    mu = tab["expected_nrs"].to_numpy()
    nrs = tab[tab["scale"] == "nrs"]
    x = nrs["expected_nrs"].to_numpy()
    assert np.array_equal(nrs["value"], np.floor(x) + (x - np.floor(x) >= 0.5))
    vas = tab["scale"] == "vas"
    np.testing.assert_allclose(tab.loc[vas, "value"], 10.0 * mu[vas], rtol=0, atol=1e-12)
    # % relief = 100 (1 - pain / pre-session pain), the pre reading being the session's start
    rel = tab[tab["scale"] == "percent_relief"].set_index(["patient", "session", "time_h"])
    pre = rel.xs(0.0, level="time_h")["expected_nrs"]
    ref = 100 * (1 - rel["expected_nrs"] / pre.reindex(rel.index.droplevel("time_h")).to_numpy())
    np.testing.assert_allclose(rel["value"], ref, atol=1e-9)
    np.testing.assert_array_equal(rel["relief_pct"], rel["value"])
    # relief on an NRS assessment is computed from the recorded integers
    after = tab[tab["name"] == "after"].set_index(["patient", "pre"])
    p0 = after.xs(True, level="pre")["value"]
    post = after.xs(False, level="pre")
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.where(p0[post.index] > 0, 100 * (1 - post["value"] / p0[post.index]), np.nan)
    np.testing.assert_allclose(post["relief_pct"], ref)


def test_noise_sd_and_its_default():
    sc = _scenario(n=150, noise_sd=0.5)
    res = TrialModel(sc, 11, (0,)).result()
    v = res.assessments[res.assessments["scale"] == "vas"]
    inner = v["expected_nrs"].between(2.5, 7.5)  # clipping at 0 and 10 is then > 5 SD away
    err = v.loc[inner, "value"] / 10.0 - v.loc[inner, "expected_nrs"]
    assert inner.sum() > 800
    assert abs(err.mean()) < 0.05
    assert err.std() == pytest.approx(0.5, rel=0.06)
    # without noise_sd: the diary's daily noise SD (the single-day ICC 0.65, Heapy 2014)
    m = TrialModel(_scenario(n=150, noise_sd=None), 11, (0,))
    want = diary.daily_noise_sd(sc.population.baseline_pain.sd, m.params)
    assert np.allclose(m.assess.sd, want)
    v = m.result().assessments
    v = v[(v["scale"] == "vas") & v["expected_nrs"].between(4.5, 5.5)]
    err = v["value"] / 10.0 - v["expected_nrs"]
    assert err.std() == pytest.approx(want, rel=0.12)  # clipped tails: a little below


def test_peak_is_at_least_every_reading_and_relief_endpoint_reads_the_table():
    sc = _scenario(n=40, noise_sd=1.0)
    res = TrialModel(sc, 13, (0, 1)).result()
    ta, tab = res.arrays, res.assessments
    eps = {e.name: e for e in sc.endpoints}
    peak = compute_endpoint(ta, eps["peak"], sc).value[:, 0]
    rel = _post(tab, "relief")
    mx = rel.groupby(["replicate", "patient"])["relief_pct"].max()
    key = list(zip(ta.replicate, ta.patient, strict=True))
    np.testing.assert_array_equal(peak, mx.reindex(key).to_numpy())
    # every single reading of the session is at most its peak
    row_peak = mx.reindex(list(zip(rel["replicate"], rel["patient"], strict=True))).to_numpy()
    ok = rel["relief_pct"].notna().to_numpy()
    assert ok.sum() > 300 and np.all(row_peak[ok] >= rel["relief_pct"].to_numpy()[ok])
    assert np.isfinite(peak).sum() == len(mx.dropna())
    end = compute_endpoint(ta, eps["rel_end"], sc).value[:, 0]
    at_end = _post(tab, "after").query("offset_min == 0").set_index(["replicate", "patient"])
    np.testing.assert_array_equal(end, at_end["relief_pct"].reindex(key).to_numpy())
    # the ANCOVA covariate of a session score is the pre-session reading
    d = compute_endpoint(ta, eps["nrs15"], sc)
    pre = tab[tab["pre"] & (tab["name"] == "start15")].set_index(["replicate", "patient"])
    np.testing.assert_array_equal(d.baseline, pre["value"].reindex(key).to_numpy())


def test_analyses_of_session_endpoints():
    sc = _scenario(n=30, noise_sd=None)
    res = TrialModel(sc, 17, (0, 1)).result()
    out = analyse_trials(res.arrays, sc)
    assert len(out) == 6 and out["estimate"].notna().all() and out["p_value"].notna().all()
    # ketamine relieves more than saline at the end of the infusion, and lowers the 15-min NRS
    est = out.groupby("endpoint")["estimate"].mean()
    assert est["rel_end"] > 10 and est["peak"] > 10 and est["nrs15"] < 0
    eps = {e.name: e for e in sc.endpoints}
    assert alternative_for(eps["rel_end"], 1) == "greater"
    assert alternative_for(eps["peak"], 1) == "greater"
    assert alternative_for(eps["nrs15"], 1) == "less"


def test_repeated_sessions_and_mean_over_sessions():
    arms = [
        {"name": "k", "n": 20, "regimens": ["0.5 mg/kg over 40min every 24h x3"]},
        {
            "name": "p",
            "n": 20,
            "treatment": "placebo",
            "regimens": ["0.5 mg/kg over 40min every 24h x3"],
        },
    ]
    eps = [
        {
            "name": "s2",
            "type": "session_relief",
            "assessment": "after",
            "time": "0 min",
            "session": 2,
        },
        {
            "name": "mean",
            "type": "session_relief",
            "assessment": "after",
            "time": "0 min",
            "session": "mean",
        },
    ]
    sc = _scenario(arms=arms, endpoints=eps, analyses=[])
    res = TrialModel(sc, 19, (0,)).result()
    tab = _post(res.assessments, "after").query("offset_min == 0")
    assert sorted(tab["session"].unique()) == [1, 2, 3]
    np.testing.assert_allclose(
        np.sort(tab["time_h"].unique()), [40 / 60 + 24 * k for k in range(3)], atol=1e-9
    )
    ta, e = res.arrays, {x.name: x for x in sc.endpoints}
    key = list(zip(ta.replicate, ta.patient, strict=True))
    s2 = tab[tab["session"] == 2].set_index(["replicate", "patient"])["relief_pct"]
    np.testing.assert_array_equal(compute_endpoint(ta, e["s2"], sc).value[:, 0], s2.reindex(key))
    mean = tab.groupby(["replicate", "patient"])["relief_pct"].mean()
    np.testing.assert_allclose(compute_endpoint(ta, e["mean"], sc).value[:, 0], mean.reindex(key))


def test_batching_does_not_change_readings():
    sc = _scenario(n=8, noise_sd=None)
    both = TrialModel(sc, 23, (0, 1)).result().assessments
    one = TrialModel(sc, 23, (1,)).result().assessments
    sel = both[both["replicate"] == 1].reset_index(drop=True)
    np.testing.assert_array_equal(sel["value"].to_numpy(), one["value"].to_numpy())
    np.testing.assert_array_equal(sel["expected_nrs"].to_numpy(), one["expected_nrs"].to_numpy())


def test_no_reading_after_leaving_the_study_or_stopping_treatment():
    reg = ["1 mg/kg over 40min every 24h x20"]
    arms = [
        {"name": "k", "n": 150, "regimens": reg},
        {"name": "p", "n": 150, "treatment": "placebo", "regimens": reg},
    ]
    sc = _scenario(arms=arms, endpoints=[], analyses=[], trial={"weeks": 3})
    res = TrialModel(sc, 29, (0,)).result()
    p = res.patients.set_index("patient")
    tab = res.assessments
    left = p["dropout_h"].reindex(tab["patient"]).to_numpy()
    assert np.all(~(tab["time_h"].to_numpy() > left))
    session_start = tab[tab["pre"]].set_index(["patient", "session", "name"])["time_h"]
    s0 = session_start.reindex(list(zip(tab.patient, tab.session, tab.name, strict=True)))
    stop = p["discontinued_h"].reindex(tab["patient"]).to_numpy()
    assert np.all(~(s0.to_numpy() > stop))
    # both happen here, so the rules above were exercised
    last = 24.0 * 19
    gone = p["dropout_h"] < last
    stopped = p["discontinued_h"] < last
    assert gone.sum() > 3 and stopped.sum() > 3
    n_sess = tab[tab["pre"] & (tab["name"] == "after")].groupby("patient").size()
    assert np.all(n_sess[gone[gone].index] < 20) and np.all(n_sess[stopped[stopped].index] < 20)
    assert (n_sess == 20).sum() > 100


def test_sessions_merge_overlapping_administrations():
    sc = _scenario(
        arms=[
            {
                "name": "k",
                "n": 2,
                "regimens": [
                    {"route": "iv_bolus", "amount": "0.1 mg/kg", "start": "1 h"},
                    {
                        "route": "iv_infusion",
                        "rate": "0.5 mg/kg/h",
                        "duration": "30 min",
                        "start": "1 h",
                    },
                    {
                        "route": "iv_infusion",
                        "rate": "0.2 mg/kg/h",
                        "duration": "2 h",
                        "start": "1.5 h",
                    },
                    {
                        "route": "iv_infusion",
                        "rate": "0.2 mg/kg/h",
                        "duration": "1 h",
                        "start": "30 h",
                    },
                ],
            },
            {"name": "p", "n": 2, "treatment": "placebo", "regimens": ["0.1 mg/kg iv"]},
        ],
        endpoints=[],
        analyses=[],
    )
    regs = sc.arms[0].regimens
    assert sessions_of(regs) == [(1.0, 3.5), (30.0, 31.0)]
    assert sessions_of(regs, 0) == [(1.0, 1.0)]
    assert sessions_of(sc.arms[1].regimens) == [(0.0, 0.0)]
    res = TrialModel(sc, 31, (0,)).result()
    tab = _post(res.assessments, "after")
    k = tab[tab["arm"] == "k"]
    np.testing.assert_allclose(np.sort(k["time_h"].unique()), [3.5, 6.5, 31.0, 34.0], atol=1e-9)
    # every 10 min during a bolus-only session: no reading, only the pre-session one
    assert _post(res.assessments, "vas").query("arm == 'p'").empty


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"assessments": [{"name": "a"}]}, "needs 'times' or 'every'"),
        ({"assessments": [{"name": "a", "times": ["0 min"]}]}, "> 0 after the start"),
        ({"assessments": [{"name": "a", "every": "5 min", "relative_to": "end"}]}, "relative_to"),
        (
            {"assessments": [{"name": "a", "times": ["1 h"]}, {"name": "a", "every": "1 h"}]},
            "names must be unique",
        ),
        (
            {
                "endpoints": [
                    {"name": "e", "type": "session_relief", "assessment": "zz", "time": "0 min"}
                ]
            },
            "unknown assessment",
        ),
        (
            {
                "endpoints": [
                    {"name": "e", "type": "session_relief", "assessment": "after", "time": "5 min"}
                ]
            },
            "not a reading",
        ),
        (
            {
                "endpoints": [
                    {"name": "e", "type": "session_score", "assessment": "relief", "time": "10 min"}
                ]
            },
            "use session_relief",
        ),
        (
            {
                "endpoints": [
                    {
                        "name": "e",
                        "type": "peak_session_relief",
                        "assessment": "vas",
                        "time": "10 min",
                    }
                ]
            },
            "does not take a 'time'",
        ),
        (
            {"endpoints": [{"name": "e", "type": "weekly_mean", "week": 1, "assessment": "vas"}]},
            "are for session endpoints",
        ),
    ],
)
def test_schema_rejects(patch, message):
    base = {"endpoints": [], "analyses": []}
    with pytest.raises(ScenarioError, match=message):
        _scenario(**{**base, **patch})


def test_design_scenario_validates_and_simulates():
    sc = load_scenario(DESIGN)
    res = TrialModel(sc, sc.seed, (0,)).result()
    tab = res.assessments
    assert set(tab["name"]) == {a.name for a in sc.assessments}
    out = analyse_trials(res.arrays, sc)
    assert len(out) == 4 and out["p_value"].notna().all()


def test_crossover_session_endpoint():
    sc = parse_scenario(
        {
            "name": "x",
            "arms": [
                {"name": "placebo", "treatment": "placebo", "regimens": ["0.5 mg/kg over 40min"]},
                {"name": "ketamine", "regimens": ["0.5 mg/kg over 40min"]},
            ],
            "design": {
                "type": "crossover",
                "crossover": {
                    "sequences": [["placebo", "ketamine"], ["ketamine", "placebo"]],
                    "n_per_sequence": 10,
                    "period_weeks": 1,
                    "washout_weeks": 1,
                },
            },
            "assessments": [{"name": "end", "relative_to": "end", "times": ["0 min"]}],
            "endpoints": [
                {"name": "r", "type": "session_relief", "assessment": "end", "time": "0 min"}
            ],
            "analyses": [{"endpoint": "r", "method": "crossover"}],
        }
    )
    res = TrialModel(sc, 37, (0,)).result()
    d = compute_endpoint(res.arrays, sc.endpoints[0], sc)
    assert d.value.shape == (20, 2) and np.isfinite(d.value).mean() > 0.8
    tab = _post(res.assessments, "end")
    assert sorted(tab["segment"].unique()) == [0, 1]
    out = analyse_trials(res.arrays, sc)
    assert out["estimate"].iloc[0] > 0
