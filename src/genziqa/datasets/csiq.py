"""CSIQ (Larson and Chandler, 2010): 866 distorted images from 30 references.

DMOS 0-1, LOWER is better: `mos` keeps the DMOS and `score` = 1 - DMOS. The label workbook
`csiq.DMOS.xlsx` has a title block above its header row (image, dst_idx, dst_type, dst_lev,
dmos_std, dmos), so the header row is searched for, preferring the sheet `all_by_image`.
Distortion names in the sheet differ from the folders: "noise" is `awgn/` and "jpeg 2000" is
`jpeg2000/`; file names mix cases (`1600.AWGN.1.png`, `1600.jpeg2000.1.png`) and are
matched ignoring case. The reference id is the `image` column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    folder_index,
    lookup_ignoring_case,
    make_table,
    read_excel_sheets,
    require_dir,
    to_float,
)

WORKBOOK = "csiq.DMOS.xlsx"
REQUIRED = ("image", "dst_type", "dst_lev", "dmos")
FOLDER_OF_TYPE = {"noise": "awgn", "jpeg 2000": "jpeg2000"}

INFO = DatasetInfo(
    name="csiq",
    title="CSIQ",
    kind="synthetic",
    native_range=(0.0, 1.0),
    lower_better=True,
    label_name="DMOS",
    has_official_split=False,
    layout=(
        f"ROOT/{WORKBOOK} (a sheet, preferably all_by_image, with columns image, dst_type, "
        "dst_lev, dmos 0-1); ROOT/dst_imgs/<type>/<image>.<type>.<lev>.png (type folders "
        "awgn, jpeg, jpeg2000, fnoise, blur, contrast; names matched ignoring case)"
    ),
)


def _label_rows(path: Path) -> pd.DataFrame:
    """The rows below the header row (image, dst_type, dst_lev, dmos) of the label sheet."""
    sheets = read_excel_sheets(path, "the CSIQ DMOS workbook", header=None)
    order = sorted(sheets, key=lambda name: name != "all_by_image")
    for name in order:
        raw = sheets[name]
        for row in range(len(raw)):
            cells = [str(v).strip() for v in raw.iloc[row]]
            if all(c in cells for c in REQUIRED):
                frame = raw.iloc[row + 1 :].copy()
                frame.columns = cells
                return frame.loc[:, list(REQUIRED)]
    raise DatasetError(
        f"{path}: expected a header row with the columns {list(REQUIRED)} in one of the "
        f"sheets {list(sheets)}; none found"
    )


def _text(value: object) -> str:
    """Cell text; whole floats (1600.0, 1.0) lose their decimal point."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read(root: Path) -> pd.DataFrame:
    """Canonical table of CSIQ (DMOS lower is better, ref_id = reference image)."""
    images = require_dir(root / "dst_imgs", "the CSIQ distorted-image folder")
    path = root / WORKBOOK
    rows = _label_rows(path)
    rows = rows[rows.notna().any(axis=1)]  # blank spreadsheet rows are not data
    partial = rows[rows.isna().any(axis=1)]
    if len(partial):
        raise DatasetError(
            f"{path}: {len(partial)} row(s) miss one of {list(REQUIRED)}, "
            f"e.g. {partial.iloc[0].to_dict()}"
        )
    refs = [_text(v) for v in rows["image"]]
    types = [_text(v).lower() for v in rows["dst_type"]]
    levels = [_text(v) for v in rows["dst_lev"]]
    indexes: dict[str, dict[str, str]] = {}
    paths = []
    for ref, kind, level in zip(refs, types, levels, strict=True):
        folder = images / FOLDER_OF_TYPE.get(kind, kind)
        if folder.name not in indexes:
            require_dir(folder, f"the CSIQ folder of distortion {kind!r}")
            indexes[folder.name] = folder_index(folder)
        wanted = f"{ref}.{folder.name}.{level}.png"
        paths.append(lookup_ignoring_case(indexes[folder.name], folder, wanted, path))
    return make_table(
        INFO,
        paths,
        to_float(rows["dmos"], path, "dmos"),
        label_file=path,
        ref_id=refs,
    )
