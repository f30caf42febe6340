"""The two antonym prompts, with learned context vectors shared by both (CoOp-style).

Token layout of prompt p (P = 2: p = 0 "good", p = 1 "bad"), 77 tokens:

    position="end":   [SOS] ctx_1 .. ctx_n  Good Photo .  [EOS] [pad ...]
    position="front": [SOS] Good Photo  ctx_1 .. ctx_n .  [EOS] [pad ...]

The context rows replace the token embeddings at their slots; everything else uses the frozen
token embeddings. The sequence then runs through the frozen CLIP text transformer (position
embeddings, causal mask plus the padding mask, final layer norm) and all 77 hidden states are
the cross-attention context. With ``n_ctx = 0`` the prompts are plain hand-written text.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import CLIPTextModel, PreTrainedTokenizerBase
from transformers.masking_utils import create_causal_mask

from .config import PromptConfig


def build_prompt_tokens(
    tokenizer: PreTrainedTokenizerBase, config: PromptConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids (P, L), padding mask (P, L) and context slot indices (P, n_ctx)."""
    length = tokenizer.model_max_length
    if not 0 < length <= 1024:
        raise ValueError(f"tokenizer has no usable model_max_length (got {length})")
    ids, masks, slots = [], [], []
    for words in config.class_words:
        words_ids = _tokens(tokenizer, words)
        suffix_ids = _tokens(tokenizer, config.suffix) if config.suffix else []
        ctx = [tokenizer.pad_token_id] * config.n_ctx
        if config.position == "end":
            body = ctx + words_ids + suffix_ids
            first_slot = 1
        else:
            body = words_ids + ctx + suffix_ids
            first_slot = 1 + len(words_ids)
        sequence = [tokenizer.bos_token_id, *body, tokenizer.eos_token_id]
        if len(sequence) > length:
            raise ValueError(
                f"prompt {words!r} with {config.n_ctx} context vectors needs {len(sequence)} "
                f"tokens; the text encoder takes {length}"
            )
        pad = length - len(sequence)
        ids.append(sequence + [tokenizer.pad_token_id] * pad)
        masks.append([1] * len(sequence) + [0] * pad)
        slots.append(list(range(first_slot, first_slot + config.n_ctx)))
    return (
        torch.tensor(ids, dtype=torch.long),
        torch.tensor(masks, dtype=torch.long),
        torch.tensor(slots, dtype=torch.long).view(len(ids), config.n_ctx),
    )


def _tokens(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_token_embeddings(
    text_encoder: CLIPTextModel,
    token_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
) -> torch.Tensor:
    """Run the frozen CLIP text transformer on token embeddings (P, L, D) -> hidden (P, L, D).

    The same computation as ``text_encoder(input_ids, attention_mask)`` (transformers 5), but
    starting from embeddings so that learned context rows can be spliced in.
    """
    hidden = text_encoder.embeddings(inputs_embeds=token_embeds)
    mask = create_causal_mask(
        config=text_encoder.config,
        inputs_embeds=hidden,
        attention_mask=attention_mask,
        cache=None,
    )
    hidden = text_encoder.encoder(inputs_embeds=hidden, attention_mask=mask, is_causal=True)
    return text_encoder.final_layer_norm(hidden.last_hidden_state)


class PromptLearner(nn.Module):
    """Holds the learned context and the fixed token layout of the two prompts.

    ``ctx`` (n_ctx, D) is initialised N(0, ctx_init_std^2) from a seeded generator, so a fresh
    model is the same on every run.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        embed_dim: int,
        config: PromptConfig,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.config = config
        input_ids, attention_mask, ctx_slots = build_prompt_tokens(tokenizer, config)
        self.register_buffer("input_ids", input_ids, persistent=False)
        self.register_buffer("attention_mask", attention_mask, persistent=False)
        self.register_buffer("ctx_slots", ctx_slots, persistent=False)
        if config.n_ctx > 0:
            generator = torch.Generator().manual_seed(seed)
            init = torch.randn(config.n_ctx, embed_dim, generator=generator)
            self.ctx = nn.Parameter(init * config.ctx_init_std)
        else:
            self.register_parameter("ctx", None)

    @property
    def num_prompts(self) -> int:
        return self.input_ids.shape[0]

    def token_embeddings(self, text_encoder: CLIPTextModel) -> torch.Tensor:
        """Frozen token embeddings with the context rows spliced in: (P, L, D)."""
        embeds = text_encoder.embeddings.token_embedding(self.input_ids)
        if self.ctx is None:
            return embeds
        ctx = self.ctx.to(embeds.dtype).unsqueeze(0).expand(self.num_prompts, -1, -1)
        index = self.ctx_slots.unsqueeze(-1).expand(-1, -1, embeds.shape[-1])
        return embeds.scatter(1, index, ctx)

    def forward(self, text_encoder: CLIPTextModel) -> torch.Tensor:
        """The prompt embeddings used as cross-attention context: (P, L, D)."""
        mask = self.attention_mask if self.config.padding_mask else None
        return encode_token_embeddings(text_encoder, self.token_embeddings(text_encoder), mask)
