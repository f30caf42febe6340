"""The temporal quality modulator against a line-by-line transcription of the reference's
``linear_scale_factor`` (official ``utils/losses.py``), its names and sizes on SD 2.1."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel
from torch import nn

from genziqa.attention import cross_attention_layers
from genziqa.testing import SD21_BASE_UNET_CONFIG
from genziqa.video.config import ModulatorConfig
from genziqa.video.modulator import (
    MotionKeys,
    QueryMeans,
    TemporalModulator,
    block_name,
    layer_gains,
    modulated_score,
    select_timesteps,
    similarity,
    split_heads,
)

# The reference's block_names (utils/losses.py, genzvqa_test.py), in its order, with C_l.
REFERENCE_BLOCKS = {
    "down_block_0_attn_0": 320,
    "down_block_0_attn_1": 320,
    "down_block_1_attn_0": 640,
    "down_block_1_attn_1": 640,
    "down_block_2_attn_0": 1280,
    "down_block_2_attn_1": 1280,
    "mid_block_attn_0": 1280,
    "up_block_1_attn_0": 1280,
    "up_block_1_attn_1": 1280,
    "up_block_1_attn_2": 1280,
    "up_block_2_attn_0": 640,
    "up_block_2_attn_1": 640,
    "up_block_2_attn_2": 640,
    "up_block_3_attn_0": 320,
    "up_block_3_attn_1": 320,
    "up_block_3_attn_2": 320,
}


def reference_head_to_batch_dim(tensor: torch.Tensor) -> torch.Tensor:
    """The reference's head_to_batch_dim, as written (64-wide heads)."""
    batch_size, seq_len, dim = tensor.shape
    head_size = dim // 64
    tensor = tensor.reshape(batch_size, seq_len, head_size, dim // head_size)
    tensor = tensor.permute(0, 2, 1, 3)
    return tensor.reshape(batch_size * head_size, seq_len, dim // head_size)


def reference_linear_scale_factor(query_feats, slow, fast, slow_blocks, fast_blocks, linears):
    """linear_scale_factor of the reference for one video, its statements kept: query_feats is
    a list over frames of a list over layers of (2, C_l); slow (N, 2048), fast (N, 256)."""
    query_feats_dict = {}
    for i, key in enumerate(slow_blocks):
        query_feats_dict[key] = torch.stack([item[i] for item in query_feats])
    slow_feats = torch.stack([torch.cat([slow.unsqueeze(0)] * 2)])
    fast_feats = torch.stack([torch.cat([fast.unsqueeze(0)] * 2)])
    similarity_scores_slow, similarity_scores_fast = [], []
    for key, module in slow_blocks.items():
        query = reference_head_to_batch_dim(query_feats_dict[key].permute(1, 0, 2))
        keys = reference_head_to_batch_dim(module(slow_feats).squeeze(0))
        scores = (query @ keys.transpose(-1, -2)) / (64**-0.5)
        similarity_scores_slow.append(scores.mean().unsqueeze(0) / 1)
    for key, module in fast_blocks.items():
        query = reference_head_to_batch_dim(query_feats_dict[key].permute(1, 0, 2))
        keys = reference_head_to_batch_dim(module(fast_feats).squeeze(0))
        scores = (query @ keys.transpose(-1, -2)) / (64**-0.5)
        similarity_scores_fast.append(scores.mean().unsqueeze(0) / 1)
    gains = []
    for i, linear in enumerate(linears.values()):
        both = torch.cat((similarity_scores_slow[i], similarity_scores_fast[i]), dim=0)
        gains.append(nn.ReLU()(linear(both)))
    return torch.stack(gains).squeeze(-1)


def _small_layers() -> dict[str, int]:
    return {"down_block_1_attn_0": 128, "mid_block_attn_0": 192, "up_block_0_attn_0": 64}


def _inputs(layers: dict[str, int], frames: int = 3, rows: int = 5, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    queries = [torch.randn(2, frames, width, generator=generator) for width in layers.values()]
    slow = torch.randn(rows, 2048, generator=generator)
    fast = torch.randn(rows, 256, generator=generator)
    return queries, slow, fast


def _randomized(modulator: TemporalModulator, seed: int = 3) -> TemporalModulator:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in modulator.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return modulator


def test_block_names_and_widths_on_sd21_are_the_references() -> None:
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SD21_BASE_UNET_CONFIG)
    layers = cross_attention_layers(unet)
    names = [block_name(layer) for layer in layers]
    assert names == list(REFERENCE_BLOCKS)  # same names, same order
    for layer, name in zip(layers, names, strict=True):
        to_q = unet.get_submodule(layer.removesuffix(".processor")).to_q
        assert to_q.out_features == REFERENCE_BLOCKS[name]


def test_block_name_refuses_unnamed_layers() -> None:
    with pytest.raises(ValueError, match="cannot name"):
        block_name("down_blocks.0.attentions.0.transformer_blocks.1.attn2.processor")
    with pytest.raises(ValueError, match="cannot name"):
        block_name("down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor")


def test_parameter_names_and_counts_on_sd21_are_the_references() -> None:
    """VIDEO.md 1.6: slow 2,974,912, fast 1,082,560, linear 48 parameters; the state-dict
    names are the reference's slowAttn/fastAttn/linearBlocks keys under slow./fast./gates."""
    modulator = TemporalModulator(REFERENCE_BLOCKS, ModulatorConfig())
    counts = {"slow": 0, "fast": 0, "gates": 0}
    for name, parameter in modulator.named_parameters():
        counts[name.split(".")[0]] += parameter.numel()
    assert counts == {"slow": 2_974_912, "fast": 1_082_560, "gates": 48}
    state = modulator.state_dict()
    assert state["slow.down_block_0_attn_0.k_down.weight"].shape == (64, 2048)
    assert state["fast.up_block_3_attn_2.k_up.weight"].shape == (320, 64)
    assert state["slow.mid_block_attn_0.norm.bias"].shape == (2048,)
    assert state["gates.up_block_1_attn_2.weight"].shape == (1, 2)
    per_block = {k.split(".", 2)[2] for k in state if k.startswith("slow.down_block_0_attn_0.")}
    assert per_block == {f"{m}.{p}" for m in ("norm", "k_down", "k_up") for p in ("weight", "bias")}


def test_modulator_equals_the_reference_transcription() -> None:
    layers = _small_layers()
    modulator = _randomized(TemporalModulator(layers, ModulatorConfig()))
    queries, slow, fast = _inputs(layers, frames=3, rows=5)
    s_slow, s_fast, gains = modulator(queries, slow, fast)
    frames_first = [[q[:, f] for q in queries] for f in range(3)]  # list over frames
    expected = reference_linear_scale_factor(
        frames_first, slow, fast, dict(modulator.slow), dict(modulator.fast), dict(modulator.gates)
    )
    torch.testing.assert_close(gains, expected, rtol=1e-5, atol=1e-6)
    assert (gains > 0).any()
    assert s_slow.shape == s_fast.shape == gains.shape == (3,)


def test_similarity_multiplies_by_eight_and_matches_the_closed_form() -> None:
    generator = torch.Generator().manual_seed(1)
    queries = torch.randn(2, 4, 192, generator=generator)
    keys = torch.randn(6, 192, generator=generator)
    heads = 192 // 64
    closed = 8 / heads * (queries.mean(dim=(0, 1)) @ keys.mean(dim=0))
    reference = similarity(queries, keys, 64, "reference")
    torch.testing.assert_close(reference, closed, rtol=1e-5, atol=1e-6)
    attention = similarity(queries, keys, 64, "attention")
    torch.testing.assert_close(reference, attention * 64, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="similarity_scale"):
        similarity(queries, keys, 64, "sqrt")


def test_split_heads_is_head_to_batch_dim() -> None:
    x = torch.arange(2 * 3 * 128, dtype=torch.float32).view(2, 3, 128)
    assert torch.equal(split_heads(x, 64), reference_head_to_batch_dim(x))
    assert split_heads(x, 32).shape == (8, 3, 32)
    with pytest.raises(ValueError, match="does not divide"):
        split_heads(x, 48)


def test_keys_are_layernorm_then_two_linears() -> None:
    keys = MotionKeys(256, 64)
    x = torch.randn(5, 256)
    expected = keys.k_up(keys.k_down(nn.functional.layer_norm(x, (256,))))
    torch.testing.assert_close(keys(x), expected)


def test_gains_are_relu_of_a_linear_of_both_similarities() -> None:
    gates = [nn.Linear(2, 1) for _ in range(2)]
    with torch.no_grad():
        gates[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
        gates[0].bias.fill_(0.5)
        gates[1].weight.copy_(torch.tensor([[-1.0, 0.0]]))
        gates[1].bias.fill_(0.0)
    slow = torch.tensor([1.0, 3.0], requires_grad=True)
    fast = torch.tensor([2.0, 1.0])
    gains = layer_gains(slow, fast, gates)
    assert gains.tolist() == [5.5, 0.0]  # 1 + 4 + 0.5; ReLU(-3) = 0: a dead gate
    gains.sum().backward()
    assert slow.grad.tolist() == [1.0, 0.0]  # no gradient through the dead gate
    torch.testing.assert_close(modulated_score(gains, torch.tensor([2.0, 7.0])), torch.tensor(5.5))


def test_head_width_must_divide_every_layer() -> None:
    with pytest.raises(ValueError, match="does not divide the width 192"):
        TemporalModulator({"a": 128, "b": 192}, ModulatorConfig(head_dim=128))


def test_initialisation_is_seeded() -> None:
    a = TemporalModulator(_small_layers(), ModulatorConfig(), seed=4).state_dict()
    b = TemporalModulator(_small_layers(), ModulatorConfig(), seed=4).state_dict()
    c = TemporalModulator(_small_layers(), ModulatorConfig(), seed=5).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["gates.mid_block_attn_0.weight"], c["gates.mid_block_attn_0.weight"])


def test_query_means_and_timestep_choice() -> None:
    query = torch.randn(3, 10, 64)
    torch.testing.assert_close(QueryMeans().reduce(torch.zeros(3, 1, 10, 77), query), query.mean(1))
    recorded = torch.randn(2, 5, 4, 64)  # (P, rows, T, C)
    assert torch.equal(select_timesteps(recorded, "last"), recorded[:, :, 3])
    torch.testing.assert_close(select_timesteps(recorded, "all"), recorded.mean(dim=2))
    with pytest.raises(ValueError, match="query_timesteps"):
        select_timesteps(recorded, "first")
