"""KoNViD-1k: official MOS CSV, attributes CSV and FAST-VQA list; both video namings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table
from genziqa.datasets.base import DatasetWarning

from .video_fixtures import check_contract, names, read_frames, write_clip

IDS = ["4542323058", "9753414792", "6935410837"]
MOS = [3.22, 3.84, 1.22]
OLD_NAME = "6935410837_original_centercrop_960x540_8s.mp4"  # the older release's naming


def _videos(root: Path) -> None:
    for name in ("4542323058.mp4", "9753414792.mp4", OLD_NAME):
        write_clip(root / "KoNViD_1k_videos" / name)


def _mos_csv(path: Path, ids=IDS, mos=MOS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"flickr_id": ids, "mos": mos}).to_csv(path, index=False)


def _expected(root: Path) -> list[str]:
    return [
        "KoNViD_1k_videos/4542323058.mp4",
        f"KoNViD_1k_videos/{OLD_NAME}",
        "KoNViD_1k_videos/9753414792.mp4",
    ]


def test_official_mos_csv_reads_ids_as_text_and_finds_both_namings(tmp_path):
    _videos(tmp_path)
    _mos_csv(tmp_path / "KoNViD_1k_mos.csv")
    table = load_table("konvid1k", tmp_path)
    check_contract(table, "konvid1k")
    assert names(table, tmp_path) == _expected(tmp_path)
    assert np.allclose(table["mos"], [3.22, 1.22, 3.84])
    assert np.allclose(table["score"], (table["mos"] - 1.0) / 4.0)
    assert (table["split"] == "").all() and (table["ref_id"] == "").all()
    assert read_frames(table["path"][0]).shape == (8, 32, 32, 3)  # a real, decodable video


def test_attributes_csv_in_the_metadata_folder(tmp_path):
    _videos(tmp_path)
    frame = pd.DataFrame(
        {
            "flickr_id": [int(i) for i in IDS],
            "category": ["a", "b", "c"],
            "file_name": [f"{i}_original_centercrop_960x540_8s.mp4" for i in IDS],
            "MOS": [2.0, 3.0, 4.0],
            "SD": [0.5, 0.5, 0.5],
        }
    )
    (tmp_path / "KoNViD_1k_metadata").mkdir()
    frame.to_csv(tmp_path / "KoNViD_1k_metadata" / "KoNViD_1k_attributes.csv", index=False)
    table = load_table("konvid1k", tmp_path)
    assert names(table, tmp_path) == _expected(tmp_path)
    assert np.allclose(table["mos"], [2.0, 4.0, 3.0])


def test_fast_vqa_list(tmp_path):
    _videos(tmp_path)
    lines = [f"KoNViD_1k_videos/{i}.mp4, 8.008, 29.97, {m}" for i, m in zip(IDS, MOS, strict=True)]
    (tmp_path / "labels.txt").write_text("\n".join(lines) + "\n")
    table = load_table("konvid1k", tmp_path)
    assert names(table, tmp_path) == _expected(tmp_path)
    assert np.allclose(table["mos"], [3.22, 1.22, 3.84])


def test_official_csv_wins_over_the_others_and_current_naming_over_the_old(tmp_path):
    _videos(tmp_path)
    write_clip(tmp_path / "KoNViD_1k_videos" / "4542323058_original_centercrop_960x540_8s.mp4")
    _mos_csv(tmp_path / "KoNViD_1k_mos.csv")
    (tmp_path / "labels.txt").write_text("KoNViD_1k_videos/4542323058.mp4, 8, 30, 4.9\n")
    table = load_table("konvid1k", tmp_path)
    assert len(table) == 3 and np.isclose(table["mos"].max(), 3.84)
    assert "KoNViD_1k_videos/4542323058.mp4" in names(table, tmp_path)


def test_float_written_ids_are_read_as_the_integer_and_bad_ids_are_errors(tmp_path):
    _videos(tmp_path)
    _mos_csv(tmp_path / "KoNViD_1k_mos.csv", ids=[f"{i}.0" for i in IDS])
    assert names(load_table("konvid1k", tmp_path), tmp_path) == _expected(tmp_path)
    _mos_csv(tmp_path / "KoNViD_1k_mos.csv", ids=["4542323058", "video-2", "6935410837"])
    with pytest.raises(DatasetError, match=r"KoNViD_1k_mos.csv: column 'flickr_id'.*'video-2'"):
        load_table("konvid1k", tmp_path)


def test_missing_video_is_an_error_unless_skipped_with_a_count(tmp_path):
    _videos(tmp_path)
    (tmp_path / "KoNViD_1k_videos" / "9753414792.mp4").unlink()
    _mos_csv(tmp_path / "KoNViD_1k_mos.csv")
    with pytest.raises(
        DatasetError,
        match=r"KoNViD_1k_mos.csv: 1 of 3 listed video\(s\) are "
        r"absent on disk, e.g. .*9753414792.mp4 \(option skip_missing",
    ):
        load_table("konvid1k", tmp_path)
    with pytest.warns(DatasetWarning, match="3 videos listed, 2 found"):
        table = load_table("konvid1k", tmp_path, skip_missing=True)
    assert len(table) == 2 and not any("9753414792" in p for p in table["path"])


def test_missing_files_and_bad_labels_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"KoNViD_1k_videos.*folder does not exist"):
        load_table("konvid1k", tmp_path)
    _videos(tmp_path)
    with pytest.raises(
        DatasetError,
        match=r"KoNViD_1k_mos.csv, KoNViD_1k_attributes.csv or "
        r"labels.txt.*none exists",
    ):
        load_table("konvid1k", tmp_path)
    _mos_csv(tmp_path / "KoNViD_1k_mos.csv", mos=[3.2, 5.5, 1.0])
    with pytest.raises(
        DatasetError,
        match=r"KoNViD_1k_mos.csv: 1 label\(s\) lie outside the "
        r"documented range \[1, 5\]",
    ):
        load_table("konvid1k", tmp_path)
    pd.DataFrame({"flickr_id": IDS, "score": MOS}).to_csv(
        tmp_path / "KoNViD_1k_mos.csv", index=False
    )
    with pytest.raises(
        DatasetError,
        match=r"KoNViD_1k_mos.csv: expected one of the columns "
        r"\['mos', 'MOS'\]",
    ):
        load_table("konvid1k", tmp_path)
    (tmp_path / "KoNViD_1k_mos.csv").unlink()
    (tmp_path / "labels.txt").write_text("KoNViD_1k_videos/4542323058.mp4 3.2\n")
    with pytest.raises(DatasetError, match=r"labels.txt, line 1: expected 'name, duration"):
        load_table("konvid1k", tmp_path)
