"""One-line dosing shorthand for scenario files.

A regimen may be written as one string instead of a mapping::

    regimens:
      - "0.35 mg/kg/h over 4h daily x10"
      - "25 mg sublingual bid for 7 days"

:func:`parse_regimen_shorthand` turns such a string into the field values of
:class:`ketsim.config.schema.regimen.RegimenSpec` (strings with units, and an ``int`` for
``repeats``), so the schema still does every unit conversion and range check in one place. This
module does not import the schema, so the schema can import it.

Grammar
-------
Case-insensitive; tokens are separated by spaces, but a number may touch its unit (``4h``,
``q8h``, ``x10``). The dose comes first; every other clause is optional and may come in any order,
except for the ``for`` rule below::

    <dose> [<route>] [max <dose>] [min <dose>] [over <duration>] [at <time>] [<frequency>]
    [<count>]

``<dose>``
    A rate (``20 mg/h``, ``0.35 mg/kg/h``, ``1.2 µg/kg/min``; ``ug``/``mcg`` too) makes an
    infusion. An amount (``25 mg``, ``0.2 mg/kg``) is given at once, unless a duration is given
    (``0.5 mg/kg over 40 min``), which makes it an infusion of that amount. A range
    (``0.1-0.3 mg/kg/h``, ``0.1 to 0.3 mg/kg/h``) varies the dose across the cohort: each
    patient draws one, uniformly within it.
``max <dose>`` / ``at most <dose>``, ``min <dose>`` / ``at least <dose>``
    A cap or floor of each patient's dose, of the dose's kind: ``0.35 mg/kg/h (max 25 mg/h)``.
    Parentheses are read as spaces.
``<route>``
    ``iv`` (the default), ``oral``/``po``, ``sublingual``/``sl``, ``intranasal``/``in``/``nasal``,
    ``sc``/``subcutaneous``, ``im``/``intramuscular``; optionally with ``infusion`` or ``bolus``.
    ``iv`` becomes ``iv_infusion`` for an infusion and ``iv_bolus`` otherwise; ``sc`` becomes
    ``subcutaneous_infusion`` or ``subcutaneous``. Only iv and sc can be infusions.
``over <duration>``
    The infusion duration: ``4h``, ``4 h``, ``30 min``, ``4.2 days`` (units of
    :data:`ketsim.core.units.DURATION_UNITS`).
``at <time>`` / ``from <time>`` / ``starting <time>`` / ``on <time>``
    The first administration: a time such as ``8h`` or ``2 weeks``, or ``day <d>`` /
    ``week <w>``, counted from 1, so ``day 1`` is 0 h and ``day 3`` is 48 h (whereas ``3 days``
    is 72 h).
``<frequency>``
    ``daily``/``qd`` (24 h), ``bid`` (12 h), ``tid`` (8 h), ``qid`` (6 h), ``weekly`` (168 h),
    ``every <duration>`` (``every 2 days``, ``every day``) or ``q<N><unit>`` (``q8h``, ``q2d``).
``<count>``
    ``x10``, ``x 10``, ``×10``, ``10 times``, ``10 doses``, or a treatment span
    ``for <duration>`` (``bid for 7 days`` is 14 doses). The span must be a whole number of
    intervals.

A frequency needs a count and a count needs a frequency: a single dose has neither.

The ``for`` rule
----------------
``for`` means two things: the length of an infusion (``20 mg/h for 100 h``) and the length of a
course (``bid for 7 days``). It is read by position:

* after a frequency word, ``for <duration>`` is the treatment span (a count);
* before any frequency word, it is the infusion duration -- but only when the dose is a rate or
  the word ``infusion`` appears (anywhere). After a bare amount it is rejected as ambiguous
  (``25 mg for 7 days`` could be a week-long infusion or a course); write ``over`` for an
  infusion, or put the frequency first for a course.

So ``20 mg/h for 4h daily for 10 days`` is a 4 h infusion given daily, 10 times. ``over`` is always
the infusion duration.

Examples
--------
>>> parse_regimen_shorthand("0.35 mg/kg/h over 4h daily x10")
{'route': 'iv_infusion', 'rate': '0.35 mg/kg/h', 'duration': '4 h', 'interval': '24 h', 'repeats': 10}
>>> parse_regimen_shorthand("50 mg oral tid x21 from day 2")
{'route': 'oral', 'amount': '50 mg', 'start': '24 h', 'interval': '8 h', 'repeats': 21}
"""  # noqa: E501 - the doctest output line cannot be wrapped

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field

