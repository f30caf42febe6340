"""GenzVQA on the tiny backbone: intermediates, batch invariance, training-mode sharing,
save/load, the frame-mean and zero-shot modes, and scoring video files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genziqa import GenzIQA, GenzVQA, GenzVQAConfig
from genziqa.io.video import VideoError, sample_frames
from genziqa.pretrained import VIDEO_CONFIG_NAME, VIDEO_WEIGHTS_NAME
from genziqa.video.config import tiny_video_config
from genziqa.video.inputs import SlowFastMotion, read_video
from genziqa.video.motion import SlowFastR50, motion_features

from ..conftest import randomize_trained_tensors
from ..video_files import write_video

TIMESTEPS = (9, 84)
K = 3


@pytest.fixture()
def video_config(tiny_backbone_dir) -> GenzVQAConfig:
    return tiny_video_config().replace(
        **{"image.backbone.source": str(tiny_backbone_dir), "frames": K, "timesteps": TIMESTEPS}
    )


def _trained(model: GenzVQA) -> GenzVQA:
    randomize_trained_tensors(model, seed=2)
    with torch.no_grad():  # keep every gate open (ReLU > 0) so every tensor gets a gradient
        for gate in model.modulator.gates.values():
            gate.bias.fill_(5.0)
    return model


@pytest.fixture()
def model(video_config) -> GenzVQA:
    return _trained(GenzVQA.from_config(video_config, local_files_only=True))


def _videos(count: int = 3, frames: int = K, seed: int = 0):
    """Frames (count, frames, 3, 64, 64) and motion features with a different N per video."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(count, frames, 3, 8, 8, generator=generator)
    pixels = torch.nn.functional.interpolate(base.flatten(0, 1), size=64, mode="bilinear")
    pixels = pixels.view(count, frames, 3, 64, 64).clamp(0, 1)
    rows = [4 + i for i in range(count)]
    slow = [torch.randn(n, 2048, generator=generator) for n in rows]
    fast = [torch.randn(n, 256, generator=generator) for n in rows]
    return pixels, slow, fast


def test_forward_returns_every_intermediate(model) -> None:
    frames, slow, fast = _videos()
    with torch.no_grad():
        out = model(frames, slow, fast)
    layers = len(model.layer_names)
    assert out.score.shape == (3,) and out.frame_scores.shape == (3, K)
    assert out.frame_layer_scores.shape == (3, K, layers)
    assert out.gains.shape == out.similarity_slow.shape == out.similarity_fast.shape == (3, layers)
    rows = out.frames.layer_scores  # (B*K, T, L), video-major
    assert rows.shape == (3 * K, len(TIMESTEPS), layers)
    torch.testing.assert_close(out.frame_layer_scores, rows.mean(dim=1).view(3, K, layers))
    torch.testing.assert_close(out.layer_scores, out.frame_layer_scores.mean(dim=1))
    torch.testing.assert_close(out.score, (out.gains * out.layer_scores).mean(dim=1))
    assert (out.gains > 0).all() and torch.isfinite(out.score).all()
    for name in model.layer_names:
        recorded = out.frames.recorded["query_means"][name]  # (P, B*K, T, C)
        last = recorded[:, :, -1].view(2, 3, K, -1).transpose(0, 1)
        assert torch.equal(out.query_means[name], last)  # the last timestep's, as the reference


def test_query_means_of_all_timesteps_is_a_switch(model) -> None:
    frames, slow, fast = _videos(1)
    with torch.no_grad():
        last = model(frames, slow, fast)
        model.config = model.config.replace(**{"modulator.query_timesteps": "all"})
        every = model(frames, slow, fast)
    name = model.layer_names[-1]
    recorded = every.frames.recorded["query_means"][name].mean(dim=2)
    torch.testing.assert_close(every.query_means[name][0], recorded)
    assert not torch.equal(every.score, last.score)


@pytest.mark.parametrize("unet_batch_size", [16, 4, 2])
def test_a_video_score_does_not_depend_on_the_batch(model, unet_batch_size) -> None:
    model.image_model.unet_batch_size = unet_batch_size
    frames, slow, fast = _videos(3)
    pairs = list(zip(slow, fast, strict=True))
    together = model.score(frames, pairs, batch_size=3)
    alone = np.array([model.score(frames[i : i + 1], [pairs[i]])[0] for i in range(3)])
    order = [2, 0, 1]
    shuffled = model.score(frames[order], [pairs[i] for i in order], batch_size=2)
    assert np.array_equal(together, alone)  # bit-identical: frames share fixed-shape calls
    assert np.array_equal(together[order], shuffled)
    assert len(set(together.tolist())) == 3


