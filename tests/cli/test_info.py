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
