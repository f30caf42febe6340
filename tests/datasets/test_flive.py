"""The flive adapter on a fixture folder in its real layout."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from genziqa.datasets import load_table

from .fixtures import check_contract, image


def _flive(root: Path, split_files: bool = True) -> None:
    names = ["voc_emotic_ava/b.jpg", "blur_dataset/a.jpg", "EE371R/c.jpg", "AVA__d.jpg"]
    for n in names:
        image(root / "database" / n)
    pd.DataFrame({"name": names, "mos": [60.5, 72.0, 30.0, 55.0], "height": 8, "width": 8}).to_csv(
        root / "labels_image.csv", index=False
    )
    if split_files:
        pd.DataFrame(
            {"name_image": names[:2], "is_valid": [False, True], "mos_image": [60.5, 72.0]}
        ).to_csv(root / "labels=640_padded.csv", index=False)
        pd.DataFrame({"name_image": [names[2]], "mos_image": [30.0]}).to_csv(
            root / "labels640.csv", index=False
        )


def test_flive_official_split_and_subfolder_names(tmp_path):
    _flive(tmp_path)
    table = load_table("flive", tmp_path)
    check_contract(table, "flive")
    table = table.set_index("mos")
    assert table.loc[60.5, "split"] == "train"  # is_valid False
    assert table.loc[72.0, "split"] == "val"  # is_valid True
    assert table.loc[30.0, "split"] == "test"  # listed in labels640.csv
    assert table.loc[55.0, "split"] == "train"  # listed in neither
    assert table.loc[60.5, "path"].endswith(os.path.join("database", "voc_emotic_ava", "b.jpg"))
    assert table.loc[72.0, "score"] == pytest.approx(0.72)


def test_flive_without_split_files_has_no_split(tmp_path):
    _flive(tmp_path, split_files=False)
    assert (load_table("flive", tmp_path)["split"] == "").all()