def test_motion_features_change_the_score_only_through_the_gains(model) -> None:
    frames, slow, fast = _videos(1)
    with torch.no_grad():
        a = model(frames, slow, fast)
        b = model(frames, [s * 2 + 1 for s in slow], fast)
    assert torch.equal(a.layer_scores, b.layer_scores)
    assert not torch.equal(a.gains, b.gains) and not torch.equal(a.score, b.score)


def test_training_shares_one_timestep_and_noise_per_video(model, monkeypatch) -> None:
    seen = {}
    original = model.image_model.score_latents

    def spy(latents, timesteps, noise, **kwargs):
        seen.update(timesteps=timesteps, noise=noise)
        return original(latents, timesteps, noise, **kwargs)

    monkeypatch.setattr(model.image_model, "score_latents", spy)
    model.train()
    torch.manual_seed(0)
    frames, slow, fast = _videos(2)
    out = model(frames, slow, fast)
    timesteps, noise = seen["timesteps"], seen["noise"]
    assert timesteps.shape == (2 * K, 1) and noise.shape[:2] == (2 * K, 1)
    for video in range(2):
        rows = slice(video * K, (video + 1) * K)
        assert len(set(timesteps[rows].flatten().tolist())) == 1  # one t per video
        assert all(torch.equal(noise[rows][0], n) for n in noise[rows])  # one noise per video
        assert 0 <= int(timesteps[rows][0]) < 100
    assert not torch.equal(noise[0], noise[K])  # each video its own noise
    out.score.sum().backward()
    trained = model.trained_state_dict()
    assert {n.split(".")[0] for n in trained} == {"image_model", "modulator"}
    for name, parameter in model.named_parameters():
        if name in trained:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None, name


def test_explicit_timesteps_and_noise_are_per_video(model) -> None:
    frames, slow, fast = _videos(2)
    timesteps = torch.tensor([[9], [50]])
    noise = torch.randn((2, 1, 4, 32, 32), generator=torch.Generator().manual_seed(3))
    model.train()
    a = model(frames, slow, fast, timesteps=timesteps, noise=noise)
    b = model(frames, slow, fast, timesteps=timesteps, noise=noise)
    assert torch.equal(a.score, b.score) and a.frames.layer_scores.shape[1] == 1
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(frames, slow, fast, timesteps=torch.tensor([[9]]), noise=noise[:1])


def test_save_then_load_gives_identical_scores(model, tmp_path) -> None:
    frames, slow, fast = _videos(2)
    pairs = list(zip(slow, fast, strict=True))
    expected = model.score(frames, pairs)
    folder = model.save_pretrained(tmp_path / "video-model")
    assert (folder / VIDEO_CONFIG_NAME).is_file()
    saved = load_file(str(folder / VIDEO_WEIGHTS_NAME))
    assert set(saved) == set(model.trained_state_dict())
    assert "image_model.prompts.ctx" in saved
    assert any(k.startswith("image_model.unet.") and "lora_" in k for k in saved)
    assert "modulator.gates.mid_block_attn_0.weight" in saved
    trained_bytes = 4 * sum(p.numel() for p in model.trainable_parameters())
    assert (folder / VIDEO_WEIGHTS_NAME).stat().st_size < trained_bytes + 100_000  # no backbone
    loaded = GenzVQA.from_pretrained(folder, local_files_only=True)
    assert loaded.config == model.config
    assert np.array_equal(loaded.score(frames, pairs), expected)
    assert loaded.fingerprint() == model.fingerprint()
    data = json.loads((folder / VIDEO_CONFIG_NAME).read_text())
    data["modulator"]["key_dim"] = 32
    (folder / VIDEO_CONFIG_NAME).write_text(json.dumps(data))
    with pytest.raises(ValueError, match="shape"):
        GenzVQA.from_pretrained(folder, local_files_only=True)


