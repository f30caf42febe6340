"""The aigciqa2023 adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import io as sio

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _aigciqa2023(root: Path, n: int = 5) -> None:
    for i in range(n):
        image(root / "Image" / "allimg" / f"{i}.png")
    (root / "DATA" / "MOS").mkdir(parents=True)
    for k in (1, 2, 3):
        mosz = (np.arange(n, dtype=float) * k + 10.0 * k).reshape(-1, 1)
        sio.savemat(root / "DATA" / "MOS" / f"mosz{k}.mat", {"MOSz": mosz})


@pytest.mark.parametrize(
    "dimension, k", [("quality", 1), ("authenticity", 2), ("correspondence", 3)]
)
def test_aigciqa2023_dimension_picks_its_mat_file(tmp_path, dimension, k):
    _aigciqa2023(tmp_path)
    table = load_table("aigciqa2023", tmp_path, dimension=dimension)
    check_contract(table, "aigciqa2023")
    by_index = {int(Path(p).stem): m for p, m in zip(table["path"], table["mos"], strict=True)}
    assert by_index == {i: i * k + 10.0 * k for i in range(5)}
    assert table["score"].min() == 0.0 and table["score"].max() == 1.0


def test_aigciqa2023_unknown_dimension(tmp_path):
    _aigciqa2023(tmp_path)
    with pytest.raises(DatasetError, match="dimension must be one of"):
        load_table("aigciqa2023", tmp_path, dimension="aesthetics")
