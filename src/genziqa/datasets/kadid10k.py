"""KADID-10k (Lin et al., 2019): 81 references x 25 distortions x 5 levels, 512x384 PNG.

Quirk: the label column is named `dmos` but it is a MOS on 1-5 where higher is better (it is
the mean of degradation-category ratings against the reference), so it is NOT flipped. The
reference id is the reference file's stem (`I01.png` -> `I01`), for content-disjoint splits.
"""

from __future__ import annotations

from pathlib import Path, PurePath

import pandas as pd

from .base import DatasetInfo, make_table, read_csv, require_dir, to_float

LABELS = "dmos.csv"

INFO = DatasetInfo(
    name="kadid10k",
    title="KADID-10k",
    kind="synthetic",
    native_range=(1.0, 5.0),
    lower_better=False,
    label_name="MOS (column 'dmos')",
    has_official_split=False,
    layout=(
        f"ROOT/images/<dist_img> (distorted I01_01_01.png ...; references I01.png ...); "
        f"ROOT/{LABELS} (dist_img, ref_img, dmos, var; 'dmos' is a 1-5 MOS, higher is better)"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of KADID-10k; ref_id from `ref_img`."""
    images = require_dir(root / "images", "the KADID-10k image folder")
    path = root / LABELS
    labels = read_csv(path, ["dist_img", "ref_img", "dmos"])
    return make_table(
        INFO,
        [images / n for n in labels["dist_img"].astype(str)],
        to_float(labels["dmos"], path, "dmos"),
        label_file=path,
        ref_id=[PurePath(r).stem for r in labels["ref_img"].astype(str)],
    )
