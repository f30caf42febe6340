from __future__ import annotations

import math

import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor2_0

from genziqa import load_backbone
from genziqa.attention import (
    CrossAttentionScoreProcessor,
    PooledLogits,
    Recorder,
    cross_attention_layers,
    recording,
    score_processors,
    spatial_logsumexp,
)

from .conftest import installed


@pytest.fixture(scope="module")
def unet(tiny_backbone_dir):
    return load_backbone(str(tiny_backbone_dir), local_files_only=True).unet


def _inputs(batch: int = 4):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(batch, 4, 32, 32, generator=generator)
    timesteps = torch.tensor([9, 33, 57, 93][:batch])
    context = torch.randn(batch, 77, 32, generator=generator)
    return sample, timesteps, context


def test_cross_attention_layers_in_data_flow_order(unet) -> None:
    names = cross_attention_layers(unet)
    assert names == [
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor",
        "mid_block.attentions.0.transformer_blocks.0.attn2.processor",
        "up_blocks.0.attentions.0.transformer_blocks.0.attn2.processor",
        "up_blocks.0.attentions.1.transformer_blocks.0.attn2.processor",
    ]


def test_processor_leaves_the_unet_output_unchanged(unet) -> None:
    sample, timesteps, context = _inputs()
    with torch.no_grad():
        reference = unet(sample, timesteps, context).sample
        with installed(unet, score_processors(unet)):
            scored = unet(sample, timesteps, context).sample
    torch.testing.assert_close(scored, reference, rtol=1e-5, atol=1e-5)


def test_only_cross_attention_gets_the_processor_and_it_is_restored(unet) -> None:
    before = unet.attn_processors
    processors = score_processors(unet)
    with installed(unet, processors):
        current = unet.attn_processors
        for name, processor in current.items():
            if name.endswith("attn2.processor"):
                assert processor is processors[name]
            else:
                assert isinstance(processor, AttnProcessor2_0)
    assert unet.attn_processors == before


def test_recorders_are_closed_after_an_error(unet) -> None:
    processors = score_processors(unet)
    pooled = PooledLogits(0.14)
    with pytest.raises(RuntimeError, match="boom"), recording(processors, [pooled]):
        assert all(p.recorders == (pooled,) for p in processors.values()) and not pooled.closed
        raise RuntimeError("boom")
    assert pooled.closed


