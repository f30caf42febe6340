"""The kadid10k adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _kadid(root: Path) -> None:
    rows = [
        ("I02_01_01.png", "I02.png", 4.6, 0.1),
        ("I01_01_01.png", "I01.png", 4.2, 0.2),
        ("I01_01_05.png", "I01.png", 1.3, 0.3),
    ]
    for dist, ref, _, _ in rows:
        image(root / "images" / dist)
        image(root / "images" / ref)
    pd.DataFrame(rows, columns=["dist_img", "ref_img", "dmos", "var"]).to_csv(
        root / "dmos.csv", index=False
    )


def test_kadid_dmos_column_is_a_higher_better_mos(tmp_path):
    _kadid(tmp_path)
    table = load_table("kadid10k", tmp_path)
    check_contract(table, "kadid10k")
    assert [Path(p).name for p in table["path"]] == [
        "I01_01_01.png",
        "I01_01_05.png",
        "I02_01_01.png",
    ]
    assert table["mos"].tolist() == [4.2, 1.3, 4.6]
    assert np.allclose(table["score"], (table["mos"] - 1.0) / 4.0)  # not flipped
    assert table["ref_id"].tolist() == ["I01", "I01", "I02"]


def test_kadid_missing_label_file_is_named(tmp_path):
    _kadid(tmp_path)
    (tmp_path / "dmos.csv").unlink()
    with pytest.raises(DatasetError, match=r"dmos\.csv"):
        load_table("kadid10k", tmp_path)


def test_kadid_missing_column_lists_found_and_expected(tmp_path):
    _kadid(tmp_path)
    frame = pd.read_csv(tmp_path / "dmos.csv").rename(columns={"dmos": "mos"})
    frame.to_csv(tmp_path / "dmos.csv", index=False)
    with pytest.raises(DatasetError, match=r"dmos\.csv: missing column\(s\) \['dmos'\]") as err:
        load_table("kadid10k", tmp_path)
    assert "'mos'" in str(err.value)  # the columns found are listed


def test_kadid_missing_image_counts_and_names_it(tmp_path):
    _kadid(tmp_path)
    (tmp_path / "images" / "I01_01_05.png").unlink()
    with pytest.raises(DatasetError, match=r"dmos\.csv: 1 of 3 listed image\(s\) are absent"):
        load_table("kadid10k", tmp_path)
