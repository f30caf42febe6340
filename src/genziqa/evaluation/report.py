"""How evaluation results are shown: a markdown table and a scatter plot per database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import fit_cubic, fit_logistic


def to_markdown(results: pd.DataFrame) -> str:
    """The results table as GitHub markdown (4 decimals)."""
    header = "| " + " | ".join(results.columns) + " |"
    rule = "|" + "|".join("---" if c == "database" else "---:" for c in results.columns) + "|"
    lines = [header, rule]
    for row in results.itertuples(index=False):
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_scatter(
    prediction: np.ndarray,
    mos: np.ndarray,
    name: str,
    metrics: dict,
    path: Path,
    log: Callable[[str], None] = print,
    unit: str = "images",
) -> Path | None:
    """Prediction against MOS with the fitted logistic curve and the reference's cubic
    polynomial, as a PNG; ``unit`` names the points (images, videos)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no scatter plot (pip install 'genziqa[eval]')")
        return None
    fit = fit_logistic(prediction, mos)
    figure, axes = plt.subplots(figsize=(5, 4), dpi=120)
    axes.scatter(prediction, mos, s=8, alpha=0.6, label=unit)
    xs = np.linspace(np.min(prediction), np.max(prediction), 200)
    label = "linear fit (logistic failed)" if fit.fallback else "4-parameter logistic fit"
    axes.plot(xs, fit(xs), color="crimson", linewidth=1.5, label=label)
    axes.plot(xs, fit_cubic(prediction, mos)(xs), color="teal", linewidth=1, linestyle="--",
              label="cubic polynomial fit")  # fmt: skip
    axes.set_xlabel("prediction")
    axes.set_ylabel("MOS")
    axes.set_title(
        f"{name}: SRCC {metrics['srcc']:.3f}, PLCC {metrics['plcc_fitted']:.3f} (fitted)",
        fontsize=9,
    )
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
