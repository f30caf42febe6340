"""SPAQ (Fang et al., 2020): 11,125 smartphone photos, MOS 0-100 higher is better.

Labels come from the `MOS` column of the annotation workbook (the five attribute scores
beside it are not read). There is no official split. The photos are large (about 4000x3000);
resizing is left to preprocessing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetInfo, make_table, read_excel, require_dir, to_float

WORKBOOK = "Annotations/MOS and Image attribute scores.xlsx"
NAME_COLUMNS = ("Image name", "Image_name", "image_name", "Image", "name")

INFO = DatasetInfo(
    name="spaq",
    title="SPAQ (smartphone photography)",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    layout=(
        f"ROOT/TestImage/<Image name>; ROOT/{WORKBOOK} (a sheet with columns 'Image name' "
        "and 'MOS', 0-100)"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of SPAQ (no official split)."""
    images = require_dir(root / "TestImage", "the SPAQ image folder")
    path = root / WORKBOOK
    frame, (name_column, mos_column) = read_excel(
        path, "the SPAQ MOS workbook", NAME_COLUMNS, ("MOS",)
    )
    names = frame[name_column].astype(str).str.strip().tolist()
    return make_table(
        INFO,
        [images / n for n in names],
        to_float(frame[mos_column], path, mos_column),
        label_file=path,
    )
