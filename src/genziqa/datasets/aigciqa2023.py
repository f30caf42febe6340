"""AIGCIQA2023 (Wang et al., 2023): 2,400 AI-generated images (6 models x 100 prompts x 4).

Three z-scored MOS, one .mat file each (variable `MOSz`, a 2400-vector): mosz1 = quality,
mosz2 = authenticity, mosz3 = correspondence (the release's README). Entry i labels
`Image/allimg/{i}.png`, i = 0..N-1. The z-scores have no fixed range: `score` is min-max
over the data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import DatasetError, DatasetInfo, load_mat, make_table, mat_vector, require_dir

MAT_FILES = {
    "quality": "DATA/MOS/mosz1.mat",
    "authenticity": "DATA/MOS/mosz2.mat",
    "correspondence": "DATA/MOS/mosz3.mat",
}
VARIABLE = "MOSz"

INFO = DatasetInfo(
    name="aigciqa2023",
    title="AIGCIQA2023",
    kind="ai-generated",
    native_range=None,
    lower_better=False,
    label_name="MOS (z-score)",
    has_official_split=False,
    layout=(
        "ROOT/DATA/MOS/mosz1.mat (quality), mosz2.mat (authenticity), mosz3.mat "
        f"(correspondence), each a vector {VARIABLE} of 2,400 labels; images "
        "ROOT/Image/allimg/{i}.png for i = 0..2399 in label order (option dimension)"
    ),
)


def read(root: Path, dimension: str = "quality") -> pd.DataFrame:
    """Canonical table of AIGCIQA2023 for one label `dimension`."""
    if dimension not in MAT_FILES:
        raise DatasetError(f"dimension must be one of {list(MAT_FILES)}, received {dimension!r}")
    images = require_dir(root / "Image" / "allimg", "the AIGCIQA2023 image folder")
    path = root / MAT_FILES[dimension]
    mos = mat_vector(load_mat(path, [VARIABLE], f"the {dimension} MOS")[VARIABLE], path, VARIABLE)
    return make_table(
        INFO,
        [images / f"{i}.png" for i in range(len(mos))],
        mos,
        label_file=path,
    )
