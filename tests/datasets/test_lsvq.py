"""LSVQ train/test: the official CSV (is_test split, names without extension) and the
FAST-VQA lists; skip_missing for incomplete downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table
from genziqa.datasets.base import DatasetWarning

from .video_fixtures import check_contract, names, write_clip

PATCH_COLUMNS = [
    f"{side}_{part}"
    for part in ("p1", "p2", "p3")
    for side in ("left", "right", "top", "bottom", "start", "end")
]
COLUMNS = [
    "name", "p1", "p2", "p3", "height", "width", "mos_p1", "mos_p2", "mos_p3", "mos",
    "frame_number", "fn_last_frame", *PATCH_COLUMNS,
    "top_vid", "left_vid", "bottom_vid", "right_vid", "start_vid", "end_vid",
]  # fmt: skip
ROWS = [  # name, mos, is_test, is_valid: names carry a folder, no extension, maybe dots
    ("yfcc-batch1/722", 78.77, False, False),
    ("ia-batch13/cocsv-Warrior_Games_2018_PSA_-_40_sec.", 41.5, True, True),
    ("ia-batch1/Consistency_Is_KEY_Grow_St._Charles_Ep._11", 2.45, False, True),
    ("backup/Flickr-21201537525", 90.5, True, False),
]


def official_frame(rows, test_flag: bool = True) -> pd.DataFrame:
    """Rows in the official column layout (patch columns filled with plausible values)."""
    data = {c: [1] * len(rows) for c in COLUMNS}
    data["name"] = [r[0] for r in rows]
    data["mos"] = [r[1] for r in rows]
    for part in ("p1", "p2", "p3"):
        data[part] = ["[15, 527, 421, 709, 0, 200]"] * len(rows)
    if test_flag:
        data["is_test"] = [r[2] for r in rows]
    data["is_valid"] = [r[3] for r in rows]
    return pd.DataFrame(data)


def write_videos(root: Path, rows) -> None:
    for row in rows:
        write_clip(root / f"{row[0]}.mp4")


def test_official_csv_split_is_is_test_and_names_get_mp4_appended(tmp_path):
    write_videos(tmp_path, ROWS)
    official_frame(ROWS).to_csv(tmp_path / "labels_train_test.csv", index=False)
    table = load_table("lsvq", tmp_path)
    check_contract(table, "lsvq")
    by_name = dict(zip(names(table, tmp_path), table["split"], strict=True))
    assert by_name == {
        "backup/Flickr-21201537525.mp4": "test",
        "ia-batch1/Consistency_Is_KEY_Grow_St._Charles_Ep._11.mp4": "train",
        "ia-batch13/cocsv-Warrior_Games_2018_PSA_-_40_sec..mp4": "test",
        "yfcc-batch1/722.mp4": "train",
    }  # is_valid is not a split: True on a train row and False on a test row change nothing
    assert np.allclose(table["mos"], [90.5, 2.45, 41.5, 78.77])
    assert np.allclose(table["score"], table["mos"] / 100.0)


def test_official_csv_with_a_byte_order_mark_and_text_flags(tmp_path):
    write_videos(tmp_path, ROWS)
    frame = official_frame(ROWS)
    frame["is_test"] = frame["is_test"].map({True: "TRUE", False: "False"})
    frame.to_csv(tmp_path / "labels_train_test.csv", index=False, encoding="utf-8-sig")
    table = load_table("lsvq", tmp_path)
    assert sorted(table["split"]) == ["test", "test", "train", "train"]


def test_fast_vqa_lists_give_train_and_test(tmp_path):
    write_videos(tmp_path, ROWS)
    train = [f"{r[0]}.mp4, -1, -1, {r[1]}" for r in ROWS if not r[2]]
    test = [f"{r[0]}.mp4, -1, -1, {r[1]}" for r in ROWS if r[2]]
    (tmp_path / "train_labels.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "labels_test.txt").write_text("\n".join(test) + "\n")
    table = load_table("lsvq", tmp_path)
    check_contract(table, "lsvq")
    assert list(table["split"]) == ["test", "train", "test", "train"]
    assert np.allclose(table["mos"], [90.5, 2.45, 41.5, 78.77])
    (tmp_path / "labels_test.txt").unlink()  # GenzVQA's own setup: the training list only
    assert list(load_table("lsvq", tmp_path)["split"]) == ["train", "train"]


def test_a_video_in_both_lists_is_an_error(tmp_path):
    write_videos(tmp_path, ROWS[:1])
    (tmp_path / "train_labels.txt").write_text("yfcc-batch1/722.mp4, -1, -1, 50\n")
    (tmp_path / "labels_test.txt").write_text("yfcc-batch1/722.mp4, -1, -1, 50\n")
    with pytest.raises(DatasetError, match=r"train_labels.txt and .*labels_test.txt both list"):
        load_table("lsvq", tmp_path)


def test_absent_videos_are_an_error_or_left_out_with_listed_and_found_counts(tmp_path):
    write_videos(tmp_path, ROWS[:3])
    official_frame(ROWS).to_csv(tmp_path / "labels_train_test.csv", index=False)
    with pytest.raises(DatasetError, match=r"labels_train_test.csv: 1 of 4 listed video\(s\)"):
        load_table("lsvq", tmp_path)
    with pytest.warns(DatasetWarning, match=r"labels_train_test.csv: 4 videos listed, 3 found"):
        table = load_table("lsvq", tmp_path, skip_missing=True)
    assert len(table) == 3 and sorted(table["split"]) == ["test", "train", "train"]
    with pytest.raises(DatasetError, match="skip_missing must be True or False"):
        load_table("lsvq", tmp_path, skip_missing="yes")


def test_malformed_official_csv_names_the_file(tmp_path):
    write_videos(tmp_path, ROWS)
    official_frame(ROWS, test_flag=False).to_csv(tmp_path / "labels_train_test.csv", index=False)
    with pytest.raises(
        DatasetError,
        match=r"labels_train_test.csv: missing column\(s\) "
        r"\['is_test'\]",
    ):
        load_table("lsvq", tmp_path)
    frame = official_frame(ROWS)
    frame["is_test"] = frame["is_test"].astype(object)
    frame.loc[1, "is_test"] = "maybe"
    frame.to_csv(tmp_path / "labels_train_test.csv", index=False)
    with pytest.raises(DatasetError, match=r"column 'is_test' must hold True/False, found maybe"):
        load_table("lsvq", tmp_path)
    frame = official_frame(ROWS)
    frame.loc[0, "mos"] = 101.0
    frame.to_csv(tmp_path / "labels_train_test.csv", index=False)
    with pytest.raises(DatasetError, match=r"outside the documented range \[0, 100\]"):
        load_table("lsvq", tmp_path)


def test_without_any_label_file_the_expected_files_are_named(tmp_path):
    with pytest.raises(
        DatasetError,
        match=r"labels_train_test.csv, or the FAST-VQA lists .*"
        r"train_labels.txt / .*labels_test.txt; none exists",
    ):
        load_table("lsvq", tmp_path)
