"""The live adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import io as sio

from genziqa.datasets import load_table

from .fixtures import cell, check_contract, image

LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def _live(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    for folder, count in LIVE_FOLDERS:
        for k in range(1, count + 1):
            image(root / folder / f"img{k}.bmp")
    n = sum(c for _, c in LIVE_FOLDERS)
    dmos = np.linspace(5.0, 95.0, n)
    orgs = np.zeros(n)
    orgs[[0, 300, 981]] = 1.0  # reference images shown among the distorted ones
    dmos[orgs == 1] = 0.0
    refs = [f"ref{i % 29:02d}.bmp" for i in range(n)]
    sio.savemat(root / "dmos.mat", {"dmos": dmos.reshape(1, -1), "orgs": orgs.reshape(1, -1)})
    sio.savemat(root / "refnames_all.mat", {"refnames_all": cell(refs, (1, n))})
    return dmos, orgs, refs


def test_live_drops_references_and_flips_dmos(tmp_path):
    dmos, orgs, refs = _live(tmp_path)
    table = load_table("live", tmp_path)
    check_contract(table, "live")
    assert len(table) == 982 - 3
    kept = dmos[orgs == 0]
    by_path = table.set_index("path")
    first_jpeg = str(tmp_path / "jpeg" / "img1.bmp")  # entry 227 of the release order
    assert by_path.loc[first_jpeg, "mos"] == pytest.approx(dmos[227])
    assert by_path.loc[first_jpeg, "ref_id"] == refs[227][:-4]
    assert str(tmp_path / "jp2k" / "img1.bmp") not in by_path.index  # orgs == 1: dropped
    expected = 1.0 - (table["mos"] - kept.min()) / (kept.max() - kept.min())
    assert np.allclose(table["score"], expected)  # lower DMOS = higher score
    assert table.loc[table["mos"].idxmin(), "score"] == 1.0
