"""``genziqa score`` on folders of images AND videos (tiny real videos written with PyAV):
one table with a media column, an error row for every kind of bad video, resume, the three
sources of motion features, and ``genziqa convert-slowfast``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from genziqa import GenzVQA
from genziqa.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from genziqa.io.tables import read_scores
from genziqa.video.motion import SlowFastR50, load_slowfast, motion_features

from ..video_files import (
    HEIGHT,
    WIDTH,
    write_audio_only,
    write_video,
    write_video_stream_without_frames,
)

FAST = ["--timesteps", "1", "--frames", "2", "--workers", "0", "-q"]


def _photo(folder: Path, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / name)


@pytest.fixture()
def media(tmp_path: Path) -> Path:
    """Two photos, two good videos (MP4, Matroska) and a short one."""
    folder = tmp_path / "media"
    folder.mkdir()
    _photo(folder, "photo0.png", 0)
    _photo(folder, "photo1.jpg", 1)
    write_video(folder / "clip0.mp4", 30, fps=25)
    write_video(folder / "clip1.mkv", 24, fps=20, container="matroska")
    write_video(folder / "short.mp4", 1, fps=25)  # one frame: repeated to K
    return folder


@pytest.fixture()
def bad_media(media: Path, tmp_path: Path) -> Path:
    """Every bad-input class of io/video.py beside the good files."""
    data = write_video(tmp_path / "long.mp4", 100).read_bytes()  # moov at the end
    (media / "truncated.mp4").write_bytes(data[: len(data) * 6 // 10])
    corrupt = bytearray(data)
    middle = len(corrupt) // 3
    corrupt[middle : middle + 400] = (
        np.random.default_rng(0).integers(0, 256, 400, np.uint8).tobytes()
    )
    (media / "corrupt.mp4").write_bytes(bytes(corrupt))
    write_video_stream_without_frames(media / "no-frames.mkv")
    write_audio_only(media / "sound.mp4")
    (media / "notes.mp4").write_text("this is not a video\n" * 50)
    big = np.zeros((HEIGHT * 2, WIDTH * 2, 3), np.uint8)
    write_video(media / "huge.mp4", 3, frames=[big] * 3)
    return media


REASONS = {
    "truncated.mp4": "a truncated MP4/MOV whose index is missing",
    "corrupt.mp4": "corrupt or truncated video data",
    "no-frames.mkv": "no video frames",
    "sound.mp4": "no video stream (the file holds audio streams)",
    "notes.mp4": "not a video FFmpeg can read",
    "huge.mp4": "decompression bomb",
}


def test_a_mixed_folder_gives_one_table_with_media_and_error_rows(bad_media, tmp_path) -> None:
    out = tmp_path / "scores.csv"
    argv = ["score", str(bad_media), "-o", str(out), "--model", "genziqa-tiny", *FAST]
    assert main([*argv, "--max-pixels", str(WIDTH * HEIGHT * 2)]) == EXIT_SOME_FAILED
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["path", "score", "status", "error", "media"]
    rows = {Path(r["path"]).name: r for r in table.to_dict("records")}
    assert len(rows) == 5 + len(REASONS)
    for name in ("photo0.png", "photo1.jpg"):
        assert rows[name]["media"] == "image" and rows[name]["status"] == "ok"
    for name in ("clip0.mp4", "clip1.mkv", "short.mp4"):
        assert rows[name]["media"] == "video" and rows[name]["status"] == "ok", rows[name]
        assert np.isfinite(float(rows[name]["score"]))
    for name, reason in REASONS.items():
        assert rows[name]["status"] == "error" and rows[name]["media"] == "video", name
        assert reason in rows[name]["error"], (name, rows[name]["error"])
    # Resume: nothing is scored again, the table is unchanged.
    before = out.read_bytes()
    assert main([*argv, "--max-pixels", str(WIDTH * HEIGHT * 2)]) == EXIT_SOME_FAILED
    assert out.read_bytes() == before


def test_image_model_scores_videos_as_the_frame_mean(media, tmp_path) -> None:
    out = tmp_path / "scores.jsonl"
    assert main(["score", str(media), "-o", str(out), "--model", "genziqa-tiny", *FAST]) == 0
    table = read_scores(out).set_index("path")
    model = GenzVQA.from_pretrained("genziqa-tiny", local_files_only=True)
    model.set_scoring(timesteps=(9,), frames=2)
    model.image_model.unet_batch_size = 2  # as prepare_for_scoring sets it on the CPU
    expected = model.score([media / "clip0.mp4"])[0]
    assert table.loc[str(media / "clip0.mp4"), "score"] == pytest.approx(expected, rel=1e-6)
    assert table.loc[str(media / "clip0.mp4"), "media"] == "video"


def test_frames_flag_changes_video_scores_only(media, tmp_path) -> None:
    scores = {}
    for frames in ("2", "3"):
        out = tmp_path / f"k{frames}.csv"
        argv = ["score", str(media), "-o", str(out), "--model", "genziqa-tiny", *FAST]
        argv[argv.index("--frames") + 1] = frames
        assert main(argv) == EXIT_OK
        scores[frames] = read_scores(out).set_index("path")["score"]
    photo, clip = str(media / "photo0.png"), str(media / "clip0.mp4")
    assert scores["2"][photo] == scores["3"][photo]
    assert scores["2"][clip] != scores["3"][clip]


@pytest.fixture(scope="module")
def slowfast_file(tmp_path_factory) -> Path:
    """Random SlowFast R50 weights in the published layout, converted by the CLI."""
    folder = tmp_path_factory.mktemp("slowfast")
    torch.manual_seed(0)
    torch.save({"model_state": SlowFastR50().state_dict(), "epoch": 0}, folder / "sf.pyth")
    target = folder / "slowfast_r50.safetensors"
    assert main(["convert-slowfast", str(folder / "sf.pyth"), "-o", str(target), "-q"]) == 0
    return target


def test_a_video_model_uses_slowfast_weights_and_caches_features(
    media, slowfast_file, tmp_path, monkeypatch
) -> None:
    cache = tmp_path / "genziqa-cache"
    monkeypatch.setenv("GENZIQA_CACHE", str(cache))
    out = tmp_path / "scores.csv"
    argv = ["score", str(media), "-o", str(out), "--model", "genzvqa-tiny", *FAST]
    assert main([*argv, "--slowfast", str(slowfast_file)]) == EXIT_OK
    first = read_scores(out)
    assert (first["status"] == "ok").all()
    assert sorted(first["media"]) == ["image"] * 2 + ["video"] * 3
    entries = sorted((cache / "motion-features").glob("*/*.safetensors"))
    assert len(entries) == 3  # one per video
    # Precomputed features give the same scores as SlowFast computing them.
    features = tmp_path / "features"
    network = load_slowfast(slowfast_file)
    recipe = GenzVQA.from_pretrained("genzvqa-tiny", local_files_only=True).config.motion
    for name in ("clip0", "clip1", "short"):
        video = next(media.glob(f"{name}.*"))
        slow, fast = motion_features(video, network, recipe=recipe)
        for kind, values in (("slow", slow), ("fast", fast)):
            (features / kind).mkdir(parents=True, exist_ok=True)
            np.save(features / kind / f"{name}.npy", values.numpy())
    again = tmp_path / "again.csv"
    argv[argv.index("-o") + 1] = str(again)
    assert main([*argv, "--motion-features", str(features)]) == EXIT_OK
    second = read_scores(again)
    assert second["path"].tolist() == first["path"].tolist()
    assert second["score"].tolist() == first["score"].tolist()


def test_missing_features_are_error_rows_and_missing_weights_a_usage_error(
    media, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("GENZIQA_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "scores.csv"
    argv = ["score", str(media), "-o", str(out), "--model", "genzvqa-tiny", *FAST]
    assert main(argv) == EXIT_USAGE
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "no SlowFast weights at the default place" in message[0]
    assert "genziqa convert-slowfast SLOWFAST_8x8_R50.pyth -o" in message[0]
    assert "dl.fbaipublicfiles.com" in message[0]
    features = tmp_path / "features"
    for kind, width in (("slow", 2048), ("fast", 256)):
        (features / kind).mkdir(parents=True)
        np.save(features / kind / "clip0.npy", np.ones((3, width), np.float32))
    assert main([*argv, "--motion-features", str(features)]) == EXIT_SOME_FAILED
    rows = read_scores(out).set_index("path")
    assert rows.loc[str(media / "clip0.mp4"), "status"] == "ok"
    bad = rows.loc[str(media / "clip1.mkv")]
    assert bad["status"] == "error" and "no precomputed motion features" in bad["error"]
    assert main([*argv, "--motion-features", str(tmp_path / "nowhere"), "--overwrite"]) == 2


def test_convert_slowfast_refuses_other_files(tmp_path, capsys) -> None:
    (tmp_path / "x.pyth").write_text("not a checkpoint")
    assert main(["convert-slowfast", str(tmp_path / "x.pyth"), "-o", str(tmp_path / "o")]) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
