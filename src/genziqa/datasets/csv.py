"""Any folder with a CSV of image paths and labels (the `csv` adapter).

Also the way to read databases without a fixed public layout, such as low-light collections
(e.g. NNID): write a CSV with a path column and a MOS column. Paths are relative to ROOT.
Without `range` the score is min-max over the data; with `lower_better=True` it is flipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table, read_csv, text_column, to_float

INFO = DatasetInfo(
    name="csv",
    title="Any folder with a label CSV",
    kind="custom",
    native_range=None,
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    layout=(
        "ROOT/<csv> (option csv, default labels.csv) with an image-path column (option "
        "path_col, default 'path'; paths relative to ROOT) and a label column (score_col, "
        "default 'mos'); optional ref_col and split_col (train/val/test); options "
        "lower_better and range=(low, high). Use it for low-light sets such as NNID."
    ),
)


def _check_range(value: Sequence[float] | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise DatasetError(f"range must be (low, high), received {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise DatasetError(f"range must be finite with low < high, received {value!r}")
    return (low, high)


def read(  # `range` shadows the builtin: it is the option's public name
    root: Path,
    csv: str = "labels.csv",
    path_col: str = "path",
    score_col: str = "mos",
    lower_better: bool = False,
    range: Sequence[float] | None = None,
    ref_col: str | None = None,
    split_col: str | None = None,
) -> pd.DataFrame:
    """Canonical table of a user's folder described by one CSV."""
    if not isinstance(lower_better, bool):
        raise DatasetError(f"lower_better must be True or False, received {lower_better!r}")
    native_range = _check_range(range)
    path = root / csv
    wanted = [path_col, score_col] + [c for c in (ref_col, split_col) if c is not None]
    labels = read_csv(path, wanted, "the label CSV")
    names = labels[path_col].fillna("").astype(str).str.strip().tolist()
    if any(not n for n in names):
        raise DatasetError(f"{path}: column {path_col!r} has empty image paths")
    return make_table(
        replace(INFO, native_range=native_range, lower_better=bool(lower_better)),
        [root / n for n in names],
        to_float(labels[score_col], path, score_col),
        label_file=path,
        split=text_column(labels, split_col),
        ref_id=text_column(labels, ref_col),
    )
