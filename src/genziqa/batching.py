"""How U-Net rows are laid out and cut into calls of a fixed size.

A row is one (latent, timestep) pair; the U-Net batch holds every row once per prompt,
prompt-major: [p=0: rows 0..n-1, p=1: the same n rows, ...] (``repeat_for_prompts``), and
whatever a layer records comes back in that layout, (P * n, ...) -> (P, n, ...)
(``split_prompts``). An image's K timestep rows are consecutive (image-major, then timestep).

Fixed-size chunks: kernels can round differently for different batch sizes, so every scoring
call of the VAE and the U-Net has the same shape; the last chunk is zero-padded and the padding
rows dropped. A row's score is then bit-identical whatever else is in the batch.

Shared prefix: until the first cross-attention reads the prompt, all P copies of a row are
computed identically: the down blocks before it, the ResNet blocks before it in its own block,
and the self-attention (``attn1``) of its transformer block. On SD 1.5 and 2.x that is
``down_blocks.0.resnets.0`` and the first ``attn1`` at 64x64: about 6% of a U-Net evaluation,
done once instead of twice. Forward hooks on those modules pass only the first n rows of every
batch-sized tensor argument and repeat each output P times. The arithmetic per row is the same,
so results match the unshared U-Net up to float rounding (tested), and autograd sees a plain
``repeat`` (its backward sums the copies' gradients, which is exact).
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from torch import nn


def repeat_for_prompts(x: torch.Tensor, num_prompts: int) -> torch.Tensor:
    """(n, ...) -> (P * n, ...), prompt-major: rows [p=0: all n, p=1: all n, ...]."""
    return x.repeat(num_prompts, *([1] * (x.ndim - 1)))


def split_prompts(x: torch.Tensor, num_prompts: int) -> torch.Tensor:
    """(P * n, ...) -> (P, n, ...): the inverse of ``repeat_for_prompts``'s layout."""
    return x.view(num_prompts, x.shape[0] // num_prompts, *x.shape[1:])


def fixed_chunks(rows: torch.Tensor, size: int, pad: bool) -> list[torch.Tensor]:
    """Split into chunks of ``size`` rows; with ``pad`` the last one is zero-padded to ``size``."""
    chunks = list(rows.split(size))
    short = size - chunks[-1].shape[0]
    if short and pad:
        padding = rows.new_zeros((short, *rows.shape[1:]))
        chunks[-1] = torch.cat([chunks[-1], padding])
    return chunks


def rows_per_call(unet_batch_size: int, steps: int, num_prompts: int) -> int:
    """(latent, timestep) rows per U-Net call, each run for the P prompts: whole images' K rows
    when ``unet_batch_size`` holds K x P, else the largest group of one image's timesteps that
    fits (so an image's rows start at fixed offsets in every call)."""
    if unet_batch_size < num_prompts:
        raise ValueError(
            f"unet_batch_size must be at least the number of prompts ({num_prompts}), "
            f"got {unet_batch_size}"
        )
    if unet_batch_size >= steps * num_prompts:
        return unet_batch_size // (steps * num_prompts) * steps
    return max(
        g for g in range(1, steps + 1) if steps % g == 0 and g * num_prompts <= unet_batch_size
    )


def unchunk(calls: list[torch.Tensor], num_prompts: int, rows: int) -> torch.Tensor:
    """What a layer recorded in each call, (P * n, ...) per call -> (P, rows, ...) for the real
    rows in order (padding dropped)."""
    return torch.cat([split_prompts(c, num_prompts) for c in calls], dim=1)[:, :rows]


def prefix_modules(unet: UNet2DConditionModel, first_layer: str) -> list[nn.Module]:
    """The largest modules that run before the first cross-attention (``first_layer``, its
    processor name), in order."""
    first = first_layer.removesuffix(".attn2.processor")
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

    def __init__(self, unet: UNet2DConditionModel, first_layer: str, num_prompts: int) -> None:
        self.num_prompts = num_prompts
        self.enabled = num_prompts > 1
        self.modules = prefix_modules(unet, first_layer) if num_prompts > 1 else []
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
