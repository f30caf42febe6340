"""A tiny synthetic video benchmark, precomputed motion features for it, and GenzVQA training
settings on the tiny backbone: shared by the video training, evaluation and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genziqa.config import BackboneConfig, GenzIQAConfig, PreprocessConfig
from genziqa.train.config import TrainConfig, VideoTrainConfig
from genziqa.video.config import ModulatorConfig
from genziqa.video.motion import MotionRecipe

TINY_IMAGE = GenzIQAConfig(
    backbone=BackboneConfig(source="genziqa-tiny-sd"),
    preprocess=PreprocessConfig(resolution=32),
)


def make_bench(root: Path, kinds=("blur", "noise"), levels: int = 2) -> pd.DataFrame:
    """10 photos x (reference + kinds x levels) clips of 8 frames at 32 px (8 fps: 1 s)."""
    from genziqa.datasets.synthetic_video import make_video_benchmark

    return make_video_benchmark(root, size=32, frames=8, kinds=kinds, levels=levels)


def write_motion_features(folder: Path, table: pd.DataFrame, seed: int = 0) -> Path:
    """Precomputed features in the reference's layout, FOLDER/slow|fast/<name>.npy (2 rows),
    drawn per video from a seeded generator (they carry no quality information)."""
    rng = np.random.default_rng(seed)
    for video in table["video"]:
        name = Path(video).stem
        for kind, width in (("slow", 2048), ("fast", 256)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            values = rng.standard_normal((2, width))
            np.save(folder / kind / f"{name}.npy", values, allow_pickle=False)
    return folder


def video_train_config(root: Path, out: Path, cache: Path | None, **changes) -> TrainConfig:
    """GenzVQA on the tiny backbone at 32 px, 2 frames, one timestep, 16-wide heads."""
    video = {
        "frames": 2,
        "train_frames": 2,
        "timesteps": (9,),
        "modulator": ModulatorConfig(head_dim=16),
        "motion": MotionRecipe(clip_frames=8, size=32, min_clips=1),
        **changes.pop("video", {}),
    }
    settings = {
        "train": (f"synthetic_video={root}",),
        "out": str(out),
        "model": TINY_IMAGE,
        "video": VideoTrainConfig(**video),
        "epochs": 1,
        "batch_size": 8,
        "latent_cache": None if cache is None else str(cache),
        "num_workers": 0,
        "log_every": 1,
        **changes,
    }
    return TrainConfig(**settings)


def make_konvid_fixture(root: Path, bench_root: Path, table: pd.DataFrame) -> Path:
    """A KoNViD-1k folder in its official layout (KoNViD_1k_videos/<flickr_id>.mp4 and
    KoNViD_1k_mos.csv, MOS 1-5) holding the benchmark's clips, MOS mapped from 0-100."""
    videos = root / "KoNViD_1k_videos"
    videos.mkdir(parents=True)
    rows = []
    for i, (video, mos) in enumerate(zip(table["video"], table["mos"], strict=True)):
        flickr_id = str(3000000000 + i)
        (videos / f"{flickr_id}.mp4").write_bytes((bench_root / video).read_bytes())
        rows.append({"flickr_id": flickr_id, "mos": 1.0 + 4.0 * float(mos) / 100.0})
    pd.DataFrame(rows).to_csv(root / "KoNViD_1k_mos.csv", index=False)
    return root


def konvid_motion_features(folder: Path, konvid_root: Path, seed: int = 0) -> Path:
    """Precomputed features for every video of a KoNViD-1k fixture, named by flickr id."""
    names = sorted(p.name for p in (konvid_root / "KoNViD_1k_videos").glob("*.mp4"))
    return write_motion_features(folder, pd.DataFrame({"video": names}), seed)
