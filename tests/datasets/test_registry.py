"""The adapter registry, dataset specs and errors common to every adapter."""

from __future__ import annotations

import pytest

from genziqa import datasets
from genziqa.datasets import DatasetError, DatasetInfo, load_table, parse_spec


def test_registry_names_and_infos():
    expected = {
        "synthetic",
        "koniq10k",
        "clive",
        "flive",
        "spaq",
        "kadid10k",
        "agiqa3k",
        "agiqa1k",
        "aigciqa2023",
        "uhdiqa",
        "live",
        "csiq",
        "tid2013",
        "pipal",
        "csv",
    }
    assert {n for n, a in datasets.ADAPTERS.items() if a.info.media == "image"} == expected
    infos = datasets.describe_datasets()
    assert [i.name for i in infos] == list(datasets.ADAPTERS)
    assert all(isinstance(i, DatasetInfo) and i.layout for i in infos)
    lower = {i.name for i in infos if i.lower_better}
    assert lower == {"live", "csiq"}
    assert datasets.get_adapter("kadid10k").info.native_range == (1.0, 5.0)


def test_unknown_dataset_option_and_root_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'KonIQ'"):
        load_table("KonIQ", tmp_path)
    with pytest.raises(DatasetError, match=r"unknown option\(s\) \['folder'\].*resolution_folder"):
        load_table("koniq10k", tmp_path, folder="x")
    with pytest.raises(DatasetError, match="does not exist"):
        load_table("kadid10k", tmp_path / "missing")
    assert issubclass(DatasetError, ValueError)


def test_parse_spec(tmp_path):
    assert parse_spec(f"kadid10k={tmp_path}") == ("kadid10k", tmp_path)
    with pytest.raises(DatasetError, match="NAME=ROOT"):
        parse_spec("kadid10k")
    with pytest.raises(DatasetError, match="unknown dataset"):
        parse_spec("nope=/data")


@pytest.mark.parametrize("name", sorted(datasets.ADAPTERS))
def test_an_empty_folder_is_an_error_naming_what_was_expected(tmp_path, name):
    with pytest.raises(DatasetError, match=r"expected .*" + str(tmp_path)):
        load_table(name, tmp_path)


def test_an_unknown_dataset_suggests_the_nearest() -> None:
    with pytest.raises(DatasetError, match=r"did you mean 'koniq10k'\?.*clive"):
        datasets.get_adapter("koniq10")
