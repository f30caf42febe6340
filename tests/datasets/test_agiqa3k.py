"""The agiqa3k adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _agiqa3k(root: Path, image_dir: str = "file") -> None:
    names = ["midjourney_normal_001.png", "AttnGAN_normal_000.jpg", "sd1.5_lowstep_002.jpg"]
    for n in names:
        image(root / image_dir / n)
    pd.DataFrame(
        {
            "name": names,
            "prompt": ["a cat", "a dog", "a bird"],
            "adj1": ["", "red", ""],
            "adj2": ["", "", ""],
            "style": ["", "", "anime"],
            "mos_quality": [4.5, 0.5, 2.5],
            "std_quality": [0.3, 0.4, 0.5],
            "mos_align": [1.0, 4.0, 3.9],
            "std_align": [0.3, 0.4, 0.5],
        }
    ).to_csv(root / "data.csv", index=False)


def test_agiqa3k_uses_mos_quality_not_mos_align(tmp_path):
    _agiqa3k(tmp_path)
    table = load_table("agiqa3k", tmp_path)
    check_contract(table, "agiqa3k")
    by_name = dict(zip([Path(p).name for p in table["path"]], table["mos"], strict=True))
    assert by_name == {
        "midjourney_normal_001.png": 4.5,
        "AttnGAN_normal_000.jpg": 0.5,
        "sd1.5_lowstep_002.jpg": 2.5,
    }
    assert np.allclose(table["score"], table["mos"] / 5.0)


def test_agiqa3k_without_mos_quality_is_an_error_even_with_mos_align(tmp_path):
    _agiqa3k(tmp_path)
    frame = pd.read_csv(tmp_path / "data.csv").drop(columns="mos_quality")
    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DatasetError, match=r"data\.csv: missing column\(s\) \['mos_quality'\]"):
        load_table("agiqa3k", tmp_path)


@pytest.mark.parametrize("image_dir", ["AGIQA-3K", "file", "image", "images", "."])
def test_agiqa3k_finds_its_images_in_every_layout_in_circulation(tmp_path, image_dir):
    _agiqa3k(tmp_path, image_dir)  # AGIQA-3K/ is the public archive's folder
    table = load_table("agiqa3k", tmp_path)
    check_contract(table, "agiqa3k")
    assert {Path(p).parent for p in table["path"]} == {(tmp_path / image_dir).resolve()}
