"""The temporal quality modulator of GenzVQA: one gain per cross-attention layer from motion.

Exactly as the reference computes it (``linear_scale_factor`` in the official
``utils/losses.py``; VIDEO.md 1.5), for one video with F frames, P = 2 prompts and N rows of
motion features, per cross-attention layer l of width C_l:

1. Query means q (P, F, C_l): the spatial mean of the layer's LoRA-adapted cross-attention
   query (``attn2``'s ``to_q`` output, before the head split) for each prompt branch and
   frame, recorded on the one attention processor by :class:`QueryMeans`; taken from the last
   scoring timestep as the reference does (``query_timesteps="last"``; ``"all"`` averages
   the timesteps instead): :func:`select_timesteps`.
2. Keys from the motion features x (N, d), one module per layer and pathway
   (:class:`MotionKeys`): LayerNorm(d) -> Linear(d, 64) -> Linear(64, C_l), no activation;
   slow d = 2048, fast d = 256.
3. Similarity (:func:`similarity`): both split into heads of width 64 (``split_heads``, the
   reference's ``head_to_batch_dim``): Q (P * H_l, F, 64), K (P * H_l, N, 64), the same keys
   for both prompts; S = Q K^T / 64 ** -0.5, i.e. the dot products MULTIPLIED by 8 where
   attention would divide by 8 (the reference's factor, reproduced; the switch
   ``similarity_scale="attention"`` divides instead); s_l = mean of S over every axis.
4. Gain (:func:`layer_gains`): gamma_l = ReLU(Linear_l(2, 1)([s_slow,l, s_fast,l])). A gain
   can be exactly 0 and then passes no gradient; the reference does not guard against it and
   neither do we.
5. Score (:func:`modulated_score`): mean over layers of gamma_l x the layer's frame-mean score.

Closed form, for reading (exact algebra, not how it is computed): keys are the same for both
prompts and everything is bilinear, so s_l = (scale / H_l) <mean_{p,f} q, mean_n k_n>.

Module and parameter names follow the reference's checkpoint files: the per-layer modules are
named as its ``block_names`` (``down_block_0_attn_0`` ... ``up_block_3_attn_2`` on SD 2.1;
:func:`block_name`), each ``MotionKeys`` holds ``norm``, ``k_down``, ``k_up``, so
``slowAttn.pth`` maps to ``slow.*``, ``fastAttn.pth`` to ``fast.*`` and ``linearBlocks.pth``
to ``gates.*`` of :class:`TemporalModulator` unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..attention import Recorder
from .config import ModulatorConfig

__all__ = [
    "MotionKeys",
    "QueryMeans",
    "TemporalModulator",
    "block_name",
    "layer_gains",
    "modulated_score",
    "select_timesteps",
    "similarity",
    "split_heads",
]

_LAYER = re.compile(
    r"^(?:(down|up)_blocks\.(\d+)|mid_block)\.attentions\.(\d+)"
    r"\.transformer_blocks\.(\d+)\.attn2\.processor$"
)


def block_name(layer: str) -> str:
    """The reference's name of a cross-attention layer, from its processor name.

    ``down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor`` ->
    ``down_block_1_attn_0``; ``mid_block.attentions.0...`` -> ``mid_block_attn_0``. Only
    layers with one transformer block per attention (SD 1.x, 2.x) have such a name.
    """
    match = _LAYER.match(layer)
    if match is None or match[4] != "0":
        raise ValueError(
            f"cannot name cross-attention layer {layer!r} as the reference does (expected "
            "'<down|up>_blocks.i.attentions.j.transformer_blocks.0.attn2.processor' or "
            "'mid_block.attentions.j...')"
        )
    kind, index, attention = match[1], match[2], match[3]
    if kind is None:
        return f"mid_block_attn_{attention}"
    return f"{kind}_block_{index}_attn_{attention}"


class QueryMeans(Recorder):
    """Per layer, the spatial mean of the LoRA-adapted cross-attention query before the head
    split: (U-Net batch, C) in float32 (the reference's ``query.mean(dim=-2)``)."""

    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return query.float().mean(dim=1)


def select_timesteps(recorded: torch.Tensor, mode: str = "last") -> torch.Tensor:
    """Query means recorded over timesteps (P, R, T, C) -> (P, R, C): the last timestep's
    (``"last"``, the reference) or the mean over timesteps (``"all"``)."""
    if mode == "last":
        return recorded[:, :, -1]
    if mode == "all":
        return recorded.mean(dim=2)
    raise ValueError(f"unknown query_timesteps {mode!r}; expected 'last' or 'all'")


def split_heads(x: torch.Tensor, head_dim: int) -> torch.Tensor:
    """(n, s, C) -> (n * C / head_dim, s, head_dim), head-major within each n: the reference's
    ``head_to_batch_dim`` (reshape to heads, move heads before the sequence, flatten)."""
    n, s, width = x.shape
    if width % head_dim:
        raise ValueError(f"head width {head_dim} does not divide the layer width {width}")
    heads = width // head_dim
    return x.reshape(n, s, heads, head_dim).permute(0, 2, 1, 3).reshape(n * heads, s, head_dim)


def similarity(
    queries: torch.Tensor, keys: torch.Tensor, head_dim: int, scale: str = "reference"
) -> torch.Tensor:
    """One layer's similarity s: the mean over prompts x heads, frames and motion rows of the
    head dot products of ``queries`` (P, F, C) and ``keys`` (N, C), scaled.

    ``scale="reference"``: divided by ``head_dim ** -0.5``, i.e. MULTIPLIED by sqrt(head_dim)
    (by 8 for 64-wide heads) as the reference does; ``"attention"``: divided by sqrt(head_dim).
    """
    prompts = queries.shape[0]
    q = split_heads(queries, head_dim)
    k = split_heads(keys.unsqueeze(0).expand(prompts, -1, -1), head_dim)
    products = q @ k.transpose(-1, -2)
    if scale == "reference":
        scores = products / (head_dim**-0.5)
    elif scale == "attention":
        scores = products * (head_dim**-0.5)
    else:
        raise ValueError(f"unknown similarity_scale {scale!r}; expected 'reference' or 'attention'")
    return scores.mean()


def layer_gains(slow: torch.Tensor, fast: torch.Tensor, gates: Sequence[nn.Linear]) -> torch.Tensor:
    """gamma_l = ReLU(Linear_l([s_slow,l, s_fast,l])): similarities (L,) each -> gains (L,)."""
    return torch.stack(
        [torch.relu(gate(torch.stack([slow[i], fast[i]])))[0] for i, gate in enumerate(gates)]
    )


def modulated_score(gains: torch.Tensor, layer_scores: torch.Tensor) -> torch.Tensor:
    """score = mean over layers of gamma_l x layer score: (..., L) and (..., L) -> (...)."""
    return (gains * layer_scores).mean(dim=-1)


class MotionKeys(nn.Module):
    """LayerNorm(d) -> Linear(d, key_dim) -> Linear(key_dim, C): keys (N, C) from motion
    features (N, d), for one layer and pathway (the reference's ``AttentionBlock``; its
    attribute names, created in its order so the same seed gives the same initial values)."""

    def __init__(self, in_features: int, out_features: int, key_dim: int = 64) -> None:
        super().__init__()
        self.k_down = nn.Linear(in_features, key_dim, bias=True)
        self.k_up = nn.Linear(key_dim, out_features, bias=True)
        self.norm = nn.LayerNorm(in_features, elementwise_affine=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.k_up(self.k_down(self.norm(features)))


class TemporalModulator(nn.Module):
    """The modulator's parameters for every cross-attention layer, and its forward for one
    video (module docstring).

    ``layers``: the reference's block name -> layer width C_l, in layer order. Parameters:
    ``slow.<block>.{norm,k_down,k_up}.*``, ``fast.<block>...``, ``gates.<block>.{weight,bias}``,
    with PyTorch's default initialisation drawn under ``torch.manual_seed(seed)``.
    """

    def __init__(self, layers: Mapping[str, int], config: ModulatorConfig, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        self.blocks = list(layers)
        for block, width in layers.items():
            if width % config.head_dim:
                raise ValueError(
                    f"modulator head width {config.head_dim} does not divide the width {width} "
                    f"of cross-attention layer {block}"
                )
        self.slow = nn.ModuleDict()
        self.fast = nn.ModuleDict()
        self.gates = nn.ModuleDict()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for block, width in layers.items():  # the reference's order: slow, fast, linear
                self.slow[block] = MotionKeys(config.slow_dim, width, config.key_dim)
                self.fast[block] = MotionKeys(config.fast_dim, width, config.key_dim)
                self.gates[block] = nn.Linear(2, 1, bias=True)

    def forward(
        self, queries: Sequence[torch.Tensor], slow: torch.Tensor, fast: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One video: query means per layer (P, F, C_l), slow (N, 2048) and fast (N, 256)
        features -> similarities s_slow (L,), s_fast (L,) and gains (L,)."""
        if len(queries) != len(self.blocks):
            raise ValueError(
                f"expected query means for {len(self.blocks)} layers, got {len(queries)}"
            )
        dtype = self.gates[self.blocks[0]].weight.dtype
        slow, fast = slow.to(dtype), fast.to(dtype)
        scale, head_dim = self.config.similarity_scale, self.config.head_dim
        s_slow, s_fast = [], []
        for block, query in zip(self.blocks, queries, strict=True):
            query = query.to(dtype)
            s_slow.append(similarity(query, self.slow[block](slow), head_dim, scale))
            s_fast.append(similarity(query, self.fast[block](fast), head_dim, scale))
        slow_t, fast_t = torch.stack(s_slow), torch.stack(s_fast)
        gains = layer_gains(slow_t, fast_t, [self.gates[b] for b in self.blocks])
        return slow_t, fast_t, gains
