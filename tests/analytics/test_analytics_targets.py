"""DATA-4: targets pass or fail with their gap; presets are the platforms' rules."""

from __future__ import annotations

import pytest

from kefu import errors
from kefu.analytics.targets import PRESETS, Comparison, Target, evaluate, parse_targets


def test_data_4_feige_week_passes_and_fails_with_the_gap() -> None:
    week = {
        "response_s": 130.0,
        "pickup_rate": 0.85,
        "queue_time_s": 600.0,
        "satisfaction_rate": None,
    }
    results = {r.target.metric: r for r in evaluate(PRESETS["feige"], week)}
    assert results["response_s"].passed is False and results["response_s"].gap == pytest.approx(10)
    assert results["pickup_rate"].passed is True and results["pickup_rate"].gap == 0
    # "< 10 minutes": exactly 10 minutes fails.
    assert results["queue_time_s"].passed is False
    assert results["satisfaction_rate"].passed is None


def test_data_4_xixi_first_response_is_strictly_below_30_seconds() -> None:
    (first,) = [t for t in PRESETS["xixi"] if t.metric == "first_response_s"]
    assert evaluate([first], {"first_response_s": 29.9})[0].passed is True
    assert evaluate([first], {"first_response_s": 30.0})[0].passed is False


def test_data_4_edited_targets_are_validated() -> None:
    targets = parse_targets(
        [{"metric": "pickup_rate", "comparison": "at_least", "threshold": 0.95}]
    )
    assert targets == (Target("pickup_rate", Comparison.AT_LEAST, 0.95),)
    for bad in (
        [{"metric": "nope", "comparison": "at_least", "threshold": 1}],
        [{"metric": "pickup_rate", "comparison": "at_least", "threshold": 1.5}],
        [{"metric": "pickup_rate", "comparison": "about", "threshold": 0.5}],
        [{"metric": "pickup_rate", "comparison": "at_least", "threshold": 0.5}] * 2,
    ):
        with pytest.raises(errors.BadInput):
            parse_targets(bad)
