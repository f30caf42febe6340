"""``genziqa train`` on a video database, then ``genziqa score`` and ``genziqa evaluate`` with
the trained folder; usage mistakes are one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from genziqa import GenzVQA
from genziqa.cli import EXIT_OK, EXIT_USAGE, main
from genziqa.io.tables import read_scores

from ..video_bench import make_bench, write_motion_features

TINY_VIDEO = [
    "--backbone",
    "genziqa-tiny-sd",
    "--set",
    "model.preprocess.resolution=32",
    "--set",
    "video.frames=2",
    "--set",
    "video.train_frames=2",
    "--set",
    "video.timesteps=[9]",
    "--set",
    "video.modulator.head_dim=16",
    "--workers",
    "0",
]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, Path]:
    """20 clips (10 contents, reference + one noise level) and precomputed motion features."""
    root = tmp_path_factory.mktemp("cli-video-bench")
    table = make_bench(root / "bench", kinds=("noise",), levels=1)
    return root / "bench", write_motion_features(root / "motion", table)


def _error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_train_then_score_and_evaluate_the_trained_video_model(bench, tmp_path, capsys) -> None:
    root, motion = bench
    out = tmp_path / "run"
    argv = ["train", "--train", f"synthetic_video={root}", "--out", str(out), *TINY_VIDEO]
    argv += ["--motion-features", str(motion), "--epochs", "2", "--batch-size", "7"]
    assert main([*argv, "--latent-cache", str(tmp_path / "cache")]) == EXIT_OK
    assert "Training on 14 videos (synthetic_video)" in capsys.readouterr().err
    model = GenzVQA.from_pretrained(out / "best")
    assert model.modulator is not None and (model.config.frames, model.config.timesteps) == (
        2,
        (9,),
    )
    assert (out / "best" / "genzvqa_config.json").is_file()

    scores = tmp_path / "scores.csv"
    command = ["score", str(root / "videos"), "-o", str(scores), "--model", str(out / "best")]
    assert main([*command, "--motion-features", str(motion), "--workers", "0", "-q"]) == EXIT_OK
    table = read_scores(scores)
    assert len(table) == 20 and set(table["status"]) == {"ok"} and set(table["media"]) == {"video"}

    evaluation = tmp_path / "eval"
    command = ["evaluate", "--model", str(out / "best"), "--data", f"synthetic={root}"]
    command += ["--split", "test", "--motion-features", str(motion), "--workers", "0"]
    assert main([*command, "--out", str(evaluation), "-q"]) == EXIT_OK
    assert "| plcc_cubic |" in capsys.readouterr().out
    results = pd.read_csv(evaluation / "results.csv")
    assert results["n"].tolist() == [6] and results["failed"].tolist() == [0]


def test_mixing_image_and_video_databases_is_one_line(bench, tmp_path, capsys) -> None:

    root, motion = bench
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    rows = []
    for i in range(5):
        Image.new("RGB", (16, 16), (40 * i, 0, 0)).save(images / f"{i}.png")
        rows.append({"path": f"{i}.png", "mos": float(i), "ref": f"c{i}"})
    pd.DataFrame(rows).to_csv(images / "labels.csv", index=False)
    argv = ["train", "--train", f"synthetic_video={root}", "--train", f"csv={images}"]
    argv += ["--out", str(tmp_path / "run"), "--motion-features", str(motion), *TINY_VIDEO]
    assert main(argv) == EXIT_USAGE
    lines = _error_lines(capsys)
    assert len(lines) == 1 and "mix images (csv) and videos (synthetic_video)" in lines[0]


def test_video_training_without_motion_features_or_weights_is_one_line(
    bench, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("GENZIQA_CACHE", str(tmp_path / "empty-cache"))
    root, _ = bench
    argv = ["train", "--train", f"synthetic_video={root}", "--out", str(tmp_path / "run")]
    assert main([*argv, *TINY_VIDEO]) == EXIT_USAGE
    lines = _error_lines(capsys)
    assert len(lines) == 1 and "no SlowFast weights at the default place" in lines[0]
    assert main([*argv, *TINY_VIDEO, "--motion-features", str(tmp_path / "nowhere")]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 1 and "motion feature folder does not exist" in lines[0]
