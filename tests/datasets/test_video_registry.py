"""The video adapters in the registry: names, media, ranges; no PyAV on `import genziqa`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genziqa import datasets
from genziqa.datasets import DatasetInfo, describe_datasets

VIDEO = {
    "konvid1k": (1.0, 5.0),
    "lsvq": (0.0, 100.0),
    "lsvq1080p": (0.0, 100.0),
    "livevqc": (0.0, 100.0),
    "youtubeugc": (1.0, 5.0),
    "liveythfr": (0.0, 100.0),
    "cvd2014": None,  # realigned MOS can be negative: min-max over the data
    "konvid150ka": (1.0, 5.0),
    "konvid150kb": (1.0, 5.0),
    "liveytgaming": (0.0, 100.0),
    "synthetic_video": (0.0, 100.0),
}


def test_every_video_database_is_registered_as_video_and_higher_is_better():
    infos = {i.name: i for i in describe_datasets() if i.media == "video"}
    assert set(infos) == set(VIDEO)
    for name, info in infos.items():
        assert info.native_range == VIDEO[name], name
        assert not info.lower_better and info.layout, name
        assert datasets.get_adapter(name).read.__module__ == f"genziqa.datasets.{name}"
    official = {n for n, i in infos.items() if i.has_official_split}
    assert official == {"lsvq", "lsvq1080p", "synthetic_video"}
    assert {i.media for i in describe_datasets()} == {"image", "video"}


def test_dataset_info_refuses_an_unknown_media():
    with pytest.raises(ValueError, match=r"media must be one of \('image', 'video'\)"):
        DatasetInfo("x", "X", "custom", None, False, "MOS", False, "ROOT", media="audio")
    assert DatasetInfo("x", "X", "custom", None, False, "MOS", False, "ROOT").media == "image"


def test_importing_genziqa_and_its_adapters_does_not_import_pyav():
    code = (
        "import sys, genziqa, genziqa.datasets, genziqa.datasets.synthetic_video; "
        "print('av' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
