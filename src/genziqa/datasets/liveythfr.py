"""LIVE-YT-HFR (Madhusudana et al., IEEE Access 2021): 480 videos = 16 contents x 6 frame
rates (24, 30, 60, 82, 98, 120 fps) x 5 VP9 CRF levels, MOS 0-100 higher is better.

Label files, in order of preference (in ROOT or ROOT/subjective_scores/, the release
repository's folder):

- the official `subject_MOS.csv`, stored **transposed**: row 1 is `File Names,<480 names>`,
  row 2 `MOS,<480 values>`, row 3 `std,...`;
- `LIVEHFR_MOS.csv`, the un-transposed copy ModularBVQA ships (`filename, MOS, std`).

`subject_DMOS.csv` (lower is better, without the 16 references) is deliberately not read:
MOS and DMOS must not be mixed up.

Quirks encoded here:

- Names carry no extension and follow `<content>_crf_<q>_<fps>fps` (CRF 0 is lossless; the
  120 fps lossless one is each content's reference). The reference id is the content, so
  content-disjoint splits keep all 30 versions of one source together: correlations on this
  set are dominated by frame rate and CRF, and a random split would leak content.
- The release unzips one folder per content (ROOT/<content>/<name>.webm, VP9); converted
  copies (ModularBVQA's `mp4/` folder) exist. Each video is looked for anywhere under ROOT by
  name, as `.webm`, then `.mp4`, then `.mkv`.

No official split.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    file_finder,
    make_table,
    pick_column,
    read_csv,
    to_float,
)

TRANSPOSED_CSV = "subject_MOS.csv"
COLUMN_CSV = "LIVEHFR_MOS.csv"
SCORES = "subjective_scores"
EXTENSIONS = (".webm", ".mp4", ".mkv")
_NAME = re.compile(r"(.+)_crf_(\d+)_(\d+)fps")

INFO = DatasetInfo(
    name="liveythfr",
    title="LIVE-YT-HFR",
    kind="synthetic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    media="video",
    layout=(
        f"ROOT/<content>/<content>_crf_<q>_<fps>fps.webm (found anywhere under ROOT, also as "
        f".mp4/.mkv); ROOT/{TRANSPOSED_CSV} or ROOT/{SCORES}/{TRANSPOSED_CSV} (transposed: "
        f"rows 'File Names', 'MOS', 'std'), else ROOT/{COLUMN_CSV} (filename, MOS, std); "
        "ref_id = content"
    ),
)


def _label_file(root: Path) -> Path:
    for path in (root / TRANSPOSED_CSV, root / SCORES / TRANSPOSED_CSV, root / COLUMN_CSV):
        if path.is_file():
            return path
    raise DatasetError(
        f"expected the LIVE-YT-HFR MOS at {root / TRANSPOSED_CSV}, "
        f"{root / SCORES / TRANSPOSED_CSV} or {root / COLUMN_CSV}; none exists"
    )


def _transposed(path: Path) -> tuple[list[str], pd.Series]:
    """Names and MOS of the row-wise official CSV."""
    frame = read_csv(
        path, (), "the LIVE-YT-HFR MOS (transposed)", header=None, dtype=str, encoding="utf-8-sig"
    )
    rows = {str(row[0]).strip(): row[1:] for row in frame.itertuples(index=False)}
    missing = [r for r in ("File Names", "MOS") if r not in rows]
    if missing:
        raise DatasetError(
            f"{path}: missing row(s) {missing}; expected a transposed CSV whose first column "
            f"holds 'File Names', 'MOS', 'std', found {list(rows)}"
        )
    names = [str(v).strip() for v in rows["File Names"] if pd.notna(v) and str(v).strip()]
    values = [v for v in rows["MOS"] if pd.notna(v) and str(v).strip()]
    if len(names) != len(values):
        raise DatasetError(
            f"{path}: row 'File Names' holds {len(names)} names but row 'MOS' {len(values)} "
            "values; expected one MOS per video"
        )
    return names, to_float(values, path, "MOS")


def _columns(path: Path) -> tuple[list[str], pd.Series]:
    frame = read_csv(path, (), "the LIVE-YT-HFR MOS", dtype={"filename": str})
    name = pick_column(frame, ["filename", "File Names"], path)
    mos = pick_column(frame, ["MOS", "mos"], path)
    return frame[name].fillna("").astype(str).str.strip().tolist(), to_float(frame[mos], path, mos)


def read(root: Path, skip_missing: bool = False) -> pd.DataFrame:
    """Canonical table of LIVE-YT-HFR; ref_id is the content (source) name."""
    path = _label_file(root)
    names, mos = _transposed(path) if path.name == TRANSPOSED_CSV else _columns(path)
    contents = []
    for name in names:
        match = _NAME.fullmatch(name)
        if match is None:
            raise DatasetError(
                f"{path}: video name {name!r} does not follow <content>_crf_<q>_<fps>fps"
            )
        contents.append(match.group(1))
    lookup = file_finder(root, EXTENSIONS, "LIVE-YT-HFR videos")
    paths = []
    for name, content in zip(names, contents, strict=True):
        found = next((p for ext in EXTENSIONS if (p := lookup(name + ext)) is not None), None)
        paths.append(found if found is not None else root / content / f"{name}.webm")
    return make_table(INFO, paths, mos, label_file=path, ref_id=contents, skip_missing=skip_missing)
