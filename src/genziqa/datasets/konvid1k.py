"""KoNViD-1k (Hosu et al., QoMEX 2017): 1,200 Flickr videos, 960x540, about 8 s, MOS 1-5.

Label files in circulation, read in this order of preference (in ROOT or in the
ROOT/KoNViD_1k_metadata/ folder of the official metadata zip):

- `KoNViD_1k_mos.csv` (official; `flickr_id`, `mos`): what GenzVQA's `konvid.py` reads;
- `KoNViD_1k_attributes.csv` (official metadata; `flickr_id`, ..., `file_name`, `MOS`, ...);
- `labels.txt` (FAST-VQA/DOVER list: `KoNViD_1k_videos/<id>.mp4, duration, fps, mos`).

Quirks encoded here:

- Videos live in ROOT/KoNViD_1k_videos/. The current release names them `<flickr_id>.mp4`; an
  older release, used by the SimpleVQA/VSFA .mat files and by the attributes CSV's
  `file_name`, names them `<flickr_id>_original_centercrop_960x540_8s.mp4` (or
  `_cut_centercrop_...`). Each video is found by its id under either name; where both exist
  the current `<flickr_id>.mp4` is used.
- Flickr ids are 10-digit integers and are read as text. An id written as a float
  (`4542323058.0`, what a CSV re-saved through pandas or a spreadsheet holds) is read as the
  integer it spells; any other non-integer id is an error.

No official split: cross-database use takes all 1,200 videos.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    make_table,
    pick_column,
    read_csv,
    read_label_lines,
    require_dir,
    to_float,
)

VIDEOS = "KoNViD_1k_videos"
MOS_CSV = "KoNViD_1k_mos.csv"
ATTRIBUTES_CSV = "KoNViD_1k_attributes.csv"
LABEL_LINES = "labels.txt"
METADATA = "KoNViD_1k_metadata"
_ID = re.compile(r"(\d+)(?:\.0+)?")

INFO = DatasetInfo(
    name="konvid1k",
    title="KoNViD-1k",
    kind="authentic",
    native_range=(1.0, 5.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/{VIDEOS}/<flickr_id>.mp4 (or the older <flickr_id>_original_centercrop_"
        f"960x540_8s.mp4); labels in ROOT/ or ROOT/{METADATA}/: {MOS_CSV} (flickr_id, mos "
        f"1-5), else {ATTRIBUTES_CSV} (flickr_id, MOS), else the FAST-VQA {LABEL_LINES} "
        "(KoNViD_1k_videos/<id>.mp4, duration, fps, mos)"
    ),
)


def _label_file(root: Path) -> Path:
    candidates = [
        folder / name
        for name in (MOS_CSV, ATTRIBUTES_CSV, LABEL_LINES)
        for folder in (root, root / METADATA)
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise DatasetError(
        f"expected a KoNViD-1k label file ({MOS_CSV}, {ATTRIBUTES_CSV} or {LABEL_LINES}) in "
        f"{root} or {root / METADATA}; none exists"
    )


def _flickr_ids(values: list[str], source: Path, column: str) -> list[str]:
    ids = []
    for value in values:
        match = _ID.fullmatch(value.strip())
        if match is None:
            raise DatasetError(
                f"{source}: column {column!r} must hold integer Flickr ids, found {value!r}"
            )
        ids.append(match.group(1))
    return ids


def _labels(path: Path) -> tuple[list[str], pd.Series | list[float]]:
    """(flickr ids, MOS) from any of the three label files."""
    if path.name == LABEL_LINES:
        names, mos = read_label_lines(path, "the FAST-VQA KoNViD-1k label list")
        stems = [PurePosixPath(n).name.split("_")[0].removesuffix(".mp4") for n in names]
        return _flickr_ids(stems, path, "name (1st field)"), list(mos)
    frame = read_csv(path, ["flickr_id"], "a KoNViD-1k label CSV", dtype={"flickr_id": str})
    column = pick_column(frame, ["mos", "MOS"], path)
    ids = _flickr_ids(frame["flickr_id"].fillna("").astype(str).tolist(), path, "flickr_id")
    return ids, to_float(frame[column], path, column)


def _video_index(folder: Path) -> dict[str, str]:
    """flickr id -> file name in the video folder, preferring `<id>.mp4` over older names."""
    index: dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith(".mp4"):
            continue
        flickr_id = name.split("_")[0].split(".")[0]
        if flickr_id not in index or name.lower() == f"{flickr_id}.mp4":
            index[flickr_id] = name
    return index


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of KoNViD-1k (no official split)."""
    videos = require_dir(root / VIDEOS, "the KoNViD-1k video folder")
    path = _label_file(root)
    ids, mos = _labels(path)
    index = _video_index(videos)
    return make_table(
        INFO,
        [videos / index.get(i, f"{i}.mp4") for i in ids],
        mos,
        label_file=path,
        skip_missing=skip_missing,
    )
