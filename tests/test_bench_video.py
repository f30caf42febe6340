"""The video scoring benchmark's two paths, run in-process on the tiny models: they must keep
computing the same scores and printing every figure (speed itself is never asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("bench_video", "bench_video_decode", "common"):
        sys.modules.pop(name, None)
    import bench_video

    return bench_video


def test_bench_video_reference_and_genziqa_paths_agree(bench, tmp_path, capsys) -> None:
    out = tmp_path / "figures.json"
    argv = ["--tiny", "--seconds", "1", "--fps", "20", "--frames", "3", "--timesteps", "2"]
    bench.main([*argv, "--json", str(out)])
    summary = json.loads(out.read_text())
    assert set(summary["paths"]) == {"reference", "genziqa"}
    assert summary["relative_score_difference"] <= 1e-4
    for figures in summary["paths"].values():
        assert set(figures["stages"]) == {"decode", "motion", "vae", "unet", "other"}
        assert figures["stages"]["unet"] > 0 and figures["stages"]["motion"] > 0
        assert figures["seconds_per_video"] > 0
        assert figures["extrapolated_seconds_per_video_k8"] > figures["seconds_per_video"]
    printed = capsys.readouterr().out
    assert "speed-up over the reference approach" in printed and "within 1e-4" in printed
