"""load_for_scoring: the one loading policy of the CLI, the service, Ray actors and evaluate."""

from __future__ import annotations

import pytest
import torch

from genziqa.config import spaced_timesteps
from genziqa.jobs.runtime import ScoringOptions, ScoringSetupError, check_options, load_for_scoring


def test_preset_then_explicit_flags_win_and_the_model_is_ready_to_score() -> None:
    model = load_for_scoring(ScoringOptions("genziqa-tiny", preset="faster", timesteps=3))
    assert model.config.scoring.timesteps == spaced_timesteps(3)  # explicit beats the preset
    assert model.resolution == 48  # the preset's 3/4 of 64
    assert model.lora_merged and not model.training
    assert model.device.type == "cpu" and model.dtype == torch.float32
    assert model.unet_batch_size == model.prompts.num_prompts  # the CPU choice


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ScoringOptions("genziqa-tiny", device="gpu"), "unknown device"),
        (ScoringOptions("genziqa-tiny", dtype="fp8"), "unknown dtype"),
        (ScoringOptions("genziqa-tiny", preset="turbo"), "unknown preset"),
        (ScoringOptions("no-such-model"), "no-such-model"),
        (ScoringOptions("genziqa-tiny", timesteps=200), "cannot fit 200 timesteps"),
    ],
)
def test_setup_problems_are_one_typed_error(options: ScoringOptions, message: str) -> None:
    with pytest.raises(ScoringSetupError, match=message):
        load_for_scoring(options)


def test_check_options_needs_no_model() -> None:
    device, dtype = check_options(ScoringOptions(model="anything"))
    assert device.type == "cpu" and dtype == torch.float32


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ScoringOptions("anything", timesteps=200), "cannot fit 200 timesteps"),
        (ScoringOptions("anything", resolution=12), "multiple of 8"),
        (ScoringOptions("anything", preset="fastes"), "did you mean 'fastest'"),
    ],
)
def test_bad_settings_are_found_before_any_model_loads(options, message) -> None:
    with pytest.raises(ScoringSetupError, match=message):
        check_options(options)  # "anything" is no model: nothing was loaded
