"""KoNViD-150k-A (Götz-Hahn et al., MLSP-VQA, IEEE Access 2021): 153,841 Flickr/YFCC videos,
960x540, about 5 s, each rated by about 5 crowd workers; MOS 1-5, higher is better.

The two parts of KoNViD-150k are two names (`konvid150ka`, `konvid150kb`): they come as two
archives with two score files, differ in label quality (A: 5 votes, coarse; B: at least 89
votes) and play two roles (the usual protocol trains on A and tests on B), and results must
be reported per part. Neither part carries an official split of its own.

Layout: `k150ka_scores.csv` (`video_name`, `video_score`) and the videos of `k150ka.zip`,
in ROOT/k150ka/ or in ROOT itself. `video_name` is used as the file name, with ".mp4"
appended when it has no such extension. Downloads of A are rarely complete (one third-party
copy holds 152,265 of the 153,841): option `skip_missing=true` leaves absent videos out
with a warning giving the listed and found counts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, make_table, read_csv, to_float

SCORES_CSV = "k150ka_scores.csv"
FOLDER = "k150ka"

INFO = DatasetInfo(
    name="konvid150ka",
    title="KoNViD-150k-A",
    kind="authentic",
    native_range=(1.0, 5.0),
    lower_better=False,
    label_name="MOS (column video_score, about 5 votes)",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/{SCORES_CSV} (video_name, video_score 1-5); videos in ROOT/{FOLDER}/ or ROOT/; "
        "option skip_missing=true leaves absent videos out"
    ),
)


def read_part(
    root: Path, info: DatasetInfo, scores_csv: str, folder: str, mos_column: str, skip_missing: bool
) -> pd.DataFrame:
    """The canonical table of one KoNViD-150k part (shared by konvid150ka and konvid150kb)."""
    path = root / scores_csv
    frame = read_csv(path, ["video_name", mos_column], f"the {info.title} scores")
    names = frame["video_name"].fillna("").astype(str).str.strip().tolist()
    if any(not n for n in names):
        raise DatasetError(f"{path}: column 'video_name' has empty video names")
    files = [n if n.lower().endswith(".mp4") else f"{n}.mp4" for n in names]
    videos = root / folder if (root / folder).is_dir() else root
    return make_table(
        info,
        [videos / f for f in files],
        to_float(frame[mos_column], path, mos_column),
        label_file=path,
        skip_missing=skip_missing,
    )


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of KoNViD-150k-A (no official split)."""
    return read_part(root, INFO, SCORES_CSV, FOLDER, "video_score", skip_missing)
