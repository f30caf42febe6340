"""Importing checkpoints of the official GenzVQA code, on files written in its layout.

The official code cannot run here (diffusers 0.17 vendored, torch 1.13), so these tests build
its modules as it builds them (``slowAttentionBlocks = nn.Module()`` with one
``AttentionBlock(2048, C_l)`` set per entry of ``block_names``, likewise fast with 256, and
``nn.Linear(2, 1)`` per entry in ``linearBlocks``), fill them with known values and save
their ``state_dict()`` with ``torch.save`` as ``genzvqa_train.py`` does. The imported model
must hold exactly those tensors and score exactly as a genziqa model with the same tensors,
and as the reference's own ``linear_scale_factor`` computes from the same query means.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from genziqa import GenzVQA
from genziqa.integrations.official import OfficialCheckpointError
from genziqa.integrations.official_video import import_official_video, load_official_video
from genziqa.video.config import tiny_video_config

from ..conftest import randomize_trained_tensors
from ..video.test_modulator import reference_linear_scale_factor
from .test_official import official_lora, official_prompt_learner

TIMESTEPS = (9, 84)


class ReferenceAttentionBlock(nn.Module):
    """The official attentionBlock.AttentionBlock, attribute for attribute."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.k_down = nn.Linear(in_features, 64, bias=True)
        self.k_up = nn.Linear(64, out_features, bias=True)
        self.norm = nn.LayerNorm(in_features, elementwise_affine=True)
        self.sigmoid = nn.Sigmoid()

    def __call__(self, x):
        return self.k_up(self.k_down(self.norm(x)))


def reference_modules(model: GenzVQA) -> tuple[nn.Module, nn.Module, nn.Module]:
    """The official slow/fast/linear modules, built as genzvqa_train.py builds them, holding
    ``model``'s modulator values (copied by position, not by name)."""
    slow, fast, linear = nn.Module(), nn.Module(), nn.Module()
    for block in model.modulator.blocks:
        width = model.modulator.slow[block].k_up.out_features
        setattr(slow, block, ReferenceAttentionBlock(2048, width))
        setattr(fast, block, ReferenceAttentionBlock(256, width))
        setattr(linear, block, nn.Linear(2, 1, bias=True))
    with torch.no_grad():
        for block in model.modulator.blocks:
            for theirs, ours in (
                (getattr(slow, block), model.modulator.slow[block]),
                (getattr(fast, block), model.modulator.fast[block]),
            ):
                for name in ("k_down", "k_up", "norm"):
                    getattr(theirs, name).weight.copy_(getattr(ours, name).weight)
                    getattr(theirs, name).bias.copy_(getattr(ours, name).bias)
            getattr(linear, block).weight.copy_(model.modulator.gates[block].weight)
            getattr(linear, block).bias.copy_(model.modulator.gates[block].bias)
    return slow, fast, linear


@pytest.fixture()
def trained(tiny_backbone_dir) -> GenzVQA:
    config = tiny_video_config().replace(
        **{
            "image.backbone.source": str(tiny_backbone_dir),
            "frames": 2,
            "timesteps": TIMESTEPS,
            "modulator.head_dim": 64,  # the reference's width (the tiny layers are 64 wide)
        }
    )
    model = GenzVQA.from_config(config, local_files_only=True)
    randomize_trained_tensors(model, seed=4)
    with torch.no_grad():
        for gate in model.modulator.gates.values():
            gate.bias.fill_(3.0)
    return model


@pytest.fixture()
def files(trained, tmp_path) -> dict[str, Path]:
    """The five files of one official checkpoint, in its folder layout."""
    ckpt = "LSVQ-checkpoint-1754"
    paths = {
        "coop": tmp_path / "coop_states" / ckpt / "coop_Model_state_dict.pth",
        "lora": tmp_path / "unet_states" / ckpt / "pytorch_model.bin",
        "slow": tmp_path / "slowAttention" / ckpt / "slowAttn.pth",
        "fast": tmp_path / "fastAttention" / ckpt / "fastAttn.pth",
        "linear": tmp_path / "linearBlocks" / ckpt / "linearBlocks.pth",
    }
    for path in paths.values():
        path.parent.mkdir(parents=True)
    torch.save(official_prompt_learner(trained.image_model), paths["coop"])
    torch.save(official_lora(trained.image_model), paths["lora"])
    slow, fast, linear = reference_modules(trained)
    torch.save(slow.state_dict(), paths["slow"])
    torch.save(fast.state_dict(), paths["fast"])
    torch.save(linear.state_dict(), paths["linear"])
    return paths


def _videos(count: int = 2):
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand(count, 2, 3, 64, 64, generator=generator)
    slow = [torch.randn(4 + i, 2048, generator=generator) for i in range(count)]
    fast = [torch.randn(4 + i, 256, generator=generator) for i in range(count)]
    return frames, list(zip(slow, fast, strict=True))


def _args(files: dict[str, Path]) -> list[Path]:
    return [files[k] for k in ("coop", "lora", "slow", "fast", "linear")]


def test_key_layout_of_the_reference_modules_is_what_the_importer_reads(trained, files) -> None:
    keys = set(torch.load(files["slow"], weights_only=True))
    block = trained.modulator.blocks[0]
    assert {k for k in keys if k.startswith(f"{block}.")} == {
        f"{block}.{m}.{p}" for m in ("k_down", "k_up", "norm") for p in ("weight", "bias")
    }
    assert set(torch.load(files["linear"], weights_only=True)) == {
        f"{b}.{p}" for b in trained.modulator.blocks for p in ("weight", "bias")
    }


