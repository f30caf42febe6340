"""Tests for genziqa.io.images: every format, pixel mode and failure, written as real files."""

from __future__ import annotations

import io
import os
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from genziqa.io.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageError,
    find_images,
    load_image,
    search_images,
)

RED = (220, 30, 40)
GREEN = (20, 200, 60)
BLUE = (30, 40, 210)


def _close(actual: tuple[int, ...], expected: tuple[int, ...], tol: int) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def _rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    return tuple(int(v) for v in image.getpixel(xy))  # type: ignore[return-value]


def _check_rgb(image: Image.Image, size: tuple[int, int]) -> None:
    assert image.mode == "RGB"
    assert image.size == size
    assert np.asarray(image).dtype == np.uint8


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "save_kwargs", "tol"),
    [
        (".jpg", {"quality": 95}, 6),
        (".png", {}, 0),
        (".webp", {"lossless": True}, 0),
        (".bmp", {}, 0),
        (".tif", {}, 0),
        (".gif", {}, 0),
    ],
)
def test_formats_decode_to_rgb(tmp_path: Path, suffix: str, save_kwargs: dict, tol: int) -> None:
    path = tmp_path / f"photo{suffix}"
    Image.new("RGB", (40, 30), RED).save(path, **save_kwargs)
    image = load_image(path)
    _check_rgb(image, (40, 30))
    assert _close(_rgb_at(image, (20, 15)), RED, tol)


def test_result_is_a_new_image_without_an_open_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), RED).save(path)
    image = load_image(path)
    assert getattr(image, "fp", None) is None
    path.unlink()  # the pixels must not depend on the file any more
    assert _rgb_at(image, (0, 0)) == RED


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (32, 32), c) for c in (RED, GREEN, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 3
    image = load_image(path)
    _check_rgb(image, (32, 32))
    assert _close(_rgb_at(image, (5, 5)), RED, 4)


def test_animated_webp_uses_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "anim.webp"
    frames = [Image.new("RGB", (32, 32), c) for c in (GREEN, RED)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, lossless=True)
    assert _rgb_at(load_image(path), (5, 5)) == GREEN


def test_multipage_tiff_uses_first_page(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    pages = [Image.new("RGB", (32, 32), c) for c in (BLUE, RED)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert _rgb_at(load_image(path), (5, 5)) == BLUE


def test_exif_orientation_6_is_applied(tmp_path: Path) -> None:
    # Stored 60x40, blue, with a red 20x20 block in the stored top-left corner. Orientation 6
    # means "rotate 90 degrees clockwise to display": the block ends up top-right.
    stored = Image.new("RGB", (60, 40), BLUE)
    stored.paste(RED, (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)

    image = load_image(path)
    _check_rgb(image, (40, 60))
    assert _close(_rgb_at(image, (35, 5)), RED, 10)  # top-right
    assert _close(_rgb_at(image, (5, 5)), BLUE, 10)  # top-left
    assert _close(_rgb_at(image, (35, 55)), BLUE, 10)  # bottom-right


# --------------------------------------------------------------------------------------------
# Pixel modes
# --------------------------------------------------------------------------------------------


def test_grayscale_is_replicated(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (20, 20), 100).save(path)
    assert _rgb_at(load_image(path), (3, 3)) == (100, 100, 100)


def test_palette_is_looked_up(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, *GREEN])
    image.save(path)
    with Image.open(path) as check:
        assert check.mode == "P"
    assert _rgb_at(load_image(path), (3, 3)) == GREEN


def test_palette_with_transparency_goes_over_white(tmp_path: Path) -> None:
    path = tmp_path / "palette_alpha.png"
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, *GREEN])
    image.paste(0, (0, 0, 10, 20))  # left half: index 0 (black in the palette), transparent
    image.save(path, transparency=0)
    with Image.open(path) as check:
        assert check.mode == "P"
        assert "transparency" in check.info
    result = load_image(path)
    assert _rgb_at(result, (2, 2)) == (255, 255, 255)
    assert _rgb_at(result, (15, 2)) == GREEN


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(path, quality=95)  # pure red
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    image = load_image(path)
    _check_rgb(image, (32, 32))
    assert _close(_rgb_at(image, (16, 16)), (255, 0, 0), 6)


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.zeros((20, 20), dtype=np.uint16)
    values[:5] = 65535
    values[5:10] = 32896
    values[10:15] = 257 * 100
    path = tmp_path / "gray16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")
    result = np.asarray(load_image(path))
    assert (result[:5] == 255).all()
    assert (result[5:10] == 128).all()
    assert (result[10:15] == 100).all()
    assert (result[15:] == 0).all()


