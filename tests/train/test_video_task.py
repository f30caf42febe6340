"""GenzVQA training through the image loop on a tiny synthetic video benchmark: only trained
tensors change and the loss falls, resume gives the weights of an unbroken run, the latent
and motion caches make the VAE and SlowFast run once per video, the recipe's defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genziqa import GenzVQA
from genziqa.io.durable import file_digest
from genziqa.train import TrainConfig, TrainSetupError, train
from genziqa.train.config import VideoTrainConfig
from genziqa.train.video_task import VideoTask

from ..video_bench import make_bench, video_train_config, write_motion_features
from .conftest import csv_spec


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, Path]:
    """50 clips (10 contents: 35 train, 15 held out) and precomputed motion features."""
    root = tmp_path_factory.mktemp("video-bench")
    table = make_bench(root / "bench")
    return root / "bench", write_motion_features(root / "motion", table)


def _config(bench, tmp_path, name="run", **changes) -> TrainConfig:
    root, motion = bench
    video = {"motion_features": str(motion), **changes.pop("video", {})}
    return video_train_config(root, tmp_path / name, tmp_path / "cache", video=video, **changes)


def test_recipe_defaults_are_the_reference_genzvqa_ones() -> None:
    config = TrainConfig(train=("lsvq=/data/lsvq",), out="x").for_media("video")
    assert (config.epochs, config.batch_size, config.lr, config.weight_decay) == (6, 16, 1e-4, 0.01)
    assert (config.loss, config.target, config.grad_clip) == ("mse", "mos", 1.0)
    assert config.train_split == "train"  # LSVQ's official train split
    video = VideoTrainConfig()
    assert (video.train_frames, video.frames, video.timesteps) == (12, 8, (9, 34, 59, 84))
    model = video.model_config(config.model)
    assert model.modulator is not None and model.modulator.head_dim == 64
    assert TrainConfig(train=("x=y",), out="o").for_media("image").epochs == 10


def test_training_changes_only_trained_tensors_and_lowers_the_loss(
    bench, tmp_path, monkeypatch
) -> None:
    built: list[GenzVQA] = []
    original = VideoTask.build_model

    def keep(self):
        model = original(self)
        built.append(model)
        return model

    monkeypatch.setattr(VideoTask, "build_model", keep)
    config = _config(bench, tmp_path, epochs=3, lr=1e-3, video={"train_frames": 3})
    result = train(config, log=lambda _: None)
    assert result.global_step == 3 * 5  # 35 training videos, batches of 8
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < losses[0], losses

    fresh = VideoTask(config).build_model()
    trained_names = set(fresh.trained_state_dict())
    assert trained_names and all(
        n.startswith(("image_model.prompts.", "modulator.")) or "lora" in n for n in trained_names
    )
    after = built[0].state_dict()
    changed = {n for n, v in fresh.state_dict().items() if not torch.equal(v, after[n].cpu())}
    assert changed <= trained_names
    assert {n for n in trained_names if n.startswith("modulator.")} & changed
    assert {"image_model.prompts.ctx"} & changed

    saved = load_file(str(tmp_path / "run" / "best" / "genzvqa_weights.safetensors"))
    assert set(saved) == trained_names
    loaded = GenzVQA.from_pretrained(tmp_path / "run" / "best")
    assert loaded.modulator is not None and loaded.config.train_frames == 3


def test_resumed_run_ends_with_the_weights_of_an_unbroken_one(bench, tmp_path) -> None:
    straight = train(_config(bench, tmp_path, "straight", epochs=2), log=lambda _: None)
    stopped = train(_config(bench, tmp_path, "broken", epochs=2, max_steps=3), log=lambda _: None)
    assert stopped.global_step == 3  # stopped mid-epoch
    resumed = train(_config(bench, tmp_path, "broken", epochs=2), resume=True, log=lambda _: None)
    assert resumed.global_step == straight.global_step == 10
    a = load_file(str(tmp_path / "straight" / "last" / "genzvqa_weights.safetensors"))
    b = load_file(str(tmp_path / "broken" / "last" / "genzvqa_weights.safetensors"))
    assert set(a) == set(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_the_vae_and_slowfast_run_once_per_video(tmp_path, monkeypatch) -> None:
    """SlowFast (random weights, converted) in the decoding pass; both caches on disk."""
    from genziqa.model import GenzIQA
    from genziqa.video import motion as motion_module
    from genziqa.video.motion import SlowFastR50, convert_slowfast

    root = tmp_path / "noisy"
    make_bench(root, kinds=("noise",))  # 30 clips with different bytes (see below)
    torch.manual_seed(0)
    torch.save({"model_state": SlowFastR50().state_dict()}, tmp_path / "sf.pyth")
    weights = convert_slowfast(tmp_path / "sf.pyth", tmp_path / "sf.safetensors")
    encoded: list[int] = []
    features: list[int] = []
    encode, result = GenzIQA.encode_images, motion_module.MotionFeatureSink.result

    def count_encode(self, images):
        encoded.append(len(images))
        return encode(self, images)

    def count_features(self):
        features.append(1)
        return result(self)

    monkeypatch.setattr(GenzIQA, "encode_images", count_encode)
    monkeypatch.setattr(motion_module.MotionFeatureSink, "result", count_features)
    video = {"slowfast": str(weights), "motion_cache": str(tmp_path / "motion")}
    first = video_train_config(
        root, tmp_path / "a", tmp_path / "cache", epochs=2, flips=False, video=video
    )
    train(first, log=lambda _: None)
    # Both caches are keyed by file content, so clips with identical bytes would share an
    # entry (a level-1 blur can round back to its reference at 32 px); noise never does.
    videos = len({file_digest(p) for p in (root / "videos").glob("*.mp4")})
    assert videos == 30
    assert sum(encoded) == 2 * videos  # K = 2 frames, over two epochs: once per video
    assert len(features) == videos
    encoded.clear()
    features.clear()
    again = video_train_config(
        root, tmp_path / "b", tmp_path / "cache", epochs=1, flips=False, video=video
    )
    train(again, log=lambda _: None)
    assert encoded == [] and features == []


def test_images_and_videos_in_one_run_are_refused(bench, small_csv_root, tmp_path) -> None:
    config = _config(bench, tmp_path, val=(csv_spec(small_csv_root),))
    with pytest.raises(TrainSetupError, match=r"mix images \(csv\) and videos"):
        train(config, log=lambda _: None)


def test_a_missing_feature_file_is_skipped_with_its_reason(bench, tmp_path) -> None:
    root, motion = bench
    sparse = tmp_path / "motion"
    for kind in ("slow", "fast"):
        (sparse / kind).mkdir(parents=True)
        for file in sorted((motion / kind).glob("*.npy"))[5:]:
            (sparse / kind / file.name).write_bytes(file.read_bytes())
    lines: list[str] = []
    config = video_train_config(
        root, tmp_path / "run", None, video={"motion_features": str(sparse)}
    )
    result = train(config, log=lines.append)
    skipped = [line for line in lines if line.startswith("skipped:")]
    assert len(skipped) >= 1 and all("no precomputed motion features" in s for s in skipped)
    assert result.global_step >= 1
    assert np.isfinite(result.best_srcc or 0.0)


def test_gradient_checkpointing_keeps_the_video_gradients() -> None:
    """--gradient-checkpointing recomputes the U-Net in backward: the query-mean recorder the
    modulator reads must give the same gradients as without it."""

    def gradients(checkpointing: bool):
        model = GenzVQA.from_pretrained(
            "genzvqa-tiny", overrides={"image.preprocess.resolution": 32}
        )
        if checkpointing:
            model.image_model.unet.enable_gradient_checkpointing()
        model.train()
        generator = torch.Generator().manual_seed(0)
        latents = torch.randn(2, 2, 4, 4, 4, generator=generator)
        slow = [torch.randn(2, 2048, generator=generator) for _ in range(2)]
        fast = [torch.randn(2, 256, generator=generator) for _ in range(2)]
        noise = torch.randn(2, 1, 4, 4, 4, generator=generator)
        timesteps = torch.tensor([[5], [50]])
        output = model(latents=latents, slow=slow, fast=fast, timesteps=timesteps, noise=noise)
        output.score.sum().backward()
        return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}

    plain, checkpointed = gradients(False), gradients(True)
    assert set(plain) == set(checkpointed) and any(n.startswith("modulator.") for n in plain)
    for name, grad in plain.items():
        assert torch.allclose(grad, checkpointed[name], atol=1e-6), name
