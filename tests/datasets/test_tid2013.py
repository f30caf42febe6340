"""The tid2013 adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _tid2013(root: Path) -> None:
    for name in ["i01_01_1.bmp", "I01_01_2.BMP", "i02_17_5.bmp", "I25_24_1.bmp"]:
        image(root / "distorted_images" / name)
    lines = ["5.51429 i01_01_1.bmp", "5.56757 i01_01_2.bmp", "", "0.24242 i02_17_5.bmp"]
    lines.append("8.9 i25_24_1.bmp")
    (root / "mos_with_names.txt").write_text("\n".join(lines) + "\n")


def test_tid2013_resolves_mixed_file_name_case(tmp_path):
    _tid2013(tmp_path)
    table = load_table("tid2013", tmp_path).sort_values("mos")
    check_contract(table, "tid2013")
    names = [Path(p).name for p in table["path"]]
    assert names == ["i02_17_5.bmp", "i01_01_1.bmp", "I01_01_2.BMP", "I25_24_1.bmp"]
    assert table["ref_id"].tolist() == ["i02", "i01", "i01", "i25"]
    assert np.allclose(table["score"], table["mos"] / 9.0)


def test_tid2013_malformed_line_is_named(tmp_path):
    _tid2013(tmp_path)
    (tmp_path / "mos_with_names.txt").write_text("5.5 i01_01_1.bmp\nnot-a-number i01_01_2.bmp\n")
    with pytest.raises(DatasetError, match=r"mos_with_names\.txt, line 2"):
        load_table("tid2013", tmp_path)
