"""The video decoding benchmark's modes, run in-process on a tiny clip: they must keep
computing what they claim (speed and memory themselves are only printed, never asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_video_decode", None)
    import bench_video_decode

    return bench_video_decode


def test_bench_video_decode_modes(bench, tmp_path: Path) -> None:
    video = bench.write_clip(tmp_path / "clip.mp4", seconds=1.0, fps=20, width=160, height=96)
    frames = bench.run_mode("frames", video, k=8)
    assert frames["frames_kept"] == 8 and frames["num_frames"] == 20
    motion = bench.run_mode("frames+motion", video, k=8)
    assert motion["motion_clips"] == 8  # one second, padded to SimpleVQA's 8 clips
    assert motion["motion_frames_decoded_to_rgb"] == 20
    everything = bench.run_mode("decode-all", video, k=8)
    assert everything["frames_kept"] == 20 and everything["kept_bytes"] == 20 * 160 * 96 * 3
    for figures in (frames, motion, everything):
        assert figures["seconds"] > 0 and figures["peak_rss_mib"] > 0
