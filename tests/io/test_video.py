"""Video decoding: frame-exact sampling by decoded index, pixels, orientation, bad files.

Every video here is written by the test itself (tests/video_files.py) with frames that show
their own index, so "the decoder returned frame i" is checked on the pixels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genziqa.io import video as video_module
from genziqa.io.video import (
    RAW_VIDEO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FrameCollector,
    VideoError,
    decode_into,
    is_video_name,
    probe,
    read_frames,
    sample_frames,
)
from genziqa.video.frames import sample_indices

from ..video_files import (
    HEIGHT,
    WIDTH,
    pattern,
    read_index,
    write_audio_only,
    write_video,
    write_video_stream_without_frames,
)

# (file name, encoder, pixel format, muxer): every container family the tests can write.
FORMATS = [
    ("h264.mp4", "libx264", "yuv420p", None),
    ("vp9.webm", "libvpx-vp9", "yuv420p", None),
    ("ffv1-10bit.mkv", "ffv1", "yuv420p10le", "matroska"),
    ("hevc-10bit.mkv", "libx265", "yuv420p10le", "matroska"),
    ("mpeg4.avi", "mpeg4", "yuv420p", None),
    ("prores.mov", "prores", "yuv422p10le", None),
    ("mpeg2.ts", "mpeg2video", "yuv420p", None),
    ("mpeg1.mpg", "mpeg1video", "yuv420p", "mpeg"),
    ("flv1.flv", "flv", "yuv420p", None),
    ("wmv2.wmv", "wmv2", "yuv420p", "asf"),
    ("h264.m4v", "libx264", "yuv420p", "mp4"),
    ("raw.y4m", "rawvideo", "yuv420p", "yuv4mpegpipe"),
]


def _reason(excinfo: pytest.ExceptionInfo[VideoError]) -> str:
    error = excinfo.value
    assert "\n" not in error.reason and str(error) == f"{error.path}: {error.reason}"
    return error.reason


# --------------------------------------------------------------------------------------------
# Frame-exact sampling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "codec", "pix_fmt", "muxer"), FORMATS)
def test_frames_are_the_requested_decoded_indices_in_every_container(
    tmp_path: Path, name: str, codec: str, pix_fmt: str, muxer: str | None
) -> None:
    path = write_video(tmp_path / name, 40, codec=codec, pix_fmt=pix_fmt, container=muxer)
    wanted = [39, 0, 1, 17, 38, 17]
    frames = read_frames(path, wanted)
    assert frames.shape == (6, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    assert [read_index(f) for f in frames] == wanted
    sampled = sample_frames(path, 8)
    assert [read_index(f) for f in sampled] == sample_indices(40, 8)
    assert probe(path, count_frames=True).num_frames == 40


def test_every_frame_of_a_b_frame_h264_stream_in_order(tmp_path: Path) -> None:
    # libx264 defaults: B-frames and a GOP shorter than the video, so decode order != display.
    path = write_video(tmp_path / "long.mp4", 300, options={"crf": "18"})
    frames = read_frames(path, range(300))
    assert [read_index(f) for f in frames] == list(range(300))
    assert [read_index(f) for f in sample_frames(path, 12)] == sample_indices(300, 12)


@pytest.mark.parametrize("muxer", ["mp4", "matroska"])
def test_variable_frame_rate_is_indexed_by_decoded_order(tmp_path: Path, muxer: str) -> None:
    pts = np.cumsum([0] + [20, 70, 33] * 20)[:60].tolist()  # irregular gaps, in ms
    path = write_video(tmp_path / "vfr.mkv", 60, container=muxer, pts_ms=pts)
    wanted = [0, 1, 2, 30, 58, 59]
    assert [read_index(f) for f in read_frames(path, wanted)] == wanted
    info = probe(path, count_frames=True)
    assert info.num_frames == 60
    assert info.fps is not None and 20 < info.fps < 30  # average of 50, 14.3 and 30.3 fps


def test_fewer_frames_than_k_repeats_by_the_linspace_rule(tmp_path: Path) -> None:
    path = write_video(tmp_path / "three.mp4", 3)
    frames = sample_frames(path, 8)
    assert [read_index(f) for f in frames] == [0, 0, 0, 0, 1, 1, 1, 2]
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8, short="error")
    assert "3 decoded frames, fewer than the 8 to sample" in _reason(excinfo)


def test_only_wanted_frames_reach_a_sink_once_each_in_order(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 30)

    class Recorder:
        def __init__(self) -> None:
            self.plans: list[int | None] = []
            self.seen: list[int] = []

        def plan(self, info):
            self.plans.append(info.num_frames)
            self.seen = []
            return [20, 3, 3, 7]

        def add(self, index, frame):
            assert read_index(frame) == index
            self.seen.append(index)

    first, second = Recorder(), Recorder()
    info = decode_into(path, [first, second])
    assert info.num_frames == 30
    assert first.seen == second.seen == [3, 7, 20] and first.plans == [30]


def test_decoded_frames_are_freed_without_the_garbage_collector(tmp_path: Path) -> None:
    # Reading frame.side_data makes a reference cycle; touching it per frame kept every
    # frame's buffers alive until a gc run (+2.8 MB per 1080p frame). Only the first may be.
    import gc

    import av

    path = write_video(tmp_path / "a.mp4", 40)
    gc.collect()
    gc.disable()
    try:
        frames = read_frames(path, range(40))
        alive = sum(isinstance(o, av.VideoFrame) for o in gc.get_objects())
    finally:
        gc.enable()
    assert len(frames) == 40 and alive <= 2


@pytest.mark.parametrize("offset", [-3, 4])
def test_a_wrong_packet_count_is_corrected_by_the_decoded_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offset: int
) -> None:
    # Packets that decode to nothing (or to two frames) make the demux count a wrong guess.
    path = write_video(tmp_path / "a.mp4", 30)
    real = video_module._count_packets
    monkeypatch.setattr(
        video_module, "_count_packets", lambda *args: real(*args) + offset, raising=True
    )
    collector = FrameCollector(lambda info: sample_indices(info.num_frames, 5))
    info = decode_into(path, [collector])
    assert info.num_frames == 30
    assert [read_index(f) for f in collector.frames()] == sample_indices(30, 5)


def test_decoding_is_deterministic_across_runs_and_thread_counts(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 50, options={"crf": "30"})
    first = sample_frames(path, 8, threads=0)
    assert np.array_equal(first, sample_frames(path, 8, threads=0))
    assert np.array_equal(first, sample_frames(path, 8, threads=1))


# --------------------------------------------------------------------------------------------
# Pixels: bit depth, range, alpha, resizing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "muxer"),
    [("libx264", "yuv420p", None), ("libx265", "yuv420p10le", "matroska"),
     ("ffv1", "yuv420p10le", "matroska"), ("ffv1", "yuv444p12le", "matroska")],
)  # fmt: skip
def test_grey_levels_survive_8_10_and_12_bit_coding(
    tmp_path: Path, codec: str, pix_fmt: str, muxer: str | None
) -> None:
    # swscale's direct 10-bit -> rgb24 path gives 119 for a coded 121; the rgb48 route does not.
    levels = [30, 121, 200, 235]
    frames = [np.full((HEIGHT, WIDTH, 3), v, np.uint8) for v in levels]
    path = write_video(
        tmp_path / "grey.mkv", 4, codec=codec, pix_fmt=pix_fmt, container=muxer, frames=frames
    )
    decoded = read_frames(path, range(4))
    for level, frame in zip(levels, decoded, strict=True):
        assert np.abs(frame.astype(int) - level).max() <= 1, (level, np.unique(frame))
    depth = {"yuv420p": 8, "yuv420p10le": 10, "yuv444p12le": 12}[pix_fmt]
    assert probe(path).bit_depth == depth


def test_full_range_video_keeps_its_range(tmp_path: Path) -> None:
    frames = [np.full((HEIGHT, WIDTH, 3), v, np.uint8) for v in (20, 230)]
    path = write_video(tmp_path / "full.mp4", 2, frames=frames, color_range="JPEG")
    decoded = read_frames(path, [0, 1])
    # Read as limited range these would come out about 5 and 249; 2 levels of slack are the
    # writer's own RGB -> full-range YUV rounding.
    assert np.abs(decoded[0].astype(int) - 20).max() <= 2
    assert np.abs(decoded[1].astype(int) - 230).max() <= 2


def test_alpha_is_composited_over_white_like_images(tmp_path: Path) -> None:
    from PIL import Image

    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    rgba[:, : WIDTH // 2, 3] = 0
    rgba[: HEIGHT // 2, WIDTH // 2 :, 3] = 128
    path = write_video(tmp_path / "alpha.mov", 2, codec="qtrle", pix_fmt="argb", frames=[rgba] * 2)
    frame = read_frames(path, [1])[0]
    white = Image.new("RGBA", (WIDTH, HEIGHT), (255, 255, 255, 255))
    expected = np.asarray(Image.alpha_composite(white, Image.fromarray(rgba)).convert("RGB"))
    assert np.array_equal(frame, expected)
    assert tuple(frame[0, 0]) == (255, 255, 255) and tuple(frame[-1, -1]) == (200, 0, 0)


def test_a_resized_frame_equals_the_same_frame_saved_as_png(tmp_path: Path) -> None:
    from genziqa.preprocess import load_for_model

    path = write_video(tmp_path / "a.mp4", 10, options={"crf": "20"})
    full = read_frames(path, [4])[0]
    png = tmp_path / "frame4.png"
    from PIL import Image

    Image.fromarray(full).save(png)
    resized = sample_frames(path, 3, size=48)  # indices 0, 4, 9
    from_png = load_for_model(png, 48)  # the image model's input, uint8 (3, 48, 48)
    assert np.array_equal(resized[1], from_png.permute(1, 2, 0).numpy())
    assert resized.shape == (3, 48, 48, 3)
    bilinear = read_frames(path, [4], size=48, resample="bilinear")[0]
    assert not np.array_equal(bilinear, resized[1])  # a different, SimpleVQA-style rule


def test_hdr_transfer_is_reported(tmp_path: Path) -> None:
    params = "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"
    path = write_video(
        tmp_path / "pq.mkv", 3, codec="libx265", pix_fmt="yuv420p10le", container="matroska",
        options={"x265-params": params},
    )  # fmt: skip
    assert probe(path).hdr == "pq"
    assert probe(write_video(tmp_path / "sdr.mp4", 3)).hdr is None


# --------------------------------------------------------------------------------------------
# Orientation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "hflip"), [(90, False), (180, False), (270, False), (0, True), (90, True)]
)
@pytest.mark.parametrize("muxer", ["mp4", "matroska"])
def test_display_matrix_is_applied(tmp_path: Path, rotation: int, hflip: bool, muxer: str) -> None:
    path = write_video(tmp_path / "r.mkv", 6, rotation=rotation, hflip=hflip, container=muxer)
    expected = np.rot90(pattern(5), rotation // 90)
    if hflip:
        expected = expected[:, ::-1]
    frame = read_frames(path, [5])[0]
    assert frame.shape == expected.shape
    assert np.abs(frame.astype(int) - expected).max() <= 2
    info = probe(path)
    assert (info.rotation, info.mirrored) == (rotation, hflip)
    assert info.display_size == (expected.shape[1], expected.shape[0])
    stored = read_frames(path, [5], autorotate=False)[0]
    assert read_index(stored) == 5  # as coded, upright pattern


def test_legacy_rotate_tag_is_applied_clockwise(tmp_path: Path) -> None:
    path = write_video(tmp_path / "tag.mkv", 3, container="matroska", metadata={"rotate": "90"})
    frame = read_frames(path, [2])[0]
    assert np.abs(frame.astype(int) - np.rot90(pattern(2), -1)).max() <= 2
    assert probe(path).rotation == 270  # 90 clockwise = 270 counter-clockwise


# --------------------------------------------------------------------------------------------
# Probe and names
# --------------------------------------------------------------------------------------------


def test_probe_reports_the_stream(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 50, fps=25, audio=True)
    info = probe(path)
    assert (info.codec, info.width, info.height, info.pixel_format) == (
        "h264",
        WIDTH,
        HEIGHT,
        "yuv420p",
    )
    assert info.fps == 25.0 and info.duration == pytest.approx(2.0, abs=0.05)
    assert info.num_frames is None and info.container_frames == 50
    assert info.has_audio and info.bit_depth == 8 and info.rotation == 0
    assert probe(path, count_frames=True).num_frames == 50


def test_video_extensions() -> None:
    for ext in (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts",
                ".flv", ".wmv", ".3gp", ".yuv"):  # fmt: skip
        assert ext in VIDEO_EXTENSIONS
    assert RAW_VIDEO_EXTENSIONS <= VIDEO_EXTENSIONS
    assert is_video_name("a/B.MP4") and not is_video_name("a.png")


def test_importing_genziqa_does_not_import_av() -> None:
    code = (
        "import sys, genziqa, genziqa.io.video, genziqa.io.features, genziqa.video.frames, "
        "genziqa.video.motion; assert 'av' not in sys.modules, 'av imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(video_module.__file__).parents[2])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_missing_pyav_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "a.mp4", 3)
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'genziqa\[video\]'"):
        probe(path)


# --------------------------------------------------------------------------------------------
# Bad input: one clear VideoError each
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError) as excinfo:
        sample_frames(tmp_path / "nope.mp4", 8)
    assert _reason(excinfo) == "file not found"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(VideoError) as excinfo:
        probe(tmp_path)
    assert _reason(excinfo) == "is a directory, not a video file"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError) as excinfo:
        sample_frames(tmp_path / "empty.mp4", 8)
    assert _reason(excinfo) == "empty file (0 bytes)"


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "a.mp4", 3)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anyway: make open() fail as it would

            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(video_module, "open", refuse, raising=False)
        with pytest.raises(VideoError) as excinfo:
            sample_frames(path, 8)
        assert _reason(excinfo) == "permission denied (the file cannot be read)"
    finally:
        path.chmod(0o644)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert _reason(excinfo).startswith("not a video FFmpeg can read (Invalid data found")


def test_text_file_that_ffmpeg_renders_as_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError) as excinfo:
        probe(path)
    assert _reason(excinfo) == "is a text file, not a video (FFmpeg opened it as 'tty')"


def test_still_image(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(pattern(1)).save(tmp_path / "frame.png")
    with pytest.raises(VideoError) as excinfo:
        probe(tmp_path / "frame.png")
    assert _reason(excinfo) == "is a still image, not a video (FFmpeg opened it as 'png_pipe')"


def test_audio_only(tmp_path: Path) -> None:
    path = write_audio_only(tmp_path / "song.mp4")
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert _reason(excinfo) == "no video stream (the file holds audio streams)"


def test_zero_frames(tmp_path: Path) -> None:
    path = write_video_stream_without_frames(tmp_path / "empty-video.mkv")
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert _reason(excinfo) == "no video frames (the video stream holds no packets)"


def test_truncated_mp4_without_its_index(tmp_path: Path) -> None:
    data = write_video(tmp_path / "a.mp4", 100).read_bytes()  # moov at the end
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert "a truncated MP4/MOV whose index is missing fails this way too" in _reason(excinfo)


def test_truncated_mp4_with_its_index_first(tmp_path: Path) -> None:
    data = write_video(tmp_path / "a.mp4", 100, faststart=True).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert _reason(excinfo).startswith("truncated file: the container's index needs")
    frames = sample_frames(path, 8, allow_truncated=True)
    indices = [read_index(f) for f in frames]
    assert indices[0] == 0 and indices == sorted(indices) and indices[-1] < 99


def test_truncated_matroska(tmp_path: Path) -> None:
    data = write_video(tmp_path / "a.mkv", 100, container="matroska").read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(VideoError) as excinfo:
        probe(path, count_frames=True)
    assert _reason(excinfo).startswith("truncated or corrupt file: the video stream ends at")
    info = probe(path, count_frames=True, allow_truncated=True)
    assert info.num_frames is not None and 10 < info.num_frames < 100


def test_corrupt_data_in_the_middle(tmp_path: Path) -> None:
    data = bytearray(write_video(tmp_path / "a.mp4", 100).read_bytes())
    middle = len(data) // 3
    data[middle : middle + 400] = np.random.default_rng(0).integers(0, 256, 400, np.uint8).tobytes()
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert _reason(excinfo).startswith("corrupt or truncated video data (decoding failed after")


def test_raw_yuv_is_refused_with_what_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(WIDTH * HEIGHT * 3 // 2 * 4))
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 8)
    assert _reason(excinfo).startswith("raw YUV video has no header, so its width, height")


def test_absurd_resolution_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 3)
    with pytest.raises(VideoError) as excinfo:
        sample_frames(path, 2, max_pixels=WIDTH * HEIGHT - 1)
    assert _reason(excinfo).startswith(f"video frames have {WIDTH * HEIGHT:,} pixels (96x64)")
    assert sample_frames(path, 2, max_pixels=None).shape[0] == 2
    with pytest.raises(VideoError) as excinfo:
        probe(path, min_size=65)
    assert _reason(excinfo).startswith("video too small to score: 96x64 pixels")


def test_index_past_the_end(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 10)
    with pytest.raises(VideoError) as excinfo:
        read_frames(path, [3, 10])
    assert _reason(excinfo) == "frame 10 was requested but the video has 10 decoded frames"


def test_bad_arguments_are_value_errors(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 3)
    with pytest.raises(ValueError, match="max_pixels"):
        probe(path, max_pixels=0)
    with pytest.raises(ValueError, match="size"):
        read_frames(path, [0], size=0)
    with pytest.raises(ValueError, match="resample"):
        read_frames(path, [0], resample="nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="short"):
        sample_frames(path, 2, short="pad")  # type: ignore[arg-type]
