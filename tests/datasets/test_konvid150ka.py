"""KoNViD-150k-A: k150ka_scores.csv (video_name, video_score), videos in k150ka/ or ROOT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table
from genziqa.datasets.base import DatasetWarning

from .video_fixtures import check_contract, names, write_clip


def test_scores_csv_and_the_archive_folder(tmp_path):
    for name in ("orig_1001.mp4", "orig_1002.mp4", "orig_1003.mp4"):
        write_clip(tmp_path / "k150ka" / name)
    pd.DataFrame(
        {
            "video_name": ["orig_1002.mp4", "orig_1001.mp4", "orig_1003"],
            "video_score": [3.2, 1.0, 5],
        }
    ).to_csv(tmp_path / "k150ka_scores.csv", index=False)
    table = load_table("konvid150ka", tmp_path)
    check_contract(table, "konvid150ka")
    assert names(table, tmp_path) == [f"k150ka/orig_100{i}.mp4" for i in (1, 2, 3)]
    assert np.allclose(table["mos"], [1.0, 3.2, 5.0]) and np.allclose(table["score"], [0, 0.55, 1])
    assert (table["split"] == "").all()


def test_videos_in_root_and_an_incomplete_download(tmp_path):
    write_clip(tmp_path / "a.mp4")
    pd.DataFrame({"video_name": ["a.mp4", "b.mp4"], "video_score": [2.0, 4.0]}).to_csv(
        tmp_path / "k150ka_scores.csv", index=False
    )
    with pytest.raises(DatasetError, match=r"k150ka_scores.csv: 1 of 2 listed video\(s\)"):
        load_table("konvid150ka", tmp_path)
    with pytest.warns(DatasetWarning, match="2 videos listed, 1 found"):
        assert names(load_table("konvid150ka", tmp_path, skip_missing=True), tmp_path) == ["a.mp4"]


def test_missing_or_malformed_scores_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"k150ka_scores.csv, but that file does not exist"):
        load_table("konvid150ka", tmp_path)
    pd.DataFrame({"video_name": ["a.mp4"], "mos": [2.0]}).to_csv(
        tmp_path / "k150ka_scores.csv", index=False
    )
    with pytest.raises(
        DatasetError,
        match=r"k150ka_scores.csv: missing column\(s\) "
        r"\['video_score'\]",
    ):
        load_table("konvid150ka", tmp_path)
