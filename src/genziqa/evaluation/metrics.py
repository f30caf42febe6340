"""Correlation and error metrics between predicted scores and subjective labels.

SRCC is the primary metric of IQA; PLCC, KRCC and RMSE are reported beside it. PLCC and RMSE
come in three forms: raw (`plcc`, `rmse`), after the 4-parameter logistic map
(`plcc_fitted`, `rmse_fitted`) of VQEG, which METHOD.md requires to be labelled as such, and
after the cubic polynomial the GenzVQA reference fits on the test set itself
(`plcc_cubic`, `rmse_cubic`: `np.polyfit(pred, mos, 3)`, then Pearson; VIDEO.md 1.9).

Defined behaviour (every function, tested in tests/test_metrics.py):
- Inputs: lists, numpy arrays or torch tensors (moved to the CPU first), one value per image.
  Vectors of different lengths raise ValueError naming both lengths.
- Pairs where either value is NaN or +-inf are dropped; `evaluate_predictions` reports how
  many as `n_dropped`. Fewer than 3 valid pairs raise ValueError saying how many there were.
- Ties: SRCC uses average ranks (as scipy.stats.spearmanr); KRCC is Kendall's tau-b (as
  scipy.stats.kendalltau).
- A constant prediction vector (or constant labels) carries no ranking information: every
  correlation is 0.0, with no warning and never NaN.
- `fit_logistic` falls back to the least-squares straight line when the logistic fit fails
  or fits worse than that line, and says so in `LogisticFit.fallback`. Hence
  `plcc_fitted >= |plcc|` always (up to rounding).
- Lower-is-better labels (DMOS): `evaluate_predictions(..., lower_better=True)` compares the
  predictions with the negated labels, so a good higher-is-better model gets positive
  correlations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special, stats

# A linear fallback is written as a logistic this many data ranges wide: over the data it is
# a straight line to about 1e-9 (relative), so `params` is always a valid logistic_4 input.
_LINEAR_WIDTH = 1e4


def _to_vector(values: Any, name: str) -> np.ndarray:
    """One score per image as a float64 vector (lists, numpy arrays, torch tensors)."""
    if hasattr(values, "detach"):
        values = values.detach()
    if hasattr(values, "cpu"):
        values = values.cpu()
    if hasattr(values, "double"):  # torch bfloat16/float16 have no numpy dtype
        values = values.double()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, received {type(values).__name__}") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector (N,), received shape {array.shape}")
    return array


def valid_pairs(pred: Any, mos: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (pred, mos, n_dropped) with every pair holding a NaN or inf removed.

    Raises ValueError when the lengths differ or fewer than 3 valid pairs remain.
    """
    p = _to_vector(pred, "pred")
    m = _to_vector(mos, "mos")
    if p.shape[0] != m.shape[0]:
        raise ValueError(
            f"pred and mos must have the same length, received {p.shape[0]} and {m.shape[0]}"
        )
    keep = np.isfinite(p) & np.isfinite(m)
    n_valid = int(keep.sum())
    if n_valid < 3:
        raise ValueError(
            f"at least 3 valid (finite) pairs are needed, received {n_valid} of {p.shape[0]} pairs"
        )
    return p[keep], m[keep], int(p.shape[0] - n_valid)


