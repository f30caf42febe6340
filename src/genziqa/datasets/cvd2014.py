"""CVD2014 (Nuutinen et al., 2016): 234 videos shot with 78 cameras in 6 test sessions
(Test1..Test6), 640x480 or 1280x720, 11-28 s, realigned MOS about 0-100, higher is better.

Label files, in order of preference:

- `Realignment_MOS.csv` (in ROOT or ROOT/CVD2014_ratings/, where the release puts it):
  `Content;File_name;Original MOS;Realignment MOS`, **semicolon-separated with decimal
  commas** (`71,17`), CRLF line ends, trailing empty `;;;;` columns and empty rows; the label
  is the realigned MOS (the scale after aligning the sessions), as everyone uses it;
- the FAST-VQA/DOVER list `labels.txt` (`Test3/City/Test03_City_D12.avi, duration, fps, mos`).

Quirks encoded here:

- The realigned MOS can be **negative** (-6.5 ... 93.4), so there is no fixed range to
  check: the score is min-max over the table's labels.
- `File_name` has no extension and encodes session, scene and device (`Test03_City_D12`).
  The video is ROOT/Test<session>/<scene>/<File_name>.avi, where the scene folder's case
  differs from the name's (`Talking_head/Test03_Talking_Head_D10.avi`); other releases are
  flat. Each video is looked for anywhere under ROOT by name, ignoring case.
- The reference id is session and scene (`Test03_City`): all cameras of one session filmed
  the same scene, so a content-disjoint split keeps them together.
- Frame rates vary within and across sessions (24-30.8 fps): nothing here assumes one.

No official split.
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
    read_csv,
    read_label_lines,
    to_float,
)

MOS_CSV = "Realignment_MOS.csv"
RATINGS = "CVD2014_ratings"
LABEL_LINES = "labels.txt"
NAME_COLUMN, MOS_COLUMN = "File_name", "Realignment MOS"
_NAME = re.compile(r"(Test\d+_.+)_D\d+", re.IGNORECASE)

INFO = DatasetInfo(
    name="cvd2014",
    title="CVD2014",
    kind="authentic",
    native_range=None,
    lower_better=False,
    label_name="realigned MOS (can be negative)",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/Test<k>/<scene>/<File_name>.avi (found anywhere under ROOT); ROOT/{MOS_CSV} or "
        f"ROOT/{RATINGS}/{MOS_CSV} (';'-separated, decimal commas: Content;File_name;"
        f"Original MOS;Realignment MOS), else the FAST-VQA list ROOT/{LABEL_LINES}; "
        "ref_id = session and scene"
    ),
)


def _labels(root: Path) -> tuple[Path, list[str], pd.Series | list[float], list[Path | None]]:
    """(label file, names without extension, MOS, relative paths given by the file)."""
    for path in (root / MOS_CSV, root / RATINGS / MOS_CSV):
        if path.is_file():
            frame = read_csv(
                path,
                [NAME_COLUMN, MOS_COLUMN],
                "the CVD2014 realigned MOS (';'-separated, decimal commas)",
                sep=";",
                decimal=",",
                dtype={NAME_COLUMN: str},
                encoding="utf-8-sig",
            )
            frame = frame[frame[NAME_COLUMN].fillna("").astype(str).str.strip() != ""]
            names = frame[NAME_COLUMN].astype(str).str.strip().tolist()
            mos = to_float(frame[MOS_COLUMN], path, MOS_COLUMN)
            return path, names, mos, [None] * len(names)
    path = root / LABEL_LINES
    if not path.is_file():
        raise DatasetError(
            f"expected the CVD2014 labels at {root / MOS_CSV}, {root / RATINGS / MOS_CSV} or "
            f"{path}; none exists"
        )
    listed, mos = read_label_lines(path, "the FAST-VQA CVD2014 label list")
    names = [PurePosixPath(n).name.removesuffix(".avi") for n in listed]
    return path, names, list(mos), [Path(n) for n in listed]


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of CVD2014; ref_id is the test session's scene."""
    path, names, mos, given = _labels(root)
    scenes = []
    for name in names:
        match = _NAME.fullmatch(name)
        if match is None:
            raise DatasetError(
                f"{path}: video name {name!r} does not follow Test<k>_<scene>_D<device>"
            )
        scenes.append(match.group(1))
    lookup = file_finder(root, (".avi",), "CVD2014 videos")
    paths = []
    for name, relative in zip(names, given, strict=True):
        found = root / relative if relative is not None and (root / relative).is_file() else None
        found = found or lookup(f"{name}.avi")
        paths.append(found if found is not None else root / (relative or f"{name}.avi"))
    return make_table(INFO, paths, mos, label_file=path, ref_id=scenes, skip_missing=skip_missing)
