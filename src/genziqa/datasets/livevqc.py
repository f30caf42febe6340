"""LIVE-VQC (Sinno and Bovik, 2019): 585 smartphone videos from 101 devices, about 10 s,
MOS 0-100 higher is better.

Label files, in order of preference: the release's `data.mat` (cell array `video_list` of
names such as `A001.mp4`, numeric `mos`), else the FAST-VQA/DOVER list `labels.txt`
(`Video/A001.mp4, duration, fps, mos`). Videos are ROOT/Video/<name>. The .mat names carry
their extension; they are used as they are. No official split.
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
    read_label_lines,
    require_dir,
)

VIDEOS = "Video"
MAT = "data.mat"
LABEL_LINES = "labels.txt"

INFO = DatasetInfo(
    name="livevqc",
    title="LIVE-VQC",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/{VIDEOS}/A001.mp4 ...; ROOT/{MAT} (video_list, mos 0-100), else the FAST-VQA "
        f"list ROOT/{LABEL_LINES} (Video/A001.mp4, duration, fps, mos)"
    ),
)


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of LIVE-VQC (no official split)."""
    videos = require_dir(root / VIDEOS, "the LIVE-VQC video folder")
    mat_path, lines_path = root / MAT, root / LABEL_LINES
    if mat_path.is_file():
        content = load_mat(mat_path, ["video_list", "mos"], "the LIVE-VQC labels")
        names = mat_strings(content["video_list"], mat_path, "video_list")
        mos = mat_vector(content["mos"], mat_path, "mos")
        if len(names) != len(mos):
            raise DatasetError(
                f"{mat_path}: 'video_list' holds {len(names)} names but 'mos' {len(mos)} "
                "values; expected one MOS per video"
            )
        paths, label_file = [videos / n for n in names], mat_path
    elif lines_path.is_file():
        names, mos = read_label_lines(lines_path, "the FAST-VQA LIVE-VQC label list")
        paths, label_file = [root / n for n in names], lines_path
    else:
        raise DatasetError(
            f"expected the LIVE-VQC labels at {mat_path} or {lines_path}; neither exists"
        )
    return make_table(INFO, paths, mos, label_file=label_file, skip_missing=skip_missing)
