"""YouTube-UGC (Wang et al., MMSP 2019): about 1,380 20-second YouTube videos, MOS 1-5.

Label files, in order of preference:

- `original_videos_MOS_for_YouTube_UGC_dataset.xlsx` or `MOS_for_YouTube_UGC_dataset.xlsx`
  (the workbook of the release): the first sheet with a `vid` column and a `MOS full` (or
  `MOSfull`) column, the MOS of the whole video; the 10-second chunk MOS are not read;
- the FAST-VQA/DOVER list `labels.txt`
  (`Sports_2160P-4e9f_crf_10_ss_00_t_20.0.mp4, -1, -1, mos`, 1,147 lines).

Quirks encoded here:

- `vid` has no extension (`Sports_2160P-4e9f`: category, resolution tag, id). Everyone,
  GenzVQA included, scores the H.264 transcodes `<vid>_crf_10_ss_00_t_20.0.mp4`, not the
  VP9 `.mkv` originals: option `videos="transcoded"` (default) looks for those,
  `videos="original"` for `<vid>.mkv` (or an H.264 original `<vid>.mp4`).
- Releases nest videos differently (flat, or `original_videos/<category>/<resolution>/`):
  each file is looked for anywhere under ROOT by its name, ignoring case.
- The collection is "dynamically updated" (MinimalisticVQA), so a download often lacks
  videos the workbook lists (the FAST-VQA list holds 1,147, a SimpleVQA .mat 1,142): option
  `skip_missing=true` leaves them out with a warning giving listed and found counts.

No official split; there is no content id (the category is a genre, not a shared source).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    file_finder,
    make_table,
    read_excel,
    read_label_lines,
    to_float,
)

WORKBOOKS = ("original_videos_MOS_for_YouTube_UGC_dataset.xlsx", "MOS_for_YouTube_UGC_dataset.xlsx")
LABEL_LINES = "labels.txt"
TRANSCODE_SUFFIX = "_crf_10_ss_00_t_20.0.mp4"
_TRANSCODE = re.compile(r"(.+)_crf_\d+_ss_\d+_t_[0-9.]+\.mp4", re.IGNORECASE)
VIDEO_CHOICES = ("transcoded", "original")

INFO = DatasetInfo(
    name="youtubeugc",
    title="YouTube-UGC",
    kind="authentic",
    native_range=(1.0, 5.0),
    lower_better=False,
    label_name="MOS (whole video, 'MOS full')",
    has_official_split=False,
    media="video",
    layout=(
        f"videos anywhere under ROOT: <vid>{TRANSCODE_SUFFIX} (option videos='transcoded', "
        f"default) or <vid>.mkv (videos='original'); ROOT/{WORKBOOKS[0]} or ROOT/{WORKBOOKS[1]} "
        f"(vid, 'MOS full' 1-5), else the FAST-VQA list ROOT/{LABEL_LINES}; option "
        "skip_missing=true leaves absent videos out"
    ),
)


def _labels(root: Path) -> tuple[Path, list[str], pd.Series | list[float]]:
    """(label file, vids, MOS) from the workbook or the FAST-VQA list."""
    for name in WORKBOOKS:
        path = root / name
        if path.is_file():
            frame, (vid, mos) = read_excel(
                path, "the YouTube-UGC MOS", ["vid"], ["MOS full", "MOSfull"]
            )
            vids = frame[vid].fillna("").astype(str).str.strip().tolist()
            if any(not v for v in vids):
                raise DatasetError(f"{path}: column {vid!r} has empty video ids")
            return path, vids, to_float(frame[mos], path, mos)
    path = root / LABEL_LINES
    if not path.is_file():
        listed = ", ".join(str(root / n) for n in (*WORKBOOKS, LABEL_LINES))
        raise DatasetError(f"expected a YouTube-UGC label file at one of: {listed}; none exists")
    names, mos = read_label_lines(path, "the FAST-VQA YouTube-UGC label list")
    vids = []
    for name in names:
        base = PurePosixPath(name).name
        match = _TRANSCODE.fullmatch(base)
        vids.append(match.group(1) if match else PurePosixPath(base).stem)
    return path, vids, list(mos)


def read(root: Path, videos: str = "transcoded", skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of YouTube-UGC: the H.264 transcodes, or the originals."""
    if videos not in VIDEO_CHOICES:
        raise DatasetError(f"videos must be one of {list(VIDEO_CHOICES)}, received {videos!r}")
    path, vids, mos = _labels(root)
    lookup = file_finder(root, (".mp4", ".mkv"), "YouTube-UGC videos")
    if videos == "transcoded":
        candidates = [[f"{v}{TRANSCODE_SUFFIX}"] for v in vids]
    else:
        candidates = [[f"{v}.mkv", f"{v}.mp4"] for v in vids]
    paths = []
    for names in candidates:
        found = next((p for p in map(lookup, names) if p is not None), None)
        paths.append(found if found is not None else root / names[0])
    return make_table(INFO, paths, mos, label_file=path, skip_missing=skip_missing)