def _is_constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) == 0)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r on clean vectors; 0.0 when either is constant (no warning)."""
    if _is_constant(x) or _is_constant(y):
        return 0.0
    dx = x - x.mean()
    dy = y - y.mean()
    dx = dx / np.abs(dx).max()  # rescale so the products can neither overflow nor underflow
    dy = dy / np.abs(dy).max()
    denom = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
    if denom == 0.0:
        return 0.0
    return float(np.clip(np.dot(dx, dy) / denom, -1.0, 1.0))


def srcc(pred: Any, mos: Any) -> float:
    """Spearman rank correlation (average ranks for ties); 0.0 for constant input."""
    p, m, _ = valid_pairs(pred, mos)
    return _pearson(stats.rankdata(p), stats.rankdata(m))


def krcc(pred: Any, mos: Any) -> float:
    """Kendall rank correlation, tau-b (tie-corrected); 0.0 for constant input."""
    p, m, _ = valid_pairs(pred, mos)
    if _is_constant(p) or _is_constant(m):
        return 0.0
    return float(stats.kendalltau(p, m, variant="b").statistic)


def plcc(pred: Any, mos: Any) -> float:
    """Pearson linear correlation of the raw predictions; 0.0 for constant input."""
    p, m, _ = valid_pairs(pred, mos)
    return _pearson(p, m)


def rmse(pred: Any, mos: Any) -> float:
    """Root mean squared error of the raw predictions, in the units of `mos`."""
    p, m, _ = valid_pairs(pred, mos)
    return float(np.sqrt(np.mean((p - m) ** 2)))


def logistic_4(x: Any, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG 4-parameter logistic: (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2.

    b1 and b2 are the upper and lower asymptotes (b1 < b2 gives a decreasing curve), b3 the
    centre and |b4| the width. Written with scipy.special.expit, so it never overflows.
    """
    if b4 == 0:
        raise ValueError("b4 (the width of the logistic) must be non-zero, received 0")
    x = np.asarray(x, dtype=np.float64)
    return (b1 - b2) * special.expit((x - b3) / abs(b4)) + b2


@dataclass(frozen=True)
class LogisticFit:
    """Parameters of `logistic_4` mapping predictions onto the label scale.

    `fallback` is True when the logistic fit failed (or fitted worse than a straight line):
    `params` then describe a logistic so wide that it equals the least-squares line over the
    data (to about 1e-9), so `logistic_4(x, *fit)` is valid either way. Iterating yields the
    4 parameters, so `b1, b2, b3, b4 = fit_logistic(pred, mos)` works.
    """

    params: tuple[float, float, float, float]
    fallback: bool

    def __iter__(self):
        return iter(self.params)

    def __call__(self, x: Any) -> np.ndarray:
        return logistic_4(x, *self.params)


def _line_as_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """The least-squares line y = a x + c written as a (very wide) logistic_4."""
    centre = float(x.mean())
    if _is_constant(x) or _is_constant(y):
        level = float(y.mean())
        return (level, level, centre, 1.0)
    dx = x - centre
    slope = float(np.dot(dx, y - y.mean()) / np.dot(dx, dx))
    width = _LINEAR_WIDTH * float(np.ptp(x))
    span = 4.0 * slope * width  # logistic slope at its centre is (b1 - b2) / (4 |b4|)
    b2 = float(y.mean()) - span / 2.0
    return (b2 + span, b2, centre, width)


def _fit_standardised(xs: np.ndarray, ys: np.ndarray, r: float) -> np.ndarray | None:
    """Least-squares logistic on standardised data; None when no fit beats the line."""
    hi, lo = float(ys.max()), float(ys.min())
    top, bottom = (hi, lo) if r >= 0 else (lo, hi)
    best, best_sse = None, len(ys) * (1.0 - r * r) * (1.0 + 1e-9) + 1e-12  # the line's SSE
    for width in (1.0, 0.25):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                params, _ = optimize.curve_fit(
                    logistic_4, xs, ys, p0=(top, bottom, 0.0, width), maxfev=20000
                )
            except (RuntimeError, ValueError, TypeError, np.linalg.LinAlgError):
                continue
            fitted = logistic_4(xs, *params) if params[3] != 0 else np.full_like(xs, np.nan)
        if not (np.all(np.isfinite(params)) and np.all(np.isfinite(fitted))):
            continue
        sse = float(np.sum((fitted - ys) ** 2))
        if sse <= best_sse:
            best, best_sse = params, sse
    return best