def test_pooled_value_equals_hand_computation(unet) -> None:
    """For one layer: logsumexp over space of (Q K^T * scale), by hand from the layer's inputs."""
    name = "mid_block.attentions.0.transformer_blocks.0.attn2.processor"
    attn = unet.get_submodule(name.removesuffix(".processor"))
    captured = {}
    hook = attn.register_forward_hook(
        lambda module, args, kwargs, out: captured.update(
            hidden=args[0],
            context=kwargs.get("encoder_hidden_states", args[1] if len(args) > 1 else None),
        ),
        with_kwargs=True,
    )
    processors = score_processors(unet)
    pooled = PooledLogits(0.14)
    sample, timesteps, context = _inputs()
    try:
        with torch.no_grad(), installed(unet, processors), recording(processors, [pooled]):
            unet(sample, timesteps, context)
    finally:
        hook.remove()
    hidden, ctx = captured["hidden"], captured["context"]
    heads = attn.heads
    q = attn.to_q(hidden)
    k = attn.to_k(ctx)
    batch, tokens, inner = q.shape[0], k.shape[1], q.shape[-1]
    q = q.view(batch, -1, heads, inner // heads).transpose(1, 2)
    k = k.view(batch, tokens, heads, inner // heads).transpose(1, 2)
    logits = torch.einsum("bhnd,bhtd->bhnt", q, k) / (inner // heads) ** 0.5
    expected = torch.log(torch.exp(0.14 * logits).sum(dim=2)) / 0.14
    kept = pooled.take()
    assert sorted(kept) == sorted(processors) and all(len(v) == 1 for v in kept.values())
    assert kept[name][0].shape == (batch, heads, 77)
    torch.testing.assert_close(kept[name][0], expected, rtol=1e-5, atol=1e-4)
    assert pooled.take() == {}  # take() empties the recorder
    assert hidden.shape[1] == 16 * 16  # the mid block runs at 16x16 for 32x32 latents


@pytest.mark.parametrize("additive", [False, True])
def test_processor_handles_4d_input_and_masks(additive: bool) -> None:
    """Mirrors AttnProcessor2_0 on a standalone Attention with 4-D input and a padding mask."""
    from diffusers.models.attention_processor import Attention

    torch.manual_seed(0)
    attn = Attention(query_dim=16, cross_attention_dim=8, heads=2, dim_head=8)
    hidden = torch.randn(2, 16, 4, 4)
    context = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    if additive:
        mask = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    reference = AttnProcessor2_0()(attn, hidden, context, attention_mask=mask)
    processor = CrossAttentionScoreProcessor("layer")
    pooled_logits = PooledLogits(0.14)
    with recording({"layer": processor}, [pooled_logits]):
        ours = processor(attn, hidden, context, attention_mask=mask)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    (pooled,) = pooled_logits.take()["layer"]
    assert pooled.shape == (2, 2, 5)
    assert torch.isinf(pooled[0, :, 3:]).all()  # masked tokens get no logit mass
    assert torch.equal(
        spatial_logsumexp(torch.zeros(1, 1, 2, 1), 1.0), torch.log(torch.tensor([[[2.0]]]))
    )


class _LogitDtypes(Recorder):
    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return torch.tensor(logits.dtype == torch.float32)


def test_logits_stay_float32_under_mixed_precision_autocast(unet) -> None:
    processors = score_processors(unet)
    dtypes = _LogitDtypes()
    sample, timesteps, context = _inputs()
    with (
        torch.no_grad(),
        installed(unet, processors),
        recording(processors, [dtypes]),
        torch.autocast("cpu", torch.bfloat16),
    ):
        unet(sample, timesteps, context)
    kept = [bool(flag) for calls in dtypes.take().values() for flag in calls]
    assert len(kept) == len(processors) and all(kept)


class _QueryMeans(Recorder):
    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return query.mean(dim=1)


def test_recorders_see_every_layer_only_inside_recording(unet) -> None:
    """Two recorders at once get the logits and the query of every layer, in each call made
    inside ``recording`` and in none outside it."""
    processors = score_processors(unet)
    pooled, queries = PooledLogits(0.14), _QueryMeans()
    sample, timesteps, context = _inputs()
    with torch.no_grad(), installed(unet, processors):
        with recording(processors, [pooled, queries]):
            unet(sample, timesteps, context)
            unet(sample, timesteps, context)
        unet(sample, timesteps, context)  # not recorded: closed, the recorders keep nothing
    assert all(r.closed for r in (pooled, queries))
    kept = queries.take()
    assert list(kept) == cross_attention_layers(unet)
    for name, calls in kept.items():
        attn = unet.get_submodule(name.removesuffix(".processor"))
        assert len(calls) == 2 and calls[0].shape == (4, attn.to_q.out_features)
        torch.testing.assert_close(calls[0], calls[1])
    assert all(len(calls) == 2 for calls in pooled.take().values())


def test_spatial_logsumexp_pools_the_spatial_axis() -> None:
    logits = torch.randn(2, 3, 50, 7)
    pooled = spatial_logsumexp(logits, 0.14)
    assert pooled.shape == (2, 3, 7)
    expected = torch.log(torch.exp(0.14 * logits).sum(dim=2)) / 0.14
    torch.testing.assert_close(pooled, expected)


def test_logsumexp_is_a_smooth_maximum() -> None:
    logits = torch.randn(1, 1, 64, 4)
    sharp = spatial_logsumexp(logits, 1000.0)
    torch.testing.assert_close(sharp, logits.amax(dim=2), atol=1e-2, rtol=0)
    # Constant logits: max + log(N) / lambda.
    flat = spatial_logsumexp(torch.full((1, 1, 64, 2), 3.0), 0.14)
    torch.testing.assert_close(flat, torch.full((1, 1, 2), 3.0 + math.log(64) / 0.14))
