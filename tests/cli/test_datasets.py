"""`genziqa datasets`."""

from __future__ import annotations

from genziqa.cli import main


def test_datasets_lists_every_adapter(capsys):
    from genziqa.datasets import ADAPTERS

    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ADAPTERS)
