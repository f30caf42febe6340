"""`genziqa import-official` on files written in the official trainer's key layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genziqa import GenzIQA
from genziqa.cli import EXIT_OK, EXIT_USAGE, main
from genziqa.testing import official_lora_state, official_prompt_learner_state

from ..conftest import randomize_trained_tensors


@pytest.fixture()
def official_files(tiny_model, tmp_path):
    randomize_trained_tensors(tiny_model, seed=5)
    coop = tmp_path / "coop_Model_state_dict.pth"
    lora = tmp_path / "pytorch_model.bin"
    torch.save(official_prompt_learner_state(tiny_model), coop)
    torch.save(official_lora_state(tiny_model), lora)
    return tiny_model, coop, lora


def test_import_official_writes_a_model_folder_that_scores_as_the_checkpoint(
    official_files, tiny_backbone_dir, tmp_path, images, capsys
) -> None:
    trained, coop, lora = official_files
    out = tmp_path / "imported"
    argv = ["import-official", "--prompt-learner", str(coop), "--lora", str(lora)]
    argv += ["--backbone", str(tiny_backbone_dir), "-o", str(out)]
    assert main(argv) == EXIT_OK
    err = capsys.readouterr().err
    assert f"Wrote {out}: class words Good Photo / Bad Photo, 16 context vectors" in err
    imported = GenzIQA.from_pretrained(out, local_files_only=True)
    assert np.array_equal(imported.score(images[:2]), trained.score(images[:2]))
    card = (out / "README.md").read_text()
    assert "library_name: genziqa" in card and "# imported" in card
    assert main(argv) == EXIT_USAGE  # never over an existing model folder
    assert "already exists" in capsys.readouterr().err


def test_import_official_errors_are_one_line(official_files, tiny_backbone_dir, tmp_path, capsys):
    _, coop, _ = official_files
    argv = ["import-official", "--prompt-learner", str(coop), "--lora", str(tmp_path / "no.bin")]
    assert main([*argv, "--backbone", str(tiny_backbone_dir), "-o", str(tmp_path / "m")]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: LoRA file") and "no such file" in line
    assert "Traceback" not in captured.err + captured.out
