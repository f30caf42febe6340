"""The uhdiqa adapter on fixture folders in both layouts in circulation."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, DatasetWarning, load_table

from .fixtures import check_contract, image

ROWS = [("1.jpg", "training", 0.7), ("2.jpg", "validation", 0.4), ("3.jpg", "test", 0.55)]


def _uhdiqa(root: Path, with_set: bool = True) -> None:
    for name, folder, _ in ROWS:
        image(root / folder / name)
    frame = pd.DataFrame(ROWS, columns=["image_name", "set", "quality_mos"])
    if not with_set:
        frame = frame.drop(columns="set")
    frame.to_csv(root / "uhd-iqa-metadata.csv", index=False)


def _challenge(root: Path, splits=("training", "validation", "test")) -> None:
    """The challenge release: one metadata file per split, named after it."""
    for name, folder, mos in ROWS:
        image(root / folder / name)
        if folder in splits:
            pd.DataFrame(
                {"image_name": [name], "quality_mos": [mos], "width": [3840], "height": [2160]}
            ).to_csv(root / f"uhd-iqa-{folder}-metadata.csv", index=False)


def _by_name(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(name=[Path(p).name for p in table["path"]]).set_index("name")


@pytest.mark.parametrize("with_set", [True, False])
def test_uhdiqa_split_comes_from_the_folder(tmp_path, with_set):
    _uhdiqa(tmp_path, with_set)
    table = load_table("uhdiqa", tmp_path)
    check_contract(table, "uhdiqa")
    by_name = _by_name(table)
    assert by_name["split"].to_dict() == {"1.jpg": "train", "2.jpg": "val", "3.jpg": "test"}
    assert by_name["mos"].to_dict() == {"1.jpg": 0.7, "2.jpg": 0.4, "3.jpg": 0.55}
    assert np.allclose(table["score"], table["mos"])


def test_uhdiqa_reads_the_challenge_per_split_metadata(tmp_path):
    _challenge(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole copy: nothing to report
        table = load_table("uhdiqa", tmp_path)
    check_contract(table, "uhdiqa")
    by_name = _by_name(table)
    assert by_name["split"].to_dict() == {"1.jpg": "train", "2.jpg": "val", "3.jpg": "test"}
    assert by_name["mos"].to_dict() == {"1.jpg": 0.7, "2.jpg": 0.4, "3.jpg": 0.55}


def test_uhdiqa_per_split_copy_without_a_labelled_test_split_says_so(tmp_path):
    _challenge(tmp_path, splits=("training", "validation"))
    pd.DataFrame({"image_name": ["3.jpg"]}).to_csv(
        tmp_path / "uhd-iqa-test-metadata.csv", index=False
    )
    with pytest.warns(DatasetWarning, match=r"uhd-iqa-test-metadata\.csv \(no quality_mos"):
        table = load_table("uhdiqa", tmp_path)
    assert set(table["split"]) == {"train", "val"}
    for split in ("training", "validation", "test"):
        (tmp_path / f"uhd-iqa-{split}-metadata.csv").unlink(missing_ok=True)
    with pytest.raises(DatasetError, match=r"uhd-iqa-metadata\.csv"):
        load_table("uhdiqa", tmp_path)  # no label file at all: the single file is expected