def test_import_gives_identical_tensors_and_scores(trained, files, tiny_backbone_dir, tmp_path):
    result = import_official_video(*_args(files), str(tiny_backbone_dir), tmp_path / "model")
    assert (result.rank, result.n_ctx, result.key_dim, result.notes) == (4, 16, 64, [])
    imported = GenzVQA.from_pretrained(result.folder, local_files_only=True)
    imported.set_scoring(timesteps=TIMESTEPS, frames=2)
    source, loaded = trained.trained_state_dict(), imported.trained_state_dict()
    assert set(loaded) == set(source)
    for name, tensor in source.items():
        assert torch.equal(loaded[name], tensor), name
    frames, pairs = _videos()
    assert np.array_equal(imported.score(frames, pairs), trained.score(frames, pairs))


def test_scores_equal_the_references_computation(trained, files, tiny_backbone_dir) -> None:
    """The official modules loaded by the official loader (load_state_dict of the saved
    files) and the reference's linear_scale_factor on the same query means give the same
    gains and the same video score as the imported model."""
    model = load_official_video(*_args(files), str(tiny_backbone_dir)).model
    model.set_scoring(timesteps=TIMESTEPS, frames=2)
    slow, fast, linear = reference_modules(trained)
    for module, key in ((slow, "slow"), (fast, "fast"), (linear, "linear")):
        module.load_state_dict(torch.load(files[key], weights_only=True))
    frames, pairs = _videos(1)
    with torch.no_grad():
        out = model(frames, [pairs[0][0]], [pairs[0][1]])
        recorded = out.frames.recorded["query_means"]  # (P, frames, T, C) per layer
        per_frame = [
            [recorded[name][:, f, -1] for name in model.layer_names] for f in range(2)
        ]  # the reference's query_feats: frames x layers x (2, C_l), last timestep
        blocks = model.modulator.blocks
        gains = reference_linear_scale_factor(
            per_frame,
            pairs[0][0],
            pairs[0][1],
            {b: getattr(slow, b) for b in blocks},
            {b: getattr(fast, b) for b in blocks},
            {b: getattr(linear, b) for b in blocks},
        )
        scores_per_video = out.frame_layer_scores[0].mean(dim=0)  # mean over frames (16,)
        expected = torch.mul(gains, scores_per_video).mean()  # compute_score_genzvqa
    torch.testing.assert_close(out.gains[0], gains, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.score[0], expected, rtol=1e-5, atol=1e-6)


def test_ddp_prefixes_and_safetensors_copies(trained, files, tiny_backbone_dir) -> None:
    for key in ("slow", "linear"):
        state = torch.load(files[key], weights_only=True)
        torch.save({f"module.{k}": v for k, v in state.items()}, files[key])
    safe = files["fast"].with_suffix(".safetensors")
    save_file(torch.load(files["fast"], weights_only=True), str(safe))
    files = {**files, "fast": safe}
    model = load_official_video(*_args(files), str(tiny_backbone_dir)).model
    model.set_scoring(timesteps=TIMESTEPS, frames=2)
    frames, pairs = _videos(1)
    assert np.array_equal(model.score(frames, pairs), trained.score(frames, pairs))


def test_wrong_files_are_clear_errors(trained, files, tiny_backbone_dir, tmp_path) -> None:
    backbone = str(tiny_backbone_dir)
    state = torch.load(files["slow"], weights_only=True)
    block = trained.modulator.blocks[1]
    broken = dict(state)
    del broken[f"{block}.norm.bias"]
    torch.save(broken, tmp_path / "missing.pth")
    with pytest.raises(OfficialCheckpointError, match=rf"missing key '{block}.norm.bias'"):
        load_official_video(*_args({**files, "slow": tmp_path / "missing.pth"}), backbone)
    wide = dict(state)
    wide[f"{block}.k_up.weight"] = torch.zeros(320, 64)
    torch.save(wide, tmp_path / "wide.pth")
    with pytest.raises(OfficialCheckpointError, match=r"k_up.weight has shape \(320, 64\)"):
        load_official_video(*_args({**files, "slow": tmp_path / "wide.pth"}), backbone)
    extra = {
        **torch.load(files["linear"], weights_only=True),
        "up_block_9_attn_0.weight": torch.zeros(1, 2),
    }
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(
        OfficialCheckpointError, match=r"unexpected key 'up_block_9_attn_0\.weight'"
    ):
        load_official_video(*_args({**files, "linear": tmp_path / "extra.pth"}), backbone)
    with pytest.raises(OfficialCheckpointError, match=r"fast-attention file .* no such file"):
        load_official_video(*_args({**files, "fast": tmp_path / "nope.pth"}), backbone)
    # the slow file given as the fast one: 2048-d norms where 256-d ones belong
    with pytest.raises(OfficialCheckpointError, match=r"expected \(64, 256\)"):
        load_official_video(*_args({**files, "fast": files["slow"]}), backbone)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("")
    with pytest.raises(OfficialCheckpointError, match="already exists"):
        import_official_video(*_args(files), backbone, tmp_path / "taken")
