"""LIVE Image Quality Assessment Database, release 2 (Sheikh et al., 2006).

DMOS, LOWER is better: `mos` keeps the DMOS and `score` = 1 - DMOS / 100.

Labels: `dmos.mat` holds 982 entries (`dmos`, and `orgs` = 1 for the reference images shown
among the distorted ones, which are dropped) in the release order: jp2k img1..img227, jpeg
img1..img233, wn, gblur and fastfading img1..img174 each. That order is the label file's
layout, so image imgK.bmp of folder F is entry OFFSET[F] + K - 1.

Images: which ones a copy holds comes from each folder's `info.txt`, the release's list of its
images, one line per image: `<reference>.bmp imgK.bmp <distortion parameter>` (for example
`bikes.bmp img4.bmp 0.8`; read by the loaders of several IQA codebases as whitespace-separated
reference name, distorted name, parameter). The reference id is the first column; when
`refnames_all.mat` is there too, it must agree (a re-ordered copy would be mislabelled). A
folder without `info.txt` is read from its imgK.bmp files, the references then from
`refnames_all.mat`. Images listed but absent on disk, and absent folders, are left out with a
DatasetWarning that names them: a partial or re-packed copy reads what it holds.

DMOS range, declared 0-100: the release scales the difference scores to 0-100 (Sheikh, Sabir
and Bovik, IEEE TIP 2006); the 779 distorted images' DMOS in `dmos.mat` lie between about 18
and 85 (as pyiqa's `meta_info_LIVEIQADataset.csv`, made from `dmos.mat`, lists them), the
references' are 0.
"""

from __future__ import annotations

import re
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
    warn_missing,
)

# The layout of dmos.mat: each folder's entries, in this order.
FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
OFFSETS = {name: sum(count for _, count in FOLDERS[:i]) for i, (name, _) in enumerate(FOLDERS)}
COUNTS = dict(FOLDERS)
ENTRIES = sum(COUNTS.values())  # 982
LISTING = "info.txt"
_IMAGE = re.compile(r"img(\d+)\.bmp", re.IGNORECASE)

INFO = DatasetInfo(
    name="live",
    title="LIVE IQA (release 2)",
    kind="synthetic",
    native_range=(0.0, 100.0),
    lower_better=True,
    label_name="DMOS",
    has_official_split=False,
    layout=(
        "ROOT/jp2k/, jpeg/, wn/, gblur/, fastfading/, each with imgK.bmp files and info.txt "
        "(one line per image: reference.bmp imgK.bmp parameter); ROOT/dmos.mat (dmos, orgs: "
        "1 = reference, dropped; 982 entries in the release order jp2k 227, jpeg 233, wn, "
        "gblur, fastfading 174 each); ROOT/refnames_all.mat (refnames_all; needed only for "
        "a folder without info.txt)"
    ),
)


def _listed(folder: Path, listing: Path) -> list[tuple[int, str]]:
    """(K, reference name) of each ``imgK.bmp`` line of an info.txt."""
    entries = []
    for number, line in enumerate(listing.read_text(errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        match = _IMAGE.fullmatch(parts[1]) if len(parts) >= 2 else None
        if match is None:
            raise DatasetError(
                f"{listing}, line {number}: expected 'reference.bmp imgK.bmp parameter', "
                f"found {line.strip()!r}"
            )
        entries.append((int(match.group(1)), parts[0]))
    if not entries:
        raise DatasetError(f"{listing}: lists no images; expected one line per image")
    return entries


def _on_disk(folder: Path) -> list[tuple[int, str]]:
    """(K, "") for each imgK.bmp of a folder that has no info.txt."""
    found = [_IMAGE.fullmatch(p.name) for p in folder.iterdir() if p.is_file()]
    return sorted((int(m.group(1)), "") for m in found if m)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of LIVE release 2 (distorted images only, DMOS lower is better)."""
    dmos_path, refs_path = root / "dmos.mat", root / "refnames_all.mat"
    mat = load_mat(dmos_path, ["dmos", "orgs"], "the LIVE DMOS")
    dmos = mat_vector(mat["dmos"], dmos_path, "dmos")
    orgs = mat_vector(mat["orgs"], dmos_path, "orgs")
    for name, values in (("dmos", dmos), ("orgs", orgs)):
        if len(values) != ENTRIES:
            raise DatasetError(
                f"{dmos_path}: {name!r} has {len(values)} entries; expected {ENTRIES}, one per "
                f"image of {', '.join(f'{f} ({c})' for f, c in FOLDERS)}"
            )
    if not np.isin(orgs, (0.0, 1.0)).all():
        raise DatasetError(f"{dmos_path}: 'orgs' must hold only 0 and 1")
    refs: list[str] | None = None
    if refs_path.is_file():
        cell = load_mat(refs_path, ["refnames_all"], "the LIVE reference names")["refnames_all"]
        refs = mat_strings(cell, refs_path, "refnames_all")
        if len(refs) != ENTRIES:
            raise DatasetError(
                f"{refs_path}: 'refnames_all' has {len(refs)} entries; expected {ENTRIES}"
            )

    paths, labels, ref_ids, absent, missing_folders = [], [], [], [], []
    for folder_name, count in FOLDERS:
        folder = root / folder_name
        if not folder.is_dir():
            missing_folders.append(f"{folder_name}/")
            continue
        listing = folder / LISTING
        entries = _listed(folder, listing) if listing.is_file() else _on_disk(folder)
        source = listing if listing.is_file() else folder
        if not listing.is_file() and refs is None:
            raise DatasetError(
                f"{folder}: no {LISTING}, and no {refs_path.name} to name the references; "
                f"expected one of them"
            )
        for k, ref in entries:
            if not 1 <= k <= count:
                raise DatasetError(
                    f"{source}: img{k}.bmp is outside the release's {folder_name} entries "
                    f"img1..img{count} of {dmos_path.name}"
                )
            index = OFFSETS[folder_name] + k - 1
            ref_id = PurePath(ref).stem
            if refs is not None:
                expected = PurePath(refs[index]).stem
                if ref and ref_id.lower() != expected.lower():
                    raise DatasetError(
                        f"{source}: img{k}.bmp is listed with reference {ref!r}, but entry "
                        f"{index + 1} of {refs_path.name} names {refs[index]!r}: the copy does "
                        f"not follow the release order"
                    )
                ref_id = ref_id or expected
            if orgs[index] == 1:
                continue
            path = folder / f"img{k}.bmp"
            if not path.is_file():
                absent.append(f"{folder_name}/{path.name}")
                continue
            paths.append(path)
            labels.append(dmos[index])
            ref_ids.append(ref_id)
    if missing_folders or absent:
        parts = []
        if missing_folders:
            parts.append(f"the folder(s) {', '.join(missing_folders)} (absent)")
        if absent:
            shown = ", ".join(absent[:5]) + (", ..." if len(absent) > 5 else "")
            parts.append(f"{len(absent)} listed image(s) absent on disk ({shown})")
        if not paths:
            raise DatasetError(f"LIVE at {root}: no images found; missing {'; '.join(parts)}")
        warn_missing(f"LIVE at {root}: read {len(paths)} images; left out {'; '.join(parts)}")
    return make_table(INFO, paths, labels, label_file=dmos_path, ref_id=ref_ids)
