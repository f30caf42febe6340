"""The generic `csv` adapter on fixture folders: images, and videos of any container."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table

from . import video_fixtures
from .fixtures import check_contract, image


def test_csv_adapter_with_all_options(tmp_path):
    for n in ["night/a.jpg", "night/b.png", "c.jpg"]:
        image(tmp_path / n)
    pd.DataFrame(
        {
            "file": ["night/a.jpg", "night/b.png", "c.jpg"],
            "dmos": [10.0, 60.0, 35.0],
            "content": ["s1", "s1", "s2"],
            "subset": ["train", "test", "val"],
        }
    ).to_csv(tmp_path / "nnid.csv", index=False)
    table = load_table(
        "csv",
        tmp_path,
        csv="nnid.csv",
        path_col="file",
        score_col="dmos",
        lower_better=True,
        range=(0, 100),
        ref_col="content",
        split_col="subset",
    )
    check_contract(table, "csv")
    assert [Path(p).name for p in table["path"]] == ["c.jpg", "a.jpg", "b.png"]
    assert np.allclose(table["score"], [0.65, 0.9, 0.4])
    assert table["ref_id"].tolist() == ["s2", "s1", "s1"]
    assert table["split"].tolist() == ["val", "train", "test"]


def test_csv_adapter_defaults(tmp_path):
    for n in ["a.png", "b.png", "c.png"]:
        image(tmp_path / n)
    pd.DataFrame({"path": ["a.png", "b.png", "c.png"], "mos": [2.0, 4.0, 3.0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    table = load_table("csv", tmp_path)
    assert np.allclose(table["score"], [0.0, 1.0, 0.5])  # min-max over the data
    assert (table["split"] == "").all() and (table["ref_id"] == "").all()


def test_csv_adapter_reads_video_paths_of_any_container(tmp_path):
    videos = ["clips/a.mp4", "clips/b.webm", "other/c.avi", "d.mkv"]
    for video in videos:
        video_fixtures.write_clip(tmp_path / video)
    pd.DataFrame(
        {"file": videos, "quality": [10.0, 30.0, 20.0, 40.0], "source": ["s1", "s1", "s2", ""]}
    ).to_csv(tmp_path / "videos.csv", index=False)
    table = load_table(
        "csv", tmp_path, csv="videos.csv", path_col="file", score_col="quality",
        ref_col="source", range=(0.0, 50.0),
    )  # fmt: skip
    video_fixtures.check_contract(table, "csv")
    assert video_fixtures.names(table, tmp_path) == [
        "clips/a.mp4",
        "clips/b.webm",
        "d.mkv",
        "other/c.avi",
    ]
    assert np.allclose(table["score"], [0.2, 0.6, 0.8, 0.4])
    assert list(table["ref_id"]) == ["s1", "s1", "", "s2"]
    assert all(video_fixtures.read_frames(p).shape == (8, 32, 32, 3) for p in table["path"])


def test_csv_adapter_names_an_absent_video(tmp_path):
    video_fixtures.write_clip(tmp_path / "a.mp4")
    pd.DataFrame({"path": ["a.mp4", "b.mp4"], "mos": [1.0, 2.0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    with pytest.raises(DatasetError, match=r"labels.csv: 1 of 2 listed .* absent on disk.*b.mp4"):
        load_table("csv", tmp_path)
