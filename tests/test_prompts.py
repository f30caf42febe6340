from __future__ import annotations

import pytest
import torch

from genziqa import PromptConfig, load_backbone
from genziqa.prompts import PromptLearner, build_prompt_tokens


@pytest.fixture(scope="module")
def backbone(tiny_backbone_dir):
    return load_backbone(str(tiny_backbone_dir), local_files_only=True)


def _decode(tokenizer, ids) -> list[str]:
    return tokenizer.convert_ids_to_tokens(ids.tolist())


def test_token_layout_class_words_at_the_end(backbone) -> None:
    tok = backbone.tokenizer
    ids, mask, slots = build_prompt_tokens(tok, PromptConfig(n_ctx=4))
    assert ids.shape == mask.shape == (2, 77)
    good = _decode(tok, ids[0])
    assert good[0] == "<|startoftext|>"
    assert good[5:9] == ["good</w>", "photo</w>", ".</w>", "<|endoftext|>"]
    assert _decode(tok, ids[1])[5:7] == ["bad</w>", "photo</w>"]
    assert slots.tolist() == [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert mask[0].sum() == 9 and mask[0, 9:].sum() == 0


def test_token_layout_class_words_in_front(backbone) -> None:
    tok = backbone.tokenizer
    ids, _, slots = build_prompt_tokens(tok, PromptConfig(n_ctx=3, position="front"))
    assert _decode(tok, ids[0])[1:3] == ["good</w>", "photo</w>"]
    assert slots[0].tolist() == [3, 4, 5]
    assert _decode(tok, ids[0])[6:8] == [".</w>", "<|endoftext|>"]


def test_too_many_context_tokens_is_an_error(backbone) -> None:
    with pytest.raises(ValueError, match="needs 79 tokens; the text encoder takes 77"):
        build_prompt_tokens(backbone.tokenizer, PromptConfig(n_ctx=74))


@pytest.mark.parametrize("padding_mask", [True, False])
def test_spliced_embeddings_equal_the_text_encoder_exactly(backbone, padding_mask) -> None:
    """With the context set to the real token embeddings, our path is the model's own."""
    config = PromptConfig(n_ctx=4, padding_mask=padding_mask)
    learner = PromptLearner(backbone.tokenizer, 32, config)
    token_embedding = backbone.text_encoder.embeddings.token_embedding
    words_ids = backbone.tokenizer("a good photo of", add_special_tokens=False)["input_ids"]
    ids = learner.input_ids.clone()
    ids[:, 1:5] = torch.tensor(words_ids)
    with torch.no_grad():
        learner.ctx.copy_(token_embedding(torch.tensor(words_ids)))
        ours = learner(backbone.text_encoder)
        mask = learner.attention_mask if padding_mask else None
        theirs = backbone.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(ours, theirs)


def test_padding_mask_changes_only_padding_positions(backbone) -> None:
    with_mask = PromptLearner(backbone.tokenizer, 32, PromptConfig(n_ctx=4))
    without = PromptLearner(backbone.tokenizer, 32, PromptConfig(n_ctx=4, padding_mask=False))
    with torch.no_grad():
        a, b = with_mask(backbone.text_encoder), without(backbone.text_encoder)
    real = with_mask.attention_mask.bool()
    torch.testing.assert_close(a[real], b[real])  # causal attention: real tokens never see pads
    assert not torch.allclose(a[~real], b[~real])


def test_context_is_shared_seeded_and_trainable(backbone) -> None:
    a = PromptLearner(backbone.tokenizer, 32, PromptConfig(), seed=0)
    b = PromptLearner(backbone.tokenizer, 32, PromptConfig(), seed=0)
    assert torch.equal(a.ctx, b.ctx) and a.ctx.shape == (16, 32)
    assert 0.015 < a.ctx.std().item() < 0.025
    embeds = a.token_embeddings(backbone.text_encoder)
    torch.testing.assert_close(embeds[0, 1:17], a.ctx)
    torch.testing.assert_close(embeds[1, 1:17], a.ctx)
    out = a(backbone.text_encoder)
    out.sum().backward()
    assert a.ctx.grad is not None and a.ctx.grad.abs().sum() > 0


def test_hand_written_prompts_have_no_context(backbone) -> None:
    learner = PromptLearner(
        backbone.tokenizer, 32, PromptConfig(class_words=("a good photo", "a bad photo"), n_ctx=0)
    )
    assert learner.ctx is None
    ids = backbone.tokenizer(["a good photo.", "a bad photo."], padding="max_length")["input_ids"]
    assert learner.input_ids.tolist() == ids
    with torch.no_grad():
        expected = backbone.text_encoder(
            input_ids=learner.input_ids, attention_mask=learner.attention_mask
        ).last_hidden_state
        torch.testing.assert_close(learner(backbone.text_encoder), expected)
