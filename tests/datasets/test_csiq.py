"""The csiq adapter on a fixture folder in its real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pytest

from genziqa.datasets import DatasetError, load_table

from .fixtures import check_contract, image


def _csiq(root: Path) -> None:
    files = [
        ("awgn", "1600.AWGN.1.png"),
        ("jpeg2000", "1600.jpeg2000.3.png"),
        ("blur", "aerial_city.BLUR.2.png"),
        ("jpeg", "aerial_city.JPEG.5.png"),
    ]
    for folder, name in files:
        image(root / "dst_imgs" / folder / name)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "all_by_image"
    sheet.cell(row=1, column=1, value="CSIQ DMOS (title block above the header, as released)")
    header = ["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"]
    rows = [
        [1600, 1, "noise", 1, 0.02, 0.062],
        [1600, 5, "jpeg 2000", 3, 0.03, 0.40],
        ["aerial_city", 6, "blur", 2, 0.04, 0.25],
        ["aerial_city", 2, "jpeg", 5, 0.05, 0.91],
    ]
    for r, values in enumerate([header, *rows]):
        for c, value in enumerate(values):
            sheet.cell(row=4 + r, column=4 + c, value=value)
    book.create_sheet("all_by_distortion")
    book.save(root / "csiq.DMOS.xlsx")


def test_csiq_is_lower_better_with_type_folders_and_mixed_case(tmp_path):
    _csiq(tmp_path)
    table = load_table("csiq", tmp_path)
    check_contract(table, "csiq")
    by_name = table.assign(name=[Path(p).name for p in table["path"]]).set_index("name")
    assert by_name.loc["1600.AWGN.1.png", "mos"] == pytest.approx(0.062)
    assert by_name.loc["1600.jpeg2000.3.png", "ref_id"] == "1600"
    assert by_name.loc["aerial_city.JPEG.5.png", "ref_id"] == "aerial_city"
    assert np.allclose(table["score"], 1.0 - table["mos"])


def test_csiq_missing_image_is_reported(tmp_path):
    _csiq(tmp_path)
    (tmp_path / "dst_imgs" / "blur" / "aerial_city.BLUR.2.png").unlink()
    with pytest.raises(DatasetError, match=r"csiq\.DMOS\.xlsx: 1 of 4 .*aerial_city\.blur\.2"):
        load_table("csiq", tmp_path)
