"""What `genziqa --help`, each command's --help and --version show."""

from __future__ import annotations

import re

import pytest
import typer

from genziqa import __version__
from genziqa.cli import EXIT_OK, app, main

COMMANDS = sorted(typer.main.get_command(app).commands)
TYPE_TAG = re.compile(r"<(bool|str|int|float|path|list\[[a-z]+\]|int range|float range)>")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag, capsys) -> None:
    assert main([flag]) == EXIT_OK
    assert capsys.readouterr().out == f"genziqa {__version__}\n"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_at_80_columns_has_no_type_tags_and_nothing_cut_off(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*([command] if command else []), "--help"]) == EXIT_OK
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80
    assert not TYPE_TAG.search(text), TYPE_TAG.search(text)
    assert "…" not in text  # no option name, help text or default cut short


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_every_command_has_a_description(command) -> None:
    click_command = typer.main.get_command(app).commands[command]
    for param in click_command.params:
        assert (param.help or "").strip(), f"genziqa {command} {param.name}: no description"


def test_help_names_the_models_aliases_and_that_presets_change_the_scale(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("genziqa-tiny", "genziqa-tiny-zero-shot", "zero-shot"):  # --model
        assert name in text
    for alias in ("sd21-base", "sd21", "sd15", "genziqa-tiny-sd"):  # --backbone
        assert alias in text
    assert "Presets change the score scale" in text
    main(["train", "--help"])
    assert "(default: sd21-base)" in " ".join(capsys.readouterr().out.split())
