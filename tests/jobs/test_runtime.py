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


# ------------------------------------------------------------------------------------ videos


def test_video_models_load_with_the_same_flags() -> None:
    from genziqa.jobs.runtime import load_video_for_scoring

    model = load_video_for_scoring(ScoringOptions("genzvqa-tiny", preset="faster", frames=5))
    assert model.config.timesteps == spaced_timesteps(2)  # the preset's 2, below the video's 4
    assert model.image_model.config.scoring.timesteps == spaced_timesteps(2)
    assert model.config.frames == 5 and model.resolution == 48
    assert model.image_model.lora_merged and not model.training
    assert model.modulator is not None and next(model.modulator.parameters()).dtype == torch.float32
    reference = load_video_for_scoring(ScoringOptions("genzvqa-tiny", preset="reference"))
    assert reference.config.timesteps == (9, 34, 59, 84)  # capped at the video model's own 4
    assert reference.image_model.config.scoring.timesteps == spaced_timesteps(8)
    explicit = load_video_for_scoring(ScoringOptions("genzvqa-tiny", timesteps=3))
    assert explicit.config.timesteps == explicit.image_model.config.scoring.timesteps
    frame_mean = load_video_for_scoring(ScoringOptions("genziqa-tiny-zero-shot"))
    assert frame_mean.modulator is None and frame_mean.config.zero_shot


def test_a_video_model_name_scores_images_with_its_image_model() -> None:
    from genziqa import GenzIQA

    model = load_for_scoring(ScoringOptions("genzvqa-tiny", timesteps=1))
    assert isinstance(model, GenzIQA) and model.config.scoring.timesteps == (9,)


def test_motion_sources_follow_the_flags(tmp_path, monkeypatch) -> None:
    from genziqa.jobs.runtime import load_video_for_scoring, motion_source
    from genziqa.video.inputs import PrecomputedMotion

    monkeypatch.setenv("GENZIQA_CACHE", str(tmp_path / "cache"))
    video = load_video_for_scoring(ScoringOptions("genzvqa-tiny"))
    with pytest.raises(ScoringSetupError, match="genziqa convert-slowfast"):
        motion_source(ScoringOptions("genzvqa-tiny"), video)
    with pytest.raises(ScoringSetupError, match="no such file"):
        motion_source(ScoringOptions("genzvqa-tiny", slowfast=str(tmp_path / "x")), video)
    (tmp_path / "f" / "slow").mkdir(parents=True)
    (tmp_path / "f" / "fast").mkdir()
    source = motion_source(
        ScoringOptions("genzvqa-tiny", motion_features=str(tmp_path / "f")), video
    )
    assert isinstance(source, PrecomputedMotion)
    frame_mean = load_video_for_scoring(ScoringOptions("genziqa-tiny"))
    assert motion_source(ScoringOptions("genziqa-tiny"), frame_mean) is None


@pytest.mark.parametrize(
    "options",
    [
        ScoringOptions("genziqa-tiny"),
        ScoringOptions("genziqa-tiny", preset="faster", timesteps=3),
        ScoringOptions("genziqa-tiny", preset="fastest", dtype="fp32"),
        ScoringOptions("genziqa-tiny", resolution=32, backbone="genziqa-tiny-sd"),
    ],
)
def test_the_identity_holds_the_config_the_loaded_model_scores_with(options) -> None:
    from genziqa.jobs.runtime import dtype_name, scoring_identity

    identity, about = scoring_identity(options)
    model = load_for_scoring(options)
    assert identity["config"] == model.config.to_dict()
    assert identity["weights_sha256"] is None and identity["details"] is False
    assert identity.get("dtype", dtype_name(model.dtype)) == dtype_name(model.dtype)
    assert about == {"model": "genziqa-tiny", "preset": options.preset}


def test_the_identity_changes_with_the_settings_the_weights_and_details(tmp_path) -> None:
    from genziqa import GenzIQA
    from genziqa.jobs.runtime import scoring_identity

    def identity(**kwargs):
        return scoring_identity(ScoringOptions(**kwargs))[0]

    base = identity(model="genziqa-tiny")
    assert identity(model="genziqa-tiny") == base
    assert identity(model="genziqa-tiny", preset="fast") != base
    assert identity(model="genziqa-tiny", timesteps=2) != base
    assert identity(model="genziqa-tiny", dtype="bf16")["dtype"] == "bfloat16"
    assert scoring_identity(ScoringOptions("genziqa-tiny"), details=True)[0]["details"] is True
    zero = identity(model="zero-shot", preset="faster")  # resolution unknown without loading
    assert zero["config"]["preprocess"]["resolution"] == "native x 0.75"
    assert (
        zero["config"]["backbone"]["source"]
        == identity(model="zero-shot", backbone="sd21-base")["config"]["backbone"]["source"]
    )  # an alias names the same backbone
    folder = GenzIQA.from_pretrained("genziqa-tiny").save_pretrained(tmp_path / "mine")
    saved = identity(model=str(folder))
    assert saved["config"] == base["config"] and len(saved["weights_sha256"]) == 64
    other = tmp_path / "other"
    model = GenzIQA.from_pretrained(str(folder))
    with torch.no_grad():
        model.prompts.ctx.add_(0.01)
    model.save_pretrained(other)
    assert identity(model=str(other))["weights_sha256"] != saved["weights_sha256"]
    (other / "genziqa_weights.safetensors").unlink()
    with pytest.raises(ScoringSetupError, match="missing genziqa_weights"):
        identity(model=str(other))


def test_the_identity_needs_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from genziqa.jobs.runtime import ScoringOptions, scoring_identity; "
        "scoring_identity(ScoringOptions('genziqa-tiny', preset='fast')); "
        "print(sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


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
