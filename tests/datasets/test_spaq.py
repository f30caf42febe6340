"""The spaq adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _spaq(root: Path) -> None:
    names = ["00002.jpg", "00001.jpg", "00010.jpg"]
    for n in names:
        image(root / "TestImage" / n)
    (root / "Annotations").mkdir()
    pd.DataFrame(
        {
            "Image name": names,
            "MOS": [42.0, 80.0, 12.5],
            "Brightness": [50, 60, 70],
            "Colorfulness": [50, 60, 70],
            "Contrast": [50, 60, 70],
            "Noisiness": [50, 60, 70],
            "Sharpness": [50, 60, 70],
        }
    ).to_excel(root / "Annotations" / "MOS and Image attribute scores.xlsx", index=False)


def test_spaq_reads_the_workbook(tmp_path):
    _spaq(tmp_path)
    table = load_table("spaq", tmp_path)
    check_contract(table, "spaq")
    assert [Path(p).name for p in table["path"]] == ["00001.jpg", "00002.jpg", "00010.jpg"]
    assert table["mos"].tolist() == [80.0, 42.0, 12.5]
    assert np.allclose(table["score"], [0.8, 0.42, 0.125])


def test_spaq_missing_mos_column_lists_what_was_found(tmp_path):
    _spaq(tmp_path)
    path = tmp_path / "Annotations" / "MOS and Image attribute scores.xlsx"
    pd.DataFrame({"Image name": ["00001.jpg"], "Score": [1.0]}).to_excel(path, index=False)
    with pytest.raises(DatasetError, match=r"MOS and Image attribute scores\.xlsx.*'Score'"):
        load_table("spaq", tmp_path)
