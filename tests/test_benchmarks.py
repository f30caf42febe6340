"""The scoring benchmark's paths, run on the tiny model: they must keep agreeing.

Speed itself is measured by the benchmarks, never asserted here; this checks that the
reference-approach path the benchmark times still computes the package's scores and that the
figures it prints are all there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def bench_score(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("bench_score", "common"):
        sys.modules.pop(name, None)
    import bench_score

    return bench_score


def test_bench_score_reference_and_genziqa_paths_agree(bench_score, tmp_path, capsys) -> None:
    out = tmp_path / "figures.json"
    bench_score.main(["--tiny", "--images", "3", "--workers", "0", "--json", str(out)])
    summary = json.loads(out.read_text())
    assert set(summary["paths"]) == {"reference", "reference-sdpa", "genziqa"}
    assert summary["max_relative_score_difference_fp32"] <= 1e-4
    for figures in summary["paths"].values():
        assert figures["images_per_s"] > 0 and figures["peak_rss_gib"] > 0
        assert figures["fraction_of_matmul_peak"] > 0
    assert summary["useful_flops_per_image"] > 0
    printed = capsys.readouterr().out
    assert "speed-up over the reference approach" in printed and "within 1e-4" in printed
