"""LIVE-YT-Gaming: LIVEYTGaming.mat (video_list without extension, MOS, index)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import io as sio

from genziqa.datasets import DatasetError, load_table

from .video_fixtures import check_contract, mat_cell, names, write_clip

VIDEOS = ["ARKSuvivalEvolved-001", "AgeEmpires-001", "AgeEmpires-004"]
MOS = [68.7, 55.35, 4.5]


def _mat(path, **override):
    content = {
        "video_list": mat_cell(VIDEOS, (3, 1)),
        "MOS": np.array(MOS).reshape(3, 1),
        "index": np.arange(9, dtype=np.uint16).reshape(3, 3) % 3,  # random permutations
    }
    content.update(override)
    sio.savemat(path, content)


def test_mat_names_get_mp4_and_videos_are_found_under_root(tmp_path):
    for name in VIDEOS:
        write_clip(tmp_path / "mp4" / f"{name}.mp4")
    _mat(tmp_path / "LIVEYTGaming.mat")
    table = load_table("liveytgaming", tmp_path)
    check_contract(table, "liveytgaming")
    assert names(table, tmp_path) == [f"mp4/{n}.mp4" for n in sorted(VIDEOS)]
    assert np.allclose(table["mos"], MOS)  # path order: "ARK..." sorts before "Age..."
    assert (table["split"] == "").all() and (table["ref_id"] == "").all()


def test_malformed_mat_names_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"LIVEYTGaming.mat, but that file does not exist"):
        load_table("liveytgaming", tmp_path)
    _mat(tmp_path / "LIVEYTGaming.mat", MOS=np.array(MOS[:2]))
    with pytest.raises(DatasetError, match=r"'video_list' holds 3 names but 'MOS' 2 values"):
        load_table("liveytgaming", tmp_path)
    _mat(tmp_path / "LIVEYTGaming.mat", MOS=np.ones((3, 3)))
    with pytest.raises(DatasetError, match=r"variable 'MOS' must be a numeric vector"):
        load_table("liveytgaming", tmp_path)
    _mat(tmp_path / "LIVEYTGaming.mat")
    with pytest.raises(DatasetError, match=r"LIVEYTGaming.mat: 3 of 3 listed video\(s\)"):
        load_table("liveytgaming", tmp_path)
