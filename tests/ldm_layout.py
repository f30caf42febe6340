"""Test helper: write a diffusers SD model as one original-layout (LDM) .safetensors file.

Users' single-file checkpoints (``v1-5-pruned-emaonly.safetensors`` and the like) use the
original CompVis key layout, so the tiny test model is written that way too and read back
through diffusers' own ``from_single_file`` conversion. Only what the tiny SD-1-style model
needs is mapped; ``check_round_trip`` proves the mapping with diffusers' converters.
"""

from __future__ import annotations

import torch

_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_UNET_TOP = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def unet_to_ldm(state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    per_block = config["layers_per_block"] + 1
    has_attention = {i: "CrossAttn" in kind for i, kind in enumerate(config["up_block_types"])}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        new = None
        for old_prefix, ldm_prefix in _UNET_TOP.items():
            if key.startswith(old_prefix + "."):
                new = ldm_prefix + key[len(old_prefix) :]
        if parts[0] == "down_blocks":
            block = int(parts[1])
            if parts[2] == "resnets":
                layer = 1 + block * per_block + int(parts[3])
                new = f"input_blocks.{layer}.0." + _resnet(parts[4:])
            elif parts[2] == "attentions":
                layer = 1 + block * per_block + int(parts[3])
                new = f"input_blocks.{layer}.1." + ".".join(parts[4:])
            elif parts[2] == "downsamplers":
                new = f"input_blocks.{(block + 1) * per_block}.0.op." + parts[-1]
        elif parts[0] == "mid_block":
            if parts[1] == "resnets":
                new = f"middle_block.{2 * int(parts[2])}." + _resnet(parts[3:])
            else:
                new = "middle_block.1." + ".".join(parts[3:])
        elif parts[0] == "up_blocks":
            block = int(parts[1])
            if parts[2] == "resnets":
                new = f"output_blocks.{block * per_block + int(parts[3])}.0." + _resnet(parts[4:])
            elif parts[2] == "attentions":
                layer = block * per_block + int(parts[3])
                new = f"output_blocks.{layer}.1." + ".".join(parts[4:])
            elif parts[2] == "upsamplers":
                index = 2 if has_attention[block] else 1
                new = f"output_blocks.{block * per_block + per_block - 1}.{index}.conv." + parts[-1]
        if new is None:
            raise KeyError(f"no LDM name for U-Net key {key}")
        out["model.diffusion_model." + new] = value
    return out


def _resnet(parts: list[str]) -> str:
    return _RESNET[parts[0]] + "." + ".".join(parts[1:])


def vae_to_ldm(state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    blocks = len(config["down_block_types"])
    out = {}
    for key, value in state.items():
        new = (
            key.replace("conv_norm_out", "norm_out")
            .replace("conv_shortcut", "nin_shortcut")
            .replace("mid_block.resnets.0", "mid.block_1")
            .replace("mid_block.resnets.1", "mid.block_2")
            .replace("mid_block.attentions.0", "mid.attn_1")
        )
        parts = new.split(".")
        if parts[1] == "down_blocks":
            tail = parts[3:]
            if tail[0] == "resnets":
                new = ".".join([parts[0], "down", parts[2], "block", *tail[1:]])
            else:
                new = ".".join([parts[0], "down", parts[2], "downsample", *tail[2:]])
        elif parts[1] == "up_blocks":
            index = str(blocks - 1 - int(parts[2]))
            tail = parts[3:]
            if tail[0] == "resnets":
                new = ".".join([parts[0], "up", index, "block", *tail[1:]])
            else:
                new = ".".join([parts[0], "up", index, "upsample", *tail[2:]])
        if ".mid.attn_1." in new:
            new = (
                new.replace("group_norm", "norm")
                .replace("to_q", "q")
                .replace("to_k", "k")
                .replace("to_v", "v")
                .replace("to_out.0", "proj_out")
            )
            if value.ndim == 2:
                value = value[:, :, None, None]
        out["first_stage_model." + new] = value
    return out


def text_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SD 1.x stores the transformers CLIP text model under ``cond_stage_model.transformer``."""
    return {f"cond_stage_model.transformer.text_model.{k}": v for k, v in state.items()}


def pipeline_to_ldm(unet, vae, text_encoder) -> dict[str, torch.Tensor]:
    return {
        **unet_to_ldm(unet.state_dict(), dict(unet.config)),
        **vae_to_ldm(vae.state_dict(), dict(vae.config)),
        **text_to_ldm(text_encoder.state_dict()),
    }


def check_round_trip(checkpoint: dict[str, torch.Tensor], unet, vae) -> None:
    """diffusers' own LDM converters must give back exactly the original U-Net and VAE."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )

    for converted, module in (
        (convert_ldm_unet_checkpoint(checkpoint, dict(unet.config)), unet),
        (convert_ldm_vae_checkpoint(checkpoint, dict(vae.config)), vae),
    ):
        original = module.state_dict()
        if set(converted) != set(original):
            missing = sorted(set(original) - set(converted))[:5]
            extra = sorted(set(converted) - set(original))[:5]
            raise AssertionError(f"LDM round trip keys differ: missing {missing}, extra {extra}")
        for key, value in original.items():
            if not torch.equal(converted[key].reshape(value.shape), value):
                raise AssertionError(f"LDM round trip changed {key}")
