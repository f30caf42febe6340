"""WebDataset shards read in place: samples from the headers, member bytes by offset, and one
error per bad sample or archive."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from genziqa.io.images import ImageError
from genziqa.io.webdataset import TarSample, index_shard, read_bytes

MEMBERS = {
    "00000.jpg": b"jpeg bytes",
    "00000.json": b"{}",
    "00000.txt": b"a caption",
    "00001.png": b"png bytes",
    "00001.webp": b"webp bytes",  # a sample with two images: the preferred order picks png
    "sub/a.b.tiff": b"tiff bytes",  # key sub/a, extension b.tiff: not an image extension
    "sub/c.TIF": b"tif bytes",  # upper case: still an image extension
    "nocap.json": b"{}",
    ".hidden.jpg": b"skipped",
}


def _shard(path: Path, members: dict[str, bytes] = MEMBERS) -> Path:
    with tarfile.open(path, "w") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def test_samples_are_grouped_by_key_and_read_from_their_image_member(tmp_path):
    tar = _shard(tmp_path / "00000.tar")
    index = index_shard(tar)
    assert index.error == ""
    by_key = {sample.key: sample for sample in index.samples}
    assert list(by_key) == ["00000", "00001", "sub/a", "sub/c", "nocap"]  # tar order
    assert read_bytes(tar, by_key["00000"].offset, by_key["00000"].size) == b"jpeg bytes"
    assert read_bytes(tar, by_key["00001"].offset, by_key["00001"].size) == b"png bytes"
    assert read_bytes(tar, by_key["sub/c"].offset, by_key["sub/c"].size) == b"tif bytes"
    assert by_key["sub/a"].error == "no image member in this WebDataset sample (found .b.tiff)"
    assert by_key["nocap"] == TarSample("nocap", error=by_key["nocap"].error)
    assert "found .json" in by_key["nocap"].error


def test_a_truncated_shard_keeps_the_whole_members_and_names_the_cut_one(tmp_path):
    tar = _shard(tmp_path / "full.tar")
    with tarfile.open(tar) as archive:
        member = archive.getmember("00001.png")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(tar.read_bytes()[: member.offset_data + 3])
    by_key = {sample.key: sample for sample in index_shard(cut).samples}
    assert by_key["00000"].error == ""
    assert by_key["00001"].error == "tar member 00001.png is cut short (the tar is truncated)"
    with pytest.raises(ImageError, match="cut short: 3 of 9 bytes"):
        read_bytes(cut, by_key["00001"].offset, by_key["00001"].size, "cut.tar#00001")


def test_not_a_tar_is_an_error_of_the_shard_with_no_samples(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar archive at all" * 40)
    index = index_shard(bad)
    assert index.samples == [] and index.error.startswith("not a readable uncompressed tar")


def test_read_bytes_gives_load_image_reasons_for_file_errors(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"abc")
    assert read_bytes(tmp_path / "a.jpg") == b"abc"
    with pytest.raises(ImageError, match="file not found") as caught:
        read_bytes(tmp_path / "missing.jpg", name="label#key")
    assert str(caught.value.path) == "label#key"
    with pytest.raises(ImageError, match="is a directory"):
        read_bytes(tmp_path)