from ketsim.core.units import AMOUNT_UNITS, DURATION_UNITS, RATE_UNITS

__all__ = ["EXAMPLES", "GRAMMAR", "ShorthandError", "parse_regimen_shorthand"]

GRAMMAR = (
    "<dose> [route] [max <dose>] [over <duration>] [at <time>] "
    "[<frequency> x<N> | <frequency> for <span>]"
)
EXAMPLES = ("0.35 mg/kg/h over 4h daily x10", "25 mg sublingual bid for 7 days")


class ShorthandError(ValueError):
    """A dosing shorthand string that cannot be read.

    A ``ValueError`` so that pydantic validators report it like any other bad value. The message
    is one line (scenario errors are listed one per line) naming what was not understood, followed
    by the grammar and an example.

    Attributes
    ----------
    text : str
        The shorthand as given.
    reason : str
        What was wrong, without the grammar reminder.
    """

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(
            f"cannot read dosing shorthand {text!r}: {reason}; "
            f"expected {GRAMMAR}, e.g. {EXAMPLES[0]!r} or {EXAMPLES[1]!r}"
        )


# Unit tables keyed by lower case: the input is case-insensitive, but the output keeps the
# canonical spelling of ketsim.core.units (whose own lookup would accept either).
_RATE = {k.lower(): k for k in RATE_UNITS}
_AMOUNT = {k.lower(): k for k in AMOUNT_UNITS}
_DURATION = {k.lower(): k for k in DURATION_UNITS}

# Route words name a site; "infusion"/"bolus" name a mode. Kept apart so "iv infusion" and
# "sc bolus" combine instead of conflicting.
_SITES = {
    "iv": "iv",
    "intravenous": "iv",
    "oral": "oral",
    "po": "oral",
    "sublingual": "sublingual",
    "sl": "sublingual",
    "intranasal": "intranasal",
    "in": "intranasal",
    "nasal": "intranasal",
    "sc": "sc",
    "subcutaneous": "sc",
    "im": "im",
    "intramuscular": "im",
}
_MODES = ("infusion", "bolus")
_INFUSION_ROUTE = {"iv": "iv_infusion", "sc": "subcutaneous_infusion"}
_BOLUS_ROUTE = {
    "iv": "iv_bolus",
    "oral": "oral",
    "sublingual": "sublingual",
    "intranasal": "intranasal",
    "sc": "subcutaneous",
    "im": "intramuscular",
}
_FREQUENCIES = {
    "daily": 24.0,
    "qd": 24.0,
    "bid": 12.0,
    "tid": 8.0,
    "qid": 6.0,
    "weekly": 168.0,
}
_START_WORDS = ("at", "from", "starting", "on")
_BOUND_WORDS = {"max": "max", "maximum": "max", "min": "min", "minimum": "min"}
_COUNT_NOUNS = ("times", "doses")
# Everything the parser recognises after the dose, for "did you mean" hints.
_KNOWN_WORDS = sorted(
    {
        *_SITES,
        *_MODES,
        *_FREQUENCIES,
        *_START_WORDS,
        *_COUNT_NOUNS,
        *_BOUND_WORDS,
        "over",
        "for",
        "every",
        "x",
    }
)

