"""GenzVQAConfig: the reference's defaults and a strict JSON round trip."""

from __future__ import annotations

import json

import pytest

from genziqa import GenzIQAConfig, GenzVQAConfig, ModulatorConfig
from genziqa.video.config import VIDEO_MODEL_NAMES, frame_mean_config
from genziqa.video.motion import MotionRecipe


def test_defaults_are_the_references() -> None:
    config = GenzVQAConfig()
    assert (config.frames, config.train_frames) == (8, 12)
    assert config.timesteps == (9, 34, 59, 84)
    assert config.short_videos == "repeat"
    assert config.modulator == ModulatorConfig()
    assert (config.modulator.head_dim, config.modulator.key_dim) == (64, 64)
    assert (config.modulator.slow_dim, config.modulator.fast_dim) == (2048, 256)
    assert config.modulator.similarity_scale == "reference"
    assert config.modulator.query_timesteps == "last"
    assert config.motion == MotionRecipe() and config.image == GenzIQAConfig()
    assert not config.zero_shot and config.needs_motion


def test_json_round_trip_is_exact(tmp_path) -> None:
    config = GenzVQAConfig().replace(
        **{
            "frames": 12,
            "image.scoring.latent": "sample",
            "modulator.query_timesteps": "all",
            "motion.max_clips": 8,
            "motion.mode": "mid",
        }
    )
    text = config.to_json()
    assert GenzVQAConfig.from_dict(json.loads(text)) == config
    path = tmp_path / "genzvqa_config.json"
    path.write_text(json.dumps({**json.loads(text), "_genziqa": {"version": "0"}}))
    assert GenzVQAConfig.from_json_file(path) == config
    frame_mean = frame_mean_config(GenzIQAConfig())
    assert GenzVQAConfig.from_dict(json.loads(frame_mean.to_json())) == frame_mean
    assert frame_mean.modulator is None and not frame_mean.needs_motion
    for build in VIDEO_MODEL_NAMES.values():
        assert GenzVQAConfig.from_dict(build().to_dict()) == build()


def test_unknown_keys_and_bad_values_are_errors() -> None:
    data = GenzVQAConfig().to_dict()
    data["modulator"]["head_width"] = 32
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['head_width'\].*head_dim"):
        GenzVQAConfig.from_dict(data)
    with pytest.raises(ValueError, match="unknown key"):
        GenzVQAConfig().replace(frame=8)
    with pytest.raises(ValueError, match="frames must be an int >= 1"):
        GenzVQAConfig(frames=0)
    with pytest.raises(ValueError, match="expected one of"):
        GenzVQAConfig().replace(short_videos="pad")
    with pytest.raises(ValueError, match=r"modulator.head_dim must be an int >= 1"):
        ModulatorConfig(head_dim=0)
    with pytest.raises(ValueError, match="calibration"):
        GenzVQAConfig(image=GenzIQAConfig(calibration=True))
    with pytest.raises(ValueError, match="timesteps"):
        GenzVQAConfig(timesteps=())
