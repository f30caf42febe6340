"""The training loop: the reference recipe by default, with validation, checkpoint selection and
resume; generic over a task (``task.py``: the image task; a video task uses the same loop).

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
genziqa train ...`` runs this same code on every GPU. The run folder's layout is in
``checkpoint.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from ..provenance import provenance
from ..seeding import stable_seed
from .checkpoint import append_log, check_resume, latest_state, load_state, save_model, save_state
from .config import TrainConfig, TrainSetupError
from .data import Split, collate_items, load_splits, load_tables, select_rows, training_media
from .task import ImageTask, make_task
from .validate import mean_or_none, mean_srcc, validate

if TYPE_CHECKING:
    from accelerate import Accelerator

    from ..model import GenzIQA
    from ..video.model import GenzVQA
    from .video_task import VideoTask


@dataclass
class TrainResult:
    out: Path
    best_epoch: int | None
    best_srcc: float | None
    global_step: int
    history: list[dict] = field(default_factory=list)
    main_process: bool = True  # False in the other processes of a multi-process run
    seconds: float = 0.0  # this run's training and validation time (after loading)


@dataclass
class _Run:
    """Everything one training run holds while it runs."""

    config: TrainConfig
    out: Path
    task: ImageTask | VideoTask
    accelerator: Accelerator
    model: Any  # the prepared (possibly wrapped) model
    core: GenzIQA | GenzVQA
    optimizer: torch.optim.Optimizer
    parameters: list[torch.nn.Parameter]
    progress: dict[str, Any]
    train_data: Any  # LabelledImages or LabelledVideos
    val_data: list[tuple[Split, Any]]
    provenance: dict
    log: Callable[[str], None]
    history: list[dict] = field(default_factory=list)

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process


def train(
    config: TrainConfig,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train a GenzIQA model as ``config`` says; write checkpoints and logs under config.out."""
    run = _start(config, resume, log)
    config = run.config  # epochs resolved for the data's media
    started = time.perf_counter()
    progress = run.progress
    stop = config.max_steps is not None and progress["global_step"] >= config.max_steps
    for epoch in range(progress["epoch"], config.epochs):
        if stop:
            break
        losses, stop = _train_epoch(run, epoch)
        _end_epoch(run, epoch, losses, stop, started)
    run.accelerator.wait_for_everyone()
    if config.tensorboard:
        run.accelerator.end_training()
    return TrainResult(
        run.out,
        progress["best_epoch"],
        progress["best_srcc"],
        progress["global_step"],
        run.history,
        run.main,
        time.perf_counter() - started,
    )


