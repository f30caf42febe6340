"""FLIVE, the PaQ-2-PiQ image database (Ying et al., 2020): about 39,800 authentic photos.

Image MOS about 0-100, higher is better. The official split follows the PaQ-2-PiQ release
(as pyiqa does): `labels=640_padded.csv` marks validation images with `is_valid` True (False
is training) and `labels640.csv`, when present, lists the test images; every other image of
`labels_image.csv` is training. Without either file there is no split (""). Names may
include subfolders (e.g. `voc_emotic_ava/x.jpg`), relative to `database/`. Patch labels are
not read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    find_file,
    make_table,
    pick_column,
    read_csv,
    require_columns,
    require_dir,
    to_float,
)

LABELS = "labels_image.csv"
VALID = "labels=640_padded.csv"
TEST = "labels640.csv"

INFO = DatasetInfo(
    name="flive",
    title="FLIVE (PaQ-2-PiQ)",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=True,
    layout=(
        f"ROOT/database/<name> (names may hold subfolders); ROOT/{LABELS} (name, mos); "
        f"optional ROOT/{VALID} (name_image, is_valid: True = val, False = train) and "
        f"ROOT/{TEST} (name_image: test); label files may also sit in ROOT/database/"
    ),
)


def _flags(values: pd.Series, source: Path) -> list[bool]:
    """`is_valid` as booleans (True/False, true/false or 1/0)."""
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    text = values.astype(str).str.strip().str.lower()
    bad = sorted(set(text) - set(mapping))
    if bad:
        raise DatasetError(f"{source}: 'is_valid' must be True or False, found {bad[:5]}")
    return [mapping[t] for t in text]


def _optional(root: Path, name: str) -> Path | None:
    """A split file in ROOT or ROOT/database/, or None when it is in neither."""
    found = [p for p in (root / name, root / "database" / name) if p.is_file()]
    return found[0] if found else None


def _listed(path: Path, known: set[str]) -> pd.DataFrame:
    frame = read_csv(path, [], "a FLIVE split file")
    column = pick_column(frame, ["name_image", "name"], path)
    frame = frame.assign(name=frame[column].astype(str))
    unknown = sorted(set(frame["name"]) - known)
    if unknown:
        raise DatasetError(
            f"{path}: {len(unknown)} name(s) are not in {LABELS}, e.g. {unknown[:5]}; "
            "expected the same image names"
        )
    return frame


def read(root: Path) -> pd.DataFrame:
    """Canonical table of FLIVE with the official train/val/test split."""
    images = require_dir(root / "database", "the FLIVE image folder")
    label_path = find_file([root / LABELS, images / LABELS], "the FLIVE image labels")
    labels = read_csv(label_path, ["name", "mos"])
    names = labels["name"].astype(str).tolist()
    known = set(names)

    valid_path, test_path = _optional(root, VALID), _optional(root, TEST)
    split = ["" if valid_path is None and test_path is None else "train"] * len(names)
    position = {n: i for i, n in enumerate(names)}
    if valid_path is not None:
        valid = _listed(valid_path, known)
        require_columns(valid, ["is_valid"], valid_path)
        for name, flag in zip(valid["name"], _flags(valid["is_valid"], valid_path), strict=True):
            split[position[name]] = "val" if flag else "train"
    if test_path is not None:
        for name in _listed(test_path, known)["name"]:
            split[position[name]] = "test"

    return make_table(
        INFO,
        [images / n for n in names],
        to_float(labels["mos"], label_path, "mos"),
        label_file=label_path,
        split=split,
    )
