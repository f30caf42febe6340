"""The uhdiqa adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import load_table

from .fixtures import check_contract, image


def _uhdiqa(root: Path, with_set: bool = True) -> None:
    rows = [("1.jpg", "training", 0.7), ("2.jpg", "validation", 0.4), ("3.jpg", "test", 0.55)]
    for name, folder, _ in rows:
        image(root / folder / name)
    frame = pd.DataFrame(rows, columns=["image_name", "set", "quality_mos"])
    if not with_set:
        frame = frame.drop(columns="set")
    frame.to_csv(root / "uhd-iqa-metadata.csv", index=False)


@pytest.mark.parametrize("with_set", [True, False])
def test_uhdiqa_split_comes_from_the_folder(tmp_path, with_set):
    _uhdiqa(tmp_path, with_set)
    table = load_table("uhdiqa", tmp_path)
    check_contract(table, "uhdiqa")
    by_name = table.assign(name=[Path(p).name for p in table["path"]]).set_index("name")
    assert by_name["split"].to_dict() == {"1.jpg": "train", "2.jpg": "val", "3.jpg": "test"}
    assert by_name["mos"].to_dict() == {"1.jpg": 0.7, "2.jpg": 0.4, "3.jpg": 0.55}
    assert np.allclose(table["score"], table["mos"])
