"""Checkpoints of the official GenzVQA research code -> a genziqa video model (folder).

The official video trainer (``genzvqa_train.py`` of ``sh-r/GenzIVQA``) saves, once per epoch,
five files in five folders (``run_genzvqa_train.sh``; VIDEO.md 1.7):

- ``coop_states/<ckpt>/coop_Model_state_dict.pth`` and ``unet_states/<ckpt>/pytorch_model.bin``:
  the prompt learner and the LoRA of ``save_attn_procs``, exactly as the image trainer writes
  them; read by :mod:`genziqa.integrations.official` (``load_official``);
- ``slowAttention/<ckpt>/slowAttn.pth``: ``torch.save(slowAttentionBlocks.state_dict())``
  where ``slowAttentionBlocks`` is a bare ``nn.Module`` holding, for every entry of the
  reference's ``block_names`` (``down_block_0_attn_0`` ... ``up_block_3_attn_2``), an
  ``AttentionBlock(2048, C_l)`` set as an attribute; so keys ``<block>.k_down.weight``
  (64, 2048), ``.k_down.bias`` (64,), ``.k_up.weight`` (C_l, 64), ``.k_up.bias`` (C_l,),
  ``.norm.weight`` / ``.norm.bias`` (2048,);
- ``fastAttention/<ckpt>/fastAttn.pth``: the same with 256 (``AttentionBlock(256, C_l)``);
- ``linearBlocks/<ckpt>/linearBlocks.pth``: ``<block>.weight`` (1, 2), ``<block>.bias`` (1,).

All modules are ``accelerator.prepare``d, so under DistributedDataParallel every key gains a
``module.`` prefix (removed here). These map unchanged onto :class:`genziqa.video.modulator.
TemporalModulator`, whose per-layer modules carry the reference's block names and attribute
names: ``slowAttn.pth`` -> ``modulator.slow.*``, ``fastAttn.pth`` -> ``modulator.fast.*``,
``linearBlocks.pth`` -> ``modulator.gates.*``. The reference computes with 64-wide heads and
``/ 64 ** -0.5`` (``ModulatorConfig`` defaults); the bottleneck width is read from the file.
Files are read as data only (``torch.load(weights_only=True)`` or safetensors copies with the
same keys).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..backbone import Backbone
from ..pretrained import CONFIG_NAME, VIDEO_CONFIG_NAME
from ..video.config import GenzVQAConfig, ModulatorConfig
from ..video.model import GenzVQA, layer_widths
from ..video.modulator import block_name

# The image importer's key check and save refusal, shared within this package.
from .official import (
    OfficialCheckpointError,
    _check_keys,
    _refuse_save,
    load_official,
    read_state_dict,
)

MOTION_KEY_PARAMETERS = (
    "k_down.weight",
    "k_down.bias",
    "k_up.weight",
    "k_up.bias",
    "norm.weight",
    "norm.bias",
)


@dataclass
class OfficialVideoImport:
    """The result of a video import: the model, the folder written (if any), and notes."""

    model: GenzVQA
    folder: Path | None
    class_words: tuple[str, str]
    rank: int
    n_ctx: int
    key_dim: int
    notes: list[str] = field(default_factory=list)
    self_attention_query: list[str] = field(default_factory=list)


def read_official_motion_keys(
    path: str | Path, what: str, widths: dict[str, int], feature_dim: int
) -> tuple[dict[str, torch.Tensor], int]:
    """``slowAttn.pth`` / ``fastAttn.pth`` checked against the layers (block name -> C_l):
    every key present, nothing else, every shape right. Returns the state dict and the
    bottleneck width (64 in the reference)."""
    state = read_state_dict(path, what)
    expected = {f"{block}.{p}" for block in widths for p in MOTION_KEY_PARAMETERS}
    _check_keys(path, what, set(state), expected)
    first = next(iter(widths))
    key_dim = int(state[f"{first}.k_down.weight"].shape[0])
    for block, width in widths.items():
        shapes = {
            "k_down.weight": (key_dim, feature_dim),
            "k_down.bias": (key_dim,),
            "k_up.weight": (width, key_dim),
            "k_up.bias": (width,),
            "norm.weight": (feature_dim,),
            "norm.bias": (feature_dim,),
        }
        for name, shape in shapes.items():
            key = f"{block}.{name}"
            if tuple(state[key].shape) != shape:
                raise OfficialCheckpointError(
                    f"{what} {path}: {key} has shape {tuple(state[key].shape)}, expected {shape} "
                    f"(layer width {width}, {feature_dim}-d motion features, bottleneck "
                    f"{key_dim}; trained on another backbone?)"
                )
    return state, key_dim


def read_official_gates(path: str | Path, widths: dict[str, int]) -> dict[str, torch.Tensor]:
    """``linearBlocks.pth``: ``<block>.weight`` (1, 2) and ``<block>.bias`` (1,) per layer."""
    what = "linear-blocks file"
    state = read_state_dict(path, what)
    expected = {f"{block}.{p}" for block in widths for p in ("weight", "bias")}
    _check_keys(path, what, set(state), expected)
    for key, value in state.items():
        shape = (1, 2) if key.endswith(".weight") else (1,)
        if tuple(value.shape) != shape:
            raise OfficialCheckpointError(
                f"{what} {path}: {key} has shape {tuple(value.shape)}, expected {shape}"
            )
    return state


def load_official_video(
    prompt_learner: str | Path,
    lora: str | Path,
    slow: str | Path,
    fast: str | Path,
    linear: str | Path,
    backbone: str | Backbone,
) -> OfficialVideoImport:
    """Build the GenzVQA model of an official video checkpoint in memory (nothing written).

    ``prompt_learner``: ``coop_Model_state_dict.pth``; ``lora``: ``pytorch_model.bin`` (or
    ``pytorch_lora_weights.*``); ``slow``/``fast``/``linear``: ``slowAttn.pth``,
    ``fastAttn.pth``, ``linearBlocks.pth``; ``backbone``: the Stable Diffusion it was trained
    on. The image part is ``genziqa.integrations.official.load_official``'s.
    """
    for path, what in (
        (slow, "slow-attention file"),
        (fast, "fast-attention file"),
        (linear, "linear-blocks file"),
    ):
        read_state_dict(path, what)  # a wrong path fails before the backbone loads
    image = load_official(prompt_learner, lora, backbone)
    widths = {block_name(k): v for k, v in layer_widths(image.model).items()}
    modulator = ModulatorConfig()
    slow_state, key_dim = read_official_motion_keys(
        slow, "slow-attention file", widths, modulator.slow_dim
    )
    fast_state, fast_key_dim = read_official_motion_keys(
        fast, "fast-attention file", widths, modulator.fast_dim
    )
    if fast_key_dim != key_dim:
        raise OfficialCheckpointError(
            f"fast-attention file {fast}: bottleneck width {fast_key_dim}, but the slow one "
            f"({slow}) has {key_dim}"
        )
    gates = read_official_gates(linear, widths)
    config = GenzVQAConfig(image=image.model.config, modulator=ModulatorConfig(key_dim=key_dim))
    model = GenzVQA(config, image_model=image.model)
    assert model.modulator is not None
    tensors = {f"slow.{k}": v for k, v in slow_state.items()}
    tensors |= {f"fast.{k}": v for k, v in fast_state.items()}
    tensors |= {f"gates.{k}": v for k, v in gates.items()}
    model.modulator.load_state_dict(tensors, strict=True)
    if image.self_attention_query:
        model.save_pretrained = _refuse_save  # type: ignore[method-assign]
    return OfficialVideoImport(
        model,
        None,
        image.class_words,
        image.rank,
        image.n_ctx,
        key_dim,
        list(image.notes),
        list(image.self_attention_query),
    )


def import_official_video(
    prompt_learner: str | Path,
    lora: str | Path,
    slow: str | Path,
    fast: str | Path,
    linear: str | Path,
    backbone: str,
    output: str | Path,
) -> OfficialVideoImport:
    """Turn an official GenzVQA checkpoint into a genziqa video model folder at ``output``
    (written whole or not at all; an existing model folder is never overwritten)."""
    output = Path(output).expanduser()
    if output.is_file() or (output.is_dir() and any(output.iterdir())):
        held = (
            " a genziqa model"
            if (output / CONFIG_NAME).is_file() or (output / VIDEO_CONFIG_NAME).is_file()
            else " files"
        )
        raise OfficialCheckpointError(
            f"output {output}: already exists and holds{held}; choose a new or empty folder"
        )
    result = load_official_video(prompt_learner, lora, slow, fast, linear, backbone)
    if result.self_attention_query:
        raise OfficialCheckpointError(
            f"LoRA file {lora}: the self-attention LoRA of {result.self_attention_query[0]} is "
            f"non-zero, which a genziqa model folder cannot hold; score this checkpoint in "
            f"memory with genziqa.integrations.official_video.load_official_video"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        result.model.save_pretrained(staging)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.folder = output
    return result


__all__ = [
    "MOTION_KEY_PARAMETERS",
    "OfficialVideoImport",
    "import_official_video",
    "load_official_video",
    "read_official_gates",
    "read_official_motion_keys",
]
