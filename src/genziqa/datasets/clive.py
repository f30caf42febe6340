"""LIVE In the Wild Image Quality Challenge (CLIVE; Ghadiyaram and Bovik, 2016).

1,169 files, MOS 0-100 higher is better. The first 7 entries of the .mat files are the
training examples shown to the subjects (t1.bmp..t7.bmp, in Images/trainingImages/); the
reference code drops them (`[7:1169]`), leaving the 1,162 scored images. The table keeps the
order of the .mat file, which is what "the first 7" refers to.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    load_mat,
    make_table,
    mat_strings,
    mat_vector,
    require_dir,
)

NAMES_MAT = "Data/AllImages_release.mat"
MOS_MAT = "Data/AllMOS_release.mat"

INFO = DatasetInfo(
    name="clive",
    title="LIVE In the Wild Image Quality Challenge (CLIVE)",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    layout=(
        f"ROOT/Images/<name> (the first 7, t1..t7.bmp, in ROOT/Images/trainingImages/); "
        f"ROOT/{NAMES_MAT} (cell array AllImages_release); ROOT/{MOS_MAT} (AllMOS_release, "
        "0-100); the first 7 entries are dropped (option drop_first=7), .mat order is kept"
    ),
)


def read(root: Path, drop_first: int = 7) -> pd.DataFrame:
    """Canonical table of CLIVE in .mat order, without the first `drop_first` entries."""
    images = require_dir(root / "Images", "the CLIVE image folder")
    names_path, mos_path = root / NAMES_MAT, root / MOS_MAT
    cell = load_mat(names_path, ["AllImages_release"], "the CLIVE image names")
    names = mat_strings(cell["AllImages_release"], names_path, "AllImages_release")
    mos_var = load_mat(mos_path, ["AllMOS_release"], "the CLIVE MOS")["AllMOS_release"]
    mos = mat_vector(mos_var, mos_path, "AllMOS_release")
    if len(names) != len(mos):
        raise DatasetError(
            f"{names_path} lists {len(names)} images but {mos_path} holds {len(mos)} MOS; "
            "expected one MOS per image"
        )
    if not isinstance(drop_first, int) or not 0 <= drop_first < len(names):
        raise DatasetError(
            f"drop_first must be an integer in [0, {len(names)}), received {drop_first!r}"
        )
    names, mos = names[drop_first:], mos[drop_first:]
    training = images / "trainingImages"
    paths = [
        training / n if not (images / n).is_file() and (training / n).is_file() else images / n
        for n in names
    ]
    return make_table(
        INFO,
        paths,
        mos,
        label_file=mos_path,
        keep_order=True,
    )
