"""KoNViD-150k-B: the 1,596 videos of KoNViD-150k rated by at least 89 crowd workers each
(MOS 1-5, higher is better); the usual test set for models trained on KoNViD-150k-A (see
konvid150ka.py for why the two parts are two names).

Layout: `k150kb_scores.csv` (`video_name`, `mos`, `video_score`) and the videos of
`k150kb.zip`, in ROOT/k150kb/ or in ROOT itself. The label is `mos`, the mean of all votes;
`video_score` is not read. ".mp4" is appended to a `video_name` without it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetInfo
from .konvid150ka import read_part

SCORES_CSV = "k150kb_scores.csv"
FOLDER = "k150kb"

INFO = DatasetInfo(
    name="konvid150kb",
    title="KoNViD-150k-B",
    kind="authentic",
    native_range=(1.0, 5.0),
    lower_better=False,
    label_name="MOS (column mos, at least 89 votes)",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/{SCORES_CSV} (video_name, mos 1-5, video_score); videos in ROOT/{FOLDER}/ or "
        "ROOT/; option skip_missing=true leaves absent videos out"
    ),
)


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of KoNViD-150k-B (no official split)."""
    return read_part(root, INFO, SCORES_CSV, FOLDER, "mos", skip_missing)
