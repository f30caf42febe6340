"""Real-size SD 1.5 and SD 2.1-base layouts, built on the meta device (no weights, no compute)."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel

from genziqa import LoRAConfig
from genziqa.attention import PooledLogits, cross_attention_layers, recording, score_processors
from genziqa.lora import add_cross_attention_lora
from genziqa.testing import SD15_UNET_CONFIG, SD21_BASE_UNET_CONFIG

from .conftest import installed

SPATIAL_512 = [64, 64, 32, 32, 16, 16, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64]
HEADS = {
    "sd15": [8] * 16,
    "sd21-base": [5, 5, 10, 10, 20, 20, 20, 20, 20, 20, 10, 10, 10, 5, 5, 5],
}
CONFIGS = {"sd15": SD15_UNET_CONFIG, "sd21-base": SD21_BASE_UNET_CONFIG}
# rank 4 x (in + out) over to_q, to_k, to_v, to_out of the 16 layers (METHOD: ~0.43 M on SD 2.1)
LORA_PARAMS = {"sd15": 397_824, "sd21-base": 430_592}


@pytest.fixture(params=["sd15", "sd21-base"])
def real_unet(request):
    with torch.device("meta"):
        unet = UNet2DConditionModel(**CONFIGS[request.param])
    return request.param, unet


def test_sixteen_cross_attention_layers_with_expected_sizes_and_heads(real_unet) -> None:
    name, unet = real_unet
    layers = cross_attention_layers(unet)
    assert len(layers) == 16
    assert [n.split(".transformer_blocks")[0] for n in layers] == [
        *(f"down_blocks.{b}.attentions.{i}" for b in range(3) for i in range(2)),
        "mid_block.attentions.0",
        *(f"up_blocks.{b}.attentions.{i}" for b in (1, 2, 3) for i in range(3)),
    ]
    attns = [unet.get_submodule(n.removesuffix(".processor")) for n in layers]
    assert [a.heads for a in attns] == HEADS[name]
    spatial = {}
    hooks = [
        a.register_forward_hook(lambda m, args, out, n=n: spatial.__setitem__(n, args[0].shape[1]))
        for a, n in zip(attns, layers, strict=True)
    ]
    processors = score_processors(unet)
    pooled = PooledLogits(0.14)
    width = unet.config.cross_attention_dim
    with torch.no_grad(), installed(unet, processors), recording(processors, [pooled]):
        out = unet(
            torch.zeros(2, 4, 64, 64, device="meta"),
            torch.tensor([9, 93], device="meta"),
            torch.zeros(2, 77, width, device="meta"),
        ).sample
    for hook in hooks:
        hook.remove()
    assert out.shape == (2, 4, 64, 64)
    assert [int(spatial[n] ** 0.5) for n in layers] == SPATIAL_512
    kept = pooled.take()
    assert [tuple(kept[n][0].shape) for n in layers] == [(2, h, 77) for h in HEADS[name]]


def test_lora_on_the_sixteen_layers_only(real_unet) -> None:
    name, unet = real_unet
    modules = add_cross_attention_lora(unet, LoRAConfig())
    assert len(modules) == 64
    assert {m.split(".transformer_blocks")[0] for m in modules} == {
        n.split(".transformer_blocks")[0] for n in cross_attention_layers(unet)
    }
    lora = sum(p.numel() for n, p in unet.named_parameters() if "lora_" in n)
    assert lora == LORA_PARAMS[name]
    # With 16 x D context vectors the trained model stays under 2 MB in float32.
    context = 16 * unet.config.cross_attention_dim
    assert (lora + context) * 4 < 2 * 1024 * 1024


def test_official_checkpoint_writer_uses_the_official_file_names_and_keys(tmp_path) -> None:
    from genziqa.integrations.official import read_state_dict
    from genziqa.testing import write_official_checkpoint

    coop, lora = write_official_checkpoint(tmp_path)
    assert (coop.name, lora.name) == ("coop_Model_state_dict.pth", "pytorch_model.bin")
    assert set(read_state_dict(coop, "prompt learner")) == {"ctx", "token_prefix", "token_suffix"}
    keys = read_state_dict(lora, "LoRA file")
    assert any(k.endswith("attn2.processor.to_q_lora.down.weight") for k in keys)
    assert any(k.endswith("attn1.processor.to_out_lora.up.weight") for k in keys)
