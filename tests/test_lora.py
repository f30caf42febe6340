from __future__ import annotations

import pytest
import torch

from genziqa import LoRAConfig, load_backbone
from genziqa.lora import (
    adapted_modules,
    add_cross_attention_lora,
    merge_lora,
    merged_lora,
    target_pattern,
)


@pytest.fixture()
def unet(tiny_backbone_dir):
    return load_backbone(str(tiny_backbone_dir), local_files_only=True).unet


def _run(unet):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 32, 32, generator=generator)
    context = torch.randn(2, 77, 32, generator=generator)
    with torch.no_grad():
        return unet(sample, torch.tensor([9, 93]), context).sample


def test_lora_only_on_cross_attention_projections(unet) -> None:
    names = add_cross_attention_lora(unet, LoRAConfig())
    assert len(names) == 4 * 4
    assert all(".attn2." in name for name in names)
    suffixes = sorted({name.split(".attn2.")[1] for name in names})
    assert suffixes == ["to_k", "to_out.0", "to_q", "to_v"]
    assert adapted_modules(unet) == names
    trainable = [n for n, p in unet.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and ".attn2." in n for n in trainable)
    ranks = {p.shape[0] for n, p in unet.named_parameters() if "lora_A" in n}
    assert ranks == {4}


def test_pattern_does_not_match_self_attention() -> None:
    import re

    pattern = target_pattern(("to_q", "to_out.0"))
    assert re.fullmatch(pattern, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_q")
    assert re.fullmatch(pattern, "mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0")
    assert not re.fullmatch(pattern, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q")
    assert not re.fullmatch(pattern, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k")


def test_fresh_lora_is_an_identity_and_seeded(unet, tiny_backbone_dir) -> None:
    before = _run(unet)
    add_cross_attention_lora(unet, LoRAConfig(), seed=3)
    assert torch.equal(_run(unet), before)
    other = load_backbone(str(tiny_backbone_dir), local_files_only=True).unet
    add_cross_attention_lora(other, LoRAConfig(), seed=3)
    a = {n: p for n, p in unet.named_parameters() if "lora_A" in n}
    b = {n: p for n, p in other.named_parameters() if "lora_A" in n}
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_merge_is_exact_up_to_rounding(unet) -> None:
    add_cross_attention_lora(unet, LoRAConfig())
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    unmerged = _run(unet)
    assert merge_lora(unet) == 16
    merged = _run(unet)
    torch.testing.assert_close(merged, unmerged, rtol=1e-5, atol=1e-5)
    assert not any(p.requires_grad for n, p in unet.named_parameters() if "lora_" in n)
    assert merge_lora(unet) == 0  # idempotent


def test_temporary_merge_restores_the_exact_weights(unet) -> None:
    add_cross_attention_lora(unet, LoRAConfig())
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05, generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    unmerged = _run(unet)
    with merged_lora(unet) as count:
        assert count == 16
        torch.testing.assert_close(_run(unet), unmerged, rtol=1e-5, atol=1e-5)
    after = unet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(_run(unet), unmerged)
