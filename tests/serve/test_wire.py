"""The JSON encodings of maps and overlays, and the upload checks that need no server."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from genziqa.serve.limits import ALLOWED_FORMATS, Rejected, client_name, decode_upload, sniff_format
from genziqa.serve.wire import decode_map, encode_map, encode_png, fit_within, json_score, to_numpy


def test_a_map_round_trips_as_float16_npy() -> None:
    values = np.linspace(-2, 3, 35, dtype=np.float32).reshape(5, 7)
    encoded = encode_map(values)
    assert encoded["dtype"] == "float16" and encoded["shape"] == [5, 7]
    raw = base64.b64decode(encoded["npy_b64"])
    assert raw.startswith(b"\x93NUMPY") and b"'descr': '<f2'" in raw
    assert np.array_equal(decode_map(encoded), values.astype(np.float16))


def test_a_map_is_averaged_down_to_fit_max_side() -> None:
    values = np.zeros((40, 80), dtype=np.float32)
    values[:, 40:] = 1.0
    shrunk = decode_map(encode_map(values, max_side=20))
    assert shrunk.shape == (10, 20)
    assert np.array_equal(shrunk[:, :10], np.zeros((10, 10))) and np.all(shrunk[:, 10:] == 1)
    with pytest.raises(ValueError, match="2-D"):
        encode_map(np.zeros((2, 3, 4)))


def test_png_overlay_and_sizes() -> None:
    image = Image.new("RGB", (300, 100), (10, 200, 30))
    decoded = Image.open(io.BytesIO(base64.b64decode(encode_png(image, max_side=150))))
    assert decoded.format == "PNG" and decoded.size == (150, 50)
    assert decoded.convert("RGB").getpixel((10, 10)) == (10, 200, 30)
    assert fit_within(300, 100, None) == (300, 100)
    assert fit_within(100, 300, 30) == (10, 30)


def test_to_numpy_keeps_the_precision_of_scores() -> None:
    scores = torch.tensor([0.123456789012345, 1.0], dtype=torch.float64)
    assert to_numpy(scores).dtype == np.float64 and to_numpy(scores)[0] == 0.123456789012345
    assert to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32
    assert json_score(float("nan")) is None and json_score(2.5) == 2.5


@pytest.mark.parametrize("fmt", ALLOWED_FORMATS)
def test_every_allowed_format_is_sniffed_and_decoded(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 100, 50)).save(buffer, format=fmt)
    data = buffer.getvalue()
    assert sniff_format(data) == fmt
    image = decode_upload(data, max_pixels=10_000)
    assert image.mode == "RGB" and image.size == (32, 24)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 422),
        (b"%PDF-1.7 not an image", 415),
        (b"P6\n2 2\n255\n" + b"\x00" * 12, 415),  # PPM: Pillow reads it, the service does not
        (b"GIF89a" + b"\x00" * 10, 422),
    ],
)
def test_refusals_by_content(data: bytes, status: int) -> None:
    with pytest.raises(Rejected) as refused:
        decode_upload(data, max_pixels=10_000)
    assert refused.value.status == status


def test_client_names_are_base_names_only() -> None:
    assert client_name("../../etc/passwd", 0) == "passwd"
    assert client_name("C:\\Users\\me\\photo.jpg", 0) == "photo.jpg"
    assert client_name("", 2) == "file-3"
    assert client_name("a\x00b\nc.png", 0) == "abc.png"
