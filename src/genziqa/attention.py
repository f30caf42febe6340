"""Stage 5: the U-Net's cross-attention logits, read through diffusers' processor interface.

``CrossAttentionScoreProcessor`` mirrors diffusers' ``AttnProcessor2_0`` (diffusers >= 0.35;
written against 0.42) step for step, except that it forms the pre-softmax logits
S = Q K^T * scale explicitly and finishes the attention with an explicit softmax on those same
logits. The U-Net output is unchanged (tested). It is the one place the logits exist; it is
installed on the cross-attention (``attn2``) layers only, keyed by module name (self-attention
keeps its fast default processor), for the model's lifetime: gradient checkpointing re-runs the
forward during backward, which must see the same processors.

What a caller wants from the logits is a ``Recorder``: the pooled score value
(``PooledLogits``, GenzIQA's spatial log-sum-exp), and later heatmaps or the video modulator's
query means. Recorders are attached for one or more U-Net calls with ``recording(...)`` and
hand back what they kept with ``take()``, one tensor per layer and call. When the block ends
they are closed but stay attached until the next ``recording``: the re-run of a checkpointed
forward during backward must compute the same tensors as the forward did (torch checks their
number), and a closed recorder computes them and keeps nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention

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


def spatial_logsumexp(logits: torch.Tensor, lse_lambda: float) -> torch.Tensor:
    """Smooth maximum over the spatial axis: logits (B, H, N, T) -> (B, H, T).

    p = logsumexp(lambda * S, over N) / lambda, computed in float32.
    """
    return torch.logsumexp(logits.float() * lse_lambda, dim=-2) / lse_lambda


class Recorder:
    """Keeps something computed from a layer's logits, per layer and U-Net call.

    Subclasses define ``reduce``; the processor calls ``record`` inside ``recording``. Every
    value's first axis is the U-Net batch (prompt-major rows, see ``batching.py``).
    """

    def __init__(self) -> None:
        self._kept: dict[str, list[torch.Tensor]] = {}
        self.closed = False

    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """logits S (B, heads, N, tokens) in float32, query (B, N, C) -> what to keep (B, ...)."""
        raise NotImplementedError

    def record(self, layer: str, logits: torch.Tensor, query: torch.Tensor) -> None:
        value = self.reduce(logits, query)
        if not self.closed:
            self._kept.setdefault(layer, []).append(value)

    def take(self) -> dict[str, list[torch.Tensor]]:
        """What was kept, layer name -> one tensor per U-Net call; the recorder is empty after."""
        kept, self._kept = self._kept, {}
        return kept


class PooledLogits(Recorder):
    """GenzIQA's pooled value of a layer: logsumexp(lambda * S, over space) / lambda, shaped
    (B, heads, tokens), float32, autograd graph kept."""

    def __init__(self, lse_lambda: float) -> None:
        super().__init__()
        self.lse_lambda = lse_lambda

    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return spatial_logsumexp(logits, self.lse_lambda)


def _no_autocast(device_type: str) -> AbstractContextManager:
    """Autocast off for the block, where it is on (meta tensors, e.g. for FLOP counting, have
    no autocast at all)."""
    if device_type == "meta" or not torch.is_autocast_enabled(device_type):
        return nullcontext()
    return torch.autocast(device_type, enabled=False)


class CrossAttentionScoreProcessor:
    """Attention that hands its pre-softmax logits S = Q K^T * scale to the attached recorders."""

    def __init__(self, layer: str) -> None:
        self.layer = layer
        self.recorders: tuple[Recorder, ...] = ()

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
        query_features = query  # (B, N, C): the (LoRA-adapted) query before the head split
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
            for recorder in self.recorders:
                recorder.record(self.layer, logits, query_features)
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


def score_processors(unet: UNet2DConditionModel) -> dict[str, CrossAttentionScoreProcessor]:
    """One score processor per cross-attention layer, keyed by processor name, in layer order."""
    return {name: CrossAttentionScoreProcessor(name) for name in cross_attention_layers(unet)}


@contextmanager
def recording(
    processors: Mapping[str, CrossAttentionScoreProcessor], recorders: Iterable[Recorder]
) -> Iterator[None]:
    """Attach ``recorders`` to every processor for the block (one or more U-Net calls); they
    keep what they see inside it, and are closed (attached, keeping nothing) after it."""
    attached = tuple(recorders)
    for recorder in attached:
        recorder.closed = False
    for processor in processors.values():
        processor.recorders = attached
    try:
        yield
    finally:
        for recorder in attached:
            recorder.closed = True
