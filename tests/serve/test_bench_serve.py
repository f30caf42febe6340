"""The service benchmark, run small on the tiny model: it must keep running and checking.

Speed is the benchmark's to print, never asserted here; this checks that every request it
sends comes back with the offline score and that the figures it reports are all there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture()
def bench_serve(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    for name in ("bench_serve", "common"):
        sys.modules.pop(name, None)
    import bench_serve

    return bench_serve


def test_bench_serve_small_run(bench_serve, tmp_path, capsys, monkeypatch) -> None:
    import torch

    out = tmp_path / "figures.json"
    args = ["--requests", "4", "--concurrency", "1", "3", "--memory-requests", "6"]
    args += ["--offline-images", "2", "--images", "2", "--size", "64", "48", "--timesteps", "2"]
    # One thread: fast on a shared CPU; the setting is put back for the other tests.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    try:
        assert bench_serve.main([*args, "--threads", "1", "--json", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    figures = json.loads(out.read_text())
    assert figures["problems"] == [] and figures["server_exit_code"] == 0
    assert [level["concurrency"] for level in figures["levels"]] == [1, 3]
    for level in figures["levels"]:
        assert level["answered"] == level["requests"] == 4
        assert level["images_per_s"] > 0 and level["p99_ms"] >= level["p50_ms"] > 0
        assert level["mean_batch"] >= 1
    memory = figures["memory"]
    assert memory["answered"] == 6 and memory["rss_start_mib"] > 0
    assert memory["rss_peak_mib"] >= max(memory["rss_start_mib"], memory["rss_end_mib"])
    assert all(rate > 0 for rate in figures["offline_images_per_s"])
    assert "bit for bit" in capsys.readouterr().out
