"""Checkpoints of a training run: model folders, resume states, the step log.

Layout of the run folder:
    train_config.json   the resolved config       log.jsonl   one JSON line per step / epoch
    best/  last/        model folders (config + trained tensors + metrics + provenance)
    state/step-N/       resume states (trained tensors, optimizer, progress), newest two kept

A resume state is written file by file and marked ``COMPLETE`` last, so a half-written state
is ignored; optimizer state is split into safetensors (tensors) and JSON (the rest): no pickle.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from ..config import to_jsonable
from ..io.durable import atomic_folder
from ..pretrained import model_display_name, write_model_card
from .config import RESUMABLE_CHANGES, TrainConfig, TrainSetupError

if TYPE_CHECKING:
    from ..model import GenzIQA


def save_model(
    folder: Path, model: GenzIQA, config: TrainConfig, extras: dict, run_provenance: dict
) -> None:
    """A model folder (``best/``, ``last/``) with the run's config, provenance and metrics,
    and a model card that shows them, swapped in whole so that a kill never leaves half a
    checkpoint."""
    with atomic_folder(folder) as staging:
        model.save_pretrained(staging)
        (staging / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        (staging / "provenance.json").write_text(json.dumps(run_provenance, indent=2) + "\n")
        (staging / "metrics.json").write_text(json.dumps(to_jsonable(extras), indent=2) + "\n")
        # Again, now with the training databases and metrics, titled as the final folder.
        write_model_card(staging, model_display_name(folder))


def save_state(
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


def latest_state(out: Path) -> Path | None:
    states = sorted(p for p in (out / "state").glob("step-*") if (p / "COMPLETE").is_file())
    return states[-1] if states else None


def load_state(
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


def check_resume(config: TrainConfig, out: Path) -> TrainConfig:
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


def append_log(out: Path, record: dict) -> None:
    with open(out / "log.jsonl", "a") as handle:
        handle.write(json.dumps(to_jsonable(record)) + "\n")
