"""LIVE-VQC: data.mat (video_list, mos) or the FAST-VQA list; videos in Video/."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import io as sio

from genziqa.datasets import DatasetError, load_table

from .video_fixtures import check_contract, mat_cell, names, write_clip

VIDEOS = ["A001.mp4", "A002.mp4", "B101.mp4"]
MOS = [80.232, 57.3005, 6.2]


def _videos(root):
    for name in VIDEOS:
        write_clip(root / "Video" / name)


def test_data_mat_in_its_release_shapes(tmp_path):
    _videos(tmp_path)
    sio.savemat(
        tmp_path / "data.mat",
        {"video_list": mat_cell(VIDEOS, (3, 1)), "mos": np.array(MOS).reshape(3, 1)},
    )
    table = load_table("livevqc", tmp_path)
    check_contract(table, "livevqc")
    assert names(table, tmp_path) == [f"Video/{n}" for n in VIDEOS]
    assert np.allclose(table["mos"], MOS) and np.allclose(table["score"], np.array(MOS) / 100)
    assert (table["split"] == "").all() and (table["ref_id"] == "").all()


def test_fast_vqa_list(tmp_path):
    _videos(tmp_path)
    lines = [f"Video/{n}, 10.0, 29.97, {m}" for n, m in zip(VIDEOS, MOS, strict=True)]
    (tmp_path / "labels.txt").write_text("\n".join(lines))
    assert np.allclose(load_table("livevqc", tmp_path)["mos"], MOS)


def test_malformed_mat_files_name_the_file_and_the_variable(tmp_path):
    with pytest.raises(DatasetError, match=r"Video.*folder does not exist"):
        load_table("livevqc", tmp_path)
    _videos(tmp_path)
    with pytest.raises(DatasetError, match=r"data.mat or .*labels.txt; neither exists"):
        load_table("livevqc", tmp_path)
    sio.savemat(tmp_path / "data.mat", {"video_list": mat_cell(VIDEOS, (3, 1))})
    with pytest.raises(DatasetError, match=r"data.mat: missing variable\(s\) \['mos'\]"):
        load_table("livevqc", tmp_path)
    sio.savemat(
        tmp_path / "data.mat",
        {"video_list": mat_cell(VIDEOS, (3, 1)), "mos": np.array(MOS[:2]).reshape(2, 1)},
    )
    with pytest.raises(DatasetError, match=r"data.mat: 'video_list' holds 3 names but 'mos' 2"):
        load_table("livevqc", tmp_path)
    (tmp_path / "data.mat").write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match=r"data.mat: cannot read it as a MAT file"):
        load_table("livevqc", tmp_path)