def fit_logistic(pred: Any, mos: Any) -> LogisticFit:
    """Fit `logistic_4` from predictions to labels (scipy.optimize.curve_fit).

    Fitted on standardised data for robustness to scale, from the usual initialisation
    (asymptotes at the label extremes, ordered by the sign of the correlation; centre at the
    mean prediction; width one standard deviation, then a quarter of one), and mapped back.
    """
    p, m, _ = valid_pairs(pred, mos)
    if _is_constant(p) or _is_constant(m) or len(p) <= 4:  # no shape to fit
        return LogisticFit(_line_as_logistic(p, m), fallback=True)
    mx, sx = float(p.mean()), float(p.std())
    my, sy = float(m.mean()), float(m.std())
    xs, ys = (p - mx) / sx, (m - my) / sy
    params = _fit_standardised(xs, ys, _pearson(p, m))
    if params is None:
        return LogisticFit(_line_as_logistic(p, m), fallback=True)
    b1, b2, b3, b4 = (float(v) for v in params)
    return LogisticFit((my + sy * b1, my + sy * b2, mx + sx * b3, sx * abs(b4)), fallback=False)


def plcc_fitted(pred: Any, mos: Any) -> float:
    """PLCC after mapping the predictions through the fitted 4-parameter logistic."""
    p, m, _ = valid_pairs(pred, mos)
    return _pearson(fit_logistic(p, m)(p), m)


def rmse_fitted(pred: Any, mos: Any) -> float:
    """RMSE after the fitted 4-parameter logistic, in the units of `mos`."""
    p, m, _ = valid_pairs(pred, mos)
    return float(np.sqrt(np.mean((fit_logistic(p, m)(p) - m) ** 2)))


def fit_cubic(pred: Any, mos: Any) -> np.polynomial.Polynomial:
    """The least-squares cubic from predictions to labels, as the GenzVQA reference fits it
    (``np.polyfit(pred, mos, deg=3)`` on the evaluated set; the same polynomial, computed on
    a scaled domain so raw scores of any magnitude stay well conditioned). With fewer than 4
    distinct predictions the degree drops to what they determine (a constant for one)."""
    p, m, _ = valid_pairs(pred, mos)
    degree = min(3, len(np.unique(p)) - 1)
    if degree == 0:
        return np.polynomial.Polynomial([float(m.mean())])
    return np.polynomial.Polynomial.fit(p, m, degree)


def plcc_cubic(pred: Any, mos: Any) -> float:
    """PLCC after the reference's in-sample cubic polynomial fit (VIDEO.md 1.9)."""
    p, m, _ = valid_pairs(pred, mos)
    return _pearson(fit_cubic(p, m)(p), m)


def evaluate_predictions(pred: Any, mos: Any, lower_better: bool = False) -> dict[str, Any]:
    """All metrics at once, as plain Python numbers (JSON-ready).

    Keys: n, n_dropped, srcc, krcc, plcc, plcc_fitted, rmse, rmse_fitted, plcc_cubic,
    rmse_cubic, logistic_params (b1..b4), logistic_fallback, lower_better. With
    `lower_better=True` every metric compares the predictions with the negated labels
    (-mos); the fitted parameters map onto -mos, and the RMSEs keep the label's units.
    """
    p, m, n_dropped = valid_pairs(pred, mos)
    target = -m if lower_better else m
    fit = fit_logistic(p, target)
    fitted = fit(p)
    cubic = fit_cubic(p, target)(p)
    return {
        "n": len(p),
        "n_dropped": n_dropped,
        "srcc": srcc(p, target),
        "krcc": krcc(p, target),
        "plcc": plcc(p, target),
        "plcc_fitted": _pearson(fitted, target),
        "rmse": rmse(p, target),
        "rmse_fitted": float(np.sqrt(np.mean((fitted - target) ** 2))),
        "plcc_cubic": _pearson(cubic, target),
        "rmse_cubic": float(np.sqrt(np.mean((cubic - target) ** 2))),
        "logistic_params": tuple(fit.params),
        "logistic_fallback": fit.fallback,
        "lower_better": bool(lower_better),
    }
