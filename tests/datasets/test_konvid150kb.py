"""KoNViD-150k-B: k150kb_scores.csv; the label is `mos` (all votes), not `video_score`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, get_adapter, load_table

from .video_fixtures import check_contract, names, write_clip


def test_mos_column_is_the_label_and_k150kb_is_the_folder(tmp_path):
    for name in ("x1.mp4", "x2.mp4"):
        write_clip(tmp_path / "k150kb" / name)
    pd.DataFrame(
        {"video_name": ["x1.mp4", "x2.mp4"], "mos": [2.5, 4.25], "video_score": [1.0, 5.0]}
    ).to_csv(tmp_path / "k150kb_scores.csv", index=False)
    table = load_table("konvid150kb", tmp_path)
    check_contract(table, "konvid150kb")
    assert names(table, tmp_path) == ["k150kb/x1.mp4", "k150kb/x2.mp4"]
    assert np.allclose(table["mos"], [2.5, 4.25])
    assert get_adapter("konvid150kb").info.media == "video"


def test_empty_names_and_out_of_range_mos_are_errors(tmp_path):
    write_clip(tmp_path / "x1.mp4")
    frame = pd.DataFrame({"video_name": ["x1.mp4", ""], "mos": [2.5, 3.0], "video_score": [1, 2]})
    frame.to_csv(tmp_path / "k150kb_scores.csv", index=False)
    with pytest.raises(DatasetError, match=r"k150kb_scores.csv: column 'video_name' has empty"):
        load_table("konvid150kb", tmp_path)
    frame.loc[1, "video_name"] = "x1"  # the same video, written without its extension
    frame.to_csv(tmp_path / "k150kb_scores.csv", index=False)
    with pytest.raises(
        DatasetError,
        match=r"k150kb_scores.csv: 1 video\(s\) are listed more "
        "than once",
    ):
        load_table("konvid150kb", tmp_path)
    frame = pd.DataFrame({"video_name": ["x1.mp4"], "mos": [0.5], "video_score": [1]})
    frame.to_csv(tmp_path / "k150kb_scores.csv", index=False)
    with pytest.raises(DatasetError, match=r"outside the documented range \[1, 5\], e.g. x1.mp4"):
        load_table("konvid150kb", tmp_path)
