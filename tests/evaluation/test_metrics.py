"""Metrics against scipy.stats, and the defined edge cases of genziqa.evaluation.metrics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from genziqa.evaluation import metrics

# Fixed vectors with ties in both, and a non-trivial ordering.
PRED = np.array([0.1, 0.4, 0.4, 0.2, 0.9, 0.7, 0.7, 0.3, 0.5, 0.8])
MOS = np.array([1.0, 2.5, 2.0, 2.0, 4.5, 3.5, 4.0, 1.5, 3.0, 3.0])


@pytest.fixture
def strict_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_correlations_match_scipy_with_ties(strict_warnings):
    assert metrics.srcc(PRED, MOS) == pytest.approx(stats.spearmanr(PRED, MOS).statistic, 1e-12)
    assert metrics.krcc(PRED, MOS) == pytest.approx(stats.kendalltau(PRED, MOS).statistic, 1e-12)
    assert metrics.plcc(PRED, MOS) == pytest.approx(stats.pearsonr(PRED, MOS).statistic, 1e-12)
    assert metrics.rmse(PRED, MOS) == pytest.approx(np.sqrt(np.mean((PRED - MOS) ** 2)), 1e-12)


def test_krcc_is_tau_b():
    tau_b = stats.kendalltau(PRED, MOS, variant="b").statistic
    tau_c = stats.kendalltau(PRED, MOS, variant="c").statistic
    assert tau_b != pytest.approx(tau_c)
    assert metrics.krcc(PRED, MOS) == pytest.approx(tau_b, 1e-12)


def test_lists_arrays_and_tensors_agree():
    expected = metrics.srcc(PRED, MOS)
    assert metrics.srcc(PRED.tolist(), MOS.tolist()) == pytest.approx(expected)
    assert metrics.srcc(torch.tensor(PRED), torch.tensor(MOS)) == pytest.approx(expected)
    grad = torch.tensor(PRED, requires_grad=True)
    assert metrics.plcc(grad, MOS) == pytest.approx(metrics.plcc(PRED, MOS))


def test_nan_and_inf_pairs_are_dropped_and_counted(strict_warnings):
    pred = np.append(PRED, [np.nan, 0.5, np.inf])
    mos = np.append(MOS, [2.0, np.nan, 1.0])
    assert metrics.srcc(pred, mos) == pytest.approx(metrics.srcc(PRED, MOS))
    result = metrics.evaluate_predictions(pred, mos)
    assert result["n"] == len(PRED)
    assert result["n_dropped"] == 3
    assert result["srcc"] == pytest.approx(metrics.srcc(PRED, MOS))


@pytest.mark.parametrize("which", ["pred", "mos"])
def test_constant_vector_gives_zero_without_warnings(strict_warnings, which):
    constant = np.full_like(PRED, 3.0)
    pred, mos = (constant, MOS) if which == "pred" else (PRED, constant)
    for function in (metrics.srcc, metrics.krcc, metrics.plcc, metrics.plcc_fitted):
        assert function(pred, mos) == 0.0
    result = metrics.evaluate_predictions(pred, mos)
    for key in ("srcc", "krcc", "plcc", "plcc_fitted"):
        assert result[key] == 0.0
    assert np.isfinite(result["rmse"]) and np.isfinite(result["rmse_fitted"])
    assert result["logistic_fallback"] is True


def test_fewer_than_three_valid_pairs_raise():
    with pytest.raises(ValueError, match="received 2 of 4"):
        metrics.srcc([1.0, 2.0, np.nan, 4.0], [1.0, 2.0, 3.0, np.nan])


def test_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match="received 4 and 3"):
        metrics.plcc([1, 2, 3, 4], [1, 2, 3])


def test_non_vector_input_is_rejected():
    with pytest.raises(ValueError, match=r"shape \(5, 2\)"):
        metrics.srcc(np.ones((5, 2)), np.ones(5))


def test_logistic_4_formula_and_limits(strict_warnings):
    x = np.array([-1e6, 0.0, 1.0, 1e6])
    y = metrics.logistic_4(x, 5.0, 1.0, 1.0, -2.0)  # |b4| is used
    expected_middle = (5.0 - 1.0) / (1.0 + np.exp(-(0.0 - 1.0) / 2.0)) + 1.0
    assert y[0] == pytest.approx(1.0) and y[-1] == pytest.approx(5.0)
    assert y[1] == pytest.approx(expected_middle) and y[2] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="non-zero"):
        metrics.logistic_4(x, 5.0, 1.0, 1.0, 0.0)


def test_fit_logistic_recovers_known_parameters(strict_warnings):
    rng = np.random.default_rng(0)
    x = np.linspace(-3.0, 3.0, 300)
    truth = (4.5, 1.2, 0.4, 0.6)
    y = metrics.logistic_4(x, *truth) + rng.normal(scale=0.01, size=x.shape)
    fit = metrics.fit_logistic(x, y)
    assert fit.fallback is False
    b1, b2, b3, b4 = fit  # unpacks like the 4-tuple of parameters
    assert (b1, b2, b3, b4) == pytest.approx(truth, abs=0.03)
    assert np.allclose(fit(x), metrics.logistic_4(x, *fit.params))


def test_fit_logistic_handles_decreasing_relations():
    x = np.linspace(0.0, 1.0, 50)
    y = metrics.logistic_4(x, 0.0, 80.0, 0.5, 0.1)  # falls from 80 to 0
    fit = metrics.fit_logistic(x, y)
    assert not fit.fallback
    assert np.allclose(fit(x), y, atol=1e-3)


def test_plcc_fitted_beats_raw_plcc_on_a_monotone_nonlinear_relation(strict_warnings):
    x = np.linspace(0.0, 1.0, 40)
    y = np.exp(6.0 * x) + np.sin(7.0 * x)  # monotone, far from linear
    raw, fitted = metrics.plcc(x, y), metrics.plcc_fitted(x, y)
    assert fitted >= abs(raw)
    assert fitted > raw + 0.05
    assert metrics.rmse_fitted(x, y) < np.sqrt(np.mean((y - y.mean()) ** 2))


def test_fallback_is_the_least_squares_line(strict_warnings):
    x = np.array([0.0, 1.0, 2.0, 3.0])  # too few points for 4 parameters
    y = np.array([1.0, 3.2, 4.9, 7.1])
    fit = metrics.fit_logistic(x, y)
    assert fit.fallback is True
    slope, intercept = np.polyfit(x, y, 1)
    assert np.allclose(fit(x), slope * x + intercept, rtol=1e-7, atol=1e-7)
    assert metrics.plcc_fitted(x, y) == pytest.approx(abs(metrics.plcc(x, y)), abs=1e-9)


def test_lower_better_negates_the_labels():
    dmos = 5.0 - MOS
    higher = metrics.evaluate_predictions(PRED, MOS)
    lower = metrics.evaluate_predictions(PRED, dmos, lower_better=True)
    for key in ("srcc", "krcc", "plcc", "plcc_fitted", "rmse_fitted"):
        assert lower[key] == pytest.approx(higher[key], abs=1e-6)
    assert lower["srcc"] > 0 and lower["lower_better"] is True
    naive = metrics.evaluate_predictions(PRED, dmos)
    assert naive["srcc"] == pytest.approx(-lower["srcc"])


def test_evaluate_predictions_keys_and_json():
    result = metrics.evaluate_predictions(PRED, MOS)
    assert set(result) == {
        "n",
        "n_dropped",
        "srcc",
        "krcc",
        "plcc",
        "plcc_fitted",
        "rmse",
        "rmse_fitted",
        "plcc_cubic",
        "rmse_cubic",
        "logistic_params",
        "logistic_fallback",
        "lower_better",
    }
    assert len(result["logistic_params"]) == 4
    json.dumps(result)  # plain Python numbers only
    assert result["plcc_fitted"] >= abs(result["plcc"]) - 1e-12


def test_plcc_cubic_is_the_reference_polyfit_protocol(strict_warnings):
    """GenzVQA's test: np.polyfit(pred, mos, 3) on the test set, then Pearson (VIDEO.md 1.9);
    ours is the same polynomial on a scaled domain, so raw scores of any size stay exact."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = np.tanh(2 * x) + 0.1 * rng.normal(size=60)
    reference = stats.pearsonr(np.polyval(np.polyfit(x, y, 3), x), y).statistic
    assert metrics.plcc_cubic(x, y) == pytest.approx(reference, abs=1e-12)
    assert metrics.plcc_cubic(x * 1e4 + 5e5, y) == pytest.approx(reference, abs=1e-9)
    result = metrics.evaluate_predictions(x, y)
    assert result["plcc_cubic"] == pytest.approx(reference, abs=1e-12)
    assert result["plcc_cubic"] >= abs(result["plcc"]) - 1e-12  # a cubic includes the line
    residual = y - np.polyval(np.polyfit(x, y, 3), x)
    assert result["rmse_cubic"] == pytest.approx(np.sqrt(np.mean(residual**2)), abs=1e-12)


def test_plcc_cubic_with_few_distinct_or_constant_predictions(strict_warnings):
    assert metrics.plcc_cubic([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]) == 0.0
    # Two distinct values determine only a line: no rank warning, a finite result.
    assert metrics.plcc_cubic([0.0, 0.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(
        stats.pearsonr([0, 0, 1, 1], [1, 2, 3, 4]).statistic
    )
