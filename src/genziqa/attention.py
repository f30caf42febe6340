"""Cross-attention logits read out of the U-Net through diffusers' attention-processor interface.

``CrossAttentionScoreProcessor`` mirrors diffusers' ``AttnProcessor2_0`` (diffusers >= 0.35;
written against 0.42) step for step, except that it forms the pre-softmax logits
S = Q K^T * scale explicitly, keeps their spatially pooled value for the layer, and finishes the
attention with an explicit softmax on those same logits. The U-Net output is unchanged (tested).
It is installed on the cross-attention (``attn2``) layers only; self-attention keeps its fast
default processor. Processors are keyed by module name. ``installed`` puts them on a U-Net for
the span of a ``with`` block and restores the previous ones after; a ``GenzIQA`` model keeps
them for its lifetime instead, because gradient checkpointing re-runs the forward during
backward, after any ``with`` block around the forward has closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention

from .pooling import spatial_logsumexp

_BLOCK_ORDER = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}


def cross_attention_layers(unet: UNet2DConditionModel) -> list[str]:
    """Processor names of the cross-attention layers, in data-flow order (down, mid, up).

    SD 1.5 and SD 2.x both have 16: ``down_blocks.{0,1,2}.attentions.{0,1}``,
    ``mid_block.attentions.0``, ``up_blocks.{1,2,3}.attentions.{0,1,2}``, each
    ``...transformer_blocks.0.attn2.processor``.
    """
    names = [name for name in unet.attn_processors if name.endswith("attn2.processor")]

    def order(name: str) -> tuple:
        parts = name.split(".")
        return (_BLOCK_ORDER[parts[0]], *(int(p) for p in parts if p.isdigit()))

    return sorted(names, key=order)


def _no_autocast(device_type: str) -> AbstractContextManager:
    """Autocast off for the block, where it is on (meta tensors, e.g. for FLOP counting, have
    no autocast at all)."""
    if device_type == "meta" or not torch.is_autocast_enabled(device_type):
        return nullcontext()
    return torch.autocast(device_type, enabled=False)


class CrossAttentionScoreProcessor:
    """Attention that also records the spatially pooled pre-softmax logits of its layer.

    After each call, ``pooled`` holds logsumexp(lambda * S, over space) / lambda with S = Q K^T
    * scale, shaped (B, heads, tokens), in float32 (autograd graph kept).
    """

    def __init__(self, lse_lambda: float) -> None:
        self.lse_lambda = lse_lambda
        self.pooled: torch.Tensor | None = None

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)

        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)

        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        )
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(
                attention_mask, sequence_length, batch_size
            )
            attention_mask = attention_mask.view(
                batch_size, attn.heads, -1, attention_mask.shape[-1]
            )

        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)

        inner_dim = key.shape[-1]
        head_dim = inner_dim // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        # The one place the pre-softmax logits exist: (B, heads, h*w, tokens), in float32 even
        # under mixed-precision autocast (which would otherwise run this matmul in bf16/fp16).
        with _no_autocast(query.device.type):
            logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * attn.scale
            if attention_mask is not None:
                # As in scaled_dot_product_attention: a boolean mask keeps True, a float one adds.
                if attention_mask.dtype == torch.bool:
                    logits = logits.masked_fill(~attention_mask, float("-inf"))
                else:
                    logits = logits + attention_mask.float()
            self.pooled = spatial_logsumexp(logits, self.lse_lambda)
            probs = logits.softmax(dim=-1).to(value.dtype)
        hidden_states = torch.matmul(probs, value)

        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = hidden_states.to(query.dtype)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)

        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(
                batch_size, channel, height, width
            )
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def score_processors(
    unet: UNet2DConditionModel, lse_lambda: float
) -> dict[str, CrossAttentionScoreProcessor]:
    """One score processor per cross-attention layer, keyed by processor name, in layer order."""
    return {name: CrossAttentionScoreProcessor(lse_lambda) for name in cross_attention_layers(unet)}


@contextmanager
def installed(unet: UNet2DConditionModel, processors: Mapping[str, object]) -> Iterator[None]:
    """Install ``processors`` (name -> processor) on ``unet``; restore the previous ones after."""
    previous = unet.attn_processors
    unknown = sorted(set(processors) - set(previous))
    if unknown:
        raise KeyError(f"no attention layers named {unknown[:3]} in this U-Net")
    unet.set_attn_processor({**previous, **processors})
    try:
        yield
    finally:
        unet.set_attn_processor(previous)
