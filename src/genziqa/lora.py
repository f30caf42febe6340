"""Rank-4 LoRA on the cross-attention projections (to_q, to_k, to_v, to_out) only, with peft.

Self-attention, convolutions and everything else stay frozen and unadapted. The adapters are
injected through diffusers' ``add_adapter`` (peft under the hood), so the weights are ordinary
peft LoRA layers: ``lora_A`` initialised Kaiming-uniform from a seeded generator, ``lora_B`` zero,
so a fresh adapter leaves the U-Net unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers import UNet2DConditionModel
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer

from .config import LoRAConfig

ADAPTER_NAME = "genziqa"


def target_pattern(targets: tuple[str, ...]) -> str:
    """peft regex matching the given projections of every ``attn2`` module, and nothing else."""
    alternatives = "|".join(re.escape(t) for t in targets)
    return rf".*\.attn2\.({alternatives})$"


def add_cross_attention_lora(
    unet: UNet2DConditionModel, config: LoRAConfig, seed: int = 0
) -> list[str]:
    """Inject LoRA into the cross-attention projections; return the adapted module names."""
    peft_config = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        target_modules=target_pattern(config.targets),
        init_lora_weights=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet.add_adapter(peft_config, adapter_name=ADAPTER_NAME)
    return adapted_modules(unet)


def adapted_modules(unet: UNet2DConditionModel) -> list[str]:
    """Names of the modules that carry a LoRA adapter."""
    return [name for name, module in unet.named_modules() if isinstance(module, BaseTunerLayer)]


def merge_lora(unet: UNet2DConditionModel) -> int:
    """Fold every LoRA update into its base weight (exact up to float rounding); for scoring.

    The one merge path: ``GenzIQA.merge_lora`` (the CLI, the service, evaluation) and
    ``merged_lora`` (temporary) both come here. After merging, the adapters no longer run, so
    the layers cost what the plain U-Net costs, and their parameters are frozen. Returns the
    number of layers it merged.
    """
    layers = [m for m in unet.modules() if isinstance(m, BaseTunerLayer) and not m.merged]
    for layer in layers:
        layer.merge()
        for name in layer.adapter_layer_names:
            for parameter in getattr(layer, name).parameters():
                parameter.requires_grad_(False)
    return len(layers)


@contextmanager
def merged_lora(unet: UNet2DConditionModel) -> Iterator[int]:
    """LoRA merged (``merge_lora``) inside the block, the exact original state restored after.

    Unlike peft's ``unmerge`` (which subtracts the update again and so drifts by rounding),
    the base weights are copied before merging and copied back, bit for bit, and the adapter
    parameters get their ``requires_grad`` back.
    """
    layers = [m for m in unet.modules() if isinstance(m, BaseTunerLayer) and not m.merged]
    saved = [layer.get_base_layer().weight.detach().clone() for layer in layers]
    flags = [
        [
            (p, p.requires_grad)
            for name in layer.adapter_layer_names
            for p in getattr(layer, name).parameters()
        ]
        for layer in layers
    ]
    try:
        merge_lora(unet)  # inside the try: a merge failing half way is undone too
        yield len(layers)
    finally:
        with torch.no_grad():
            for layer, weight, layer_flags in zip(layers, saved, flags, strict=True):
                layer.get_base_layer().weight.copy_(weight)
                layer.merged_adapters.clear()
                for parameter, flag in layer_flags:
                    parameter.requires_grad_(flag)
