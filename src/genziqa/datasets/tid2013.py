"""TID2013 (Ponomarenko et al., 2015): 25 references x 24 distortions x 5 levels, BMP.

MOS 0-9, higher is better. Quirk: the release mixes the case of file names (`i01_01_1.bmp`
beside `I01_...`), so names from `mos_with_names.txt` are matched to files ignoring case.
The reference id is the first three characters, lower-cased (`i01`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    make_table,
    match_case_insensitive,
    require_dir,
    require_file,
)

LABELS = "mos_with_names.txt"

INFO = DatasetInfo(
    name="tid2013",
    title="TID2013",
    kind="synthetic",
    native_range=(0.0, 9.0),
    lower_better=False,
    label_name="MOS",
    has_official_split=False,
    layout=(
        f"ROOT/distorted_images/iXX_YY_Z.bmp (case varies, matched ignoring case); "
        f"ROOT/{LABELS} (one 'mos name' pair per line, MOS 0-9)"
    ),
)


def _parse(path: Path) -> tuple[list[str], list[float]]:
    require_file(path, "the TID2013 labels")
    names, mos = [], []
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read it as text: {error}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError
            value = float(parts[0])
        except ValueError:
            raise DatasetError(
                f"{path}, line {number}: expected 'mos name' (a number and a file name), "
                f"received {line!r}"
            ) from None
        mos.append(value)
        names.append(parts[1])
    return names, mos


def read(root: Path) -> pd.DataFrame:
    """Canonical table of TID2013; ref_id = `iXX`."""
    images = require_dir(root / "distorted_images", "the TID2013 distorted-image folder")
    path = root / LABELS
    names, mos = _parse(path)
    return make_table(
        INFO,
        match_case_insensitive(images, names, path),
        mos,
        label_file=path,
        ref_id=[n[:3].lower() for n in names],
    )
