from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import EulerDiscreteScheduler
from safetensors.torch import save_file

from genziqa import BackboneConfig, BackboneNotFoundError, load_backbone
from genziqa.pretrained import TINY_BACKBONE

from .ldm_layout import check_round_trip, pipeline_to_ldm


@pytest.fixture(scope="module")
def folder_backbone(tiny_backbone_dir):
    return load_backbone(str(tiny_backbone_dir), local_files_only=True)


@pytest.fixture(scope="module")
def single_file(folder_backbone, tmp_path_factory) -> Path:
    """The tiny model as ONE original-layout (LDM) .safetensors file, like a user's checkpoint."""
    b = folder_backbone
    checkpoint = pipeline_to_ldm(b.unet, b.vae, b.text_encoder)
    check_round_trip(checkpoint, b.unet, b.vae)
    path = tmp_path_factory.mktemp("single") / "tiny-sd.safetensors"
    save_file({k: v.contiguous() for k, v in checkpoint.items()}, str(path))
    return path


def test_diffusers_folder_loads_every_component(folder_backbone) -> None:
    b = folder_backbone
    assert isinstance(b.scheduler, EulerDiscreteScheduler)  # built from the folder's PNDM config
    assert b.prediction_type == "epsilon"
    assert b.vae_scale_factor == 2 and b.native_resolution == 64
    assert b.tokenizer.model_max_length == 77
    for module in (b.vae, b.text_encoder, b.unet):
        assert not module.training
        assert not any(p.requires_grad for p in module.parameters())


def test_registered_tiny_name_builds_into_the_cache(_genziqa_cache) -> None:
    backbone = load_backbone(TINY_BACKBONE, local_files_only=True)
    assert Path(backbone.source).parent == _genziqa_cache
    assert (Path(backbone.source) / "model_index.json").is_file()


def test_tiny_backbone_is_reproducible(folder_backbone, tmp_path) -> None:
    from genziqa.testing import save_tiny_backbone

    again = load_backbone(str(save_tiny_backbone(tmp_path / "again")), local_files_only=True)
    a, b = folder_backbone.unet.state_dict(), again.unet.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_single_safetensors_file_equals_the_folder(single_file, tiny_backbone_dir, folder_backbone):
    config = BackboneConfig(source=str(single_file), config=str(tiny_backbone_dir))
    loaded = load_backbone(config, local_files_only=True)
    assert isinstance(loaded.scheduler, EulerDiscreteScheduler)
    for name in ("unet", "vae", "text_encoder"):
        ours, ref = getattr(loaded, name).state_dict(), getattr(folder_backbone, name).state_dict()
        assert set(ours) == set(ref)
        assert all(torch.equal(ours[k], ref[k]) for k in ref), name


def test_single_file_without_configs_offline_says_how_to_fix(single_file) -> None:
    with pytest.raises(BackboneNotFoundError) as info:
        load_backbone(str(single_file), local_files_only=True)
    message = str(info.value)
    assert str(single_file) in message and "--backbone-config" in message
    assert "\n" not in message


def test_pickle_checkpoints_are_refused(tmp_path) -> None:
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not really")
    with pytest.raises(BackboneNotFoundError, match=r"only \.safetensors"):
        load_backbone(str(ckpt), local_files_only=True)


def test_missing_hub_model_offline_is_one_clear_line() -> None:
    with pytest.raises(BackboneNotFoundError) as info:
        load_backbone("stabilityai/stable-diffusion-2-1-base", local_files_only=True)
    message = str(info.value)
    assert "stabilityai/stable-diffusion-2-1-base" in message
    assert "not in the Hugging Face cache" in message and "offline" in message
    assert "hf download" in message and "--backbone" in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hf_hub_offline_env_is_honoured(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BackboneNotFoundError, match="offline mode is on"):
        load_backbone("some-org/some-model")


def test_missing_path_and_incomplete_folder(tmp_path) -> None:
    with pytest.raises(BackboneNotFoundError, match="no such file or folder"):
        load_backbone(str(tmp_path / "nope" / "model"), local_files_only=True)
    (tmp_path / "partial" / "unet").mkdir(parents=True)
    with pytest.raises(BackboneNotFoundError, match="missing vae/, tokenizer/"):
        load_backbone(str(tmp_path / "partial"), local_files_only=True)


def test_v_prediction_checkpoint_and_override(tiny_vpred_backbone_dir) -> None:
    loaded = load_backbone(str(tiny_vpred_backbone_dir), local_files_only=True)
    assert loaded.prediction_type == "v_prediction"
    forced = load_backbone(
        BackboneConfig(source=str(tiny_vpred_backbone_dir), prediction_type="epsilon"),
        local_files_only=True,
    )
    assert forced.prediction_type == "epsilon"
