"""The same seed gives byte-identical tables to those main produced before the restructure.

The fingerprints (``fingerprints.json``) were written by ``golden.py`` from main at 8a06aba, before
any module moved; every table is hashed at full float precision (see ``golden.canonical_bytes``).
"""

from __future__ import annotations

import json

import pytest

from tests.golden import golden

EXPECTED = json.loads(golden.FINGERPRINTS.read_text())


@pytest.mark.parametrize("case", sorted(golden.CASES))
def test_tables_are_byte_identical(case):
    got = golden.compute(case)
    assert sorted(got) == sorted(EXPECTED[case])
    for table, fp in EXPECTED[case].items():
        assert got[table]["columns"] == fp["columns"], f"{case}/{table}: columns changed"
        assert got[table]["rows"] == fp["rows"], f"{case}/{table}: row count changed"
        assert got[table]["sha256"] == fp["sha256"], f"{case}/{table}: values changed"


def test_fingerprint_sees_one_ulp():
    """The hash is sensitive to the last bit of a float (the check above can fail)."""
    import numpy as np
    import pandas as pd

    a = pd.DataFrame({"x": [0.1, 2.0 / 3.0]})
    b = a.copy()
    b.loc[1, "x"] = np.nextafter(b.loc[1, "x"], 1.0)
    assert golden.fingerprint(a)["sha256"] != golden.fingerprint(b)["sha256"]
