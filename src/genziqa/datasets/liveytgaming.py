"""LIVE-YT-Gaming (Yu et al., 2022): 600 user-generated gaming videos (360p-1080p, 30/60 fps,
about 8-9 s), MOS 0-100, higher is better.

Label file: `LIVEYTGaming.mat` as SimpleVQA/ModularBVQA ship it: cell array `video_list` of
names without extension (`AgeEmpires-001`), numeric `MOS`, and `index`, 1,000 random
permutations for repeated random splits, which is not an official split and is not read.
The name's prefix is the game, not a shared source video, so there is no reference id.
Videos are `<name>.mp4`, looked for anywhere under ROOT (the SimpleVQA layout is
ROOT/mp4/). Another release layout can be read with the `csv` adapter.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    file_finder,
    load_mat,
    make_table,
    mat_strings,
    mat_vector,
)

MAT = "LIVEYTGaming.mat"

INFO = DatasetInfo(
    name="liveytgaming",
    title="LIVE-YT-Gaming",
    kind="authentic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/{MAT} (video_list names without extension, MOS 0-100); videos <name>.mp4 "
        "anywhere under ROOT (e.g. ROOT/mp4/)"
    ),
)


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of LIVE-YT-Gaming (no official split)."""
    path = root / MAT
    content = load_mat(path, ["video_list", "MOS"], "the LIVE-YT-Gaming labels")
    names = mat_strings(content["video_list"], path, "video_list")
    mos = mat_vector(content["MOS"], path, "MOS")
    if len(names) != len(mos):
        raise DatasetError(
            f"{path}: 'video_list' holds {len(names)} names but 'MOS' {len(mos)} values; "
            "expected one MOS per video"
        )
    files = [n if n.lower().endswith(".mp4") else f"{n}.mp4" for n in names]
    lookup = file_finder(root, (".mp4",), "LIVE-YT-Gaming videos")
    paths = [lookup(f) or root / f for f in files]
    return make_table(INFO, paths, mos, label_file=path, skip_missing=skip_missing)
