"""The koniq10k adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _koniq(root: Path, folders=("1024x768", "512x384"), scores=True, sets=True) -> None:
    names = ["3.jpg", "1.jpg", "2.jpg"]
    for folder in folders:
        for n in names:
            image(root / folder / n)
    counts = {f"c{k}": [1, 2, 3] for k in range(1, 6)}
    if scores:
        pd.DataFrame(
            {
                "image_name": names,
                **counts,
                "c_total": [15, 30, 45],
                "MOS": [4.5, 1.5, 3.0],
                "SD": [0.5, 0.6, 0.7],
                "MOS_zscore": [85.0, 12.0, 50.0],
            }
        ).to_csv(root / "koniq10k_scores_and_distributions.csv", index=False)
    if sets:
        pd.DataFrame(
            {
                "image_name": names,
                **counts,
                "c_total": [15, 30, 45],
                "MOS": [85.0, 12.0, 50.0],
                "SD": [0.5, 0.6, 0.7],
                "set": ["test", "training", "validation"],
            }
        ).to_csv(root / "koniq10k_distributions_sets.csv", index=False)


def test_koniq_uses_the_1_to_5_mos_and_the_official_split(tmp_path):
    _koniq(tmp_path)
    table = load_table("koniq10k", tmp_path)
    check_contract(table, "koniq10k")
    assert [Path(p).name for p in table["path"]] == ["1.jpg", "2.jpg", "3.jpg"]  # sorted
    assert all(Path(p).parent.name == "1024x768" for p in table["path"])
    assert table["mos"].tolist() == [1.5, 3.0, 4.5]  # MOS, not MOS_zscore
    assert np.allclose(table["score"], (table["mos"] - 1.0) / 4.0)
    assert table["split"].tolist() == ["train", "val", "test"]
    assert (table["ref_id"] == "").all()


def test_koniq_resolution_folder_option_and_fallback(tmp_path):
    _koniq(tmp_path)
    small = load_table("koniq10k", tmp_path, resolution_folder="512x384")
    assert all(Path(p).parent.name == "512x384" for p in small["path"])
    only_small = tmp_path / "only_small"
    _koniq(only_small, folders=("512x384",))
    assert all(Path(p).parent.name == "512x384" for p in load_table("koniq10k", only_small)["path"])


def test_koniq_sets_csv_alone_gives_its_0_to_100_mos(tmp_path):
    _koniq(tmp_path, scores=False)
    table = load_table("koniq10k", tmp_path)
    assert table["mos"].tolist() == [12.0, 50.0, 85.0]
    assert np.allclose(table["score"], table["mos"] / 100.0)
    assert table["split"].tolist() == ["train", "val", "test"]


def test_koniq_without_sets_csv_has_no_split(tmp_path):
    _koniq(tmp_path, sets=False)
    assert (load_table("koniq10k", tmp_path)["split"] == "").all()


def test_koniq_label_outside_documented_range_is_an_error(tmp_path):
    _koniq(tmp_path)
    path = tmp_path / "koniq10k_scores_and_distributions.csv"
    frame = pd.read_csv(path)
    frame.loc[0, "MOS"] = 6.0
    frame.to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"koniq10k_scores_and_distributions\.csv.*range"):
        load_table("koniq10k", tmp_path)
