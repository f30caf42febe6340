"""The agiqa1k adapter on a fixture folder in its real layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genziqa.datasets import load_table

from .fixtures import check_contract, image


def test_agiqa1k_min_max_normalises_the_z_scores(tmp_path):
    names = ["deepai_0000.png", "dreamstudio_0001.png", "deepai_0002.png"]
    for n in names:
        image(tmp_path / "file" / n)
    pd.DataFrame({"Image": names, "Prompt": ["a", "b", "c"], "MOS": [-1.2, 0.3, 1.8]}).to_excel(
        tmp_path / "AIGC_MOS_Zscore.xlsx", index=False
    )
    table = load_table("agiqa1k", tmp_path).sort_values("mos")
    check_contract(table, "agiqa1k")
    assert table["mos"].tolist() == [-1.2, 0.3, 1.8]
    assert np.allclose(table["score"], [0.0, 0.5, 1.0])
