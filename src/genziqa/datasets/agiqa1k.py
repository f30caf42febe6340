"""AGIQA-1K (Zhang et al., 2023): 1,080 AI-generated images, z-scored MOS higher is better.

The z-scored MOS has no fixed range, so `score` is min-max over the data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetInfo, find_image_dir, make_table, read_excel, to_float

WORKBOOK = "AIGC_MOS_Zscore.xlsx"
NAME_COLUMNS = ("Image", "name", "Name", "image_name", "Image name")
MOS_COLUMNS = ("MOS", "mos")
IMAGE_DIRS = ("file", "images", "image", ".")

INFO = DatasetInfo(
    name="agiqa1k",
    title="AGIQA-1K",
    kind="ai-generated",
    native_range=None,
    lower_better=False,
    label_name="MOS (z-score)",
    has_official_split=False,
    layout=(
        f"ROOT/{WORKBOOK} (image name, prompt, MOS z-score; name column 'Image' or 'name'); "
        "images in the first of ROOT/file/, ROOT/images/, ROOT/image/ or ROOT itself that "
        "holds them"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of AGIQA-1K (score = min-max of the z-scored MOS)."""
    path = root / WORKBOOK
    frame, (name_column, mos_column) = read_excel(
        path, "the AGIQA-1K MOS workbook", NAME_COLUMNS, MOS_COLUMNS
    )
    names = frame[name_column].astype(str).str.strip().tolist()
    images = find_image_dir(root, IMAGE_DIRS, names[0] if names else "", "the AGIQA-1K images")
    return make_table(
        INFO,
        [images / n for n in names],
        to_float(frame[mos_column], path, mos_column),
        label_file=path,
    )
