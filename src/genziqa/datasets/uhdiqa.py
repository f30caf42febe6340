"""UHD-IQA (Hosu et al., 2024): 6,073 4K photos, MOS 0-1 higher is better.

The official split is the folder an image lives in (training/, validation/, test/), which the
metadata's `set` column names too. With a `set` column, each image is looked up in that
folder; without one, in whichever of the three folders holds it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table, read_csv, to_float

METADATA = "uhd-iqa-metadata.csv"
FOLDERS = {"training": "train", "validation": "val", "test": "test"}

INFO = DatasetInfo(
    name="uhdiqa",
    title="UHD-IQA",
    kind="authentic",
    native_range=(0.0, 1.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=True,
    layout=(
        f"ROOT/training/, ROOT/validation/, ROOT/test/ (the official split); ROOT/{METADATA} "
        "(image_name, quality_mos 0-1, optional set = training/validation/test)"
    ),
)


def _folder_of(root: Path, name: str, metadata: Path) -> str:
    holders = [f for f in FOLDERS if (root / f / name).is_file()]
    if len(holders) > 1:
        raise DatasetError(
            f"{metadata}: {name!r} exists in several split folders {holders}; expected one"
        )
    return holders[0] if holders else "training"  # an absent image is reported later


def read(root: Path) -> pd.DataFrame:
    """Canonical table of UHD-IQA with the official split."""
    present = [f for f in FOLDERS if (root / f).is_dir()]
    if not present:
        raise DatasetError(
            f"expected the UHD-IQA split folders {[str(root / f) for f in FOLDERS]}; none exists"
        )
    path = root / METADATA
    labels = read_csv(path, ["image_name", "quality_mos"], "the UHD-IQA metadata")
    names = labels["image_name"].astype(str).tolist()
    if "set" in labels.columns:
        folders = labels["set"].astype(str).str.strip().tolist()
        unknown = sorted(set(folders) - set(FOLDERS))
        if unknown:
            raise DatasetError(f"{path}: 'set' must be one of {list(FOLDERS)}, found {unknown}")
    else:
        folders = [_folder_of(root, n, path) for n in names]
    return make_table(
        INFO,
        [root / f / n for f, n in zip(folders, names, strict=True)],
        to_float(labels["quality_mos"], path, "quality_mos"),
        label_file=path,
        split=[FOLDERS[f] for f in folders],
    )
