"""Dosing as protocols write it, at the schema: caps and floors, per-patient distributions,
escalation steps, multiplicative titration at assessment times, and their shorthand."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ketsim.config.scenario import TitratedRegimenSpec
from ketsim.config.schema.regimen import DoseDistributionSpec
from ketsim.config.shorthand import ShorthandError, parse_regimen_shorthand
from ketsim.core.dose import DoseDistribution
from ketsim.sim.compile import compile_dosing, dose_distributions

W = np.array([50.0, 70.0, 100.0])


def _reg(**kw) -> TitratedRegimenSpec:
    return TitratedRegimenSpec.model_validate(kw)


def test_per_kg_rate_with_a_cap_and_a_floor():
    """0.35 mg/kg/h, at most 25 mg/h: 17.5, 24.5, (capped) 25 mg/h; a 20 mg/h floor lifts 50 kg."""
    (d,) = compile_dosing(
        [_reg(route="iv_infusion", rate="0.35 mg/kg/h", max="25 mg/h", duration=4)]
    )
    assert d.rate_mg_per_h(W).tolist() == [17.5, 24.5, 25.0]
    (d,) = compile_dosing(
        [_reg(route="iv_infusion", rate="0.35 mg/kg/h", max="25 mg/h", min="20 mg/h", duration=4)]
    )
    assert d.rate_mg_per_h(W).tolist() == [20.0, 24.5, 25.0]


def test_amount_over_a_duration_is_capped_as_an_amount():
    """0.5 mg/kg over 40 min, at most 40 mg: 25, 35, 40 mg, i.e. 37.5, 52.5, 60 mg/h."""
    r = _reg(route="iv_infusion", amount="0.5 mg/kg", max="40 mg", duration="40 min")
    (d,) = compile_dosing([r])
    assert d.rate_mg_per_h(W) == pytest.approx([37.5, 52.5, 60.0], rel=1e-15)
    (b,) = compile_dosing([_reg(route="oral", amount="1 mg/kg", max="60 mg", min="0.8 mg/kg")])
    assert b.amount_mg(W).tolist() == [50.0, 60.0, 60.0]


def test_absolute_rate_with_a_per_kg_cap():
    (d,) = compile_dosing(
        [_reg(route="iv_infusion", rate="30 mg/h", max="0.5 mg/kg/h", duration=1)]
    )
    assert d.rate_mg_per_h(W).tolist() == [25.0, 30.0, 30.0]


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(rate="0.35 mg/kg/h", max="25 mg"), "must be a rate"),
        (dict(rate="0.35 mg/kg/h", max="10 mg/h", min="20 mg/h"), "must not exceed"),
        (dict(rate="0.3-0.1 mg/kg/h"), "low"),
        (dict(rate={"distribution": "uniform", "low": "1 mg/h"}), "needs 'high'"),
        (dict(rate={"distribution": "choice", "values": ["1 mg/h", "1 mg"]}), "same kind"),
        (dict(rate={"distribution": "uniform", "low": "1 mg", "high": "2 mg"}), "a rate"),
        (
            dict(
                rate="1 mg/h",
                escalation=[{"after": 2, "rate": "2 mg/h"}, {"after": 1, "rate": "3 mg/h"}],
            ),
            "increasing",
        ),
        (dict(rate="1 mg/h", escalation=[{"after": 4, "rate": "2 mg/h"}]), "change nothing"),
        (dict(rate="1 mg/h", escalation=[{"after": 1, "amount": "2 mg"}]), "must give a rate"),
    ],
)
def test_bad_protocol_doses_are_refused(kw, msg):
    with pytest.raises(ValidationError, match=msg):
        _reg(route="iv_infusion", duration=4, **kw)


def test_titration_factor_rules():
    base = dict(route="iv_infusion", rate="20 mg/h", duration=72)
    ok = _reg(
        **base,
        titration={"factor": 2, "min_rate": "10 mg/h", "max_rate": "80 mg/h", "checks": [24, 48]},
    )
    assert ok.titration.factor == 2.0 and ok.titration.checks == [24.0, 48.0]
    with pytest.raises(ValidationError, match="not both"):
        _reg(
            **base,
            titration={"factor": 2, "step": "5 mg/h", "min_rate": "10 mg/h", "max_rate": "80 mg/h"},
        )
    with pytest.raises(ValidationError, match="increasing"):
        _reg(
            **base,
            titration={
                "factor": 2,
                "min_rate": "10 mg/h",
                "max_rate": "80 mg/h",
                "checks": [48, 24],
            },
        )
    with pytest.raises(ValidationError, match="one fixed 'rate'"):
        _reg(
            **{**base, "rate": "10-30 mg/h"},
            titration={"factor": 2, "min_rate": "10 mg/h", "max_rate": "80 mg/h"},
        )


def test_range_string_and_mappings_are_distributions():
    r = _reg(route="iv_infusion", rate="0.1-0.3 mg/kg/h", duration=4)
    assert isinstance(r.rate, DoseDistributionSpec)
    d = r.rate.compiled()
    assert (d.kind, d.rate, d.per_kg, d.low, d.high) == ("uniform", True, True, 0.1, 0.3)
    # the dump reads back to the same regimen
    assert _reg(**r.model_dump(mode="json")) == r
    ln = _reg(
        route="oral",
        amount={"distribution": "lognormal", "median": "50 mg", "sd_log": 0.3, "high": "100 mg"},
    )
    assert ln.amount.compiled().median == 50.0


def test_distribution_values_by_inverse_cdf():
    u = np.array([0.0, 0.25, 0.5, 0.999])
    uni = DoseDistribution("uniform", True, True, low=0.1, high=0.3)
    assert uni.value(u) == pytest.approx([0.1, 0.15, 0.2, 0.2998], rel=1e-12)
    ch = DoseDistribution("choice", False, False, values=(25.0, 50.0), weights=(1.0, 3.0))
    assert ch.value(np.array([0.0, 0.2499, 0.25, 0.9])).tolist() == [25.0, 25.0, 50.0, 50.0]
    assert ch.mean() == 43.75
    ln = DoseDistribution("lognormal", False, False, median=50.0, sd_log=0.3)
    assert ln.value(np.array([0.5]))[0] == pytest.approx(50.0, rel=1e-12)
    tr = DoseDistribution("lognormal", False, False, median=50.0, sd_log=0.3, low=40.0, high=60.0)
    v = tr.value(np.linspace(0, 1, 101, endpoint=False))
    assert v.min() >= 40.0 and v.max() <= 60.0 and v[0] == pytest.approx(40.0, rel=1e-9)


def test_equal_distributions_share_one_draw():
    a = _reg(route="iv_infusion", rate="0.1-0.3 mg/kg/h", duration=4)
    b = _reg(route="iv_infusion", rate="0.1-0.3 mg/kg/h", duration=4, start=24)
    c = _reg(route="oral", amount="25-50 mg")
    assert len(dose_distributions(compile_dosing([a, b, c]))) == 2


def test_escalation_compiles_in_mg_per_h():
    """100 -> 300 -> 500 mg/24 h, daily steps, in one 3-day SC infusion."""
    r = _reg(
        route="subcutaneous_infusion",
        rate="100 mg/24h",
        duration="3 days",
        escalation=[
            {"after": "24 h", "rate": "300 mg/24 h"},
            {"after": "48 h", "rate": "500 mg/day"},
        ],
    )
    (d,) = compile_dosing([r])
    assert d.level_starts_h()[1:] == (24.0, 48.0)
    assert [d.rate_mg_per_h(W[:1], None, k)[0] for k in range(3)] == pytest.approx(
        [100 / 24, 300 / 24, 500 / 24], rel=1e-15
    )


@pytest.mark.parametrize(
    "text, fields",
    [
        (
            "0.35 mg/kg/h (max 25 mg/h) over 4h daily x10",
            {"rate": "0.35 mg/kg/h", "max": "25 mg/h", "duration": "4 h", "repeats": 10},
        ),
        ("0.35 mg/kg/h at most 25 mg/h over 4h", {"max": "25 mg/h"}),
        ("1 mg/kg oral at least 50 mg max 80 mg", {"min": "50 mg", "max": "80 mg"}),
        ("0.1-0.3 mg/kg/h over 4h", {"rate": "0.1-0.3 mg/kg/h"}),
        ("0.1 to 0.3 mg/kg/h over 4h", {"rate": "0.1-0.3 mg/kg/h"}),
        ("100 mg/24h sc over 3 days", {"rate": "100 mg/24h", "route": "subcutaneous_infusion"}),
    ],
)
def test_shorthand_bounds_and_ranges(text, fields):
    out = parse_regimen_shorthand(text)
    assert fields.items() <= out.items()
    _reg(**out)  # and the schema accepts it


@pytest.mark.parametrize(
    "text, msg",
    [
        ("0.35 mg/kg/h max 25 mg over 4h", "must be a rate"),
        ("0.3-0.1 mg/kg/h over 4h", "from low to high"),
        ("20 mg/h max 30 mg/h max 40 mg/h over 4h", "given twice"),
        ("0.1- mg/kg/h over 4h", "second number"),
    ],
)
def test_shorthand_bound_errors(text, msg):
    with pytest.raises(ShorthandError, match=msg):
        parse_regimen_shorthand(text)
