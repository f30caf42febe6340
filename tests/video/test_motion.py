"""SlowFast R50 in plain torch: pytorchvideo's names and numbers, SimpleVQA's clip recipe,
weights conversion, the feature cache and the reference's .npy feature folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, safe_open
from torch import nn

from genziqa.io.features import (
    FeatureFileError,
    MotionFeatureCache,
    NpyFeatureFolders,
    feature_name,
)
from genziqa.io.video import read_frames
from genziqa.video.frames import motion_clips
from genziqa.video.motion import (
    FAST_DIM,
    SLOW_DIM,
    CheckpointError,
    MotionFeatureSink,
    MotionRecipe,
    SlowFastR50,
    convert_slowfast,
    load_slowfast,
    motion_features,
)

from ..video_files import write_video
from .seeded_slowfast import seeded_clip, seeded_state_dict

DATA = Path(__file__).parent / "data"
PYTORCHVIDEO = json.loads((DATA / "slowfast_r50_state_dict.json").read_text())["entries"]
SMALL = MotionRecipe(size=32, min_clips=3)


@pytest.fixture(scope="module")
def model() -> SlowFastR50:
    """The real architecture with the numpy-seeded weights (as pytorchvideo's golden file)."""
    net = SlowFastR50().eval()
    net.load_state_dict(seeded_state_dict([(n, s) for n, s, _ in PYTORCHVIDEO]), strict=True)
    return net.requires_grad_(False)


class RecordingModel(nn.Module):
    """Stands in for SlowFast where only the clips matter: records them, returns cheap
    features that depend on every input value (so any change in a clip shows)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def features(self, slow: torch.Tensor, fast: torch.Tensor):
        self.calls.append((slow.clone(), fast.clone()))
        s = slow.mean(dim=(1, 3, 4)).repeat(1, SLOW_DIM // slow.shape[2])
        f = fast.mean(dim=(1, 3, 4)).repeat(1, FAST_DIM // fast.shape[2])
        return s, f

    def fingerprint(self) -> str:
        return "recording-model"


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def test_state_dict_names_shapes_and_order_equal_pytorchvideos() -> None:
    with torch.device("meta"):
        net = SlowFastR50()
    ours = [
        [name, list(t.shape), str(t.dtype).removeprefix("torch.")]
        for name, t in net.state_dict().items()
    ]
    assert ours == PYTORCHVIDEO
    assert len(ours) == 662
    assert sum(p.numel() for p in net.parameters()) == 34_566_488  # VIDEO.md 2.4


def test_features_equal_pytorchvideos_for_the_same_weights(model: SlowFastR50) -> None:
    golden = np.load(DATA / "slowfast_seeded_features.npz", allow_pickle=False)
    with torch.no_grad():
        slow, fast = model.features(*seeded_clip())
    assert slow.shape == (1, SLOW_DIM) and fast.shape == (1, FAST_DIM)
    # float rounding only: the convolutions' sums change order with the thread count
    # (measured 2e-5 apart at 1 thread; features are of order 1 to 70)
    np.testing.assert_allclose(slow.numpy(), golden["slow"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fast.numpy(), golden["fast"], rtol=1e-4, atol=1e-4)


def test_res5_and_logit_shapes(model: SlowFastR50) -> None:
    slow, fast = seeded_clip(size=32)
    seen = []
    hook = model.blocks[4].register_forward_hook(lambda module, args, out: seen.append(out))
    try:
        with torch.no_grad():
            logits = model([slow, fast])
    finally:
        hook.remove()
    assert seen[0][0].shape == (1, 2048, 8, 1, 1) and seen[0][1].shape == (1, 256, 32, 1, 1)
    assert logits.shape == (1, 400) and torch.isfinite(logits).all()


def test_pathways_are_checked(model: SlowFastR50) -> None:
    slow, fast = seeded_clip(size=32)
    with pytest.raises(ValueError, match="4 times the slow pathway"):
        model.features(slow, fast[:, :, :16])
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        model.features(slow[0], fast)


def test_fingerprint_follows_the_weights() -> None:
    net = SlowFastR50()
    first = net.fingerprint()
    assert net.fingerprint() == first and len(first) == 64
    with torch.no_grad():
        net.blocks[6].proj.bias[0] += 1
    assert net.fingerprint() != first


# --------------------------------------------------------------------------------------------
# The recipe
# --------------------------------------------------------------------------------------------


def _clip_inputs(path: Path, recipe: MotionRecipe) -> list[torch.Tensor]:
    """Each clip's fast input built independently: bilinear resize, /255, (x - 0.45) / 0.225."""
    clips = motion_clips(40, 20, min_clips=recipe.min_clips)
    frames = read_frames(path, range(40), size=recipe.size, resample="bilinear")
    out = []
    for clip in dict.fromkeys(clips):
        x = torch.from_numpy(frames[list(clip)]).permute(0, 3, 1, 2).float().div(255)
        out.append(((x - 0.45) / 0.225).permute(1, 0, 2, 3))
    return out


def test_clips_fed_to_the_model_follow_simplevqas_recipe(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 40, fps=20)  # 2 s at 20 fps: clips 0..31, 20..39+pad
    recorder = RecordingModel()
    slow, fast = motion_features(path, recorder, recipe=SMALL)
    assert slow.shape == (3, SLOW_DIM) and fast.shape == (3, FAST_DIM)
    assert torch.equal(slow[2], slow[1]) and torch.equal(fast[2], fast[1])  # padded to 3 clips
    expected = _clip_inputs(path, SMALL)
    assert len(recorder.calls) == 2  # the padding clip is not recomputed
    for (slow_in, fast_in), clip in zip(recorder.calls, expected, strict=True):
        assert torch.equal(fast_in[0], clip)
        assert torch.equal(slow_in[0], clip[:, [0, 4, 8, 13, 17, 22, 26, 31]])


# Real-model runs use 8-frame clips (slow pathway: frames 0 and 7) to stay cheap on a CPU.
TINY = MotionRecipe(clip_frames=8, size=32, min_clips=3)


def test_real_model_features_of_a_video(tmp_path: Path, model: SlowFastR50) -> None:
    path = write_video(tmp_path / "a.mp4", 30, fps=20)  # 1 s: one clip, padded to 3 rows
    slow, fast = motion_features(path, model, recipe=TINY)
    assert slow.shape == (3, SLOW_DIM) and fast.shape == (3, FAST_DIM)
    assert slow.dtype == torch.float32 and torch.isfinite(slow).all()
    assert torch.equal(slow[0], slow[2]) and torch.equal(fast[0], fast[2])
    frames = torch.from_numpy(read_frames(path, range(8), size=32, resample="bilinear"))
    clip = ((frames.permute(0, 3, 1, 2).float().div(255) - 0.45) / 0.225).permute(1, 0, 2, 3)
    with torch.no_grad():
        alone = model.features(clip[None][:, :, [0, 7]], clip[None])
    assert torch.equal(slow[0], alone[0][0]) and torch.equal(fast[0], alone[1][0])


def test_frame_arrays_and_files_give_the_same_clips(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.mp4", 40, fps=20)
    from_file = motion_features(path, RecordingModel(), recipe=SMALL)
    from_array = motion_features(
        read_frames(path, range(40)), RecordingModel(), recipe=SMALL, fps=20
    )
    assert torch.equal(from_file[0], from_array[0]) and torch.equal(from_file[1], from_array[1])


def test_clip_features_do_not_depend_on_their_batch(tmp_path: Path, model: SlowFastR50) -> None:
    frames = read_frames(write_video(tmp_path / "a.mp4", 40, fps=20), range(40))
    other = frames.copy()
    other[8:] = 255 - other[8:]  # clip 1 (frames 20..27) changes, clip 0 (0..7) does not
    recipe = MotionRecipe(clip_frames=8, size=32, min_clips=1)
    one = motion_features(frames, model, recipe=recipe, fps=20, batch_size=2)
    two = motion_features(other, model, recipe=recipe, fps=20, batch_size=2)
    assert one[0].shape == (2, SLOW_DIM)
    assert torch.equal(one[0][0], two[0][0]) and torch.equal(one[1][0], two[1][0])
    assert not torch.equal(one[0][1], two[0][1])
    single = motion_features(frames[:20], model, recipe=recipe, fps=20, batch_size=1)
    torch.testing.assert_close(single[0][0], one[0][0], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(single[1][0], one[1][0], rtol=1e-5, atol=1e-4)


def test_decoding_keeps_only_the_frames_of_pending_clips(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mp4", 200, fps=10)  # 20 clips of 32 frames, 10 apart

    class Watched(MotionFeatureSink):
        most = 0

        def add(self, index, frame):
            super().add(index, frame)
            Watched.most = max(Watched.most, len(self._frames))

    from genziqa.io.video import decode_into

    sink = Watched(RecordingModel(), MotionRecipe(size=32, min_clips=1))
    decode_into(path, [sink])
    slow, _ = sink.result()
    assert slow.shape == (20, SLOW_DIM)
    assert Watched.most <= 32  # one clip's frames, never the video's 200


def test_an_unknown_frame_rate_is_a_video_error(tmp_path: Path) -> None:
    from dataclasses import replace

    from genziqa.io.video import VideoError, probe

    info = replace(probe(write_video(tmp_path / "a.mp4", 3)), fps=None, num_frames=3)
    with pytest.raises(VideoError, match="frame rate is unknown"):
        MotionFeatureSink(RecordingModel()).plan(info)
    assert len(MotionFeatureSink(RecordingModel(), fps=25).plan(info)) == 3


def test_recipe_validation() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        MotionRecipe(size=100)
    with pytest.raises(ValueError, match="multiple of 4"):
        MotionRecipe(clip_frames=30)
    with pytest.raises(ValueError, match="smaller than min_clips"):
        MotionRecipe(min_clips=8, max_clips=2)
    with pytest.raises(ValueError, match="fps is needed"):
        motion_features(np.zeros((4, 32, 32, 3), np.uint8), RecordingModel())
    with pytest.raises(ValueError, match="uint8 RGB"):
        motion_features(np.zeros((4, 32, 32), np.uint8), RecordingModel(), fps=10)


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


def test_cache_hits_by_content_and_misses_on_any_change(tmp_path: Path) -> None:
    cache = MotionFeatureCache(tmp_path / "cache")
    path = write_video(tmp_path / "a.mp4", 40, fps=20)
    recorder = RecordingModel()
    first = motion_features(path, recorder, recipe=SMALL, cache=cache)
    calls = len(recorder.calls)
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(path.read_bytes())
    again = motion_features(copy, recorder, recipe=SMALL, cache=cache)
    assert len(recorder.calls) == calls  # served from the cache, same bytes
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert len(cache) == 1
    motion_features(path, recorder, recipe=MotionRecipe(size=64, min_clips=3), cache=cache)
    motion_features(path, recorder, recipe=SMALL, cache=cache, batch_size=2)
    write_video(path, 40, fps=20, options={"crf": "30"})  # new bytes, same name
    motion_features(path, recorder, recipe=SMALL, cache=cache)
    assert len(cache) == 4 and len(recorder.calls) > calls
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # atomic writes leave no temp files
    stored = next((tmp_path / "cache").rglob("*.safetensors"))
    with safe_open(str(stored), "pt") as handle:
        assert handle.metadata()["version"] == "1"
        assert set(handle.keys()) == {"slow", "fast"}


def test_cache_key_includes_the_weights(tmp_path: Path) -> None:
    cache = MotionFeatureCache(tmp_path)
    path = write_video(tmp_path / "a.mp4", 5)
    settings = {"size": 224}
    assert cache.key(path, "weights-a", settings) == cache.key(path, "weights-a", settings)
    assert cache.key(path, "weights-a", settings) != cache.key(path, "weights-b", settings)
    assert cache.key(path, "weights-a", settings) != cache.key(path, "weights-a", {"size": 32})


def test_a_damaged_cache_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    cache = MotionFeatureCache(tmp_path / "cache")
    key = "ab" + "0" * 62
    cache.put(key, torch.ones(2, SLOW_DIM), torch.ones(2, FAST_DIM))
    assert cache.get(key) is not None
    cache.path(key).write_bytes(b"garbage")
    assert cache.get(key) is None
    cache.put(key, torch.zeros(1, SLOW_DIM), torch.zeros(1, FAST_DIM))
    assert cache.get(key)[0].shape == (1, SLOW_DIM)
    with pytest.raises(ValueError, match="same N"):
        cache.put(key, torch.zeros(2, SLOW_DIM), torch.zeros(1, FAST_DIM))


# --------------------------------------------------------------------------------------------
# Converting and loading weights
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return SlowFastR50().state_dict()


def test_convert_the_published_layout_and_load_it(tmp_path: Path, random_state) -> None:
    src = tmp_path / "SLOWFAST_8x8_R50.pyth"
    torch.save({"model_state": random_state, "epoch": 196, "cfg": "MODEL: {}\n"}, src)
    dst = convert_slowfast(src, tmp_path / "out" / "slowfast_r50.safetensors")
    with safe_open(str(dst), "pt") as handle:
        meta = handle.metadata()
    assert meta["format"] == "genziqa-slowfast-r50" and meta["source"] == src.name
    assert len(meta["source_sha256"]) == 64
    loaded = load_slowfast(dst)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, random_state[name]), name
    assert set(load_file(str(dst))) == set(random_state)


def test_convert_accepts_a_bare_or_ddp_state_dict(tmp_path: Path, random_state) -> None:
    src = tmp_path / "ddp.pyth"
    torch.save({f"module.{k}": v for k, v in random_state.items()}, src)
    dst = convert_slowfast(src, tmp_path / "w.safetensors")
    assert set(load_file(str(dst))) == set(random_state)


def _cheap_state() -> dict[str, torch.Tensor]:
    """Right names and shapes without the memory: stride-0 views of one zero each."""
    return {n: torch.zeros((), dtype=getattr(torch, d)).expand(s) for n, s, d in PYTORCHVIDEO}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        (b"not a zip file at all", "not a PyTorch checkpoint: expected the zip archive"),
        ("object", "cannot be read safely with torch.load(weights_only=True)"),
        ("list", "unexpected layout: expected {'model_state': state_dict} or a state dict"),
        ("strings", "unexpected layout: entries that are not tensors"),
        ("missing", "not SlowFast R50 weights: 1 missing (e.g. ['blocks.6.proj.bias'])"),
        ("extra", "not SlowFast R50 weights: 1 unexpected (e.g. ['blocks.7.weight'])"),
        ("shape", "not SlowFast R50 weights: 1 tensors have other shapes"),
    ],
)
def test_convert_refuses_what_is_not_the_checkpoint(tmp_path: Path, content, reason: str) -> None:
    src = tmp_path / "weights.pyth"
    if isinstance(content, bytes):
        src.write_bytes(content)
    elif content == "object":
        torch.save({"model_state": {"w": torch.zeros(1)}, "opt": Path("x")}, src)
    elif content == "list":
        torch.save([torch.zeros(1)], src)
    elif content == "strings":
        torch.save({"model_state": {"a": "b"}}, src)
    elif content is not None:
        state = _cheap_state()
        if content == "missing":
            del state["blocks.6.proj.bias"]
        elif content == "extra":
            state["blocks.7.weight"] = torch.zeros(1)
        else:
            state["blocks.6.proj.bias"] = torch.zeros(401)
        torch.save({"model_state": state}, src)
    with pytest.raises(CheckpointError) as excinfo:
        convert_slowfast(src, tmp_path / "out.safetensors")
    assert excinfo.value.reason.startswith(reason), excinfo.value.reason
    assert "\n" not in excinfo.value.reason
    assert not (tmp_path / "out.safetensors").exists()


def test_load_refuses_bad_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="file not found"):
        load_slowfast(tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_slowfast(tmp_path / "bad.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not SlowFast R50 weights: 662 missing"):
        load_slowfast(tmp_path / "other.safetensors")


# --------------------------------------------------------------------------------------------
# The reference's .npy feature folders
# --------------------------------------------------------------------------------------------


def test_feature_names_strip_only_the_video_extension() -> None:
    assert feature_name("yfcc-batch1/725.mp4") == "yfcc-batch1/725"
    assert feature_name("12345.mp4") == "12345"
    assert (
        feature_name("Animation_1080P-05f8_crf_10_ss_00_t_20.0.mp4")
        == "Animation_1080P-05f8_crf_10_ss_00_t_20.0"
    )
    assert feature_name("ia-batch24/clip.MKV") == "ia-batch24/clip"
    assert feature_name("A001") == "A001" and feature_name("x_t_20.0") == "x_t_20.0"


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    slow, fast = tmp_path / "slowNet", tmp_path / "fastNet"
    (slow / "yfcc-batch1").mkdir(parents=True)
    (fast / "yfcc-batch1").mkdir(parents=True)
    return slow, fast


def test_npy_folders_load_2d_features(tmp_path: Path) -> None:
    slow_dir, fast_dir = _folders(tmp_path)
    rng = np.random.default_rng(0)
    slow = rng.standard_normal((8, SLOW_DIM)).astype(np.float32)
    fast = rng.standard_normal((8, FAST_DIM))  # float64 is accepted and stored as float32
    np.save(slow_dir / "yfcc-batch1" / "725.npy", slow)
    np.save(fast_dir / "yfcc-batch1" / "725.npy", fast)
    got_slow, got_fast = NpyFeatureFolders(slow_dir, fast_dir).load("yfcc-batch1/725.mp4")
    assert got_slow.dtype == torch.float32 and torch.equal(got_slow, torch.from_numpy(slow))
    assert torch.allclose(got_fast, torch.from_numpy(fast).float())


@pytest.mark.parametrize(
    ("slow", "fast", "reason"),
    [
        (None, (8, FAST_DIM), "slow feature file not found"),
        ((SLOW_DIM,), (8, FAST_DIM), "expected a 2-D (N, 2048) array, got shape (2048,) (one"),
        ((8, 2304), (8, FAST_DIM), "expected slow features shaped (N, 2048) with N >= 1"),
        ((0, SLOW_DIM), (8, FAST_DIM), "expected slow features shaped (N, 2048) with N >= 1"),
        ((8, SLOW_DIM), (7, FAST_DIM), "has 7 rows but the slow features"),
        ("object", (8, FAST_DIM), "holds pickled Python objects"),
        ("nan", (8, FAST_DIM), "holds NaN or infinite values"),
        ("text", (8, FAST_DIM), "not a readable .npy file"),
    ],
)
def test_npy_folders_refuse_bad_files(tmp_path: Path, slow, fast, reason: str) -> None:
    slow_dir, fast_dir = _folders(tmp_path)
    target = slow_dir / "v.npy"
    if slow == "object":
        np.save(target, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif slow == "nan":
        np.save(target, np.full((8, SLOW_DIM), np.nan, np.float32))
    elif slow == "text":
        target.write_text("not numpy")
    elif slow is not None:
        np.save(target, np.zeros(slow, np.float32))
    np.save(fast_dir / "v.npy", np.zeros(fast, np.float32))
    with pytest.raises(FeatureFileError) as excinfo:
        NpyFeatureFolders(slow_dir, fast_dir).load("v.mp4")
    assert excinfo.value.reason.startswith(reason), excinfo.value.reason
    assert "\n" not in excinfo.value.reason


def test_npy_folders_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FeatureFileError, match="the slow feature folder does not exist"):
        NpyFeatureFolders(tmp_path / "nope", tmp_path)
