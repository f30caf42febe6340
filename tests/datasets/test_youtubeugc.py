"""YouTube-UGC: the MOS workbook (vid without extension) or the FAST-VQA list; the H.264
transcodes `_crf_10_ss_00_t_20.0.mp4` versus the .mkv originals, nested anywhere."""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest

from genziqa.datasets import DatasetError, load_table
from genziqa.datasets.base import DatasetWarning

from .video_fixtures import check_contract, names, write_clip

VIDS = ["Sports_2160P-4e9f", "Animation_480P-7a31", "CoverSong_480P-59f2"]
MOS = [4.405, 3.487, 1.24]
SUFFIX = "_crf_10_ss_00_t_20.0.mp4"


def _workbook(path, header=("vid", "category", "MOS full", "MOS chunk 00"), rows=None):
    book = openpyxl.Workbook()
    book.active.title = "Content"  # a first sheet without the MOS columns
    book.active.append(["vid", "label"])
    sheet = book.create_sheet("MOS")
    sheet.append(list(header))
    for vid, mos in rows or zip(VIDS, MOS, strict=True):
        sheet.append([vid, vid.split("_")[0], mos, mos])
    book.save(path)


def _transcodes(root):
    write_clip(root / "h264" / f"{VIDS[0]}{SUFFIX}")
    for vid in VIDS[1:]:
        write_clip(root / f"{vid}{SUFFIX}")


def test_workbook_and_transcodes_found_anywhere(tmp_path):
    _transcodes(tmp_path)
    _workbook(tmp_path / "original_videos_MOS_for_YouTube_UGC_dataset.xlsx")
    table = load_table("youtubeugc", tmp_path)
    check_contract(table, "youtubeugc")
    assert names(table, tmp_path) == [
        f"{VIDS[1]}{SUFFIX}",
        f"{VIDS[2]}{SUFFIX}",
        f"h264/{VIDS[0]}{SUFFIX}",
    ]
    assert np.allclose(table["mos"], [3.487, 1.24, 4.405])
    assert np.allclose(table["score"], (table["mos"] - 1) / 4)


def test_the_other_workbook_name_and_column_spelling_and_the_originals(tmp_path):
    for vid in VIDS:
        write_clip(tmp_path / "original_videos" / vid.split("_")[0] / f"{vid}.mkv")
    write_clip(tmp_path / f"{VIDS[0]}{SUFFIX}")  # a transcode too: not what was asked for
    _workbook(tmp_path / "MOS_for_YouTube_UGC_dataset.xlsx", header=("vid", "cat", "MOSfull", "x"))
    table = load_table("youtubeugc", tmp_path, videos="original")
    assert all(p.endswith(".mkv") for p in table["path"]) and len(table) == 3
    with pytest.raises(DatasetError, match=r"videos must be one of \['transcoded', 'original'\]"):
        load_table("youtubeugc", tmp_path, videos="vp9")


def test_fast_vqa_list(tmp_path):
    _transcodes(tmp_path)
    lines = [f"{v}{SUFFIX}, -1, -1, {m}" for v, m in zip(VIDS, MOS, strict=True)]
    (tmp_path / "labels.txt").write_text("\n".join(lines) + "\n")
    table = load_table("youtubeugc", tmp_path)
    assert np.allclose(sorted(table["mos"]), sorted(MOS))


def test_videos_missing_from_the_download_are_counted(tmp_path):
    _transcodes(tmp_path)
    (tmp_path / f"{VIDS[2]}{SUFFIX}").unlink()
    _workbook(tmp_path / "original_videos_MOS_for_YouTube_UGC_dataset.xlsx")
    with pytest.raises(DatasetError, match=r"1 of 3 listed video\(s\) are absent.*59f2_crf_10"):
        load_table("youtubeugc", tmp_path)
    with pytest.warns(DatasetWarning, match="3 videos listed, 2 found"):
        assert len(load_table("youtubeugc", tmp_path, skip_missing=True)) == 2


def test_malformed_workbooks_name_the_file(tmp_path):
    with pytest.raises(
        DatasetError,
        match=r"original_videos_MOS_for_YouTube_UGC_dataset.xlsx, "
        r".*labels.txt; none exists",
    ):
        load_table("youtubeugc", tmp_path)
    _transcodes(tmp_path)
    path = tmp_path / "MOS_for_YouTube_UGC_dataset.xlsx"
    _workbook(path, header=("vid", "category", "DMOS", "x"))
    with pytest.raises(
        DatasetError,
        match=r"MOS_for_YouTube_UGC_dataset.xlsx: expected a sheet "
        r"with columns one of \['vid'\] and one of \['MOS full', 'MOSfull'\]",
    ):
        load_table("youtubeugc", tmp_path)
    _workbook(path, rows=[(VIDS[0], 4.0), (VIDS[1], 5.6)])
    with pytest.raises(DatasetError, match=r"outside the documented range \[1, 5\]"):
        load_table("youtubeugc", tmp_path)
    write_clip(tmp_path / "copy" / f"{VIDS[0]}{SUFFIX}")
    _workbook(path)
    with pytest.raises(DatasetError, match=r"2 files are named .*4e9f_crf_10_ss_00_t_20.0.mp4"):
        load_table("youtubeugc", tmp_path)
