"""The import rules of the layout (ARCHITECTURE.md): what ``import genziqa`` pulls in, and
stage files that do not import each other."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "genziqa"
STAGES = ("preprocess", "latents", "noise", "prompts", "attention", "pooling")
OPTIONAL = ("av", "fastapi", "uvicorn", "ray", "pyiqa", "matplotlib", "skimage")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout))


def test_import_genziqa_is_light() -> None:
    loaded = _modules_after("import genziqa")
    assert not {m for m in loaded if m.startswith("genziqa.train")}
    assert not loaded & {"torch", "diffusers", "transformers", "accelerate", *OPTIONAL}


@pytest.mark.parametrize("statement", ["from genziqa import GenzIQA", "import genziqa.cli"])
def test_the_model_and_the_cli_import_no_trainer_and_no_extra(statement: str) -> None:
    loaded = _modules_after(statement)
    assert not {m for m in loaded if m.startswith(("genziqa.train", "genziqa.evaluation"))}
    assert not {m.split(".")[0] for m in loaded} & set(OPTIONAL)


def _imported_genziqa_modules(path: Path) -> set[str]:
    """Top-level genziqa modules a top-level file imports (``from .x``, ``from . import x``,
    ``from genziqa.x``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
        elif node.level == 0 and node.module and node.module.startswith("genziqa."):
            names.add(node.module.split(".")[1])
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_stage_files_do_not_import_each_other(stage: str) -> None:
    imported = _imported_genziqa_modules(PACKAGE / f"{stage}.py")
    assert not imported & (set(STAGES) - {stage}), f"{stage}.py imports {imported}"


def test_the_rule_check_sees_every_import_form(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from .pooling import token_mean\nfrom . import noise\nfrom genziqa.prompts import x\n"
        "def f():\n    from .latents import encode_latents\n"
    )
    assert _imported_genziqa_modules(probe) == {"pooling", "noise", "prompts", "latents"}
