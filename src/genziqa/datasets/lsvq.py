"""LSVQ (Ying et al., CVPR 2021, "Patch-VQ"): about 39,000 UGC videos, MOS 0-100.

Two adapters: `lsvq` (this file) is the official train/test split of `labels_train_test.csv`
(about 28,000 train and 7,200 test videos); `lsvq1080p` (lsvq1080p.py) is the separate
1080p test set of `labels_test_1080p.csv`. They are two names, not one adapter with an
option, because users and papers treat them as two benchmarks ("LSVQ-test" and
"LSVQ-1080p" columns, both after training on LSVQ-train), with two label files, and because
results are reported per dataset name: `lsvq1080p` must never be confused with the `test`
split of `lsvq`.

Label files, in order of preference:

- `labels_train_test.csv` (official, baidut/PatchVQ release): `name`, patch columns,
  `height`, `width`, `mos_p1..3`, `mos`, ..., `is_test`, `is_valid`. The split is
  `is_test` (True -> "test", False -> "train"), as the release README defines it. `is_valid`
  is not a split: in the copies SimpleVQA/ModularBVQA ship it is True for 7,180 and False
  for 40 of the 7,220 test videos, and True for 705 of the 3,561 1080p videos; it is ignored.
- FAST-VQA/DOVER lists `train_labels.txt` (28,056 lines; what GenzVQA's `lsvq.py` reads) and
  `labels_test.txt` (7,185 lines), `name.mp4, -1, -1, mos`: train and test rows from
  whichever of the two is present.

Quirks encoded here:

- `name` has no extension and holds a sub-folder (`yfcc-batch1/722`, `ia-batch24/...`); the
  video is ROOT/<name>.mp4. Names may contain dots (`..._Ep._11`, `..._40_sec.`), so ".mp4"
  is always appended, never substituted for a "suffix".
- The patch columns (p1-p3 boxes and patch MOS) are irrelevant for global VQA and not read.
- Downloads are rarely complete (tools hold 28,053-28,056 train and 7,182-7,220 test
  videos): option `skip_missing=true` leaves absent videos out with a warning that gives the
  listed and found counts; without it an absent video is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    bool_column,
    make_table,
    read_csv,
    read_label_lines,
    to_float,
)

TRAIN_TEST_CSV = "labels_train_test.csv"
TRAIN_LINES = "train_labels.txt"
TEST_LINES = "labels_test.txt"

INFO = DatasetInfo(
    name="lsvq",
    title="LSVQ (train/test)",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=True,
    media="video",
    layout=(
        f"ROOT/<name>.mp4 (name holds the sub-folder, e.g. yfcc-batch1/722); ROOT/"
        f"{TRAIN_TEST_CSV} (name, mos 0-100, is_test: the official split), else the FAST-VQA "
        f"lists ROOT/{TRAIN_LINES} and/or ROOT/{TEST_LINES} (name.mp4, -1, -1, mos); option "
        "skip_missing=true leaves absent videos out"
    ),
)


def official_labels(path: Path, flag: str | None) -> tuple[list[Path], np.ndarray, list[str]]:
    """(relative video paths, MOS, split) of an official LSVQ CSV; the split is
    test/train from the bool column `flag`, or all "test" when `flag` is None."""
    frame = read_csv(
        path,
        ["name", "mos"] + ([flag] if flag else []),
        "an LSVQ label CSV",
        dtype={"name": str},
        encoding="utf-8-sig",
    )
    names = frame["name"].fillna("").astype(str).str.strip().tolist()
    if any(not n for n in names):
        raise DatasetError(f"{path}: column 'name' has empty video names")
    split = (
        ["test" if t else "train" for t in bool_column(frame, flag, path)]
        if flag
        else ["test"] * len(names)
    )
    return [Path(f"{n}.mp4") for n in names], to_float(frame["mos"], path, "mos"), split


def listed_labels(path: Path, split: str) -> tuple[list[Path], np.ndarray, list[str]]:
    """(relative video paths, MOS, split) of a FAST-VQA LSVQ list (names carry .mp4)."""
    names, mos = read_label_lines(path, "a FAST-VQA LSVQ label list")
    return [Path(n) for n in names], mos, [split] * len(names)


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of LSVQ with the official train/test split (`is_test`)."""
    official = root / TRAIN_TEST_CSV
    if official.is_file():
        parts = [(official, official_labels(official, "is_test"))]
    else:
        lists = [(root / n, s) for n, s in ((TRAIN_LINES, "train"), (TEST_LINES, "test"))]
        parts = [(path, listed_labels(path, split)) for path, split in lists if path.is_file()]
        if not parts:
            raise DatasetError(
                f"expected the LSVQ labels at {official}, or the FAST-VQA lists "
                f"{root / TRAIN_LINES} / {root / TEST_LINES}; none exists"
            )
    tables = [
        make_table(
            INFO,
            [root / p for p in paths],
            mos,
            label_file=path,
            split=split,
            skip_missing=skip_missing,
        )
        for path, (paths, mos, split) in parts
    ]
    table = pd.concat(tables, ignore_index=True)
    twice = table["path"][table["path"].duplicated()].tolist()
    if twice:
        raise DatasetError(
            f"{root / TRAIN_LINES} and {root / TEST_LINES} both list {len(twice)} video(s), "
            f"e.g. {twice[0]}; expected each video in one split"
        )
    return table.sort_values("path", kind="stable").reset_index(drop=True)
