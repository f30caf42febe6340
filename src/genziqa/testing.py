"""Tiny, randomly initialised Stable-Diffusion-shaped backbones for tests, CI and demos.

The real weights cannot be downloaded everywhere, so every path of genziqa (loading, scoring,
training, the CLI) is exercised on a tiny model with the real structure: a U-Net with
cross-attention in its down, mid and up blocks (4 ``attn2`` layers, at 16x16 for a 64 px
image), a VAE that downsamples 2x, a CLIP text encoder and a byte-level CLIP BPE tokenizer
built offline. It is written to disk in the
diffusers layout and loaded back through the same loader users use, so tests cover the real
loading code. Weights are seeded: the same torch version gives the same model everywhere.

The registered backbone name ``genziqa-tiny-sd`` builds it once into the genziqa cache
(``$GENZIQA_CACHE`` or ``~/.cache/genziqa``). Its scores mean nothing about image quality.

Real-size U-Net configs (SD 1.5, SD 2.1-base) are here too, for layout and speed checks with
random weights, and a writer of checkpoints in the official research code's layout
(``write_official_checkpoint``) for the importer's tests and demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .io.durable import atomic_folder
from .pretrained import genziqa_cache_dir

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

    from .model import GenzIQA

TINY_BACKBONE_VERSION = 4
TINY_SEED = 0

# The published configs of the two reference U-Nets (weights are not needed for layout tests).
SD15_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}
SD21_BASE_UNET_CONFIG: dict[str, Any] = {
    **SD15_UNET_CONFIG,
    "attention_head_dim": [5, 10, 20, 20],
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
}
SD_VAE_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
# SD 2.1-base's scheduler folder: PNDM with the scaled-linear schedule (GenzIQA builds Euler
# from it).
SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

# Chosen by measurement (see the README's training demo): with 32x32 latents and attention at
# 16x16 the tiny model can learn quality cues on the synthetic benchmark; a 4x-downsampling VAE
# (16x16 latents) kept too little of the fine detail that noise, blur and JPEG change.
TINY_UNET_CONFIG: dict[str, Any] = {
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "cross_attention_dim": 32,
    "attention_head_dim": [2, 4],
    "use_linear_projection": True,
    "norm_num_groups": 32,
}
TINY_VAE_CONFIG: dict[str, Any] = {
    "block_out_channels": [32, 64],
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
    "latent_channels": 4,
    "sample_size": 64,
    "norm_num_groups": 32,
    # As SD's 0.18215 does for its VAE: latents of photos get about unit standard deviation
    # (the random tiny encoder's raw latents have std ~0.25), so noise and image are balanced.
    "scaling_factor": 4.0,
}
TINY_WORDS = (
    "a",
    "good",
    "bad",
    "photo",
    "picture",
    "image",
    "of",
    "the",
    "high",
    "low",
    "quality",
    "sharp",
    "blurry",
    "noisy",
    "clean",
    "excellent",
    "poor",
    "nice",
    "ugly",
)


def _bytes_to_unicode() -> list[str]:
    """CLIP's byte-to-printable-character table (the base alphabet of its BPE)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def tiny_tokenizer(max_length: int = 77) -> CLIPTokenizer:
    """A byte-level CLIP BPE tokenizer with a small vocabulary, built offline.

    Every byte is a token (so any text tokenizes), plus whole-word merges for ``TINY_WORDS``.
    """
    from transformers import CLIPTokenizer

    alphabet = _bytes_to_unicode()
    tokens = alphabet + [c + "</w>" for c in alphabet]
    merges: list[tuple[str, str]] = []
    for word in TINY_WORDS:
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            merged = parts[0] + parts[1]
            if (parts[0], parts[1]) not in merges:
                merges.append((parts[0], parts[1]))
                if merged not in tokens:
                    tokens.append(merged)
            parts = [merged, *parts[2:]]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    tokenizer.model_max_length = max_length
    return tokenizer


