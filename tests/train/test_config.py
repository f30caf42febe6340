"""TrainConfig: the reference recipe, strict round trip, --config / --set."""

from __future__ import annotations

import json

import pytest

from genziqa.train import TrainConfig

from .conftest import TINY


def test_train_config_round_trip_and_validation(tmp_path) -> None:
    config = TrainConfig(train=("koniq10k=/data/koniq",), out=str(tmp_path), model=TINY, lr=3e-4)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    data = config.to_dict()
    data["learning_rate"] = 1
    with pytest.raises(ValueError, match="unknown key"):
        TrainConfig.from_dict(data)
    with pytest.raises(ValueError, match="at least one training dataset"):
        TrainConfig(train=(), out="x")
    with pytest.raises(ValueError, match="give --val"):  # validation would see training data
        TrainConfig(train=("koniq10k=/data/koniq",), out="x", train_split="all")
    TrainConfig(train=("koniq10k=/data/koniq",), out="x", train_split="all", val=("clive=/c",))


def test_reference_recipe_defaults() -> None:
    config = TrainConfig(train=("flive=/data",), out="x")
    assert (config.lr, config.betas, config.weight_decay, config.adam_eps) == (
        1e-4,
        (0.9, 0.999),
        0.01,
        1e-8,
    )
    assert (config.batch_size, config.for_media("image").epochs, config.grad_clip) == (16, 10, 1.0)
    assert config.epochs is None  # resolved by the run: 10 for images, 6 for videos
    assert config.loss == "mse" and config.target == "mos" and config.flips
    assert config.mixed_precision == "no"


def test_build_train_config_layers_file_settings_and_flags(tmp_path) -> None:
    from genziqa.train import build_train_config

    base = tmp_path / "run.json"
    base.write_text(json.dumps({"train": ["csv=/data"], "out": "runs/a", "epochs": 3, "lr": 0.5}))
    config = build_train_config(
        base,
        ["lr=3e-3", "model.prompts.n_ctx=8", "loss=plcc", "model.backbone.source=sd15"],
        epochs=None,  # a flag not given keeps the file's value
        batch_size=4,
        **{"model.lora.rank": 2},
    )
    assert (config.epochs, config.lr, config.batch_size, config.loss) == (3, 3e-3, 4, "plcc")
    assert config.model.prompts.n_ctx == 8 and config.model.lora.rank == 2
    assert config.model.backbone.source == "sd15"
    assert config.train == ("csv=/data",) and config.out == "runs/a"
    # Everything else keeps TrainConfig's defaults.
    assert config.weight_decay == TrainConfig(train=("x=y",), out="o").weight_decay


def test_build_train_config_errors_name_the_problem(tmp_path) -> None:
    from genziqa.train import TrainSetupError, build_train_config

    with pytest.raises(TrainSetupError, match=r"unknown key\(s\) \['learning_rate'\]; valid"):
        build_train_config(None, ["learning_rate=1"], train=["csv=/d"], out="o")
    with pytest.raises(TrainSetupError, match=r"model.prompts: unknown key\(s\) \['nctx'\]"):
        build_train_config(None, ["model.prompts.nctx=1"], train=["csv=/d"], out="o")
    with pytest.raises(TrainSetupError, match="lr is a value, not a section"):
        build_train_config(None, ["lr.x=1"], train=["csv=/d"], out="o")
    with pytest.raises(TrainSetupError, match="expected an integer"):
        build_train_config(None, ["epochs=many"], train=["csv=/d"], out="o")
    with pytest.raises(TrainSetupError, match="KEY=VALUE"):
        build_train_config(None, ["epochs"], train=["csv=/d"], out="o")
    with pytest.raises(TrainSetupError, match="needs train and out"):
        build_train_config(None, [])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TrainSetupError, match="not valid JSON"):
        build_train_config(bad, [])
    with pytest.raises(TrainSetupError, match="No such file"):
        build_train_config(tmp_path / "missing.json", [])


def test_train_cli_reports_config_errors_in_one_line(capsys) -> None:
    from genziqa.cli import main

    assert main(["train", "--train", "csv=/d", "--out", "o", "--set", "learning_rate=1"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: train config: unknown key(s) ['learning_rate']")
    assert "'lr'" in message and len(message.splitlines()) == 1
    assert main(["train", "--out", "o"]) == 2
    assert "needs train" in capsys.readouterr().err


def test_help_shows_trainconfig_defaults(capsys, monkeypatch) -> None:
    from genziqa.cli import main

    monkeypatch.setenv("COLUMNS", "300")  # one line per option
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--config" in text and "--set" in text
    defaults = TrainConfig(train=("x=y",), out="o")
    assert "Passes over the training data (default: 10 for images, 6 for videos)." in text
    assert defaults.for_media("image").epochs == 10 and defaults.for_media("video").epochs == 6
    assert f"AdamW learning rate (default: {defaults.lr})." in text
    from genziqa.pretrained import BACKBONE_ALIASES

    assert BACKBONE_ALIASES["sd21-base"] == defaults.model.backbone.source
    assert "(default: sd21-base)." in text  # the alias of the default backbone
