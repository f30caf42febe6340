"""PIPAL, training part (Gu et al., 2020): 200 references x 116 distortions.

Labels are Elo scores (higher is better, about 900-1850) with no fixed range, so `score` is
min-max over the data. All rows belong to the official training split ("train"); the
reference id is the name before the first underscore (`A0001_00_00.bmp` -> `A0001`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table, require_dir

INFO = DatasetInfo(
    name="pipal",
    title="PIPAL (training set)",
    kind="synthetic",
    native_range=None,
    lower_better=False,
    label_name="Elo",
    has_official_split=True,
    layout=(
        "ROOT/Train_Label/*.txt (one 'name,elo' pair per line); distorted images in "
        "ROOT/Distortion_1/ .. ROOT/Distortion_4/ (each name in exactly one of them)"
    ),
)


def _parse(path: Path) -> list[tuple[str, float]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read it as text: {error}") from error
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            if len(parts) != 2 or not parts[0]:
                raise ValueError
            pairs.append((parts[0], float(parts[1])))
        except ValueError:
            raise DatasetError(
                f"{path}, line {number}: expected 'name,elo', received {line!r}"
            ) from None
    return pairs


def read(root: Path) -> pd.DataFrame:
    """Canonical table of the PIPAL training set (split "train", ref_id = reference)."""
    label_dir = require_dir(root / "Train_Label", "the PIPAL label folder")
    label_files = sorted(label_dir.glob("*.txt"))
    if not label_files:
        raise DatasetError(f"expected PIPAL label files {label_dir}/*.txt; found none")
    folders = sorted(p for p in root.glob("Distortion_*") if p.is_dir())
    if not folders:
        raise DatasetError(f"expected the PIPAL image folders {root}/Distortion_1..4; found none")
    where: dict[str, Path] = {}
    for folder in folders:
        for image in folder.iterdir():
            if image.name in where:
                raise DatasetError(
                    f"{image.name!r} exists in both {where[image.name].parent} and {folder}; "
                    "expected each PIPAL image in exactly one Distortion_* folder"
                )
            where[image.name] = image
    pairs = [pair for path in label_files for pair in _parse(path)]
    names = [name for name, _ in pairs]
    return make_table(
        INFO,
        [where.get(n, folders[0] / n) for n in names],  # absent images are reported there
        [elo for _, elo in pairs],
        label_file=label_dir,
        split=["train"] * len(pairs),
        ref_id=[n.split("_")[0] for n in names],
    )
