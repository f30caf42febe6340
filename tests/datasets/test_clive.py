"""The clive adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import io as sio

from genziqa.datasets import DatasetError, load_table

from .fixtures import cell, check_contract, image


def _clive(root: Path) -> list[str]:
    training = [f"t{k}.bmp" for k in range(1, 8)]
    scored = ["100.bmp", "5.bmp", "50.JPG"]  # deliberately not sorted
    for n in training:
        image(root / "Images" / "trainingImages" / n)
    for n in scored:
        image(root / "Images" / n)
    names = training + scored
    (root / "Data").mkdir()
    sio.savemat(
        root / "Data" / "AllImages_release.mat", {"AllImages_release": cell(names, (10, 1))}
    )
    mos = np.array([[50.0] * 7 + [70.0, 20.0, 45.5]])
    sio.savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": mos})
    return scored


def test_clive_drops_the_first_7_and_keeps_mat_order(tmp_path):
    scored = _clive(tmp_path)
    table = load_table("clive", tmp_path)
    check_contract(table, "clive")
    assert [Path(p).name for p in table["path"]] == scored
    assert table["mos"].tolist() == [70.0, 20.0, 45.5]
    assert np.allclose(table["score"], table["mos"] / 100.0)
    assert (table["split"] == "").all()


def test_clive_drop_first_option_finds_the_training_images(tmp_path):
    _clive(tmp_path)
    table = load_table("clive", tmp_path, drop_first=0)
    assert len(table) == 10
    assert Path(table["path"][0]).parent.name == "trainingImages"


def test_clive_length_mismatch_names_both_files(tmp_path):
    _clive(tmp_path)
    sio.savemat(tmp_path / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.ones((1, 9))})
    with pytest.raises(DatasetError, match=r"AllImages_release\.mat lists 10.*9 MOS"):
        load_table("clive", tmp_path)
