"""KonIQ-10k (Hosu et al., 2020): 10,073 authentic photos, MOS higher is better.

Two label CSVs exist. `koniq10k_scores_and_distributions.csv` has `MOS` on the 1-5 rating
scale (and `MOS_zscore` on 0-100); we keep the 1-5 `MOS` as the native label. The
distributions-and-sets CSV `koniq10k_distributions_sets.csv` carries the official split
(`set`: training/validation/test) and a `MOS` on 0-100; it is used for the split, and for the
labels (0-100) only when the scores CSV is absent.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table, read_csv, require_dir, to_float

SCORES_CSV = "koniq10k_scores_and_distributions.csv"
SETS_CSV = "koniq10k_distributions_sets.csv"
RESOLUTIONS = ("1024x768", "512x384")
SETS = {"training": "train", "validation": "val", "test": "test"}

INFO = DatasetInfo(
    name="koniq10k",
    title="KonIQ-10k",
    kind="authentic",
    native_range=(1.0, 5.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=True,
    layout=(
        f"ROOT/1024x768/<image_name> (or ROOT/512x384/, option resolution_folder); "
        f"ROOT/{SCORES_CSV} (image_name, MOS 1-5) and/or ROOT/{SETS_CSV} "
        "(image_name, MOS 0-100, set = training/validation/test: the official split)"
    ),
)


def _image_folder(root: Path, resolution_folder: str | None) -> Path:
    if resolution_folder is not None:
        return require_dir(root / resolution_folder, "the KonIQ-10k image folder")
    for name in RESOLUTIONS:
        if (root / name).is_dir():
            return root / name
    raise DatasetError(
        f"expected the KonIQ-10k images in {root / RESOLUTIONS[0]} or {root / RESOLUTIONS[1]}; "
        "neither folder exists"
    )


def read(root: Path, resolution_folder: str | None = None) -> pd.DataFrame:
    """Canonical table of KonIQ-10k with its official split where the sets CSV is present."""
    folder = _image_folder(root, resolution_folder)
    scores_path, sets_path = root / SCORES_CSV, root / SETS_CSV
    if not scores_path.is_file() and not sets_path.is_file():
        raise DatasetError(
            f"expected a KonIQ-10k label file at {scores_path} or {sets_path}; neither exists"
        )
    sets = read_csv(sets_path, ["image_name", "MOS", "set"]) if sets_path.is_file() else None
    if sets is not None:
        unknown = sorted(set(sets["set"].astype(str)) - set(SETS))
        if unknown:
            raise DatasetError(f"{sets_path}: 'set' must be one of {list(SETS)}, found {unknown}")

    if scores_path.is_file():
        labels = read_csv(scores_path, ["image_name", "MOS"])
        label_file, native_range = scores_path, INFO.native_range
    else:
        labels, label_file, native_range = sets, sets_path, (0.0, 100.0)
    names = labels["image_name"].astype(str).tolist()

    split = None
    if sets is not None:
        by_name = dict(zip(sets["image_name"].astype(str), sets["set"].astype(str), strict=True))
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DatasetError(
                f"{sets_path}: {len(missing)} image(s) of {label_file} have no 'set', "
                f"e.g. {', '.join(missing[:5])}"
            )
        split = [SETS[by_name[n]] for n in names]

    return make_table(
        replace(INFO, native_range=native_range),
        [folder / n for n in names],
        to_float(labels["MOS"], label_file, "MOS"),
        label_file=label_file,
        split=split,
    )
