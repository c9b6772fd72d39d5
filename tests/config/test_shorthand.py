"""One-line dosing shorthand: the documented examples, the error messages, and a round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from ketsim.config.scenario import RegimenSpec
from ketsim.config.shorthand import GRAMMAR, ShorthandError, parse_regimen_shorthand
from ketsim.core.units import AMOUNT_UNITS, DURATION_UNITS, RATE_UNITS, parse_duration_h

EXAMPLES = [
    (
        "0.35 mg/kg/h over 4h daily x10",
        {
            "route": "iv_infusion",
            "rate": "0.35 mg/kg/h",
            "duration": "4 h",
            "interval": "24 h",
            "repeats": 10,
        },
    ),
    ("20 mg/h for 100 h", {"route": "iv_infusion", "rate": "20 mg/h", "duration": "100 h"}),
    (
        "1.2 µg/kg/min over 100h",
        {"route": "iv_infusion", "rate": "1.2 µg/kg/min", "duration": "100 h"},
    ),
    ("0.2 mg/kg intranasal", {"route": "intranasal", "amount": "0.2 mg/kg"}),
    (
        "25 mg sublingual bid x14",
        {"route": "sublingual", "amount": "25 mg", "interval": "12 h", "repeats": 14},
    ),
    (
        "25 mg sl bid for 7 days",
        {"route": "sublingual", "amount": "25 mg", "interval": "12 h", "repeats": 14},
    ),
    (
        "0.5 mg/kg over 40 min weekly x6",
        {
            "route": "iv_infusion",
            "amount": "0.5 mg/kg",
            "duration": "40 min",
            "interval": "168 h",
            "repeats": 6,
        },
    ),
    (
        "10 mg/h sc over 24h daily x5",
        {
            "route": "subcutaneous_infusion",
            "rate": "10 mg/h",
            "duration": "24 h",
            "interval": "24 h",
            "repeats": 5,
        },
    ),
    (
        "50 mg oral tid x21 from day 2",
        {"route": "oral", "amount": "50 mg", "start": "24 h", "interval": "8 h", "repeats": 21},
    ),
    (
        "0.3 mg/kg/h over 4 h q48h x3 at 8h",
        {
            "route": "iv_infusion",
            "rate": "0.3 mg/kg/h",
            "duration": "4 h",
            "start": "8 h",
            "interval": "48 h",
            "repeats": 3,
        },
    ),
    # Variants of the same grammar: case, ×, "times", "every", "starting on", Greek mu, sc bolus.
    (
        "20 MG/H for 4h Daily for 10 days",
        {
            "route": "iv_infusion",
            "rate": "20 mg/h",
            "duration": "4 h",
            "interval": "24 h",
            "repeats": 10,
        },
    ),
    (
        "1 mcg/kg/min over 30 min every day ×3 starting on day 3",
        {
            "route": "iv_infusion",
            "rate": "1 mcg/kg/min",
            "duration": "30 min",
            "start": "48 h",
            "interval": "1 day",
            "repeats": 3,
        },
    ),
    (
        "5 mg im 3 times every 2 days at 2 weeks",
        {
            "route": "intramuscular",
            "amount": "5 mg",
            "start": "2 weeks",
            "interval": "2 days",
            "repeats": 3,
        },
    ),
    (
        "2 μg/kg/h over 4.2 days",
        {"route": "iv_infusion", "rate": "2 µg/kg/h", "duration": "4.2 days"},
    ),
    ("10 mg sc", {"route": "subcutaneous", "amount": "10 mg"}),
    ("10 mg", {"route": "iv_bolus", "amount": "10 mg"}),
    (
        "0.5 mg/kg iv infusion for 40 min",
        {"route": "iv_infusion", "amount": "0.5 mg/kg", "duration": "40 min"},
    ),
    ("30 mg po qid x 4", {"route": "oral", "amount": "30 mg", "interval": "6 h", "repeats": 4}),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_examples(text, expected):
    """Each documented example gives the expected fields, and the schema accepts them."""
    got = parse_regimen_shorthand(text)
    assert got == expected
    RegimenSpec.model_validate(got)


def test_values_reach_the_schema():
    """Day numbers count from 1 and a course length becomes a dose count, in schema terms."""
    spec = RegimenSpec.model_validate(parse_regimen_shorthand("50 mg oral tid x21 from day 2"))
    assert spec.start_times()[:2] == [24.0, 32.0]
    assert len(spec.start_times()) == 21
    spec = RegimenSpec.model_validate(parse_regimen_shorthand("0.35 mg/kg/h over 4h daily x10"))
    assert spec.rate_mg_per_h(70.0) == pytest.approx(24.5)
    assert spec.duration == 4.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.35 mg/kg/h ovr 4h", "unknown word 'ovr' at position 14 (did you mean 'over'?)"),
        ("25 mg sublingual bid", "frequency 'bid' needs a number of doses: add x<N>"),
        ("25 mg sublingual x10", "a number of doses needs a frequency"),
        ("20 mg/h", "the rate '20 mg/h' needs a duration: add 'over <duration>'"),
        ("20 mg/h daily for 3 days", "'for' after the frequency is the course length"),
        ("25 mg sl tid for 10 h", "'for 10 h' is not a whole number of 'tid' intervals (8 h)"),
        ("25 mg for 7 days", "'for 7 days' after an amount is ambiguous: write 'over 7 days'"),
        ("", "it is empty"),
        ("mg 25", "it must start with the dose"),
        ("25 mg/kg/hr", "unknown dose unit 'mg/kg/hr'; rates: mg/h"),
        ("25 mg oral over 1 h", "route 'oral' cannot be an infusion (only iv and sc)"),
        ("20 mg/h bolus over 1 h", "a bolus is given at once, so it cannot have a rate"),
        ("20 mg/h over 4h q2h x3", "repeats would overlap"),
        ("25 mg iv oral", "two routes: 'iv' and 'oral'"),
        ("25 mg daily x2.5", "the count after 'x' must be a whole number >= 1, got '2.5'"),
        ("25 mg daily x0", "must be a whole number >= 1, got '0'"),
        ("25 mg at 4", "'at 4' needs a time unit"),
        ("25 mg 4h", "unexpected number '4' at position 7"),
        ("25 mg; daily x2", "unexpected character ';' at position 6"),
        ("20 mg/h over 4h over 5h", "the infusion duration is given twice"),
        ("25 mg daily bid x2", "two frequencies: 'daily' and 'bid'"),
        ("20 mg/h daily for 4h x3", "the number of doses is given twice"),
        ("0 mg", "the dose must be > 0"),
        ("25 mg from day 0", "the day number must be a whole number >= 1"),
        ("25 mg at 8h from day 2", "the start is given twice"),
        ("0.2 mg/kg infusion", "an infusion needs a duration"),
    ],
)
def test_errors_say_what_was_not_understood(text, message):
    """Bad input raises a one-line ShorthandError naming the problem and showing the grammar."""
    with pytest.raises(ShorthandError) as e:
        parse_regimen_shorthand(text)
    assert message in str(e.value)
    assert GRAMMAR in str(e.value)
    assert "e.g. '0.35 mg/kg/h over 4h daily x10'" in str(e.value)
    assert "\n" not in str(e.value)  # scenario problems are listed one per line
    assert isinstance(e.value, ValueError)  # so pydantic validators report it as a bad value


def test_non_string_is_a_type_error():
    """Only strings are shorthand; a mapping regimen never reaches this parser."""
    with pytest.raises(TypeError):
        parse_regimen_shorthand(25)  # type: ignore[arg-type]


# --- round trip -----------------------------------------------------------------------------------

# Positive decimals as text ("0.35", "12", "1.00"); the parser keeps numbers as written.
numbers = st.builds(
    lambda n, places: str(Decimal(n).scaleb(-places)),
    st.integers(1, 99_999),
    st.integers(0, 3),
)
# Named frequencies and their interval in hours.
NAMED = {"daily": 24, "qd": 24, "bid": 12, "tid": 8, "qid": 6, "weekly": 168}
SITES = {  # word -> (bolus route, infusion route or None)
    "iv": ("iv_bolus", "iv_infusion"),
    "intravenous": ("iv_bolus", "iv_infusion"),
    "oral": ("oral", None),
    "po": ("oral", None),
    "sublingual": ("sublingual", None),
    "sl": ("sublingual", None),
    "intranasal": ("intranasal", None),
    "in": ("intranasal", None),
    "nasal": ("intranasal", None),
    "sc": ("subcutaneous", "subcutaneous_infusion"),
    "subcutaneous": ("subcutaneous", "subcutaneous_infusion"),
    "im": ("intramuscular", None),
    "intramuscular": ("intramuscular", None),
}


def _time(draw) -> tuple[str, str, float]:
    """A time as written (glued "4h" or spaced "4 h"), as the parser should return it, in hours."""
    number = draw(numbers)
    unit = draw(st.sampled_from(sorted(DURATION_UNITS)))
    sep = draw(st.sampled_from(["", " "]))
    return f"{number}{sep}{unit}", f"{number} {unit}", parse_duration_h(f"{number} {unit}")


@st.composite
def regimens(draw):
    """A random regimen written as shorthand, with the fields it must parse to."""
    kind = draw(st.sampled_from(["rate", "amount"]))
    table = RATE_UNITS if kind == "rate" else AMOUNT_UNITS
    value, unit = draw(numbers), draw(st.sampled_from(sorted(table)))
    written_unit = unit.replace("µ", draw(st.sampled_from(["µ", "μ"])))  # micro sign or Greek mu
    expected: dict = {kind: f"{value} {unit}"}
    clauses: dict[str, str] = {}

    infusion = kind == "rate" or draw(st.booleans())
    duration_h = 0.0
    if infusion:
        written, expected["duration"], duration_h = _time(draw)
        clauses["duration"] = f"over {written}"
    site = draw(
        st.sampled_from([None, *(w for w, routes in SITES.items() if routes[infusion] is not None)])
    )
    mode = draw(st.sampled_from([None, "infusion" if infusion else "bolus"]))
    if site is not None or mode is not None:
        clauses["route"] = " ".join(w for w in (site, mode) if w)
    expected["route"] = SITES[site or "iv"][infusion]

    if draw(st.booleans()):
        if draw(st.booleans()):
            day = draw(st.integers(1, 60))
            clauses["start"] = f"{draw(st.sampled_from(['from', 'at', 'starting on']))} day {day}"
            expected["start"] = f"{(day - 1) * 24} h"
        else:
            written, expected["start"], _ = _time(draw)
            clauses["start"] = f"{draw(st.sampled_from(['at', 'from', 'starting']))} {written}"

    if draw(st.booleans()):
        form = draw(st.sampled_from(["named", "every", "q"]))
        if form == "named":
            word = draw(st.sampled_from(sorted(NAMED)))
            clauses["frequency"], expected["interval"] = word, f"{NAMED[word]} h"
            interval_h = float(NAMED[word])
        else:
            written, expected["interval"], interval_h = _time(draw)
            clauses["frequency"] = f"every {written}" if form == "every" else f"q{written}"
        repeats = draw(st.integers(1, 60))
        count = draw(st.sampled_from(["x{}", "x {}", "×{}", "{} times", "{} doses"]))
        clauses["count"] = count.format(repeats)
        expected["repeats"] = repeats
        # Repeated infusions must not overlap (the schema's rule, checked by the parser too).
        assume(not (infusion and repeats > 1 and interval_h < duration_h))

    order = draw(st.permutations(sorted(clauses)))
    # "for" is also the infusion duration, but only before any frequency and not after a bare
    # amount (the documented rule); where that holds, either word must work.
    if (
        "duration" in clauses
        and (kind == "rate" or mode == "infusion")
        and ("frequency" not in order or order.index("duration") < order.index("frequency"))
        and draw(st.booleans())
    ):
        clauses["duration"] = "for" + clauses["duration"].removeprefix("over")
    text = " ".join([f"{value} {written_unit}", *(clauses[c] for c in order)])
    if draw(st.booleans()):
        text = text.upper()  # case-insensitive ("×" and "µ" have no upper case of their own)
    return text, expected


@given(regimens())
def test_round_trip(case):
    """In any clause order, spacing and case, shorthand parses to the fields it was built from."""
    text, expected = case
    got = parse_regimen_shorthand(text)
    assert got == expected
    try:
        spec = RegimenSpec.model_validate(got)
    except ValidationError as err:
        # the parse is right; only the schema's plausibility caps (dose, 5-year times, 1-min
        # intervals) may refuse what the random numbers built
        assert all(("at most" in e["msg"] or "at least 1 min" in e["msg"]) for e in err.errors()), (
            err
        )
        return
    assert spec.repeats == expected.get("repeats", 1)


@given(
    word=st.sampled_from(sorted(NAMED)),
    repeats=st.integers(1, 60),
    in_days=st.booleans(),
)
def test_course_length_round_trip(word, repeats, in_days):
    """`<frequency> for <span>` gives span / interval doses, written in hours or whole days."""
    span_h = repeats * NAMED[word]
    span = f"{span_h // 24} days" if in_days and span_h % 24 == 0 else f"{span_h} h"
    got = parse_regimen_shorthand(f"25 mg sl {word} for {span}")
    assert got == {
        "route": "sublingual",
        "amount": "25 mg",
        "interval": f"{NAMED[word]} h",
        "repeats": repeats,
    }
