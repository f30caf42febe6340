"""What produced a checkpoint: package versions and the git commit of the code."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
import subprocess
from pathlib import Path

PACKAGES = ("genziqa", "torch", "diffusers", "transformers", "peft", "accelerate", "safetensors")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def git_revision(where: Path | None = None) -> str | None:
    """The commit of the genziqa source tree (with ``-dirty`` if it has local changes)."""
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, object]:
    return {"versions": package_versions(), "git": git_revision()}
