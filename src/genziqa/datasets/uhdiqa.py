"""UHD-IQA (Hosu et al., 2024): 6,073 4K photos, MOS 0-1 higher is better.

The official split is the folder an image lives in (training/, validation/, test/). Two
label layouts are in circulation, both read:

- the database release: one ``uhd-iqa-metadata.csv`` whose ``set`` column names the split
  (with no ``set`` column each image is looked up in whichever split folder holds it);
- the challenge release: one file per split, ``uhd-iqa-training-metadata.csv``,
  ``uhd-iqa-validation-metadata.csv`` and ``uhd-iqa-test-metadata.csv``; the file names the
  split. A split file that is absent, or has no ``quality_mos`` column (an unlabelled test
  split), is left out with a DatasetWarning saying so.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table, read_csv, to_float, warn_missing

METADATA = "uhd-iqa-metadata.csv"
SPLIT_METADATA = "uhd-iqa-{}-metadata.csv"
FOLDERS = {"training": "train", "validation": "val", "test": "test"}
NAME, LABEL = "image_name", "quality_mos"

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
        f"({NAME}, {LABEL} 0-1, optional set = training/validation/test) or the challenge's "
        f"per-split ROOT/{SPLIT_METADATA.format('training')}, "
        f"{SPLIT_METADATA.format('validation')}, {SPLIT_METADATA.format('test')}"
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
    if (root / METADATA).is_file() or not any(
        (root / SPLIT_METADATA.format(f)).is_file() for f in FOLDERS
    ):
        return _read_single(root, root / METADATA)
    return _read_per_split(root)


def _read_single(root: Path, path: Path) -> pd.DataFrame:
    labels = read_csv(path, [NAME, LABEL], "the UHD-IQA metadata")
    names = labels[NAME].astype(str).tolist()
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
        to_float(labels[LABEL], path, LABEL),
        label_file=path,
        split=[FOLDERS[f] for f in folders],
    )


def _read_per_split(root: Path) -> pd.DataFrame:
    paths, mos, splits, missing = [], [], [], []
    for folder, split in FOLDERS.items():
        path = root / SPLIT_METADATA.format(folder)
        if not path.is_file():
            missing.append(f"{path.name} (absent)")
            continue
        labels = read_csv(path, [NAME], f"the UHD-IQA {folder} metadata")
        if LABEL not in labels.columns:
            missing.append(f"{path.name} (no {LABEL} column: unlabelled)")
            continue
        names = labels[NAME].astype(str).tolist()
        paths += [root / folder / n for n in names]
        mos += list(to_float(labels[LABEL], path, LABEL))
        splits += [split] * len(names)
    if not paths:
        raise DatasetError(f"{root}: no labelled UHD-IQA metadata; found only {', '.join(missing)}")
    if missing:
        warn_missing(f"UHD-IQA at {root}: left out {', '.join(missing)}")
    return make_table(
        INFO,
        paths,
        mos,
        label_file=root / SPLIT_METADATA.format("*"),
        split=splits,
    )
