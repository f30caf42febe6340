"""The live adapter on fixture folders in the release layout: info.txt in every folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import io as sio

from genziqa.datasets import DatasetError, DatasetWarning, load_table

from .fixtures import cell, check_contract, image

LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
N = sum(c for _, c in LIVE_FOLDERS)  # 982 entries in dmos.mat


def _live(root: Path, info: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A whole copy: each folder's images listed by its info.txt as the release lists them
    ('reference.bmp imgK.bmp parameter'), dmos.mat and refnames_all.mat in release order."""
    refs = [f"ref{i % 29:02d}.bmp" for i in range(N)]
    start = 0
    for folder, count in LIVE_FOLDERS:
        lines = []
        for k in range(1, count + 1):
            image(root / folder / f"img{k}.bmp")
            lines.append(f"{refs[start + k - 1]} img{k}.bmp {0.1 * k:.1f}")
        if info:
            (root / folder / "info.txt").write_text("\n".join(lines) + "\n\n")
        start += count
    dmos = np.linspace(18.0, 85.0, N)
    orgs = np.zeros(N)
    orgs[[0, 300, 981]] = 1.0  # reference images shown among the distorted ones
    dmos[orgs == 1] = 0.0
    sio.savemat(root / "dmos.mat", {"dmos": dmos.reshape(1, -1), "orgs": orgs.reshape(1, -1)})
    sio.savemat(root / "refnames_all.mat", {"refnames_all": cell(refs, (1, N))})
    return dmos, orgs, refs


@pytest.mark.parametrize("info", [True, False])
def test_live_drops_references_and_flips_dmos_on_its_declared_range(tmp_path, info):
    dmos, _, refs = _live(tmp_path, info)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole copy: nothing to report
        table = load_table("live", tmp_path)
    check_contract(table, "live")
    assert len(table) == N - 3
    by_path = table.set_index("path")
    first_jpeg = str(tmp_path / "jpeg" / "img1.bmp")  # entry 227 of the release order
    assert by_path.loc[first_jpeg, "mos"] == pytest.approx(dmos[227])
    assert by_path.loc[first_jpeg, "ref_id"] == refs[227][:-4]
    assert str(tmp_path / "jp2k" / "img1.bmp") not in by_path.index  # orgs == 1: dropped
    assert np.allclose(table["score"], 1.0 - table["mos"] / 100.0)  # DMOS 0-100, lower better


def test_a_partial_copy_reads_what_it_holds_and_says_what_is_missing(tmp_path):
    dmos, _, refs = _live(tmp_path)
    for k in (5, 6):
        (tmp_path / "gblur" / f"img{k}.bmp").unlink()
    import shutil

    shutil.rmtree(tmp_path / "fastfading")
    (tmp_path / "refnames_all.mat").unlink()  # info.txt names the references
    with pytest.warns(DatasetWarning) as caught:
        table = load_table("live", tmp_path)
    (message,) = [str(w.message) for w in caught]
    assert "fastfading/ (absent)" in message
    assert "2 listed image(s) absent on disk (gblur/img5.bmp, gblur/img6.bmp)" in message
    assert len(table) == N - 174 - 2 - 2  # the folder, two images, two references (0, 300)
    gblur_7 = table.set_index("path").loc[str(tmp_path / "gblur" / "img7.bmp")]
    assert gblur_7["mos"] == pytest.approx(dmos[634 + 6]) and gblur_7["ref_id"] == refs[640][:-4]


def test_a_reordered_copy_is_refused(tmp_path):
    _live(tmp_path)
    listing = tmp_path / "wn" / "info.txt"
    lines = listing.read_text().splitlines()
    lines[0] = "someother.bmp " + lines[0].split(" ", 1)[1]
    listing.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"wn/info\.txt: img1\.bmp is listed with reference"):
        load_table("live", tmp_path)


def test_a_malformed_info_line_names_the_file_and_line(tmp_path):
    _live(tmp_path)
    (tmp_path / "jpeg" / "info.txt").write_text("bikes.bmp img1.bmp 0.3\nnot a listing line\n")
    with pytest.raises(DatasetError, match=r"jpeg/info\.txt, line 2: expected"):
        load_table("live", tmp_path)
