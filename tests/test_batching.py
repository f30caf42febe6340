from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel

from genziqa.attention import cross_attention_layers
from genziqa.batching import prefix_modules
from genziqa.testing import SD21_BASE_UNET_CONFIG

from .conftest import assert_same_gradients, trained_gradients


def test_prefix_on_the_sd_layout_is_the_first_resnet_and_self_attention() -> None:
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SD21_BASE_UNET_CONFIG)
    modules = prefix_modules(unet, cross_attention_layers(unet)[0])
    assert modules == [
        unet.down_blocks[0].resnets[0],
        unet.get_submodule("down_blocks.0.attentions.0.transformer_blocks.0.attn1"),
    ]


def test_prefix_on_the_tiny_layout_includes_the_plain_first_block(tiny_model) -> None:
    unet = tiny_model.unet
    assert prefix_modules(unet, cross_attention_layers(unet)[0]) == [
        unet.down_blocks[0],
        unet.down_blocks[1].resnets[0],
        unet.get_submodule("down_blocks.1.attentions.0.transformer_blocks.0.attn1"),
    ]


def _prompt_major_batch(rows: int = 3):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(rows, 4, 32, 32, generator=generator)
    timesteps = torch.tensor([9, 50, 93][:rows])
    context = torch.randn(2, 77, 32, generator=generator).repeat_interleave(rows, dim=0)
    return sample.repeat(2, 1, 1, 1), timesteps.repeat(2), context


def test_shared_prefix_matches_the_full_computation_on_half_the_rows(tiny_model) -> None:
    unet = tiny_model.unet
    sample, timesteps, context = _prompt_major_batch()
    seen = []
    first_attn1 = prefix_modules(unet, cross_attention_layers(unet)[0])[-1]
    hook = first_attn1.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape[0]))
    with torch.no_grad():
        tiny_model.shared_prefix.enabled = False
        full = unet(sample, timesteps, context).sample
        tiny_model.shared_prefix.enabled = True
        shared = unet(sample, timesteps, context).sample
    hook.remove()
    assert seen == [6, 3]  # hooks see the pre-hook's output: half the rows when shared
    torch.testing.assert_close(shared, full, rtol=1e-5, atol=1e-5)
    # A batch that is not P copies (odd size) is computed whole, not corrupted.
    with torch.no_grad():
        odd = unet(sample[:5], timesteps[:5], context[:5]).sample
        tiny_model.shared_prefix.enabled = False
        odd_full = unet(sample[:5], timesteps[:5], context[:5]).sample
    torch.testing.assert_close(odd, odd_full)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_gradients_are_the_same_with_and_without_sharing(tiny_config, images, checkpointing):
    assert_same_gradients(
        trained_gradients(tiny_config, images, checkpointing=checkpointing, sharing=False),
        trained_gradients(tiny_config, images, checkpointing=checkpointing, sharing=True),
    )
