"""`genziqa datasets`."""

from __future__ import annotations

from genziqa.cli import main


def test_datasets_lists_every_adapter(capsys):
    from genziqa.datasets import ADAPTERS

    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ADAPTERS)


def test_piped_datasets_are_plain_text_that_never_splits_a_word(capsys):
    from genziqa.datasets import ADAPTERS

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "│" not in out and "┃" not in out
    words = set(out.split())
    for adapter in ADAPTERS.values():
        assert set(adapter.info.layout.split()) <= words, adapter.info.name  # each path whole
    assert max(len(line) for line in out.splitlines() if " " in line.strip()) <= 80
