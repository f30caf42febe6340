"""LIVE-YT-HFR: the transposed official MOS CSV (or the un-transposed copy), .webm videos in
one folder per content, ref_id = content for content-disjoint splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table
from genziqa.datasets.splits import split_by_group

from .video_fixtures import check_contract, names, write_clip

VIDEOS = [
    "1Runner_crf_0_120fps",
    "1Runner_crf_63_24fps",
    "bobblehead_crf_0_120fps",
    "bobblehead_crf_48_60fps",
]
MOS = [73.9, 10.4, 66.2, 43.0]
STD = [10.1, 9.9, 12.5, 11.0]


def _transposed(path, names=VIDEOS, mos=MOS):
    """Row-wise, as the release stores it: File Names / MOS / std rows, CRLF line ends."""
    rows = [["File Names", *names], ["MOS", *mos], ["std", *STD[: len(mos)]]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(",".join(map(str, r)) + "\r\n" for r in rows).encode())


def _videos(root, suffix=".webm"):
    for name in VIDEOS:
        write_clip(root / name.split("_crf_")[0] / f"{name}{suffix}")


def test_transposed_official_csv_and_content_ids(tmp_path):
    _videos(tmp_path)
    _transposed(tmp_path / "subjective_scores" / "subject_MOS.csv")
    table = load_table("liveythfr", tmp_path)
    check_contract(table, "liveythfr")
    assert names(table, tmp_path) == [f"{n.split('_crf_')[0]}/{n}.webm" for n in VIDEOS]
    assert np.allclose(table["mos"], MOS) and np.allclose(table["score"], np.array(MOS) / 100)
    assert list(table["ref_id"]) == ["1Runner", "1Runner", "bobblehead", "bobblehead"]
    split = split_by_group(table, {"train": 0.5, "test": 0.5}, seed=0)
    assert all(len(set(split[table["ref_id"] == c])) == 1 for c in ("1Runner", "bobblehead"))


def test_untransposed_copy_and_converted_mp4_videos(tmp_path):
    for name in VIDEOS:
        write_clip(tmp_path / "mp4" / f"{name}.mp4")
    pd.DataFrame({"filename": VIDEOS, "MOS": MOS, "std": STD}).to_csv(
        tmp_path / "LIVEHFR_MOS.csv", index=False
    )
    table = load_table("liveythfr", tmp_path)
    assert names(table, tmp_path) == [f"mp4/{n}.mp4" for n in VIDEOS]
    assert np.allclose(table["mos"], MOS)


def test_malformed_label_files_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"subject_MOS.csv, .*subjective_scores.*none exists"):
        load_table("liveythfr", tmp_path)
    _videos(tmp_path)
    path = tmp_path / "subject_MOS.csv"
    path.write_text("filename,MOS\r\n1Runner_crf_0_120fps,73.9\r\n")
    with pytest.raises(
        DatasetError,
        match=r"subject_MOS.csv: missing row\(s\) \['File Names', "
        r"'MOS'\]; expected a transposed CSV",
    ):
        load_table("liveythfr", tmp_path)
    _transposed(path, mos=MOS[:3])
    with pytest.raises(DatasetError, match=r"row 'File Names' holds 4 names but row 'MOS' 3"):
        load_table("liveythfr", tmp_path)
    _transposed(path, names=["1Runner_24fps", *VIDEOS[1:]])
    with pytest.raises(DatasetError, match=r"'1Runner_24fps' does not follow <content>_crf_<q>"):
        load_table("liveythfr", tmp_path)
    _transposed(path)
    (tmp_path / "1Runner" / "1Runner_crf_63_24fps.webm").unlink()
    with pytest.raises(
        DatasetError,
        match=r"subject_MOS.csv: 1 of 4 listed video\(s\) are absent"
        r".*1Runner/1Runner_crf_63_24fps.webm",
    ):
        load_table("liveythfr", tmp_path)