def _start(config: TrainConfig, resume: bool, log: Callable[[str], None]) -> _Run:
    """Accelerator, data tables, model, optimizer, resumed progress and datasets."""
    from accelerate import Accelerator

    out = Path(config.out)
    tables = load_tables(config.train, config.split_seed)
    train_sets = select_rows(tables, "train", config.train_split)
    if config.val:
        val_sets = load_splits(config.val, "val", config.split_seed)
    else:
        val_sets = select_rows(tables, "val-of-train")
    media = training_media(train_sets, val_sets)
    config = config.for_media(media)  # the recipe's epochs: 10 for images, 6 for videos
    config = check_resume(config, out) if resume else config
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
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    if config.tensorboard:
        accelerator.init_trackers("genziqa", config={"lr": config.lr, "batch": config.batch_size})

    run_provenance = provenance()
    task = make_task(config, media)
    model = task.build_model()
    model.to(accelerator.device)
    parameters = model.trainable_parameters()
    optimizer = torch.optim.AdamW(
        parameters,
        lr=config.lr,
        betas=config.betas,
        eps=config.adam_eps,
        weight_decay=config.weight_decay,
    )
    progress = _resumed_progress(out, model, optimizer, accelerator, log) if resume else None
    progress = progress or {
        "epoch": 0,
        "step_in_epoch": 0,
        "global_step": 0,
        "best_srcc": None,
        "best_epoch": None,
    }
    progress["num_processes"] = accelerator.num_processes
    prepared, optimizer = accelerator.prepare(model, optimizer)
    core = accelerator.unwrap_model(prepared)
    train_data, val_data = task.datasets(core, train_sets, val_sets)
    run = _Run(
        config, out, task, accelerator, prepared, core, optimizer, parameters, progress,
        train_data, val_data, run_provenance, log,
    )  # fmt: skip
    if run.main:
        log(
            f"Training on {len(train_data)} {task.unit} ({', '.join(s.name for s in train_sets)}), "
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
    return run


def _resumed_progress(
    out: Path,
    model: GenzIQA | GenzVQA,
    optimizer: torch.optim.Optimizer,
    accelerator: Accelerator,
    log: Callable[[str], None],
) -> dict[str, Any] | None:
    """The progress of the newest complete resume state (weights and optimizer loaded)."""
    state = latest_state(out)
    if state is None:
        return None
    progress = load_state(state, model, optimizer, accelerator.scaler)
    before = progress.get("num_processes", 1)
    if progress["step_in_epoch"] and before != accelerator.num_processes:
        raise TrainSetupError(
            f"--resume: the run stopped mid-epoch with {before} process(es); resume it "
            f"with {before} (its batches are split per process), not "
            f"{accelerator.num_processes}"
        )
    log(f"Resuming from {state} (epoch {progress['epoch'] + 1}, step {progress['global_step']}).")
    return progress


def _epoch_loader(run: _Run, epoch: int):
    """This epoch's batches in its seeded order, split across processes; resumed mid-epoch, the
    same batches on the same processes as an unbroken run."""
    config, accelerator = run.config, run.accelerator
    run.train_data.epoch = epoch
    generator = torch.Generator().manual_seed(stable_seed(config.seed, "epoch", epoch) % 2**63)
    order = torch.randperm(len(run.train_data), generator=generator).tolist()
    loader = DataLoader(
        run.train_data,
        batch_size=config.batch_size,
        sampler=order,
        num_workers=run.task.num_workers,
        collate_fn=collate_items,
    )
    loader = accelerator.prepare_data_loader(loader, device_placement=False)
    if run.progress["step_in_epoch"]:
        loader = accelerator.skip_first_batches(loader, run.progress["step_in_epoch"])
    return loader


def _train_epoch(run: _Run, epoch: int) -> tuple[list[float], bool]:
    """The steps of one epoch (or until ``max_steps``): the losses, and whether to stop."""
    config, accelerator, progress = run.config, run.accelerator, run.progress
    run.model.train()
    losses: list[float] = []
    last_log = time.perf_counter()
    seen = 0
    for items in _epoch_loader(run, epoch):
        latents, labels = run.task.batch(run.core, items, run.log)
        run.train_data.remember(items)
        progress["step_in_epoch"] += 1  # batches consumed, stepped or not: resume skips them
        if not _all_have_a_batch(accelerator, latents is not None):
            continue
        seed = stable_seed(config.seed, "step", progress["global_step"], accelerator.process_index)
        generator = torch.Generator().manual_seed(seed % 2**63)
        loss = run.task.loss(run.model, run.core, latents, labels, generator)
        accelerator.backward(loss)
        grad_norm = accelerator.clip_grad_norm_(run.parameters, config.grad_clip)
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        progress["global_step"] += 1
        losses.append(loss.item())
        seen += len(labels) * accelerator.num_processes
        if run.main and progress["global_step"] % config.log_every == 0:
            now = time.perf_counter()
            rate = seen / max(now - last_log, 1e-9)
            seen, last_log = 0, now
            _log_step(run, epoch, loss.item(), float(grad_norm), rate)
        if config.save_every and progress["global_step"] % config.save_every == 0 and run.main:
            save_state(run.out, run.core, run.optimizer, progress, accelerator.scaler)
        if config.max_steps is not None and progress["global_step"] >= config.max_steps:
            return losses, True
    return losses, False


def _log_step(run: _Run, epoch: int, loss: float, grad_norm: float, rate: float) -> None:
    step = run.progress["global_step"]
    run.log(
        f"epoch {epoch + 1} step {step}: loss {loss:.4g}, grad norm {grad_norm:.3g}, "
        f"{rate:.2f} {run.task.unit}/s"
    )
    record = {
        "type": "step",
        "epoch": epoch + 1,
        "step": step,
        "loss": loss,
        "grad_norm": grad_norm,
        "lr": run.config.lr,
        "images_per_s": rate,
    }
    append_log(run.out, record)
    if run.config.tensorboard:
        run.accelerator.log({"train/loss": loss}, step=step)


def _end_epoch(run: _Run, epoch: int, losses: list[float], stop: bool, started: float) -> None:
    """Validate when due, keep the best and last checkpoints, log, save the resume state."""
    config, progress = run.config, run.progress
    per_step = config.batch_size * run.accelerator.num_processes
    epoch_done = not stop or progress["step_in_epoch"] * per_step >= len(run.train_data)
    due = stop or epoch + 1 == config.epochs or (epoch + 1) % config.val_every == 0
    record = {
        "type": "epoch",
        "epoch": epoch + 1,
        "complete": epoch_done,
        "step": progress["global_step"],
        "train_loss": mean_or_none(losses),
        "time_s": time.perf_counter() - started,
    }
    if due:
        val_metrics = validate(
            run.task, run.core, run.val_data, config, run.accelerator, run.log if run.main else None
        )
        val_srcc = mean_srcc(val_metrics)
        improved = val_srcc is not None and (
            progress["best_srcc"] is None or val_srcc > progress["best_srcc"]
        )
        if improved:
            progress["best_srcc"], progress["best_epoch"] = val_srcc, epoch + 1
        record.update(val=val_metrics, val_srcc=val_srcc, best=improved)
        run.history.append(record)
    if run.main:
        append_log(run.out, record)
    if run.main and due:
        _report_validation(run, epoch, record, val_metrics, improved)
    if epoch_done:
        progress["epoch"], progress["step_in_epoch"] = epoch + 1, 0
    if run.main:
        save_state(run.out, run.core, run.optimizer, progress, run.accelerator.scaler)


def _report_validation(
    run: _Run, epoch: int, record: dict, val_metrics: dict[str, dict], improved: bool
) -> None:
    """Log the validation result and write ``last/`` (and ``best/`` when it improved)."""
    summary = ", ".join(
        f"{name} SRCC {m['srcc']:.4f} PLCC {m['plcc']:.4f}" for name, m in val_metrics.items()
    )
    train_loss = record["train_loss"]
    run.log(
        f"epoch {epoch + 1}: train loss {train_loss:.4g}; val {summary}"
        f"{' (best so far)' if improved else ''}"
        if train_loss is not None
        else f"epoch {epoch + 1}: val {summary}"
    )
    if run.config.tensorboard:
        run.accelerator.log({"val/srcc": record["val_srcc"] or 0.0}, step=record["step"])
    extras = {"epoch": epoch + 1, "step": record["step"], "val": val_metrics}
    save_model(run.out / "last", run.core, run.config, extras, run.provenance)
    if improved:
        save_model(run.out / "best", run.core, run.config, extras, run.provenance)


def _all_have_a_batch(accelerator: Accelerator, mine: bool) -> bool:
    """Whether every process has a batch this step (a file that fails to decode can empty one).

    Processes must skip a step together: one that skips while the others run backward would
    leave their gradient all-reduce waiting forever.
    """
    if accelerator.num_processes == 1:
        return mine
    flags = accelerator.gather(torch.tensor([int(mine)], device=accelerator.device))
    return bool(flags.min().item())
