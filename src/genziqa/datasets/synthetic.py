"""The genziqa synthetic benchmark (`genziqa.synthetic.make_benchmark`): bundled photos x
blur, noise, JPEG, contrast and exposure at 5 levels, made locally with no download.

The label is the known severity `100 * (1 - level / 6)` (100 for the pristine reference),
not a human opinion. The official split is the CSV's content-disjoint `split` column and the
reference id is the source photo's name, so all versions of one photo share a split.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from .base import DatasetInfo, make_table, read_csv, text_column, to_float

LABELS = "synthetic.csv"

INFO = DatasetInfo(
    name="synthetic",
    title="genziqa synthetic benchmark",
    kind="synthetic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="severity label 100 * (1 - level / 6) (not human opinion)",
    has_official_split=True,
    layout=(
        f"create it with `genziqa make-synthetic ROOT`: ROOT/{LABELS} (image, mos, ref_id, "
        "distortion, level, split; image paths relative to ROOT) and ROOT/images/<photo>.png "
        "(references), ROOT/images/<photo>_<kind>_<level>.png (distorted)"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of the synthetic benchmark; split and ref_id from the CSV."""
    path = root / LABELS
    labels = read_csv(path, ["image", "mos", "ref_id", "split"], what="the synthetic label CSV")
    return make_table(
        INFO,
        [root / PurePosixPath(name) for name in labels["image"].astype(str)],
        to_float(labels["mos"], path, "mos"),
        label_file=path,
        split=text_column(labels, "split"),
        ref_id=text_column(labels, "ref_id"),
    )
