"""`genziqa info`."""

from __future__ import annotations

from genziqa.cli import main


def test_info_reports_versions_and_offline_availability(capsys):
    assert main(["info", "--model", "genziqa-tiny"]) == 0
    text = capsys.readouterr().out
    for word in ("torch", "diffusers", "transformers", "hub cache", "available offline"):
        assert word in text
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "zero-shot baseline" in out and "NOT in the Hugging Face cache" in out


def test_info_prints_a_model_folders_card(tiny_model, tmp_path, capsys):
    folder = tiny_model.save_pretrained(tmp_path / "mymodel")
    assert main(["info", "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"model card {folder / 'README.md'}" in out
    assert "library_name: genziqa" in out and "# mymodel" in out
