"""Training: the reference recipe by default, with validation, checkpoint selection and resume.

Recipe (METHOD.md): AdamW (lr 1e-4, betas 0.9/0.999, weight decay 0.01, eps 1e-8), gradient
norm clipped at 1.0, constant schedule, batch 16, 10 epochs, MSE between the score and the raw
MOS, random horizontal and vertical flips, fp32. Only the context vectors, the LoRA adapters
(and the calibration head when on) are optimised; the optimizer gets exactly that list.

What we add: validation SRCC/PLCC each epoch and the best checkpoint kept by validation SRCC
(the reference hard-codes an epoch); VAE latents cached on disk; ``resume`` that continues a
killed run and ends with the same weights as an uninterrupted one. The latter holds because
nothing random comes from global state: the data order is a permutation seeded by (seed,
epoch), flips by (seed, epoch, index), timesteps and noise by (seed, step, process).

Devices, mixed precision and several GPUs come from accelerate: ``accelerate launch -m
genziqa train ...`` runs this same code on every GPU.

Layout of ``out``:
    train_config.json   the resolved config       log.jsonl   one JSON line per step / epoch
    best/  last/        model folders (config + trained tensors + metrics + provenance)
    state/step-N/       resume states (trained tensors, optimizer, progress), newest two kept
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from .config import GenzIQAConfig, build_dataclass, genziqa_cache_dir, to_jsonable
from .datasets import load_specs
from .latent_cache import LatentCache, settings_key, vae_fingerprint
from .metrics import evaluate_predictions
from .model import GenzIQA
from .noise import sample_train_timesteps
from .provenance import provenance
from .splits import apply_split
from .training_data import Item, LabelledImages, collate_items

if TYPE_CHECKING:
    from accelerate import Accelerator


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; saved as ``train_config.json`` in the run."""

    train: tuple[str, ...]
    out: str
    val: tuple[str, ...] = ()
    model: GenzIQAConfig = field(default_factory=GenzIQAConfig)
    train_split: Literal["train", "all"] = "train"
    split_seed: int = 0
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    target: Literal["mos", "unit"] = "mos"
    loss: Literal["mse", "plcc"] = "mse"
    flips: bool = True
    seed: int = 0
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    gradient_checkpointing: bool = False
    latent_cache: str | None = "auto"
    num_workers: int = 2
    log_every: int = 10
    save_every: int = 0
    max_steps: int | None = None
    val_batch_size: int = 8
    val_every: int = 1
    tensorboard: bool = False
    cpu: bool = False

    def __post_init__(self) -> None:
        if not self.train:
            raise ValueError("at least one training dataset (NAME=ROOT) is needed")
        for name in ("epochs", "batch_size", "val_batch_size", "log_every", "val_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError("lr and grad_clip must be > 0")
        if self.train_split == "all" and not self.val:
            raise ValueError(
                "train_split 'all' trains on every image, so validation needs other data: "
                "give --val NAME=ROOT"
            )

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return build_dataclass(cls, data, "train config")


class TrainSetupError(ValueError):
    """The run cannot start as configured (a usage problem, not a bug): said in one line."""


# Fields a resumed run may change (they do not change the weights); anything else must match.
RESUMABLE_CHANGES = (
    "epochs",
    "max_steps",
    "num_workers",
    "log_every",
    "tensorboard",
    "val_every",
    "save_every",
    "val_batch_size",
    "latent_cache",
    "out",
)


@dataclass
class Split:
    """One dataset's rows for a role (train or validation)."""

    name: str
    table: pd.DataFrame
    lower_better: bool


@dataclass
class TrainResult:
    out: Path
    best_epoch: int | None
    best_srcc: float | None
    global_step: int
    history: list[dict] = field(default_factory=list)
    main_process: bool = True  # False in the other processes of a multi-process run
    seconds: float = 0.0  # this run's training and validation time (after loading)


def _seed_from(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def load_splits(
    specs: tuple[str, ...], role: str, split_seed: int, train_split: str = "train"
) -> list[Split]:
    """Dataset tables for a role: ``train`` rows, or the held-out rows used for validation."""
    return select_rows(_load_tables(specs, split_seed), role, train_split)


def _load_tables(specs: tuple[str, ...], split_seed: int) -> list[tuple[str, Split]]:
    """(spec, whole table with its split column) per spec, each database loaded once."""
    return [
        (spec, Split(name, apply_split(table, seed=split_seed), lower_better))
        for spec, (name, table, lower_better) in zip(specs, load_specs(specs), strict=True)
    ]


def select_rows(
    tables: list[tuple[str, Split]], role: str, train_split: str = "train"
) -> list[Split]:
    """The rows of each table for ``role``: train, val-of-train (held out) or val (all)."""
    splits = []
    for spec, whole in tables:
        name, table, lower_better = whole.name, whole.table, whole.lower_better
        if role == "train":
            chosen = table if train_split == "all" else table[table["split"] == "train"]
        elif role == "val-of-train":
            held = "val" if (table["split"] == "val").any() else "test"
            chosen = table[table["split"] == held]
        else:  # an explicit validation database is used whole
            chosen = table
        if chosen.empty:
            raise TrainSetupError(
                f"{spec}: no rows for {role} (splits present: {set(table['split'])})"
            )
        splits.append(Split(name, chosen.reset_index(drop=True), lower_better))
    return splits


def training_targets(split: Split, target: str) -> np.ndarray:
    """Regression targets: raw MOS (negated when lower is better), or the [0, 1] score."""
    if target == "unit":
        return split.table["score"].to_numpy(float)
    mos = split.table["mos"].to_numpy(float)
    return -mos if split.lower_better else mos


def plcc_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(1 - Pearson correlation) / 2 within the batch: blind to the score's offset and scale."""
    if scores.numel() < 2:
        return scores.sum() * 0.0
    s = scores - scores.mean()
    y = labels - labels.mean()
    correlation = (s * y).sum() / (s.norm() * y.norm() + 1e-12)
    return (1 - correlation) / 2


LOSSES = {"mse": F.mse_loss, "plcc": plcc_loss}


def train(
    config: TrainConfig,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train a GenzIQA model as ``config`` says; write checkpoints and logs under config.out."""
    from accelerate import Accelerator

    out = Path(config.out)
    config = _check_resume(config, out) if resume else config
    if config.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise TrainSetupError(
                "--tensorboard needs the tensorboard package: pip install tensorboard"
            )
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        # accelerate runs several CPU processes (torchrun, accelerate launch) only when told cpu
        cpu=config.cpu or not torch.accelerator.is_available(),
        log_with="tensorboard" if config.tensorboard else None,
        project_dir=str(out),
    )
    main = accelerator.is_main_process
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    if config.tensorboard:
        accelerator.init_trackers("genziqa", config={"lr": config.lr, "batch": config.batch_size})

    run_provenance = provenance()
    tables = _load_tables(config.train, config.split_seed)
    train_sets = select_rows(tables, "train", config.train_split)
    if config.val:
        val_sets = load_splits(config.val, "val", config.split_seed)
    else:
        val_sets = select_rows(tables, "val-of-train")

    model = GenzIQA.from_config(config.model, init_seed=config.seed)
    if config.gradient_checkpointing:
        model.unet.enable_gradient_checkpointing()
    model.to(accelerator.device)
    parameters = model.trainable_parameters()
    if not parameters:
        raise TrainSetupError("this model config has nothing to train (zero-shot baseline?)")
    optimizer = torch.optim.AdamW(
        parameters,
        lr=config.lr,
        betas=config.betas,
        eps=config.adam_eps,
        weight_decay=config.weight_decay,
    )
    progress = {
        "epoch": 0,
        "step_in_epoch": 0,
        "global_step": 0,
        "best_srcc": None,
        "best_epoch": None,
    }
    if resume:
        state = _latest_state(out)
        if state is not None:
            progress = _load_state(state, model, optimizer, accelerator.scaler)
            before = progress.get("num_processes", 1)
            if progress["step_in_epoch"] and before != accelerator.num_processes:
                raise TrainSetupError(
                    f"--resume: the run stopped mid-epoch with {before} process(es); resume it "
                    f"with {before} (its batches are split per process), not "
                    f"{accelerator.num_processes}"
                )
            log(
                f"Resuming from {state} (epoch {progress['epoch'] + 1}, "
                f"step {progress['global_step']})."
            )
    progress["num_processes"] = accelerator.num_processes
    model, optimizer = accelerator.prepare(model, optimizer)
    core: GenzIQA = accelerator.unwrap_model(model)

    cache = _latent_cache(config, core)
    settings = _latent_settings(core)
    train_data = LabelledImages(
        pd.concat([s.table["path"] for s in train_sets]).tolist(),
        np.concatenate([training_targets(s, config.target) for s in train_sets]).tolist(),
        core.resolution,
        cache,
        settings,
        flips=config.flips,
        seed=config.seed,
    )
    val_data = [
        (
            split,
            LabelledImages(
                split.table["path"], split.table["mos"], core.resolution, cache, settings
            ),
        )
        for split in val_sets
    ]
    if main:
        log(
            f"Training on {len(train_data)} images ({', '.join(s.name for s in train_sets)}), "
            f"validating on {', '.join(f'{s.name} ({len(s.table)})' for s in val_sets)}; "
            f"{sum(p.numel() for p in parameters):,} trainable parameters; device "
            f"{accelerator.device}"
            + (
                f" x {accelerator.num_processes} processes (global batch "
                f"{config.batch_size * accelerator.num_processes})."
                if accelerator.num_processes > 1
                else "."
            )
        )
    history: list[dict] = []
    started = time.perf_counter()
    step_limit = config.max_steps
    stop = step_limit is not None and progress["global_step"] >= step_limit
    per_step = config.batch_size * accelerator.num_processes
    for epoch in range(progress["epoch"], config.epochs):
        if stop:
            break
        train_data.epoch = epoch
        order = torch.randperm(
            len(train_data),
            generator=torch.Generator().manual_seed(
                _seed_from(config.seed, "epoch", epoch) % 2**63
            ),
        ).tolist()
        loader = DataLoader(
            train_data,
            batch_size=config.batch_size,
            sampler=order,
            num_workers=config.num_workers,
            collate_fn=collate_items,
        )
        loader = accelerator.prepare_data_loader(loader, device_placement=False)
        if progress["step_in_epoch"]:
            # Resuming mid-epoch: the same batches on the same processes as an unbroken run.
            loader = accelerator.skip_first_batches(loader, progress["step_in_epoch"])
        model.train()
        losses = []
        last_log = time.perf_counter()
        seen = 0
        for items in loader:
            latents, labels = _batch(core, items, cache, log)
            train_data.remember(items)
            progress["step_in_epoch"] += 1  # batches consumed, stepped or not: resume skips them
            if not _all_have_a_batch(accelerator, latents is not None):
                continue
            generator = torch.Generator().manual_seed(
                _seed_from(config.seed, "step", progress["global_step"], accelerator.process_index)
                % 2**63
            )
            low, high = core.config.scoring.train_timesteps
            timesteps = sample_train_timesteps(len(labels), low, high, generator).view(-1, 1)
            noise = torch.randn((len(labels), 1, *latents.shape[1:]), generator=generator)
            # accelerate's prepare() already runs the forward under autocast for mixed precision
            output = model(latents=latents, timesteps=timesteps, noise=noise)
            loss = LOSSES[config.loss](output.score.float(), labels.to(output.score.device))
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(parameters, config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            progress["global_step"] += 1
            losses.append(loss.item())
            seen += len(labels) * accelerator.num_processes
            if main and (progress["global_step"] % config.log_every == 0):
                now = time.perf_counter()
                rate = seen / max(now - last_log, 1e-9)
                seen, last_log = 0, now
                log(
                    f"epoch {epoch + 1} step {progress['global_step']}: loss {loss.item():.4g}, "
                    f"grad norm {float(grad_norm):.3g}, {rate:.2f} images/s"
                )
                step_log = {
                    "type": "step",
                    "epoch": epoch + 1,
                    "step": progress["global_step"],
                    "loss": loss.item(),
                    "grad_norm": float(grad_norm),
                    "lr": config.lr,
                    "images_per_s": rate,
                }
                _append_log(out, step_log)
                if config.tensorboard:
                    accelerator.log({"train/loss": loss.item()}, step=progress["global_step"])
            if config.save_every and progress["global_step"] % config.save_every == 0 and main:
                _save_state(out, core, optimizer, progress, accelerator.scaler)
            if step_limit is not None and progress["global_step"] >= step_limit:
                stop = True
                break
        epoch_done = not stop or progress["step_in_epoch"] * per_step >= len(train_data)
        validate = stop or epoch + 1 == config.epochs or (epoch + 1) % config.val_every == 0
        record = {
            "type": "epoch",
            "epoch": epoch + 1,
            "complete": epoch_done,
            "step": progress["global_step"],
            "train_loss": _mean(losses),
            "time_s": time.perf_counter() - started,
        }
        if validate:
            val_metrics = _validate(core, val_data, config, accelerator, log if main else None)
            val_srcc = _mean_srcc(val_metrics)
            improved = val_srcc is not None and (
                progress["best_srcc"] is None or val_srcc > progress["best_srcc"]
            )
            if improved:
                progress["best_srcc"], progress["best_epoch"] = val_srcc, epoch + 1
            record.update(val=val_metrics, val_srcc=val_srcc, best=improved)
            history.append(record)
        if main:
            _append_log(out, record)
        if main and validate:
            summary = ", ".join(
                f"{name} SRCC {m['srcc']:.4f} PLCC {m['plcc']:.4f}"
                for name, m in val_metrics.items()
            )
            train_loss = record["train_loss"]
            log(
                f"epoch {epoch + 1}: train loss {train_loss:.4g}; val {summary}"
                f"{' (best so far)' if improved else ''}"
                if train_loss is not None
                else f"epoch {epoch + 1}: val {summary}"
            )
            if config.tensorboard:
                accelerator.log({"val/srcc": val_srcc or 0.0}, step=progress["global_step"])
            extras = {"epoch": epoch + 1, "step": progress["global_step"], "val": val_metrics}
            _save_model(out / "last", core, config, extras, run_provenance)
            if improved:
                _save_model(out / "best", core, config, extras, run_provenance)
        if epoch_done:
            progress["epoch"], progress["step_in_epoch"] = epoch + 1, 0
        if main:
            _save_state(out, core, optimizer, progress, accelerator.scaler)
    accelerator.wait_for_everyone()
    if config.tensorboard:
        accelerator.end_training()
    return TrainResult(
        out,
        progress["best_epoch"],
        progress["best_srcc"],
        progress["global_step"],
        history,
        main,
        time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------- batches


def _batch(
    model: GenzIQA, items: list[Item], cache: LatentCache | None, log: Callable[[str], None]
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Latents (n, C, h, w) on the model's device and labels (n,); misses encoded and cached."""
    for item in items:
        if item.error:
            log(f"skipped: {item.error}")
    items = [item for item in items if not item.error]
    if not items:
        return None, torch.empty(0)
    missing = [item for item in items if item.latent is None]
    if missing:
        images = torch.stack([item.image for item in missing]).float().div_(255.0)
        with torch.no_grad():
            encoded = model.encode_images(images).cpu()
        for item, latent in zip(missing, encoded, strict=True):
            item.latent = latent
            if cache is not None and item.key is not None:
                cache.put(item.key, latent)
    latents = torch.stack([item.latent for item in items]).to(model.device)
    labels = torch.tensor([item.label for item in items], dtype=torch.float32)
    return latents, labels


def _latent_cache(config: TrainConfig, model: GenzIQA) -> LatentCache | None:
    if config.latent_cache is None:
        return None
    if config.latent_cache == "auto":
        return LatentCache(genziqa_cache_dir() / "latents")
    return LatentCache(config.latent_cache)


def _latent_settings(model: GenzIQA) -> str:
    scoring = model.config.scoring
    return settings_key(
        vae=vae_fingerprint(model.vae),
        scaling_factor=model.vae.config.scaling_factor,
        shift_factor=getattr(model.vae.config, "shift_factor", None),
        resolution=model.resolution,
        normalization=model.config.preprocess.normalization,
        latent=scoring.latent,
        latent_seed=scoring.seed if scoring.latent == "sample" else None,
        vae_batch=model.vae_batch_size,
    )


def _all_have_a_batch(accelerator: Accelerator, mine: bool) -> bool:
    """Whether every process has a batch this step (a file that fails to decode can empty one).

    Processes must skip a step together: one that skips while the others run backward would
    leave their gradient all-reduce waiting forever.
    """
    if accelerator.num_processes == 1:
        return mine
    flags = accelerator.gather(torch.tensor([int(mine)], device=accelerator.device))
    return bool(flags.min().item())


# ------------------------------------------------------------------------- validation


@torch.no_grad()
def _validate(
    model_core: GenzIQA,
    val_data: list[tuple[Split, LabelledImages]],
    config: TrainConfig,
    accelerator: Accelerator,
    log: Callable[[str], None] | None,
) -> dict[str, dict]:
    """Score every validation set at the fixed scoring timesteps; metrics per set.

    With several processes each scores every N-th image and the predictions are gathered, so
    every process gets the same metrics. A set with fewer than 3 scorable images is skipped.
    """
    from accelerate.utils import gather_object

    was_training = model_core.training
    model_core.eval()
    results = {}
    try:
        for split, data in val_data:
            mine = list(range(accelerator.process_index, len(data), accelerator.num_processes))
            loader = DataLoader(
                data,
                batch_size=config.val_batch_size,
                sampler=mine,
                num_workers=config.num_workers,
                collate_fn=collate_items,
            )
            pairs: list[tuple[float, float]] = []
            for items in loader:
                latents, batch_labels = _batch(model_core, items, data.cache, lambda _: None)
                data.remember(items)
                if latents is None:
                    continue
                scores = model_core(latents=latents).score.double().cpu().tolist()
                pairs.extend(zip(scores, batch_labels.double().tolist(), strict=True))
            if accelerator.num_processes > 1:
                pairs = gather_object(pairs)
            if len(pairs) < 3:
                if log is not None:
                    log(f"validation: {split.name} skipped, {len(pairs)} scorable image(s)")
                continue
            predictions, labels = np.array(pairs).T
            results[split.name] = evaluate_predictions(predictions, labels, split.lower_better)
    finally:
        model_core.train(was_training)
    return results


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _mean_srcc(metrics: dict[str, dict]) -> float | None:
    return _mean([m["srcc"] for m in metrics.values()])


# ------------------------------------------------------------------ checkpoints, resume


def _save_model(
    folder: Path, model: GenzIQA, config: TrainConfig, extras: dict, run_provenance: dict
) -> None:
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    (staging / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    (staging / "provenance.json").write_text(json.dumps(run_provenance, indent=2) + "\n")
    (staging / "metrics.json").write_text(json.dumps(to_jsonable(extras), indent=2) + "\n")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _save_state(
    out: Path,
    model: GenzIQA,
    optimizer: torch.optim.Optimizer,
    progress: dict,
    scaler: torch.amp.GradScaler | None = None,
) -> None:
    """A complete resume state; the marker file is written last, so half states are ignored."""
    root = out / "state"
    folder = root / f"step-{progress['global_step']:09d}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    trained = {k: v.detach().cpu().contiguous() for k, v in model.trained_state_dict().items()}
    save_file(trained, str(folder / "trained.safetensors"))
    tensors, meta = _flatten_optimizer(optimizer.state_dict())
    save_file(tensors, str(folder / "optimizer.safetensors"))
    (folder / "optimizer.json").write_text(json.dumps(meta))
    (folder / "progress.json").write_text(json.dumps(progress, indent=2))
    if scaler is not None:  # fp16 loss scaling: its scale and growth tracker resume too
        (folder / "scaler.json").write_text(json.dumps(scaler.state_dict()))
    (folder / "COMPLETE").write_text("ok\n")
    states = sorted(p for p in root.glob("step-*") if (p / "COMPLETE").is_file())
    for stale in states[:-2]:
        shutil.rmtree(stale, ignore_errors=True)


def _latest_state(out: Path) -> Path | None:
    states = sorted(p for p in (out / "state").glob("step-*") if (p / "COMPLETE").is_file())
    return states[-1] if states else None


def _load_state(
    folder: Path,
    model: GenzIQA,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None = None,
) -> dict:
    model.load_trained_state_dict(load_file(str(folder / "trained.safetensors")))
    if scaler is not None and (folder / "scaler.json").is_file():
        scaler.load_state_dict(json.loads((folder / "scaler.json").read_text()))
    meta = json.loads((folder / "optimizer.json").read_text())
    optimizer.load_state_dict(
        _unflatten_optimizer(load_file(str(folder / "optimizer.safetensors")), meta)
    )
    return json.loads((folder / "progress.json").read_text())


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state -> (tensors for safetensors, JSON for the rest): no pickle."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def _check_resume(config: TrainConfig, out: Path) -> TrainConfig:
    saved_path = out / "train_config.json"
    if not saved_path.is_file():
        return config
    saved = TrainConfig.from_dict(json.loads(saved_path.read_text()))
    mine = config.to_dict()
    theirs = saved.to_dict()
    changed = sorted(k for k in mine if mine[k] != theirs[k] and k not in RESUMABLE_CHANGES)
    if changed:
        raise TrainSetupError(
            f"--resume: the run in {out} was started with other settings for {changed}; "
            f"resume with the same settings (only {', '.join(RESUMABLE_CHANGES)} may change)"
        )
    return config


def _append_log(out: Path, record: dict) -> None:
    with open(out / "log.jsonl", "a") as handle:
        handle.write(json.dumps(to_jsonable(record)) + "\n")
