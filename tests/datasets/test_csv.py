"""The generic `csv` adapter reads a folder of videos as readily as one of images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table

from .video_fixtures import check_contract, names, read_frames, write_clip


def test_csv_adapter_reads_video_paths_of_any_container(tmp_path):
    videos = ["clips/a.mp4", "clips/b.webm", "other/c.avi", "d.mkv"]
    for video in videos:
        write_clip(tmp_path / video)
    pd.DataFrame(
        {"file": videos, "quality": [10.0, 30.0, 20.0, 40.0], "source": ["s1", "s1", "s2", ""]}
    ).to_csv(tmp_path / "videos.csv", index=False)
    table = load_table(
        "csv", tmp_path, csv="videos.csv", path_col="file", score_col="quality",
        ref_col="source", range=(0.0, 50.0),
    )  # fmt: skip
    check_contract(table, "csv")
    assert names(table, tmp_path) == ["clips/a.mp4", "clips/b.webm", "d.mkv", "other/c.avi"]
    assert np.allclose(table["score"], [0.2, 0.6, 0.8, 0.4])
    assert list(table["ref_id"]) == ["s1", "s1", "", "s2"]
    assert all(read_frames(p).shape == (8, 32, 32, 3) for p in table["path"])


def test_csv_adapter_names_an_absent_video(tmp_path):
    write_clip(tmp_path / "a.mp4")
    pd.DataFrame({"path": ["a.mp4", "b.mp4"], "mos": [1.0, 2.0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    with pytest.raises(DatasetError, match=r"labels.csv: 1 of 2 listed .* absent on disk.*b.mp4"):
        load_table("csv", tmp_path)
