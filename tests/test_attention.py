from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor2_0

from genziqa import load_backbone
from genziqa.attention import (
    CrossAttentionScoreProcessor,
    cross_attention_layers,
    installed,
    score_processors,
)
from genziqa.pooling import spatial_logsumexp


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
        with installed(unet, score_processors(unet, 0.14)):
            scored = unet(sample, timesteps, context).sample
    torch.testing.assert_close(scored, reference, rtol=1e-5, atol=1e-5)


def test_only_cross_attention_gets_the_processor_and_it_is_restored(unet) -> None:
    before = unet.attn_processors
    processors = score_processors(unet, 0.14)
    with installed(unet, processors):
        current = unet.attn_processors
        for name, processor in current.items():
            if name.endswith("attn2.processor"):
                assert processor is processors[name]
            else:
                assert isinstance(processor, AttnProcessor2_0)
    assert unet.attn_processors == before


def test_processors_are_restored_after_an_error(unet) -> None:
    before = unet.attn_processors
    with pytest.raises(RuntimeError, match="boom"), installed(unet, score_processors(unet, 0.14)):
        raise RuntimeError("boom")
    assert unet.attn_processors == before
    with pytest.raises(KeyError, match="no attention layers"), installed(unet, {"x": object()}):
        pass


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
    processors = score_processors(unet, 0.14)
    sample, timesteps, context = _inputs()
    try:
        with torch.no_grad(), installed(unet, processors):
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
    assert processors[name].pooled.shape == (batch, heads, 77)
    torch.testing.assert_close(processors[name].pooled, expected, rtol=1e-5, atol=1e-4)
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
    processor = CrossAttentionScoreProcessor(0.14)
    ours = processor(attn, hidden, context, attention_mask=mask)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    assert processor.pooled.shape == (2, 2, 5)
    assert torch.isinf(processor.pooled[0, :, 3:]).all()  # masked tokens get no logit mass
    assert torch.equal(
        spatial_logsumexp(torch.zeros(1, 1, 2, 1), 1.0), torch.log(torch.tensor([[[2.0]]]))
    )


def test_logits_stay_float32_under_mixed_precision_autocast(unet, monkeypatch) -> None:
    import genziqa.attention

    pooled_inputs = []

    def recording(logits, lse_lambda):
        pooled_inputs.append(logits.dtype)
        return spatial_logsumexp(logits, lse_lambda)

    monkeypatch.setattr(genziqa.attention, "spatial_logsumexp", recording)
    processors = score_processors(unet, 0.14)
    sample, timesteps, context = _inputs()
    with torch.no_grad(), installed(unet, processors), torch.autocast("cpu", torch.bfloat16):
        unet(sample, timesteps, context)
    assert pooled_inputs and set(pooled_inputs) == {torch.float32}