def test_an_image_model_gives_the_frame_mean_mode(tiny_model, tmp_path) -> None:
    randomize_trained_tensors(tiny_model)
    folder = tiny_model.save_pretrained(tmp_path / "image-model")
    video = GenzVQA.from_pretrained(folder, local_files_only=True)
    assert video.modulator is None and not video.config.zero_shot
    assert "no temporal modulator" in repr(video)
    frames, _, _ = _videos(2)
    video.set_scoring(timesteps=TIMESTEPS)
    scores = video.score(frames)
    image = video.image_model
    with torch.no_grad():
        latents = image.encode_images(frames.flatten(0, 1))
        t, eps = image.timesteps_and_noise(latents, scoring_timesteps=TIMESTEPS)
        per_frame = image.score_latents(latents, t, eps).score.view(2, K)
    np.testing.assert_allclose(scores, per_frame.mean(dim=1).double().numpy(), rtol=1e-6)
    wrapped = GenzVQA.from_image_model(tiny_model)
    assert wrapped.image_model is tiny_model and wrapped.modulator is None


def test_zero_shot_video_mode_is_the_frame_mean_of_zero_shot_scores() -> None:
    model = GenzVQA.from_pretrained("genzvqa-tiny-zero-shot", local_files_only=True)
    assert model.config.zero_shot and model.modulator is None
    assert model.trainable_parameters() == []
    assert "zero-shot video baseline (untrained)" in repr(model)
    model.set_scoring(timesteps=TIMESTEPS, frames=K)
    frames, _, _ = _videos(2)
    with torch.no_grad():
        out = model(frames)
    contrast = out.frames.contrast.view(2, K, len(TIMESTEPS))
    torch.testing.assert_close(out.score, (-contrast.mean(dim=2)).mean(dim=1))
    same = GenzVQA.from_pretrained("genziqa-tiny-zero-shot", local_files_only=True)
    assert same.config == model.config.replace(frames=8, timesteps=(9, 34, 59, 84))


def test_motion_features_are_required_and_checked(model) -> None:
    frames, slow, fast = _videos(2)
    with pytest.raises(ValueError, match="temporal modulator"):
        model(frames)
    with pytest.raises(ValueError, match=r"slow features of video 1: expected \(N, 2048\)"):
        model(frames, [slow[0], fast[1]], fast)
    with pytest.raises(ValueError, match="features for 1 videos, frames for 2"):
        model(frames, slow[:1], fast[:1])
    with pytest.raises(ValueError, match="NaN"):
        model(frames, [slow[0], slow[1] * float("nan")], fast)
    with pytest.raises(ValueError, match=r"\(B, K, 3, H, W\)"):
        model(frames[0], slow, fast)
    with pytest.raises(ValueError, match="temporal modulator"):
        model.score(["video.mp4"])


@pytest.fixture(scope="module")
def slowfast() -> SlowFastR50:
    torch.manual_seed(0)
    return SlowFastR50().eval().requires_grad_(False)


def test_scoring_files_equals_scoring_their_frames_and_features(model, slowfast, tmp_path):
    video = write_video(tmp_path / "clip.mp4", 30, fps=25)
    recipe = model.config.motion
    motion = SlowFastMotion(slowfast, recipe)
    from_file = model.score([video], motion=motion)
    frames = torch.from_numpy(sample_frames(video, K, size=64)).permute(0, 3, 1, 2)
    features = motion_features(video, slowfast, recipe=recipe)
    from_tensors = model.score(frames[None].float() / 255, [features])
    assert np.array_equal(from_file, from_tensors)
    loaded = read_video(video, K, 64, motion=motion)
    assert loaded.frames.shape == (K, 3, 64, 64) and loaded.frames.dtype == torch.uint8
    assert loaded.slow.shape == (8, 2048) and loaded.fast.shape == (8, 256)  # padded to 8
    assert loaded.num_frames == 30 and not loaded.repeated


def test_short_videos_repeat_frames_or_are_refused(model, tmp_path) -> None:
    video = write_video(tmp_path / "short.mp4", 2, fps=25)
    loaded = read_video(video, K, 64)
    assert loaded.repeated and loaded.num_frames == 2
    assert torch.equal(loaded.frames[0], loaded.frames[1])  # indices 0 0 1
    with pytest.raises(VideoError, match="fewer than the 3 to sample"):
        read_video(video, K, 64, short="error")


def test_two_models_cannot_share_an_image_model(model) -> None:
    with pytest.raises(ValueError, match="exactly one of backbone or image_model"):
        GenzVQA(model.config)
    other = model.config.replace(**{"image.scoring.seed": 7})
    with pytest.raises(ValueError, match="differs"):
        GenzVQA(other, image_model=model.image_model)
    assert isinstance(model.image_model, GenzIQA)