def build_tiny_components(prediction_type: str = "epsilon", seed: int = TINY_SEED) -> dict:
    """Tiny seeded SD components: the same weights for the same seed and torch version."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**TINY_UNET_CONFIG)
        torch.manual_seed(seed + 1)
        vae = AutoencoderKL(**TINY_VAE_CONFIG)
        torch.manual_seed(seed + 2)
        text_config = CLIPTextConfig(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            projection_dim=32,
        )
        text_encoder = CLIPTextModel(text_config)
    scheduler = PNDMScheduler.from_config(
        {**SD_SCHEDULER_CONFIG, "prediction_type": prediction_type}
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }


def save_tiny_backbone(path: str | Path, prediction_type: str = "epsilon") -> Path:
    """Write the tiny backbone to ``path`` in the diffusers Stable Diffusion folder layout."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        **build_tiny_components(prediction_type),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    path = Path(path)
    pipe.save_pretrained(path, safe_serialization=True)
    return path


def tiny_backbone_path() -> Path:
    """The tiny backbone's folder in the genziqa cache, built on first use (about a second)."""
    target = genziqa_cache_dir() / f"tiny-sd-v{TINY_BACKBONE_VERSION}-torch{torch.__version__}"
    if (target / "model_index.json").is_file():
        return target
    with atomic_folder(target, replace=False) as staging:  # another process may win: identical
        save_tiny_backbone(staging)
    return target


# ------------------------------------------- checkpoints in the official research code's layout

# The official processor's attributes and the diffusers modules they adapt.
OFFICIAL_PROJECTIONS = {"to_q": "to_q", "to_k": "to_k", "to_v": "to_v", "to_out": "to_out.0"}


def official_prompt_learner_state(
    model: GenzIQA, class_words: tuple[str, str] = ("Good Photo", "Bad Photo")
) -> dict[str, torch.Tensor]:
    """The official PromptLearner's state dict for ``model``'s context, built as it builds it:
    ``ctx`` and the frozen token embeddings of ``"X X .. X Good Photo."`` padded to 77 around
    the context slots (``token_prefix``, ``token_suffix``)."""
    tokenizer = model.tokenizer
    n_ctx = model.prompts.ctx.shape[0]
    prompts = [" ".join(["X"] * n_ctx) + " " + words + "." for words in class_words]
    ids = tokenizer(
        prompts, padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt"
    )["input_ids"]
    embedding = model.text_encoder.get_input_embeddings()(ids).detach()
    return {
        "ctx": model.prompts.ctx.detach().clone(),
        "token_prefix": embedding[:, :1].clone(),
        "token_suffix": embedding[:, 1 + n_ctx :].clone(),
    }


def official_lora_state(model: GenzIQA, rank: int = 4) -> dict[str, torch.Tensor]:
    """``unet.save_attn_procs()``'s dict for ``model``'s LoRA, keyed
    ``<processor>.to_{q,k,v,out}_lora.{down,up}.weight``; attn1 at its frozen initial value
    (down ~ N(0, 1/rank^2), up = 0), as the official trainer leaves it."""
    parameters = dict(model.named_parameters())
    generator = torch.Generator().manual_seed(7)
    state = {}
    for processor in model.unet.attn_processors:
        module = processor.removesuffix(".processor")
        attention = model.unet.get_submodule(module)
        for name, path in OFFICIAL_PROJECTIONS.items():
            if module.endswith(".attn2"):
                down = parameters[f"unet.{module}.{path}.lora_A.genziqa.weight"].detach()
                up = parameters[f"unet.{module}.{path}.lora_B.genziqa.weight"].detach()
            else:
                linear = attention.get_submodule(path)
                down = torch.randn(rank, linear.in_features, generator=generator) / rank
                up = torch.zeros(linear.out_features, rank)
            state[f"{processor}.{name}_lora.down.weight"] = down.clone()
            state[f"{processor}.{name}_lora.up.weight"] = up.clone()
    return state


def write_official_checkpoint(folder: str | Path, seed: int = 5) -> tuple[Path, Path]:
    """A tiny model with seeded random context and LoRA, written as the official trainer
    writes a checkpoint: ``coop_Model_state_dict.pth`` and ``pytorch_model.bin`` (torch.save,
    as it does; genziqa reads them back with ``weights_only=True``). For the demo of
    ``genziqa import-official``; the scores mean nothing."""
    from .model import GenzIQA

    model = GenzIQA.from_pretrained("genziqa-tiny")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.trainable_parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    coop, lora = folder / "coop_Model_state_dict.pth", folder / "pytorch_model.bin"
    torch.save(official_prompt_learner_state(model), coop)
    torch.save(official_lora_state(model), lora)
    return coop, lora
