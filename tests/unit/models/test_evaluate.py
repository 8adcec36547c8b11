"""Unit tests for probability scoring and calibration in bullpen.models.evaluate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bullpen.models.evaluate import (
    CalibrationBin,
    Metrics,
    calibration_table,
    format_comparison,
    log_loss_per_game,
    score_probabilities,
)


def test_score_probabilities_coin_flip_has_log_loss_ln2_and_brier_quarter() -> None:
    metrics = score_probabilities([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])
    assert metrics.log_loss == pytest.approx(math.log(2))
    assert metrics.brier == pytest.approx(0.25)
    assert metrics.n == 4


def test_score_probabilities_hand_computed_values() -> None:
    y = [1, 0, 1]
    p = [0.8, 0.3, 0.4]
    metrics = score_probabilities(y, p)
    expected_log_loss = -(math.log(0.8) + math.log(0.7) + math.log(0.4)) / 3
    expected_brier = (0.2**2 + 0.3**2 + 0.6**2) / 3
    assert metrics.log_loss == pytest.approx(expected_log_loss)
    assert metrics.brier == pytest.approx(expected_brier)
    assert metrics.accuracy == pytest.approx(2 / 3)
    # Bins 8, 3, 4 each hold one game: |0.8-1|, |0.3-0|, |0.4-1| weighted 1/3 each.
    assert metrics.ece == pytest.approx((0.2 + 0.3 + 0.6) / 3)


def test_score_probabilities_perfectly_calibrated_bins_have_zero_ece() -> None:
    # Bin 0.2 with 1 win in 5 and bin 0.7 with 7 wins in 10: observed rate = prediction.
    y = [1, 0, 0, 0, 0] + [1] * 7 + [0] * 3
    p = [0.2] * 5 + [0.7] * 10
    assert score_probabilities(y, p).ece == pytest.approx(0.0, abs=1e-12)


def test_score_probabilities_accuracy_treats_exact_half_as_predicting_zero() -> None:
    assert score_probabilities([0, 1], [0.5, 0.5]).accuracy == pytest.approx(0.5)
    assert score_probabilities([1, 1], [0.51, 0.5]).accuracy == pytest.approx(0.5)


def test_score_probabilities_clips_certain_wrong_predictions() -> None:
    metrics = score_probabilities([1, 0], [0.0, 1.0])
    assert math.isfinite(metrics.log_loss)
    # 1 - 1e-15 is not exact in binary floating point, hence the loose tolerance.
    assert metrics.log_loss == pytest.approx(-math.log(1e-15), rel=1e-4)


@pytest.mark.parametrize(
    ("y", "p"),
    [([], []), ([1, 0], [0.5]), ([2, 0], [0.5, 0.5]), ([1, 0], [1.2, 0.5]), ([1], [math.nan])],
)
def test_score_probabilities_rejects_bad_inputs(y: list, p: list) -> None:
    with pytest.raises(ValueError):
        score_probabilities(y, p)


def test_metrics_as_dict_has_all_fields() -> None:
    metrics = Metrics(log_loss=0.69, brier=0.25, accuracy=0.5, ece=0.01, n=10)
    assert metrics.as_dict() == {
        "log_loss": 0.69,
        "brier": 0.25,
        "accuracy": 0.5,
        "ece": 0.01,
        "n": 10,
    }


def test_calibration_table_omits_empty_bins_and_reports_counts() -> None:
    table = calibration_table([1, 0, 1, 1], [0.05, 0.15, 0.12, 1.0], bins=10)
    assert [b.count for b in table] == [1, 2, 1]
    assert table[0] == CalibrationBin(
        lower=0.0, upper=0.1, mean_predicted=0.05, observed_rate=1.0, count=1
    )
    assert table[1].mean_predicted == pytest.approx(0.135)
    assert table[1].observed_rate == pytest.approx(0.5)
    # p = 1.0 falls in the last bin rather than an eleventh one.
    assert table[2].lower == pytest.approx(0.9) and table[2].upper == pytest.approx(1.0)


def test_calibration_table_rejects_zero_bins() -> None:
    with pytest.raises(ValueError):
        calibration_table([1], [0.5], bins=0)


def test_log_loss_per_game_values() -> None:
    losses = log_loss_per_game(np.array([1, 0]), np.array([0.5, 0.25]))
    np.testing.assert_allclose(losses, [math.log(2), -math.log(0.75)])


def test_format_comparison_is_fixed_width_table() -> None:
    rows = {
        "model": Metrics(log_loss=0.6812, brier=0.2441, accuracy=0.571, ece=0.0123, n=2430),
        "market_close": Metrics(log_loss=0.6790, brier=0.2431, accuracy=0.58, ece=0.01, n=2430),
        "empty": Metrics(log_loss=math.nan, brier=math.nan, accuracy=math.nan, ece=math.nan, n=0),
    }
    text = format_comparison(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["source", "n", "log_loss", "brier", "accuracy", "ece"]
    assert len({len(line) for line in lines}) == 1  # every line has the same width
    assert "0.6812" in lines[2] and "2430" in lines[2]
    assert lines[3].startswith("market_close")
    assert "nan" in lines[4]