# Numbers are ASCII digits only (no sign, no exponent: neither has a use in a dose line). Words are
# runs of letters, so "µ" and the Greek "μ" are included, and may contain "/" so that a unit such
# as "mg/kg/h" (or "mg / kg / h") is one token. "×" is a count sign like "x". Anything else is an
# unknown character, reported with its position rather than silently skipped.
_TOKEN = re.compile(
    r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"|(?P<word>[^\W\d_]+(?:\s*/\s*(?:[0-9]+\s*)?[^\W\d_]+)*)"
    r"|(?P<times>×)"
    r"|(?P<dash>[-–])"
    r"|(?P<paren>[()])"
    r"|(?P<space>\s+)"
    r"|(?P<bad>.)"
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "word" or "dash"
    text: str  # normalised: lower case, no spaces, Greek mu as the micro sign
    raw: str  # as written, for messages
    pos: int
    end: int


@dataclass(frozen=True)
class _Span:
    """A time as written for the output (``"4 h"``) and its value in hours for the checks."""

    text: str
    hours: float


@dataclass
class _Regimen:
    """Clauses collected so far; each is None until its clause is seen."""

    kind: str  # "rate" or "amount"
    dose: str
    site: str | None = None
    mode: str | None = None
    duration: _Span | None = None
    start: _Span | None = None
    frequency: str | None = None  # as written, for messages
    interval: _Span | None = None
    count: int | None = None
    span: _Span | None = None
    bounds: dict[str, str] = field(default_factory=dict)  # "max"/"min" -> dose as written
    seen: list[str] = field(default_factory=list)


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN.finditer(text):
        kind, raw = m.lastgroup, m.group()
        if kind in ("space", "paren"):
            # parentheses only group a bound for the reader: "0.35 mg/kg/h (max 25 mg/h)"
            continue
        if kind == "bad":
            raise ShorthandError(text, f"unexpected character {raw!r} at position {m.start() + 1}")
        if kind == "times":
            kind = "word"
        norm = raw.lower().replace("μ", "µ").replace("×", "x")
        if kind == "word":
            norm = re.sub(r"\s+", "", norm)
        tokens.append(_Token(kind, norm, raw, m.start(), m.end()))
    return tokens


class _Cursor:
    """Walks the token list; every error goes through :meth:`error` so it carries the text."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0

    def peek(self, ahead: int = 0) -> _Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> _Token | None:
        tok = self.peek()
        if tok is not None:
            self.i += 1
        return tok

    def since(self, first: _Token) -> str:
        """The text as written from ``first`` to the last token taken, for messages."""
        return self.text[first.pos : self.tokens[self.i - 1].end]

    def error(self, reason: str) -> ShorthandError:
        return ShorthandError(self.text, reason)


def _allowed(table: dict[str, str]) -> str:
    return ", ".join(dict.fromkeys(table.values()))


def _time(cur: _Cursor, after: str, *, allow_zero: bool = False) -> _Span:
    """Read ``<number> <unit>`` (``4h``, ``30 min``) following the word ``after``."""
    num = cur.take()
    if num is None or num.kind != "num":
        got = "nothing" if num is None else repr(num.raw)
        raise cur.error(
            f"{after!r} must be followed by a time such as '4 h' or '30 min', got {got}"
        )
    unit = cur.take()
    if unit is None or unit.kind != "word" or unit.text not in _DURATION:
        got = "nothing" if unit is None else repr(unit.raw)
        raise cur.error(f"'{after} {num.raw}' needs a time unit ({_allowed(_DURATION)}), got {got}")
    hours = float(num.text) * DURATION_UNITS[_DURATION[unit.text]]
    if not (hours >= 0 if allow_zero else hours > 0):
        raise cur.error(f"'{after} {num.raw} {unit.raw}' must be longer than 0")
    return _Span(f"{num.text} {_DURATION[unit.text]}", hours)


def _whole(cur: _Cursor, tok: _Token | None, what: str) -> int:
    """A positive whole number (counts, day numbers): "x2.5" is a typo, not a rounding request."""
    if tok is None or tok.kind != "num" or not tok.text.isdigit() or int(tok.text) < 1:
        got = "nothing" if tok is None else repr(tok.raw)
        raise cur.error(f"{what} must be a whole number >= 1, got {got}")
    return int(tok.text)


def _dose(cur: _Cursor) -> _Regimen:
    num = cur.take()
    if num is None:
        raise cur.error("it is empty")
    if num.kind != "num":
        raise cur.error(f"it must start with the dose (e.g. '20 mg/h', '25 mg'), not {num.raw!r}")
    unit = cur.take()
    value = num.text
    if unit is not None and (unit.kind == "dash" or unit.text == "to"):
        # a range across the cohort, "0.1-0.3 mg/kg/h": each patient draws a dose within it
        high = cur.take()
        if high is None or high.kind != "num":
            raise cur.error(f"the dose range {num.raw}{unit.raw} needs a second number")
        if not float(high.text) > float(num.text):
            raise cur.error(f"the dose range '{num.raw}-{high.raw}' must go from low to high")
        value = f"{num.text}-{high.text}"
        unit = cur.take()
    if unit is None or unit.kind != "word":
        raise cur.error(f"the dose {value!r} needs a unit (e.g. 'mg', 'mg/kg', 'mg/h')")
    if not float(num.text) > 0:
        raise cur.error(f"the dose must be > 0 (got '{num.raw} {unit.raw}')")
    if unit.text in _RATE:
        return _Regimen("rate", f"{value} {_RATE[unit.text]}")
    if unit.text in _AMOUNT:
        return _Regimen("amount", f"{value} {_AMOUNT[unit.text]}")
    raise cur.error(
        f"unknown dose unit {unit.raw!r}; rates: {_allowed(_RATE)}; amounts: {_allowed(_AMOUNT)}"
    )


def _set_count(
    cur: _Cursor, reg: _Regimen, written: str, count: int | None, span: _Span | None = None
) -> None:
    # One way of saying how many doses: two would either agree (redundant) or not (a mistake).
    if reg.count is not None or reg.span is not None:
        # The likely slip is "daily for 4h x3" meant as a 4 h infusion: point at the for rule.
        hint = (
            "; 'for' after a frequency is the course length, use 'over' for an infusion"
            if reg.span is not None or span is not None
            else ""
        )
        raise cur.error(f"the number of doses is given twice (second time: {written!r}){hint}")
    reg.count, reg.span = count, span


def _set_interval(cur: _Cursor, reg: _Regimen, written: str, interval: _Span) -> None:
    if reg.frequency is not None:
        raise cur.error(f"two frequencies: {reg.frequency!r} and {written!r}")
    reg.frequency, reg.interval = written, interval


def _set_duration(cur: _Cursor, reg: _Regimen, written: str, duration: _Span) -> None:
    if reg.duration is not None:
        raise cur.error(
            f"the infusion duration is given twice ({reg.duration.text!r} and {written!r}); "
            "a course length goes after the frequency, e.g. 'daily for 10 days'"
        )
    reg.duration = duration


def _bound(cur: _Cursor, reg: _Regimen, which: str, first: _Token) -> None:
    """``max 25 mg/h`` / ``at most 25 mg/h`` (and ``min``): a cap or floor of each patient's
    dose, in the dose's kind (a rate bounds a rate, an amount an amount)."""
    if which in reg.bounds:
        raise cur.error(f"the {which} dose is given twice")
    num, unit = cur.take(), cur.take()
    if num is None or num.kind != "num" or unit is None or unit.kind != "word":
        raise cur.error(f"'{cur.since(first)}' must be followed by a dose such as '25 mg/h'")
    table = _RATE if reg.kind == "rate" else _AMOUNT
    if unit.text not in table:
        raise cur.error(
            f"the {which} '{num.raw} {unit.raw}' must be "
            f"{'a rate' if reg.kind == 'rate' else 'an amount'}, as the dose is ({_allowed(table)})"
        )
    reg.bounds[which] = f"{num.text} {table[unit.text]}"


def _clause(cur: _Cursor, reg: _Regimen) -> None:
    """Consume one clause after the dose."""
    tok = cur.take()
    assert tok is not None
    w = tok.text
    if tok.kind == "dash":
        raise cur.error(f"unexpected {tok.raw!r} at position {tok.pos + 1}")
    if w in _BOUND_WORDS:
        _bound(cur, reg, _BOUND_WORDS[w], tok)
        return
    if w == "at" and (nxt := cur.peek()) is not None and nxt.text in ("most", "least"):
        cur.take()
        _bound(cur, reg, "max" if nxt.text == "most" else "min", tok)
        return

    if tok.kind == "num":
        # The only clause that starts with a number is "<N> times"; a lone number is most likely a
        # time missing its keyword, so say which keywords exist.
        nxt = cur.peek()
        if nxt is not None and nxt.text in _COUNT_NOUNS:
            cur.take()
            _set_count(cur, reg, cur.since(tok), _whole(cur, tok, "the count"))
            return
        raise cur.error(
            f"unexpected number {tok.raw!r} at position {tok.pos + 1}; a duration needs 'over', a "
            "start 'at'/'from', a count 'x' before or 'times' after it"
        )

    if w in _SITES:
        site = _SITES[w]
        if reg.site is not None and reg.site != site:
            raise cur.error(f"two routes: {reg.seen[0]!r} and {tok.raw!r}")
        reg.site = site
        reg.seen.append(tok.raw)
    elif w in _MODES:
        if reg.mode is not None and reg.mode != w:
            raise cur.error("both 'infusion' and 'bolus'")
        reg.mode = w
    elif w == "over":
        span = _time(cur, "over")
        _set_duration(cur, reg, cur.since(tok), span)
    elif w == "for":
        span = _time(cur, "for")
        if reg.frequency is not None:
            _set_count(cur, reg, cur.since(tok), None, span)
        elif reg.kind == "rate" or any(t.text == "infusion" for t in cur.tokens):
            # "infusion" counts wherever it stands: clause order after the dose is free.
            _set_duration(cur, reg, cur.since(tok), span)
        else:
            raise cur.error(
                f"'for {span.text}' after an amount is ambiguous: write 'over {span.text}' for an "
                f"infusion, or put the frequency first for a course (e.g. 'bid for {span.text}')"
            )
    elif w in _START_WORDS:
        if reg.start is not None:
            raise cur.error(f"the start is given twice (second time: {tok.raw!r})")
        # "starting at 8h", "starting on day 3": the second word adds nothing.
        if w == "starting" and (nxt := cur.peek()) is not None and nxt.text in _START_WORDS:
            cur.take()
        nxt = cur.peek()
        if nxt is not None and nxt.text in ("day", "week"):
            # Day numbers count from 1, as in a dosing diary: day 1 starts at 0 h.
            cur.take()
            n = _whole(cur, cur.take(), f"the {nxt.text} number")
            hours = (n - 1) * (24 if nxt.text == "day" else 168)
            reg.start = _Span(f"{hours} h", float(hours))
        else:
            reg.start = _time(cur, tok.raw, allow_zero=True)
    elif w in _FREQUENCIES:
        _set_interval(cur, reg, tok.raw, _Span(f"{_FREQUENCIES[w]:g} h", _FREQUENCIES[w]))
    elif w == "every":
        nxt = cur.peek()
        if nxt is not None and nxt.kind == "word" and nxt.text in _DURATION:
            # "every day", "every week": an implied 1.
            cur.take()
            unit = _DURATION[nxt.text]
            interval = _Span(f"1 {unit}", DURATION_UNITS[unit])
        else:
            interval = _time(cur, "every")
        _set_interval(cur, reg, cur.since(tok), interval)
    elif w == "q":
        # "q8h" arrives as "q", "8", "h" (letters and digits are separate tokens).
        interval = _time(cur, "q")
        _set_interval(cur, reg, cur.since(tok), interval)
    elif w == "x":
        count = _whole(cur, cur.take(), f"the count after {tok.raw!r}")
        _set_count(cur, reg, cur.since(tok), count)
    else:
        hint = difflib.get_close_matches(w, _KNOWN_WORDS, n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise cur.error(f"unknown word {tok.raw!r} at position {tok.pos + 1}{did_you_mean}")


def _route(cur: _Cursor, reg: _Regimen) -> tuple[str, bool]:
    """The RegimenSpec route, and whether it is an infusion."""
    infusion = reg.kind == "rate" or reg.duration is not None or reg.mode == "infusion"
    if reg.mode == "bolus" and infusion:
        why = "a rate" if reg.kind == "rate" else "a duration"
        raise cur.error(f"a bolus is given at once, so it cannot have {why}")
    if infusion and reg.duration is None:
        what = f"the rate {reg.dose!r}" if reg.kind == "rate" else "an infusion"
        hint = " (a 'for' after the frequency is the course length)" if reg.span else ""
        raise cur.error(f"{what} needs a duration: add 'over <duration>', e.g. 'over 4h'{hint}")
    site = reg.site or "iv"  # iv is the default route, as in the brief for rates and boluses
    if infusion:
        if site not in _INFUSION_ROUTE:
            raise cur.error(
                f"route {reg.seen[0]!r} cannot be an infusion (only iv and sc): "
                + ("drop the rate or use an amount" if reg.kind == "rate" else "drop 'over'")
            )
        return _INFUSION_ROUTE[site], True
    return _BOLUS_ROUTE[site], False


def _repeats(cur: _Cursor, reg: _Regimen) -> int | None:
    if reg.frequency is not None and reg.count is None and reg.span is None:
        raise cur.error(
            f"the frequency {reg.frequency!r} needs a number of doses: add x<N> "
            f"(e.g. '{reg.frequency} x10') or a course length (e.g. '{reg.frequency} for 7 days')"
        )
    if reg.frequency is None and (reg.count is not None or reg.span is not None):
        raise cur.error(
            "a number of doses needs a frequency: add daily, bid, tid, qid, weekly, "
            "every <duration> or q<N>h"
        )
    if reg.span is not None:
        assert reg.interval is not None
        n = reg.span.hours / reg.interval.hours
        # Spans are written in round numbers, so only floating-point noise is forgiven.
        if n < 0.5 or not math.isclose(n, round(n), rel_tol=1e-9):
            raise cur.error(
                f"the course 'for {reg.span.text}' is not a whole number of "
                f"{reg.frequency!r} intervals ({reg.interval.hours:g} h): use x<N> instead"
            )
        return round(n)
    return reg.count


def parse_regimen_shorthand(text: str) -> dict[str, str | int]:
    """Read a one-line dosing shorthand into the fields of a regimen.

    The fields are those of :class:`~ketsim.config.schema.regimen.RegimenSpec`.

    Parameters
    ----------
    text : str
        For example ``"0.35 mg/kg/h over 4h daily x10"`` or ``"25 mg sl bid for 7 days"``; the
        grammar is in the module docstring.

    Returns
    -------
    dict
        ``route``; ``rate`` or ``amount``; and, when given, ``duration``, ``start``, ``interval``
        (strings with units, e.g. ``"4 h"``) and ``repeats`` (int). Numbers are kept as written,
        so nothing is lost to rounding. ``RegimenSpec.model_validate`` accepts the result;
        value ranges (e.g. the maximum ``repeats``) are left to it.

    Raises
    ------
    ShorthandError
        If the text does not follow the grammar or describes an impossible regimen (a rate
        without a duration, a frequency without a count, overlapping repeated infusions, ...).
    TypeError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"dosing shorthand must be a string, got {type(text).__name__}")
    cur = _Cursor(text, _tokenize(text))
    reg = _dose(cur)
    while cur.peek() is not None:
        _clause(cur, reg)
    route, infusion = _route(cur, reg)
    repeats = _repeats(cur, reg)
    if infusion and repeats is not None and repeats > 1:
        assert reg.duration is not None and reg.interval is not None
        if reg.interval.hours < reg.duration.hours:
            raise cur.error(
                f"the infusion ({reg.duration.text}) is longer than the interval "
                f"{reg.frequency!r} ({reg.interval.hours:g} h), so repeats would overlap"
            )

    out: dict[str, str | int] = {"route": route, reg.kind: reg.dose}
    out.update(reg.bounds)
    if reg.duration is not None:
        out["duration"] = reg.duration.text
    if reg.start is not None:
        out["start"] = reg.start.text
    if reg.interval is not None:
        out["interval"] = reg.interval.text
    if repeats is not None:
        out["repeats"] = repeats
    return out
