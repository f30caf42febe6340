"""``genziqa make-synthetic --video``: the synthetic video benchmark from the command line,
read back by ``synthetic=ROOT`` and ``synthetic_video=ROOT``; bad arguments are one line."""

from __future__ import annotations

import pandas as pd

from genziqa.cli import EXIT_OK, EXIT_USAGE, main
from genziqa.datasets import load_spec, media_of


def test_make_synthetic_video_writes_clips_the_adapters_read(tmp_path, capsys) -> None:
    root = tmp_path / "bench"
    argv = ["make-synthetic", str(root), "--video", "--size", "32", "--frames", "8"]
    assert main(argv) == EXIT_OK
    assert "Wrote 260 videos of 10 contents" in capsys.readouterr().err
    labels = pd.read_csv(root / "synthetic_video.csv")
    assert set(labels["distortion"]) == {
        "reference",
        "blur",
        "noise",
        "compression",
        "framedrop",
        "shake",
    }
    assert (root / labels["video"][0]).stat().st_size > 0
    _, by_synthetic, _ = load_spec(f"synthetic={root}")
    _, by_video, _ = load_spec(f"synthetic_video={root}")
    assert by_synthetic["path"].tolist() == by_video["path"].tolist()
    assert by_synthetic["split"].tolist() == by_video["split"].tolist()
    assert media_of(f"synthetic={root}", by_synthetic) == "video"
    assert media_of(f"synthetic_video={root}", by_video) == "video"


def test_make_synthetic_video_bad_size_is_one_line(tmp_path, capsys) -> None:
    argv = ["make-synthetic", str(tmp_path / "b"), "--video", "--size", "33"]
    assert main(argv) == EXIT_USAGE
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "size must be even" in lines[0]
