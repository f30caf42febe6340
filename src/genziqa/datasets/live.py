"""LIVE Image Quality Assessment Database, release 2 (Sheikh et al., 2006).

DMOS, LOWER is better: `mos` keeps the DMOS and `score` = 1 - normalised. `dmos.mat` holds
982 entries in the standard release order: jp2k img1..img227, jpeg img1..img233, wn, gblur
and fastfading img1..img174 each. Entries with `orgs` = 1 are the reference images shown
among the distorted ones and are dropped (779 distorted images remain). The reference id is
the reference's name from `refnames_all.mat`. DMOS has no fixed documented range, so
`score` is min-max over the kept data.
"""

from __future__ import annotations

from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from .base import (
    DatasetError,
    DatasetInfo,
    load_mat,
    make_table,
    mat_strings,
    mat_vector,
    require_dir,
)

FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))

INFO = DatasetInfo(
    name="live",
    title="LIVE IQA (release 2)",
    kind="synthetic",
    native_range=None,
    lower_better=True,
    label_name="DMOS",
    has_official_split=False,
    layout=(
        "ROOT/jp2k/, jpeg/, wn/, gblur/, fastfading/ with img1.bmp.. (227, 233, 174, 174, "
        "174 entries = 982, in that order); ROOT/dmos.mat (dmos, orgs: 1 = reference, "
        "dropped); ROOT/refnames_all.mat (refnames_all)"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of LIVE release 2 (distorted images only, DMOS lower is better)."""
    paths = []
    for folder, count in FOLDERS:
        directory = require_dir(root / folder, f"the LIVE '{folder}' image folder")
        paths += [directory / f"img{k}.bmp" for k in range(1, count + 1)]
    dmos_path, refs_path = root / "dmos.mat", root / "refnames_all.mat"
    mat = load_mat(dmos_path, ["dmos", "orgs"], "the LIVE DMOS")
    dmos = mat_vector(mat["dmos"], dmos_path, "dmos")
    orgs = mat_vector(mat["orgs"], dmos_path, "orgs")
    cell = load_mat(refs_path, ["refnames_all"], "the LIVE reference names")["refnames_all"]
    refs = mat_strings(cell, refs_path, "refnames_all")
    for source, name, values in (
        (dmos_path, "dmos", dmos),
        (dmos_path, "orgs", orgs),
        (refs_path, "refnames_all", refs),
    ):
        if len(values) != len(paths):
            raise DatasetError(
                f"{source}: {name!r} has {len(values)} entries; expected {len(paths)}, one per "
                f"image of {', '.join(f'{f} ({c})' for f, c in FOLDERS)}"
            )
    if not np.isin(orgs, (0.0, 1.0)).all():
        raise DatasetError(f"{dmos_path}: 'orgs' must hold only 0 and 1")
    keep = np.flatnonzero(orgs == 0)
    return make_table(
        INFO,
        [paths[i] for i in keep],
        dmos[keep],
        label_file=dmos_path,
        ref_id=[PurePath(refs[i]).stem for i in keep],
    )
