"""LSVQ-1080p: the separate test set; every row is split "test"."""

from __future__ import annotations

import numpy as np
import pytest

from genziqa.datasets import DatasetError, load_table

from .test_lsvq import ROWS, official_frame, write_videos
from .video_fixtures import check_contract, names


def test_official_1080p_csv_has_no_is_test_and_every_row_is_test(tmp_path):
    write_videos(tmp_path, ROWS)
    official_frame(ROWS, test_flag=False).to_csv(tmp_path / "labels_test_1080p.csv", index=False)
    table = load_table("lsvq1080p", tmp_path)
    check_contract(table, "lsvq1080p")
    assert (table["split"] == "test").all() and len(table) == 4
    assert "ia-batch13/cocsv-Warrior_Games_2018_PSA_-_40_sec..mp4" in names(table, tmp_path)
    assert np.allclose(sorted(table["mos"]), [2.45, 41.5, 78.77, 90.5])


def test_fast_vqa_1080p_list(tmp_path):
    write_videos(tmp_path, ROWS[:2])
    lines = [f"{r[0]}.mp4, -1, -1, {r[1]}" for r in ROWS[:2]]
    (tmp_path / "labels_1080p.txt").write_text("\n".join(lines) + "\n")
    table = load_table("lsvq1080p", tmp_path)
    assert names(table, tmp_path) == [
        "ia-batch13/cocsv-Warrior_Games_2018_PSA_-_40_sec..mp4",
        "yfcc-batch1/722.mp4",
    ]
    assert (table["split"] == "test").all()


def test_missing_labels_and_bad_mos_name_the_file(tmp_path):
    with pytest.raises(
        DatasetError,
        match=r"labels_test_1080p.csv or .*labels_1080p.txt; "
        "neither exists",
    ):
        load_table("lsvq1080p", tmp_path)
    write_videos(tmp_path, ROWS)
    frame = official_frame(ROWS, test_flag=False)
    frame["mos"] = frame["mos"].astype(object)
    frame.loc[2, "mos"] = "high"
    frame.to_csv(tmp_path / "labels_test_1080p.csv", index=False)
    with pytest.raises(DatasetError, match=r"labels_test_1080p.csv: column 'mos' must be numeric"):
        load_table("lsvq1080p", tmp_path)
