"""The pipal adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genziqa.datasets import load_table

from .fixtures import check_contract, image


def test_pipal_elo_train_split_and_reference_ids(tmp_path):
    (tmp_path / "Train_Label").mkdir()
    labels = {
        "A0001": [("A0001_00_00.bmp", 1500.0), ("A0001_10_02.bmp", 1210.5)],
        "A0002": [("A0002_01_01.bmp", 1820.0)],
    }
    folders = {"A0001_00_00.bmp": 1, "A0001_10_02.bmp": 2, "A0002_01_01.bmp": 4}
    for ref, pairs in labels.items():
        text = "\n".join(f"{n},{e}" for n, e in pairs)
        (tmp_path / "Train_Label" / f"{ref}.txt").write_text(text + "\n")
        for n, _ in pairs:
            image(tmp_path / f"Distortion_{folders[n]}" / n)
    image(tmp_path / "Distortion_3" / "A0003_00_00.bmp")  # an unlabelled file is ignored
    table = load_table("pipal", tmp_path).sort_values("mos")
    check_contract(table, "pipal")
    assert table["mos"].tolist() == [1210.5, 1500.0, 1820.0]
    assert table["ref_id"].tolist() == ["A0001", "A0001", "A0002"]
    assert (table["split"] == "train").all()
    assert np.allclose(table["score"], (table["mos"] - 1210.5) / (1820.0 - 1210.5))
    assert Path(table["path"].iloc[-1]).parent.name == "Distortion_4"
