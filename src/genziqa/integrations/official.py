"""Checkpoints of the official GenzIQA research code -> a genziqa model folder.

The official trainer (``genziqa_train.py`` in the authors' repository, on a vendored diffusers
0.17.0.dev0) writes two files per checkpoint:

- ``coop_states/<ckpt>/coop_Model_state_dict.pth``: ``prompt_learner.state_dict()``, a
  ``torch.save`` pickle with ``ctx`` (n_ctx, D), ``token_prefix`` (2, 1, D) and
  ``token_suffix`` (2, 77 - 1 - n_ctx, D): the frozen token embeddings of
  ``"X X .. X Good Photo."`` / ``"... Bad Photo."`` padded to 77, around the context slots;
- ``unet_states/<ckpt>/pytorch_model.bin`` (the vendored diffusers' ``LORA_WEIGHT_NAME``;
  upstream diffusers called it ``pytorch_lora_weights.bin``, or ``.safetensors`` with
  ``safe_serialization=True``): ``unet.save_attn_procs()``, i.e. ``AttnProcsLayers`` over
  every attention processor, keys ``<processor name>.to_{q,k,v,out}_lora.{down,up}.weight``
  such as ``down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_q_lora.down
  .weight``; ``down`` is (rank, in_features), ``up`` (out_features, rank).

How the official processor (``LoRAAttnProcessor`` of the vendored ``attention_processor.py``)
applies them, and what we map them to:

- cross-attention (``attn2``): ``to_x(h) + scale * up(down(h))`` for q, k, v and out, with
  ``scale = 1`` (no ``cross_attention_kwargs`` anywhere) and ``network_alpha = None`` (no
  extra factor). genziqa's peft LoRA computes ``base(h) + lora_B(lora_A(h)) * alpha / rank``,
  so ``lora_A = down``, ``lora_B = up`` and ``alpha = rank`` reproduce it exactly;
- self-attention (``attn1``): only the query gets ``+ up(down(h))``; its k, v and out entries
  are saved but never applied. The trainer freezes every attn1 entry at its initial value
  (``up = 0``), so they are zero in every checkpoint it writes. A genziqa model folder holds
  LoRA on ``attn2`` only: non-zero attn1 query LoRA can be applied in memory
  (``load_official``) but not saved (``import_official`` says so and stops).

Every file is read as data: ``.pth``/``.pt``/``.bin`` with ``torch.load(weights_only=True)``,
``.safetensors`` with safetensors. The image part here (``read_official_prompt_learner``,
``read_official_lora``) is what a GenzVQA importer reuses; the video trainer's extra files
(``slowAttn.pth``, ``fastAttn.pth``, ``linearBlocks.pth``) belong to that importer.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..backbone import Backbone, load_backbone
from ..config import BackboneConfig, GenzIQAConfig, LoRAConfig, PromptConfig
from ..lora import ADAPTER_NAME
from ..model import CONFIG_NAME, GenzIQA
from ..pretrained import BACKBONE_ALIASES, LOCAL_BACKBONES, write_model_card
from ..prompts import build_prompt_tokens

PROMPT_LEARNER_KEYS = ("ctx", "token_prefix", "token_suffix")
# The official processor's attribute -> the diffusers module it adapts inside an Attention.
PROJECTIONS = {"to_q": "to_q", "to_k": "to_k", "to_v": "to_v", "to_out": "to_out.0"}
PICKLE_SUFFIXES = (".pth", ".pt", ".bin")


class OfficialCheckpointError(ValueError):
    """An official checkpoint file cannot be imported; the message names the file and key."""


@dataclass
class OfficialPrompts:
    """The learned context of an official prompt learner and the class words it was made for."""

    ctx: torch.Tensor  # (n_ctx, D)
    class_words: tuple[str, str]

    @property
    def n_ctx(self) -> int:
        return int(self.ctx.shape[0])


@dataclass
class OfficialLoRA:
    """The LoRA of an official ``save_attn_procs`` file, in genziqa's terms.

    ``cross_attention``: genziqa parameter names (``unet.<attn2 path>.<proj>.lora_{A,B}...``)
    -> tensors. ``self_attention_query``: attn1 module path -> (down, up) for every attn1 whose
    query update is non-zero (the official processor applies it; empty for official files).
    ``notes``: what a user should know (ignored non-zero entries).
    """

    rank: int
    cross_attention: dict[str, torch.Tensor]
    self_attention_query: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class OfficialImport:
    """The result of an import: the model, the folder written (if any), and notes."""

    model: GenzIQA
    folder: Path | None
    class_words: tuple[str, str]
    rank: int
    n_ctx: int
    notes: list[str]
    self_attention_query: list[str] = field(default_factory=list)  # attn1 modules adapted


# --------------------------------------------------------------------------------- reading


def read_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """A flat state dict of tensors from a foreign checkpoint file, read as data only.

    ``what`` names the file for messages (e.g. "prompt-learner file"). A ``module.`` prefix
    that DistributedDataParallel adds to every key is removed.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise OfficialCheckpointError(f"{what} {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            data = load_file(str(path))
        elif suffix in PICKLE_SUFFIXES:
            data = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise OfficialCheckpointError(
                f"{what} {path}: unknown file type {path.suffix!r}; expected "
                f"{', '.join(PICKLE_SUFFIXES)} (torch.save) or .safetensors"
            )
    except OfficialCheckpointError:
        raise
    except Exception as error:  # a foreign file: any failure means "not a readable state dict"
        first = str(error).strip().splitlines()
        raise OfficialCheckpointError(
            f"{what} {path}: not a readable tensor state dict "
            f"({first[0] if first else type(error).__name__})"
        ) from None
    if not isinstance(data, dict) or not data:
        raise OfficialCheckpointError(
            f"{what} {path}: expected a state dict (name -> tensor), got {type(data).__name__}"
            f"{' (empty)' if isinstance(data, dict) else ''}"
        )
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise OfficialCheckpointError(
                f"{what} {path}: entry {key!r} is a {type(value).__name__}, expected a tensor "
                f"(a flat state dict as torch.save(module.state_dict()) writes)"
            )
    if all(key.startswith("module.") for key in data):
        data = {key.removeprefix("module."): value for key, value in data.items()}
    return dict(data)


def _check_keys(path: Path | str, what: str, found: set[str], expected: set[str]) -> None:
    missing = sorted(expected - found)
    unexpected = sorted(found - expected)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise OfficialCheckpointError(f"{what} {path}: missing key {missing[0]!r}{more}")
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise OfficialCheckpointError(
            f"{what} {path}: unexpected key {unexpected[0]!r}{more}; this backbone's U-Net has "
            f"no such attention processor or projection"
        )


def read_official_prompt_learner(
    path: str | Path,
    tokenizer,
    text_encoder,
    default_class_words: tuple[str, str] = PromptConfig().class_words,
) -> OfficialPrompts:
    """Check an official ``coop_Model_state_dict.pth`` against this backbone's text side.

    ``token_prefix`` and ``token_suffix`` must equal the frozen token embeddings of genziqa's
    own prompt tokens: the class words are read back from the suffix (token by token, exact
    matches in the embedding table) and taken over; any other difference means another
    tokenizer, text encoder or prompt layout, and is an error. ``default_class_words`` are
    kept (spelled as given) when they tokenize to the words found.
    """
    what = "prompt-learner file"
    state = read_state_dict(path, what)
    _check_keys(path, what, set(state), set(PROMPT_LEARNER_KEYS))
    ctx, prefix, suffix = (state[key] for key in PROMPT_LEARNER_KEYS)
    table = text_encoder.get_input_embeddings().weight.detach().to("cpu")
    width = table.shape[1]
    length = tokenizer.model_max_length
    if ctx.ndim != 2 or ctx.shape[1] != width or ctx.shape[0] < 1:
        raise OfficialCheckpointError(
            f"{what} {path}: ctx has shape {tuple(ctx.shape)}, expected (n_ctx, {width}) for "
            f"this backbone's text encoder (hidden size {width})"
        )
    n_ctx = ctx.shape[0]
    expected = {"token_prefix": (2, 1, width), "token_suffix": (2, length - 1 - n_ctx, width)}
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise OfficialCheckpointError(
                f"{what} {path}: {key} has shape {tuple(state[key].shape)}, expected {shape} "
                f"(2 prompts, {length} tokens, {n_ctx} context slots, width {width})"
            )
    words = tuple(
        _class_words(path, suffix[p], table, tokenizer, p, default_class_words[p]) for p in (0, 1)
    )
    config = PromptConfig(class_words=words, n_ctx=n_ctx)
    input_ids, _, _ = build_prompt_tokens(tokenizer, config)
    ours = table[input_ids].to(prefix.dtype)
    for key, theirs, mine in (
        ("token_prefix", prefix, ours[:, :1]),
        ("token_suffix", suffix, ours[:, 1 + n_ctx :]),
    ):
        if not torch.equal(theirs, mine):
            prompt, row = (theirs != mine).any(-1).nonzero()[0].tolist()
            raise OfficialCheckpointError(
                f"{what} {path}: {key}[{prompt}, {row}] differs from this backbone's embedding "
                f"of genziqa's prompt tokens for {words[prompt]!r} (another tokenizer, text "
                f"encoder or prompt layout than '[SOS] ctx.. <class words> . [EOS] [pad..]')"
            )
    return OfficialPrompts(ctx=ctx.detach().clone(), class_words=words)  # type: ignore[arg-type]


def _class_words(
    path: Path | str,
    suffix: torch.Tensor,
    table: torch.Tensor,
    tokenizer,
    prompt: int,
    default: str,
) -> str:
    """The class words of one prompt, read back from its suffix embeddings (up to [EOS])."""
    ids: list[int] = []
    for row, embedding in enumerate(suffix):
        matches = (table.to(embedding.dtype) == embedding).all(dim=1).nonzero().flatten()
        if len(matches) == 0:
            raise OfficialCheckpointError(
                f"prompt-learner file {path}: token_suffix[{prompt}, {row}] is not the embedding "
                f"of any token of this backbone's text encoder (trained on another backbone?)"
            )
        ids.append(int(matches[0]))
        if ids[-1] == tokenizer.eos_token_id:
            break
    else:
        raise OfficialCheckpointError(
            f"prompt-learner file {path}: token_suffix[{prompt}] holds no end-of-text token"
        )
    stop = list(tokenizer(PromptConfig().suffix, add_special_tokens=False)["input_ids"])
    body = ids[:-1]
    if len(body) <= len(stop) or body[-len(stop) :] != stop:
        raise OfficialCheckpointError(
            f"prompt-learner file {path}: token_suffix[{prompt}] reads "
            f"{tokenizer.decode(body)!r}, expected '<class words>{PromptConfig().suffix}'"
        )
    word_ids = body[: -len(stop)]
    if _token_ids(tokenizer, default) == word_ids:
        return default
    text = tokenizer.decode(word_ids).strip()
    if _token_ids(tokenizer, text) != word_ids:
        raise OfficialCheckpointError(
            f"prompt-learner file {path}: the class words of prompt {prompt} (tokens {word_ids}) "
            f"cannot be written as text that tokenizes back to them"
        )
    return text


def _token_ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def official_lora_layout(unet, rank: int) -> dict[str, tuple[int, ...]]:
    """Every key (and its shape) that ``save_attn_procs`` writes for this U-Net at ``rank``.

    One processor per attention module (attn1 and attn2 of every transformer block), four
    projections each, ``down`` (rank, in_features) and ``up`` (out_features, rank).
    """
    layout: dict[str, tuple[int, ...]] = {}
    for processor in unet.attn_processors:
        attention = unet.get_submodule(processor.removesuffix(".processor"))
        for name, module_path in PROJECTIONS.items():
            linear = attention.get_submodule(module_path)
            if hasattr(linear, "base_layer"):  # already wrapped by peft
                linear = linear.base_layer
            layout[f"{processor}.{name}_lora.down.weight"] = (rank, linear.in_features)
            layout[f"{processor}.{name}_lora.up.weight"] = (linear.out_features, rank)
    return layout


def read_official_lora(path: str | Path, unet) -> OfficialLoRA:
    """Check an official ``save_attn_procs`` file against this U-Net and map it to genziqa.

    Every key of ``official_lora_layout`` must be present, nothing else, every shape must
    match, with one rank throughout.
    """
    what = "LoRA file"
    state = read_state_dict(path, what)
    first = next((k for k in state if k.endswith(".attn2.processor.to_q_lora.down.weight")), None)
    if first is None:
        raise OfficialCheckpointError(
            f"{what} {path}: no '<...>.attn2.processor.to_q_lora.down.weight' entry; not a "
            f"file written by the official trainer's unet.save_attn_procs()"
        )
    rank = int(state[first].shape[0]) if state[first].ndim == 2 else 0
    if rank < 1:
        raise OfficialCheckpointError(
            f"{what} {path}: {first} has shape {tuple(state[first].shape)}, expected (rank, in)"
        )
    layout = official_lora_layout(unet, rank)
    _check_keys(path, what, set(state), set(layout))
    for key, shape in layout.items():
        if tuple(state[key].shape) != shape:
            raise OfficialCheckpointError(
                f"{what} {path}: {key} has shape {tuple(state[key].shape)}, expected {shape} "
                f"(rank {rank} from {first}; trained on another backbone?)"
            )
    result = OfficialLoRA(rank=rank, cross_attention={})
    for processor in unet.attn_processors:
        module = processor.removesuffix(".processor")
        is_cross = module.endswith(".attn2")
        for name, module_path in PROJECTIONS.items():
            down = state[f"{processor}.{name}_lora.down.weight"]
            up = state[f"{processor}.{name}_lora.up.weight"]
            if is_cross:
                stem = f"unet.{module}.{module_path}"
                result.cross_attention[f"{stem}.lora_A.{ADAPTER_NAME}.weight"] = down
                result.cross_attention[f"{stem}.lora_B.{ADAPTER_NAME}.weight"] = up
                continue
            if not torch.count_nonzero(up @ down):
                continue
            key = f"{processor}.{name}_lora.up.weight"
            if name == "to_q":
                result.self_attention_query[module] = (down, up)
                result.notes.append(
                    f"{what} {path}: self-attention LoRA {key} is non-zero; the official "
                    f"processor adds it to the query of {module}"
                )
            else:
                result.notes.append(
                    f"{what} {path}: self-attention LoRA {key} is non-zero but the official "
                    f"processor never applies it (self-attention adapts the query only): ignored"
                )
    return result


# -------------------------------------------------------------------------------- building


class SelfAttentionQueryLoRA(nn.Module):
    """``base(h) + up(down(h))``: the official processor's query update on self-attention."""

    def __init__(self, base: nn.Linear, down: torch.Tensor, up: torch.Tensor) -> None:
        super().__init__()
        self.base = base
        self.down = nn.Linear(down.shape[1], down.shape[0], bias=False)
        self.up = nn.Linear(up.shape[1], up.shape[0], bias=False)
        with torch.no_grad():
            self.down.weight.copy_(down)
            self.up.weight.copy_(up)
        self.requires_grad_(False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.base(hidden_states) + self.up(self.down(hidden_states))


def _refuse_save(folder: str | Path) -> Path:
    raise OfficialCheckpointError(
        "this model applies non-zero self-attention (attn1) LoRA from an official checkpoint, "
        "which a genziqa model folder cannot hold; it can score in memory but not be saved"
    )


def load_official(
    prompt_learner: str | Path, lora: str | Path, backbone: str | Backbone
) -> OfficialImport:
    """Build the GenzIQA model of an official checkpoint in memory (nothing is written).

    ``backbone``: the Stable Diffusion the checkpoint was trained on (hub id, alias, diffusers
    folder, single file, or a loaded ``Backbone``, which the model then takes over). Non-zero
    self-attention query LoRA is applied as the official processor does; such a model cannot
    be saved.
    """
    # Read both files before the (large) backbone: a wrong path fails in a second.
    read_state_dict(prompt_learner, "prompt-learner file")
    read_state_dict(lora, "LoRA file")
    if isinstance(backbone, Backbone):
        parts, source = backbone, backbone.source
    else:
        parts, source = load_backbone(BackboneConfig(source=backbone)), _source(backbone)
    prompts = read_official_prompt_learner(prompt_learner, parts.tokenizer, parts.text_encoder)
    adapters = read_official_lora(lora, parts.unet)
    config = GenzIQAConfig(
        backbone=BackboneConfig(source=source),
        prompts=PromptConfig(class_words=prompts.class_words, n_ctx=prompts.n_ctx),
        lora=LoRAConfig(rank=adapters.rank, alpha=float(adapters.rank)),
    )
    model = GenzIQA(config, parts)
    model.load_trained_state_dict({"prompts.ctx": prompts.ctx, **adapters.cross_attention})
    for module, (down, up) in adapters.self_attention_query.items():
        attention = model.unet.get_submodule(module)
        attention.to_q = SelfAttentionQueryLoRA(attention.to_q, down, up).to(
            device=model.device, dtype=model.dtype
        )
    if adapters.self_attention_query:
        model.save_pretrained = _refuse_save  # type: ignore[method-assign]
    notes = list(adapters.notes)
    if prompts.class_words != PromptConfig().class_words:
        notes.append(f"class words taken over from the checkpoint: {list(prompts.class_words)}")
    return OfficialImport(
        model,
        None,
        prompts.class_words,
        adapters.rank,
        prompts.n_ctx,
        notes,
        sorted(adapters.self_attention_query),
    )


def _source(backbone: str) -> str:
    """The backbone as the saved config should name it: local paths made absolute (aliases
    and registered names win over same-named paths, as in ``load_backbone``)."""
    if backbone in BACKBONE_ALIASES or backbone in LOCAL_BACKBONES:
        return backbone
    path = Path(backbone).expanduser()
    return str(path.resolve()) if path.exists() else backbone


def import_official(
    prompt_learner: str | Path, lora: str | Path, backbone: str, output: str | Path
) -> OfficialImport:
    """Turn an official checkpoint into a genziqa model folder at ``output``.

    ``prompt_learner``: ``coop_Model_state_dict.pth``; ``lora``: the ``save_attn_procs`` file
    (``pytorch_model.bin``, ``pytorch_lora_weights.bin`` or ``.safetensors``); ``backbone``:
    the Stable Diffusion it was trained on. The folder is written whole or not at all, and an
    existing model folder is never overwritten. Raises ``OfficialCheckpointError``.
    """
    output = Path(output).expanduser()
    if output.is_file() or (output.is_dir() and any(output.iterdir())):
        held = " a genziqa model" if (output / CONFIG_NAME).is_file() else " files"
        raise OfficialCheckpointError(
            f"output {output}: already exists and holds{held}; choose a new or empty folder"
        )
    result = load_official(prompt_learner, lora, backbone)
    if result.self_attention_query:
        raise OfficialCheckpointError(
            f"LoRA file {lora}: the self-attention LoRA of {result.self_attention_query[0]} is "
            f"non-zero (to_q_lora; the official processor adds it to the query), which a "
            f"genziqa model folder cannot hold (LoRA on attn2 only); score this checkpoint in "
            f"memory with genziqa.integrations.official.load_official"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        result.model.save_pretrained(staging)
        write_model_card(staging, output.name)  # titled by the final folder's name
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.folder = output
    return result


__all__ = [
    "OfficialCheckpointError",
    "OfficialImport",
    "OfficialLoRA",
    "OfficialPrompts",
    "SelfAttentionQueryLoRA",
    "import_official",
    "load_official",
    "official_lora_layout",
    "read_official_lora",
    "read_official_prompt_learner",
    "read_state_dict",
]
