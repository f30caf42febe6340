"""CVD2014: ';'-separated realigned MOS with decimal commas (negative values possible),
.avi videos in Test<k>/<scene>/ with a scene-folder case that differs from the names."""

from __future__ import annotations

import numpy as np
import pytest

from genziqa.datasets import DatasetError, load_table

from .video_fixtures import check_contract, names, write_clip

ROWS = [  # Content, File_name, Original MOS, Realignment MOS (as the release writes them)
    ("City", "Test01_City_D01", "71,17", "67,29"),
    ("City", "Test01_City_D02", "25,83", "-6,5"),
    ("Talking head", "Test03_Talking_Head_D10", "55,1", "53,33"),
    ("Traffic", "Test01_Traffic_D01", "93,4", "93,38"),
]
FOLDERS = {  # the release's folders: Test<k>/<scene>, scene case differing from the name
    "Test01_City_D01": "Test1/City",
    "Test01_City_D02": "Test1/City",
    "Test03_Talking_Head_D10": "Test3/Talking_head",
    "Test01_Traffic_D01": "Test1/Traffic",
}


def _labels(path, rows=ROWS, header="Content;File_name;Original MOS;Realignment MOS"):
    lines = [f"{header};;;;"] + [";".join(r) + ";;;;" for r in rows] + [";;;;;;;"] * 3
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


def _videos(root):
    for name, folder in FOLDERS.items():
        write_clip(root / folder / f"{name}.avi")


def test_semicolon_csv_with_comma_decimals_negative_mos_and_scene_ids(tmp_path):
    _videos(tmp_path)
    _labels(tmp_path / "CVD2014_ratings" / "Realignment_MOS.csv")
    table = load_table("cvd2014", tmp_path)
    check_contract(table, "cvd2014")
    assert names(table, tmp_path) == [
        "Test1/City/Test01_City_D01.avi",
        "Test1/City/Test01_City_D02.avi",
        "Test1/Traffic/Test01_Traffic_D01.avi",
        "Test3/Talking_head/Test03_Talking_Head_D10.avi",
    ]
    assert np.allclose(table["mos"], [67.29, -6.5, 93.38, 53.33])  # realigned, not original
    assert np.allclose(table["score"], (table["mos"] + 6.5) / (93.38 + 6.5))  # min-max
    assert list(table["ref_id"]) == [
        "Test01_City",
        "Test01_City",
        "Test01_Traffic",
        "Test03_Talking_Head",
    ]


def test_flat_folder_and_the_fast_vqa_list(tmp_path):
    for name in FOLDERS:
        write_clip(tmp_path / "CVD2014_videos" / f"{name}.avi")
    _labels(tmp_path / "Realignment_MOS.csv")
    assert len(load_table("cvd2014", tmp_path)) == 4
    (tmp_path / "Realignment_MOS.csv").unlink()
    lines = [f"{FOLDERS[r[1]]}/{r[1]}.avi, 15.0, 24.0, {r[3].replace(',', '.')}" for r in ROWS]
    (tmp_path / "labels.txt").write_text("\n".join(lines) + "\n")
    table = load_table("cvd2014", tmp_path)  # the listed folders do not exist: found by name
    assert sorted(table["mos"]) == sorted([67.29, -6.5, 53.33, 93.38])
    assert all("CVD2014_videos" in p for p in table["path"])


def test_malformed_labels_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"Realignment_MOS.csv, .*CVD2014_ratings.*none exists"):
        load_table("cvd2014", tmp_path)
    _videos(tmp_path)
    path = tmp_path / "Realignment_MOS.csv"
    _labels(path, header="Content;File_name;Original MOS;MOS")
    with pytest.raises(
        DatasetError,
        match=r"Realignment_MOS.csv: missing column\(s\) "
        r"\['Realignment MOS'\]",
    ):
        load_table("cvd2014", tmp_path)
    _labels(path, rows=[*ROWS[:3], ("Traffic", "Test01_Traffic_D01", "1", "9x")])
    with pytest.raises(DatasetError, match=r"column 'Realignment MOS' must be numeric.*9x"):
        load_table("cvd2014", tmp_path)
    _labels(path, rows=[*ROWS[:3], ("Traffic", "Traffic_01", "1", "9")])
    with pytest.raises(DatasetError, match=r"'Traffic_01' does not follow Test<k>_<scene>_D"):
        load_table("cvd2014", tmp_path)
    _labels(path, rows=[*ROWS, ("City", "Test01_City_D09", "1", "2")])
    with pytest.raises(DatasetError, match=r"1 of 5 listed video\(s\) are absent.*D09.avi"):
        load_table("cvd2014", tmp_path)