def _png16(path: Path, values: np.ndarray) -> Path:
    """A 16-bit PNG written by hand (Pillow writes 16-bit grey only): grey (H, W), grey+alpha
    (H, W, 2), RGB (H, W, 3) or RGBA (H, W, 4)."""
    import zlib

    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[1 if values.ndim == 2 else values.shape[2]]
    height, width = values.shape[:2]
    rows = values.reshape(height, -1).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(("channels", "mode8"), [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_16bit_file_and_its_8bit_copy_by_the_high_byte_decode_the_same(
    tmp_path: Path, channels: int, mode8: str
) -> None:
    shape = (24, 20) if channels == 1 else (24, 20, channels)
    values = np.random.default_rng(channels).integers(0, 65536, shape, dtype=np.uint16)
    values.flat[:4] = (255, 256, 32896, 65535)  # where v >> 8 and round(v / 257) part
    if channels in (2, 4):
        values[..., -1] = 65535  # opaque: the alpha rule is tested on its own
        values[:4, :, -1] = 0  # and fully transparent rows: white either way
    sixteen = _png16(tmp_path / "sixteen.png", values)
    eight = tmp_path / "eight.png"
    Image.fromarray((values >> 8).astype(np.uint8), mode8).save(eight)
    with Image.open(sixteen) as check:
        assert check.mode == ("I;16" if channels == 1 else "RGBA" if channels != 3 else "RGB")
    np.testing.assert_array_equal(np.asarray(load_image(sixteen)), np.asarray(load_image(eight)))


def test_32bit_integer_grayscale_is_read_as_16bit(tmp_path: Path) -> None:
    values = np.zeros((20, 20), dtype=np.int32)
    values[:10] = 32896
    values[10:] = 70000  # outside 16 bits: clipped to 65535
    path = tmp_path / "gray32.tif"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode == "I"
    result = np.asarray(load_image(path))
    assert (result[:10] == 128).all()
    assert (result[10:] == 255).all()


def test_la_transparent_becomes_white_and_half_blends(tmp_path: Path) -> None:
    values = np.zeros((20, 20, 2), dtype=np.uint8)
    values[:, :, 0] = 50
    values[:, :, 1] = 255
    values[:5, :, 1] = 0  # fully transparent
    values[5:10, :, 0] = 0
    values[5:10, :, 1] = 128  # half transparent black
    path = tmp_path / "la.png"
    Image.fromarray(values, "LA").save(path)
    result = load_image(path)
    assert _rgb_at(result, (3, 2)) == (255, 255, 255)
    assert _close(_rgb_at(result, (3, 7)), (127, 127, 127), 1)
    assert _rgb_at(result, (3, 15)) == (50, 50, 50)


def test_rgba_transparent_becomes_white_and_half_blends(tmp_path: Path) -> None:
    values = np.zeros((20, 20, 4), dtype=np.uint8)
    values[:] = (*BLUE, 255)
    values[:5] = (0, 255, 0, 0)  # hidden colour under alpha 0 must not show
    values[5:10] = (255, 0, 0, 128)
    path = tmp_path / "rgba.png"
    Image.fromarray(values, "RGBA").save(path)
    result = load_image(path)
    assert _rgb_at(result, (3, 2)) == (255, 255, 255)
    assert _close(_rgb_at(result, (3, 7)), (255, 127, 127), 1)
    assert _rgb_at(result, (3, 15)) == BLUE


def test_one_bit(tmp_path: Path) -> None:
    image = Image.new("1", (20, 20), 0)
    image.paste(1, (10, 0, 20, 20))
    path = tmp_path / "bits.png"
    image.save(path)
    with Image.open(path) as check:
        assert check.mode == "1"
    result = load_image(path)
    assert _rgb_at(result, (2, 2)) == (0, 0, 0)
    assert _rgb_at(result, (15, 2)) == (255, 255, 255)


def test_float_tiff_in_unit_range(tmp_path: Path) -> None:
    values = np.zeros((20, 20), dtype=np.float32)
    values[:10] = 0.25
    values[10:] = 1.0
    path = tmp_path / "unit.tif"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode == "F"
    result = np.asarray(load_image(path))
    assert (result[:10] == 64).all()  # round(0.25 * 255) = round(63.75)
    assert (result[10:] == 255).all()


def test_float_tiff_in_byte_range_is_clipped(tmp_path: Path) -> None:
    values = np.zeros((20, 20), dtype=np.float32)
    values[:5] = 100.4
    values[5:10] = 300.0
    values[10:15] = -20.0
    values[15:] = np.nan
    path = tmp_path / "bytes.tif"
    Image.fromarray(values).save(path)
    result = np.asarray(load_image(path))
    assert (result[:5] == 100).all()
    assert (result[5:10] == 255).all()
    assert (result[10:15] == 0).all()
    assert (result[15:] == 0).all()


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def _error_for(path: Path, **kwargs: object) -> ImageError:
    with pytest.raises(ImageError) as info:
        load_image(path, **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert error.path == path
    assert "\n" not in str(error)
    assert path.name in str(error)
    assert error.reason in str(error)
    return error


def _noise_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


def test_missing_file(tmp_path: Path) -> None:
    assert _error_for(tmp_path / "nope.jpg").reason == "file not found"


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    assert "is a directory" in _error_for(folder).reason


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert _error_for(path).reason == "empty file (0 bytes)"


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    assert "not an image" in _error_for(path).reason


def test_truncated_jpeg(tmp_path: Path) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = _noise_bytes("JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    error = _error_for(path)
    assert error.reason == "truncated image file (could not decode all of it)"
    assert str(error) == f"{path}: truncated image file (could not decode all of it)"


def test_truncated_png(tmp_path: Path) -> None:
    data = _noise_bytes("PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _error_for(path).reason


def test_corrupt_png_idat(tmp_path: Path) -> None:
    data = bytearray(_noise_bytes("PNG"))
    start = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[start - 4 : start])
    middle = start + 4 + length // 2
    for offset in range(8):
        data[middle + offset] ^= 0xFF
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(data))
    reason = _error_for(path).reason
    assert reason.startswith("corrupt image data") or "truncated" in reason


def test_too_small(tmp_path: Path) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", (40, 8), RED).save(path)
    reason = _error_for(path).reason
    assert "too small" in reason
    assert "40x8" in reason
    assert "16" in reason
    assert load_image(path, min_size=8).size == (40, 8)


def test_decompression_bomb_refused_and_limit_can_be_raised(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (200, 200), RED).save(path)
    reason = _error_for(path, max_pixels=10_000).reason
    assert "40,000" in reason
    assert "10,000" in reason
    assert "decompression bomb" in reason
    assert "raise max_pixels" in reason
    assert load_image(path, max_pixels=None).size == (200, 200)
    assert load_image(path, max_pixels=100_000).size == (200, 200)
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS


def test_raised_limit_beats_pillow_limit_without_changing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend Pillow's global limit is tiny, so its own check would refuse the file.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    path = tmp_path / "big.png"
    Image.new("RGB", (200, 200), RED).save(path)
    with pytest.raises(Image.DecompressionBombError), Image.open(path):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(path, max_pixels=100_000).size == (200, 200)
        assert load_image(path, max_pixels=None).size == (200, 200)
        # Our limit below Pillow's error threshold: Pillow's error becomes our message.
        assert "40,000" in _error_for(path, max_pixels=1_500).reason
        assert "40,000" in _error_for(path, max_pixels=10_000).reason
    assert Image.MAX_IMAGE_PIXELS == 1_000


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.png"
    Image.new("RGB", (20, 20), RED).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            # Root reads a chmod-000 file anyway (as in CI): make the open itself refuse.
            real_open = open

            def refusing_open(file, *args, **kwargs):
                if isinstance(file, (str, os.PathLike)) and Path(file) == path:
                    raise PermissionError(13, "Permission denied", str(file))
                return real_open(file, *args, **kwargs)

            monkeypatch.setattr("builtins.open", refusing_open)
        assert "permission denied" in _error_for(path).reason
    finally:
        path.chmod(0o644)


def test_bad_arguments_raise_value_error(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (20, 20), RED).save(path)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(path, max_pixels=0)
    with pytest.raises(ValueError, match="min_size"):
        load_image(path, min_size=0)


def test_error_str_is_one_line_and_pickles() -> None:
    error = ImageError("photo.jpg", "first line\nsecond line")
    assert str(error) == "photo.jpg: first line second line"
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.path == Path("photo.jpg")


# --------------------------------------------------------------------------------------------
# find_images
# --------------------------------------------------------------------------------------------


def test_image_extensions() -> None:
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"):
        assert ext in IMAGE_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_EXTENSIONS)
    assert ".txt" not in IMAGE_EXTENSIONS


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for name in ("a.jpg", "b.PNG", "notes.txt", ".hidden.jpg", "sub/c.webp", ".cache/d.jpg"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def _names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


def test_find_folder_top_level(tree: Path) -> None:
    found = find_images([tree])
    assert _names(found, tree) == ["a.jpg", "b.PNG"]
    assert all(p.is_absolute() for p in found)


def test_find_folder_recursive_skips_hidden(tree: Path) -> None:
    assert _names(find_images([tree], recursive=True), tree) == ["a.jpg", "b.PNG", "sub/c.webp"]


def test_find_glob(tree: Path) -> None:
    assert _names(find_images([str(tree / "*.jpg")]), tree) == ["a.jpg"]
    assert _names(find_images([str(tree / "*")]), tree) == ["a.jpg", "b.PNG", "sub/c.webp"]
    pattern = str(tree / "**" / "*.webp")
    assert _names(find_images([pattern], recursive=True), tree) == ["sub/c.webp"]
    deep = str(tree / "**")
    assert _names(find_images([deep], recursive=True), tree) == ["a.jpg", "b.PNG", "sub/c.webp"]


def test_find_explicit_odd_file_kept(tree: Path) -> None:
    found = find_images([tree / "notes.txt", tree / ".hidden.jpg"])
    assert _names(found, tree) == [".hidden.jpg", "notes.txt"]


def test_find_duplicates_removed_and_sorted(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    found = find_images(["a.jpg", tree / "a.jpg", str(tree), "./b.PNG", "*.jpg"])
    assert _names(found, tree) == ["a.jpg", "b.PNG"]
    assert found == sorted(found, key=str)


def test_find_missing_input_raises(tree: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.jpg"):
        find_images([tree / "a.jpg", tree / "missing.jpg"])
    with pytest.raises(FileNotFoundError, match=r"\*\.gif"):
        find_images([str(tree / "*.gif")])


def test_find_rejects_a_bare_string(tree: Path) -> None:
    with pytest.raises(TypeError, match="sequence"):
        find_images(str(tree))  # type: ignore[arg-type]


def test_decode_image_from_bytes_equals_the_file(tmp_path: Path) -> None:
    """Uploads and tar members decode as files do: same pixels, same one-line reasons."""
    path = tmp_path / "a.png"
    Image.new("I;16", (20, 18), 40000).save(path)
    from genziqa.io.images import decode_image

    from_bytes = decode_image(path.read_bytes(), "a.png")
    assert np.array_equal(np.asarray(from_bytes), np.asarray(load_image(path)))
    with pytest.raises(ImageError, match="empty file") as empty:
        decode_image(b"", "upload")
    assert str(empty.value) == "upload: empty file (0 bytes)"
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError) as from_file:
        load_image(text)
    with pytest.raises(ImageError) as in_memory:
        decode_image(text.read_bytes(), "notes.jpg")
    assert in_memory.value.reason == from_file.value.reason


def test_a_link_that_leads_nowhere_is_kept_and_fails_with_a_clear_reason(tmp_path: Path) -> None:
    folder = tmp_path / "links"
    folder.mkdir()
    Image.new("RGB", (20, 20), RED).save(folder / "real.png")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop2.jpg")
    (folder / "loop2.jpg").symlink_to(folder / "loop.jpg")
    names = ["dangling.jpg", "loop.jpg", "loop2.jpg", "real.png"]
    named = find_images([folder / n for n in names])  # as the shell expands dir/*
    assert [p.name for p in named] == names
    assert [p.name for p in find_images([folder])] == names  # a folder walk: none vanishes
    assert [p.name for p in find_images([str(folder / "*.jpg")])] == names[:3]  # a glob
    assert "dangling symbolic link" in _error_for(folder / "dangling.jpg").reason
    assert "gone.jpg" in _error_for(folder / "dangling.jpg").reason
    assert "symbolic link loop" in _error_for(folder / "loop.jpg").reason


def test_glob_ignores_the_case_of_the_file_name(tree: Path) -> None:
    (tree / "sub" / "c.JPG").write_bytes(b"x")
    (tree / "sub" / "e.Jpeg").write_bytes(b"x")
    pattern = str(tree / "**" / "*.jpg")
    assert _names(find_images([pattern], recursive=True), tree) == ["a.jpg", "sub/c.JPG"]
    assert _names(find_images([str(tree / "*" / "C.jpg")]), tree) == ["sub/c.JPG"]
    assert _names(find_images([str(tree / "[AB].*")]), tree) == ["a.jpg", "b.PNG"]
    assert _names(find_images([str(tree / "*.jp*g")], recursive=True), tree) == ["a.jpg"]
    with pytest.raises(FileNotFoundError, match="matched nothing"):
        find_images([str(tree / "SUB" / "*")])  # folder parts match as the file system does


def test_search_counts_the_images_left_in_subfolders(tree: Path) -> None:
    (tree / "sub" / "deeper").mkdir()
    (tree / "sub" / "deeper" / "f.jpg").write_bytes(b"x")
    (tree / "sub" / "notes.txt").write_bytes(b"x")
    flat = search_images([tree])
    assert _names(flat.files, tree) == ["a.jpg", "b.PNG"]
    assert flat.left_in_subfolders == 2  # sub/c.webp, sub/deeper/f.jpg (not .cache/, .txt)
    deep = search_images([tree], recursive=True)
    assert deep.left_in_subfolders == 0 and len(deep.files) == 4
    only_sub = search_images([tree / "sub"])
    assert _names(only_sub.files, tree) == ["sub/c.webp"] and only_sub.left_in_subfolders == 1


def test_listed_paths_are_taken_literally(tree: Path) -> None:
    odd = tree / "odd [1] *.jpg"
    odd.write_bytes(b"x")
    found = search_images([], listed=[str(odd), str(tree / "gone.jpg"), str(tree / "sub")])
    assert _names(found.files, tree) == ["gone.jpg", "odd [1] *.jpg", "sub/c.webp"]
    with pytest.raises(TypeError, match="listed"):
        search_images([], listed=str(odd))  # type: ignore[arg-type]
