"""jobs/score_videos.py: which files are videos, batches that do not change scores, and error
rows for videos a model refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genziqa import GenzVQA
from genziqa.jobs.score_videos import is_video, score_videos, split_media

from ..video_files import write_video


def test_media_by_extension() -> None:
    paths = [Path(p) for p in ("a.jpg", "b.MP4", "c.gif", "d.mkv", "e.yuv", "f.png", "g.txt")]
    images, videos = split_media(paths)
    assert [p.name for p in videos] == ["b.MP4", "d.mkv", "e.yuv"]
    assert [p.name for p in images] == ["a.jpg", "c.gif", "f.png", "g.txt"]  # .gif stays an image
    assert is_video("x.webm") and not is_video("x.tiff")


@pytest.fixture(scope="module")
def model() -> GenzVQA:
    model = GenzVQA.from_pretrained("genziqa-tiny", local_files_only=True)
    return model.set_scoring(timesteps=(9,), frames=3)


def test_scores_do_not_depend_on_the_video_batch(model, tmp_path) -> None:
    paths = [write_video(tmp_path / f"v{i}.mp4", 10 + 7 * i, fps=25) for i in range(3)]
    runs = {}
    for batch in (1, 2, 3):
        rows: list[dict] = []
        summary = score_videos(model, paths, rows.extend, batch_size=batch, num_workers=0)
        assert (summary.scored, summary.failed) == (3, 0)
        runs[batch] = [row["score"] for row in rows]
        assert {row["media"] for row in rows} == {"video"}
    assert runs[1] == runs[2] == runs[3]
    assert len(set(runs[1])) == 3
    rows = []
    score_videos(model, paths, rows.extend, batch_size=2, num_workers=1)  # decoding worker
    assert [row["score"] for row in rows] == runs[1]


def test_short_videos_are_an_error_row_when_the_model_refuses_them(model, tmp_path) -> None:
    short = write_video(tmp_path / "short.mp4", 2, fps=25)
    model.config = model.config.replace(short_videos="error")
    try:
        rows: list[dict] = []
        score_videos(model, [short], rows.extend, num_workers=0)
    finally:
        model.config = model.config.replace(short_videos="repeat")
    assert rows[0]["status"] == "error" and np.isnan(rows[0]["score"])
    assert "2 decoded frames, fewer than the 3 to sample" in rows[0]["error"]
    rows = []
    score_videos(model, [short], rows.extend, num_workers=0)
    assert rows[0]["status"] == "ok"


def test_a_model_with_a_modulator_needs_a_motion_source(tmp_path) -> None:
    video_model = GenzVQA.from_pretrained("genzvqa-tiny", local_files_only=True)
    with pytest.raises(ValueError, match="needs motion features"):
        score_videos(video_model, [tmp_path / "v.mp4"], print)
