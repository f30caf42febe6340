"""Run the prompt-independent start of the U-Net once for all prompts.

GenzIQA's U-Net batch holds every (latent, timestep) row once per prompt, prompt-major:
rows [p=0: N rows, p=1: the same N rows]. Until the first cross-attention reads the prompt,
all P copies of a row are computed identically: the down blocks before it, the ResNet blocks
before it in its own block, and the self-attention (``attn1``) of its transformer block. On SD
1.5 and 2.x that is ``down_blocks.0.resnets.0`` and the first ``attn1`` at 64x64: about 6% of
a U-Net evaluation, done once instead of twice.

Mechanism: forward hooks on those modules. The pre-hook passes only the first N rows of every
batch-sized tensor argument; the post-hook repeats each output P times. The arithmetic per row
is the same, so results match the unshared U-Net up to float rounding (tested), and autograd
sees a plain ``repeat`` (its backward sums the copies' gradients, which is exact).
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from torch import nn

from .attention import cross_attention_layers


def prefix_modules(unet: UNet2DConditionModel) -> list[nn.Module]:
    """The largest modules that run before the first cross-attention, in order."""
    first = cross_attention_layers(unet)[0].removesuffix(".attn2.processor")
    parts = first.split(".")
    if parts[0] != "down_blocks":
        return []
    block_index, attention_index = int(parts[1]), int(parts[3])
    modules: list[nn.Module] = list(unet.down_blocks[:block_index])
    block = unet.down_blocks[block_index]
    modules += list(block.resnets[: attention_index + 1])
    modules.append(unet.get_submodule(first + ".attn1"))
    return modules


def _first_rows(value, batch: int, rows: int):
    if torch.is_tensor(value) and value.ndim > 0 and value.shape[0] == batch:
        return value[:rows]
    return value


def _repeat(value, copies: int):
    if torch.is_tensor(value):
        return value.repeat(copies, *([1] * (value.ndim - 1)))
    if isinstance(value, tuple):
        return tuple(_repeat(v, copies) for v in value)
    return value


class SharedPrefix:
    """Hooks that make the U-Net compute its prompt-independent prefix once per row.

    Installed for the lifetime of a model (gradient checkpointing re-runs these modules during
    backward, which must see the same hooks); ``enabled`` switches the sharing on and off. Only
    valid while every U-Net batch is prompt-major with P identical copies of each row.
    """

    def __init__(self, unet: UNet2DConditionModel, num_prompts: int) -> None:
        self.num_prompts = num_prompts
        self.enabled = num_prompts > 1
        self.modules = prefix_modules(unet) if num_prompts > 1 else []
        self._sharing: dict[int, bool] = {}
        self._handles = []
        for module in self.modules:
            self._handles.append(module.register_forward_pre_hook(self._before, with_kwargs=True))
            self._handles.append(module.register_forward_hook(self._after, with_kwargs=True))

    def _before(self, module, args, kwargs):
        batch = args[0].shape[0] if args else next(iter(kwargs.values())).shape[0]
        sharing = self.enabled and batch % self.num_prompts == 0
        self._sharing[id(module)] = sharing
        if not sharing:
            return None
        rows = batch // self.num_prompts
        return (
            tuple(_first_rows(a, batch, rows) for a in args),
            {k: _first_rows(v, batch, rows) for k, v in kwargs.items()},
        )

    def _after(self, module, args, kwargs, output):
        if self._sharing.pop(id(module), False):
            return _repeat(output, self.num_prompts)
        return output

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
