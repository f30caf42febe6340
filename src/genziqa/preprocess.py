"""Stage 1: images in, VAE-ready tensors out.

Accepted inputs: PIL images, file paths, numpy arrays (H, W, 3) RGB or (H, W) grey of
uint8 (what ``np.asarray(pil_image)`` gives), a list of any of these, or a float tensor in
[0, 1] shaped (B, 3, H, W) or (3, H, W). Anything else is a TypeError naming these.

Every image is resized to a square ``resolution`` with bicubic interpolation, the
aspect ratio not kept and nothing cropped, as the reference does. PIL images and files are
resized by Pillow on 8-bit data (what the reference's torchvision ``Resize`` does on PIL
images); tensors of another size are resized with antialiased bicubic ``interpolate``, which is
close to Pillow but not bit-identical, so for identical scores feed the same kind of input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .config import CLIP_MEAN, CLIP_STD

ImageInput = Image.Image | str | Path | np.ndarray
Images = torch.Tensor | ImageInput | Sequence[ImageInput]
ACCEPTED = (
    "PIL images, file paths, numpy arrays (H, W, 3) or (H, W) of uint8, a list of these, or "
    "a float tensor (B, 3, H, W) / (3, H, W) in [0, 1]"
)


def array_to_image(array: np.ndarray) -> Image.Image:
    """A uint8 numpy image, (H, W, 3) RGB or (H, W) grey, as a PIL image: the same pixels, so
    ``np.asarray(pil_image)`` scores exactly as the PIL image it came from."""
    if array.dtype != np.uint8 or not (
        array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)
    ):
        raise TypeError(
            f"expected {ACCEPTED}; got a numpy array of dtype {array.dtype} and shape "
            f"{array.shape} (for float data in [0, 1] use (array * 255).round().astype(np.uint8)"
            f" or a tensor)"
        )
    return Image.fromarray(np.ascontiguousarray(array))  # 2-D uint8: "L", (H, W, 3): "RGB"


def resize_image(image: Image.Image, resolution: int) -> Image.Image:
    """Square bicubic resize with Pillow (aspect ratio not kept, no crop)."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    if image.size == (resolution, resolution):
        return image
    return image.resize((resolution, resolution), Image.Resampling.BICUBIC)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> uint8 tensor (3, H, W)."""
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def load_for_model(image: ImageInput, resolution: int, **load_options: Any) -> torch.Tensor:
    """One PIL image or file -> uint8 tensor (3, resolution, resolution).

    Files go through ``genziqa.io.images.load_image`` (EXIF orientation, mode conversion, alpha
    over white, clear errors), which gets ``load_options`` (e.g. ``max_pixels``).
    """
    if isinstance(image, np.ndarray):
        image = array_to_image(image)
    elif isinstance(image, (str, Path)):
        from .io.images import load_image

        image = load_image(image, **load_options)
    elif not isinstance(image, Image.Image):
        raise TypeError(f"expected {ACCEPTED}; got {type(image).__name__}")
    return pil_to_tensor(resize_image(image, resolution))


def prepare_images(images: Images, resolution: int) -> torch.Tensor:
    """Any accepted input -> float tensor (B, 3, resolution, resolution) in [0, 1]."""
    if isinstance(images, torch.Tensor):
        return _prepare_tensor(images, resolution)
    if isinstance(images, (Image.Image, str, Path, np.ndarray)):
        images = [images]
    if not isinstance(images, Sequence):
        raise TypeError(f"expected {ACCEPTED}; got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError("no images given")
    batch = torch.stack([load_for_model(image, resolution) for image in images])
    return batch.float().div_(255.0)


def _prepare_tensor(images: torch.Tensor, resolution: int) -> torch.Tensor:
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected an image tensor shaped (B, 3, H, W) or (3, H, W), got {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise ValueError(
            f"expected a float image tensor in [0, 1], got dtype {images.dtype} "
            f"(for uint8 data divide by 255)"
        )
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"expected image values in [0, 1], got the range "
            f"[{images.min().item():.4g}, {images.max().item():.4g}]"
        )
    # Contiguous NCHW: kernels round differently for other memory layouts (channels-last).
    images = images.float().contiguous()
    if images.shape[-2:] != (resolution, resolution):
        images = F.interpolate(
            images,
            size=(resolution, resolution),
            mode="bicubic",
            antialias=True,
            align_corners=False,
        ).clamp_(0, 1)
    return images


def normalize(images: torch.Tensor, mode: str) -> torch.Tensor:
    """[0, 1] images -> the VAE's input range: CLIP mean/std (reference) or [-1, 1]."""
    if mode == "clip":
        mean = images.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(CLIP_STD).view(1, 3, 1, 1)
        return (images - mean) / std
    if mode == "minus_one_one":
        return images * 2 - 1
    raise ValueError(f"unknown normalization {mode!r}; expected 'clip' or 'minus_one_one'")


FLIPS = ("none", "h", "v", "hv")
"""The four flip variants of the reference's training augmentation (h: horizontal, v: vertical)."""


def flip_image(image: torch.Tensor, flip: str) -> torch.Tensor:
    """One image (..., H, W) flipped as ``flip`` says (one of ``FLIPS``)."""
    if flip not in FLIPS:
        raise ValueError(f"unknown flip {flip!r}; expected one of {FLIPS}")
    if "h" in flip:
        image = image.flip(-1)
    if "v" in flip:
        image = image.flip(-2)
    return image


def random_flips(images: torch.Tensor) -> torch.Tensor:
    """The reference's test-time augmentation: each flip with probability 1/2 (global RNG)."""
    flipped = []
    for image in images:
        horizontal = bool(torch.rand(()) < 0.5)
        vertical = bool(torch.rand(()) < 0.5)
        flipped.append(flip_image(image, "h" * horizontal + "v" * vertical or "none"))
    return torch.stack(flipped)
