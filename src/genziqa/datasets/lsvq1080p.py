"""LSVQ-1080p: the separate high-resolution test set of LSVQ (about 3,560 videos, MOS 0-100).

A name of its own rather than an option of `lsvq` (see lsvq.py for why). Every row is in the
"test" split: the set exists only to test models trained on LSVQ-train.

Label files, in order of preference: the official `labels_test_1080p.csv` (same columns as
`labels_train_test.csv` but without `is_test`; its `is_valid` is not a split and is ignored),
else the FAST-VQA/DOVER list `labels_1080p.txt` (`name.mp4, -1, -1, mos`, 3,573 lines).
Videos are ROOT/<name>.mp4 in the same tree as the rest of LSVQ (names hold a sub-folder, no
extension, and may contain dots: ".mp4" is appended). Option `skip_missing=true` leaves
absent videos out with a warning (listed vs found counts).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table
from .lsvq import listed_labels, official_labels

TEST_1080P_CSV = "labels_test_1080p.csv"
TEST_1080P_LINES = "labels_1080p.txt"

INFO = DatasetInfo(
    name="lsvq1080p",
    title="LSVQ-1080p (test)",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=True,
    media="video",
    layout=(
        f"ROOT/<name>.mp4 (the LSVQ tree); ROOT/{TEST_1080P_CSV} (name, mos 0-100), else the "
        f"FAST-VQA list ROOT/{TEST_1080P_LINES}; every row is split 'test'; option "
        "skip_missing=true leaves absent videos out"
    ),
)


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of the LSVQ 1080p test set (split "test" throughout)."""
    official, listed = root / TEST_1080P_CSV, root / TEST_1080P_LINES
    if official.is_file():
        path, (paths, mos, split) = official, official_labels(official, None)
    elif listed.is_file():
        path, (paths, mos, split) = listed, listed_labels(listed, "test")
    else:
        raise DatasetError(
            f"expected the LSVQ-1080p labels at {official} or {listed}; neither exists"
        )
    return make_table(
        INFO,
        [root / p for p in paths],
        mos,
        label_file=path,
        split=split,
        skip_missing=skip_missing,
    )
