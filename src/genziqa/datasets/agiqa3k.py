"""AGIQA-3K (Li et al., 2023): 2,982 AI-generated images.

Quirk: `data.csv` holds two MOS columns. `mos_quality` (perceptual quality, 0-5, higher is
better) is the label; `mos_align` measures text-image alignment and is never used here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetInfo, find_image_dir, make_table, read_csv, to_float

LABELS = "data.csv"
# AGIQA-3K/ is the folder of the public archive; the others are re-packed copies.
IMAGE_DIRS = ("AGIQA-3K", "file", "image", "images", ".")

INFO = DatasetInfo(
    name="agiqa3k",
    title="AGIQA-3K",
    kind="ai-generated",
    native_range=(0.0, 5.0),
    lower_better=False,
    label_name="MOS (mos_quality)",
    has_official_split=False,
    layout=(
        f"ROOT/{LABELS} (name, prompt, ..., mos_quality 0-5, ..., mos_align); images in the "
        "first of ROOT/AGIQA-3K/ (the public archive's folder), ROOT/file/, ROOT/image/, "
        "ROOT/images/ or ROOT itself that holds them"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of AGIQA-3K, labelled by `mos_quality` (never `mos_align`)."""
    path = root / LABELS
    labels = read_csv(path, ["name", "mos_quality"])
    names = labels["name"].astype(str).tolist()
    images = find_image_dir(root, IMAGE_DIRS, names[0] if names else "", "the AGIQA-3K images")
    return make_table(
        INFO,
        [images / n for n in names],
        to_float(labels["mos_quality"], path, "mos_quality"),
        label_file=path,
    )
