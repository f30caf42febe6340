"""The csv adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genziqa.datasets import load_table

from .fixtures import check_contract, image


def test_csv_adapter_with_all_options(tmp_path):
    for n in ["night/a.jpg", "night/b.png", "c.jpg"]:
        image(tmp_path / n)
    pd.DataFrame(
        {
            "file": ["night/a.jpg", "night/b.png", "c.jpg"],
            "dmos": [10.0, 60.0, 35.0],
            "content": ["s1", "s1", "s2"],
            "subset": ["train", "test", "val"],
        }
    ).to_csv(tmp_path / "nnid.csv", index=False)
    table = load_table(
        "csv",
        tmp_path,
        csv="nnid.csv",
        path_col="file",
        score_col="dmos",
        lower_better=True,
        range=(0, 100),
        ref_col="content",
        split_col="subset",
    )
    check_contract(table, "csv")
    assert [Path(p).name for p in table["path"]] == ["c.jpg", "a.jpg", "b.png"]
    assert np.allclose(table["score"], [0.65, 0.9, 0.4])
    assert table["ref_id"].tolist() == ["s2", "s1", "s1"]
    assert table["split"].tolist() == ["val", "train", "test"]


def test_csv_adapter_defaults(tmp_path):
    for n in ["a.png", "b.png", "c.png"]:
        image(tmp_path / n)
    pd.DataFrame({"path": ["a.png", "b.png", "c.png"], "mos": [2.0, 4.0, 3.0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    table = load_table("csv", tmp_path)
    assert np.allclose(table["score"], [0.0, 1.0, 0.5])  # min-max over the data
    assert (table["split"] == "").all() and (table["ref_id"] == "").all()
