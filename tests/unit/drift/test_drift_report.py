"""The drift report's verdicts are Evidently's own, checked on real bundled seasons.

bullpen reads each column's verdict from Evidently's ValueDrift test and the drifted-column
count from Evidently's DriftedColumnsCount; on real feature frames (bundled SBR seasons through
bullpen.features.build) the per-column verdicts must add up to Evidently's count.
"""

from __future__ import annotations

import gzip
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bullpen.collect.history.sbr import parse_sbr_file
from bullpen.drift.report import (
    PREDICTION,
    build_current_window,
    build_reference,
    parse_dataset_drift,
    parse_value_drift,
    run_drift_report,
)
from bullpen.features.build import MONEYLINE_FEATURES, build_feature_frame
from bullpen.features.dataset import game_frame_from_records
from tests.conftest import DATA


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    records = []
    for season in (2018, 2019):
        path = DATA / "odds" / f"mlb_odds_{season}.csv.gz"
        records += parse_sbr_file(
            gzip.decompress(path.read_bytes()).decode(), season, path.name
        ).games
    built = build_feature_frame(game_frame_from_records(records))
    # A stand-in for a model's output: the vig-free opening price (a real, drifting series).
    return built.assign(**{PREDICTION: built["mkt_open_home_prob"]}).dropna(
        subset=["mkt_open_home_prob"]
    )


@pytest.mark.parametrize(
    ("as_of", "days"),
    [
        (date(2019, 9, 29), 400),  # the whole 2019 season against 2018
        (date(2019, 6, 30), 30),  # one month against the same month of 2018
        (date(2019, 4, 30), 30),  # April: early-season features move the most
    ],
)
def test_drifted_column_count_equals_evidentlys_on_real_seasons(
    frame: pd.DataFrame, as_of: date, days: int
) -> None:
    current = build_current_window(frame, as_of, days)
    current = current[current["season"] == 2019]
    start, end = min(current["game_date"]), max(current["game_date"])
    reference = build_reference(frame, [2018], start, end)
    features = list(MONEYLINE_FEATURES)

    drift = run_drift_report(reference, current, features)

    assert drift.dataset is not None
    assert [c.column for c in drift.features] == features
    assert drift.n_drifted == drift.dataset.n_drifted
    assert sum(c.drifted for c in drift.features) == drift.dataset.n_drifted
    assert len(drift.drifted_columns()) == drift.dataset.n_drifted
    assert drift.drift_share == pytest.approx(drift.dataset.share)
    assert drift.dataset.detected is (drift.dataset.share >= drift.dataset.drift_share)
    assert 0 < drift.n_drifted < len(features)  # a count that could disagree
    assert drift.prediction is not None and drift.prediction.method == "ks"
    assert drift.prediction.drifted is (drift.prediction.value < 0.001)


def test_dataset_share_threshold_is_passed_to_evidently(frame: pd.DataFrame) -> None:
    current = frame[frame["season"] == 2019]
    reference = frame[frame["season"] == 2018]
    features = list(MONEYLINE_FEATURES)
    low = run_drift_report(reference, current, features, drift_share=0.01)
    high = run_drift_report(reference, current, features, drift_share=0.99)
    assert low.dataset is not None and high.dataset is not None
    assert (low.dataset.drift_share, high.dataset.drift_share) == (0.01, 0.99)
    assert low.dataset.detected and not high.dataset.detected
    assert low.dataset.n_drifted == high.dataset.n_drifted


def test_a_feature_without_values_on_one_side_is_named_not_measured(frame: pd.DataFrame) -> None:
    """As the closing-line model's player features are over seasons without play-by-play."""
    current = frame[frame["season"] == 2019]
    reference = frame[frame["season"] == 2018].copy()
    features = list(MONEYLINE_FEATURES)
    blank = features[0]
    reference[blank] = np.nan
    drift = run_drift_report(reference, current, features)
    assert drift.unmeasured == (blank,)
    assert [c.column for c in drift.features] == features[1:]
    assert drift.dataset is not None and drift.drift_share == pytest.approx(drift.dataset.share)


def _snapshot(per_column_method: dict[str, str]) -> dict:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    rng = np.random.default_rng(0)
    n = 600
    reference = pd.DataFrame(
        {
            "shifted": rng.normal(0.0, 1.0, n),
            "steady": rng.normal(0.0, 1.0, n),
            "category": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    current = pd.DataFrame(
        {
            "shifted": rng.normal(1.5, 1.0, n),
            "steady": rng.normal(0.0, 1.0, n),
            "category": rng.choice(["a", "b", "c"], n, p=[0.1, 0.3, 0.6]),
        }
    )
    preset = DataDriftPreset(columns=list(reference), per_column_method=per_column_method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Report([preset], include_tests=True).run(current, reference).dict()


def test_explicitly_named_and_p_value_distance_methods_are_read_right() -> None:
    """Methods whose names misled the old name-based rule: "wasserstein" given by name (a
    distance, nothing in the name says so) and TVD (a permutation p-value called a distance)."""
    parsed = parse_value_drift(
        _snapshot({"shifted": "wasserstein", "steady": "wasserstein", "category": "TVD"})
    )
    assert parsed["shifted"].method == "wasserstein" and parsed["shifted"].drifted
    assert parsed["shifted"].value >= parsed["shifted"].threshold
    assert not parsed["steady"].drifted and parsed["steady"].value < parsed["steady"].threshold
    # TVD reports a p-value: tiny here, so drifted although the name says "distance".
    assert parsed["category"].method == "TVD"
    assert parsed["category"].value < parsed["category"].threshold
    assert parsed["category"].drifted


def test_parse_dataset_drift_reads_evidentlys_count() -> None:
    snapshot = _snapshot({"shifted": "wasserstein", "steady": "wasserstein", "category": "TVD"})
    dataset = parse_dataset_drift(snapshot)
    assert dataset is not None
    assert dataset.n_drifted == 2 and dataset.share == pytest.approx(2 / 3)
    assert dataset.detected  # 2/3 >= 0.5
    assert parse_dataset_drift({"metrics": []}) is None
