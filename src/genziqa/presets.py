"""Speed presets: fewer timesteps and smaller inputs for users who trade accuracy for time.

Cost is proportional to the number of timesteps and roughly to the number of pixels, so the
presets below cost about 1/2, 1/7 and 1/32 of the reference setting. What each gives up in
ranking agreement is measured by ``benchmarks/bench_presets.py`` and quoted in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import spaced_timesteps


@dataclass(frozen=True)
class Preset:
    timesteps: int
    resolution_scale: float
    summary: str


PRESETS: dict[str, Preset] = {
    "reference": Preset(8, 1.0, "8 timesteps at the native resolution (the paper's setting)"),
    "fast": Preset(4, 1.0, "4 timesteps: about 2x faster"),
    "faster": Preset(2, 0.75, "2 timesteps at 3/4 resolution: about 7x faster"),
    "fastest": Preset(1, 0.5, "1 timestep at half resolution: about 32x faster"),
}


def preset_overrides(name: str, native_resolution: int) -> dict[str, object]:
    """Config overrides for a preset, e.g. {"scoring.timesteps": (9, 34, 59, 84)}."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    resolution = round(native_resolution * preset.resolution_scale / 16) * 16
    return {
        "scoring.timesteps": spaced_timesteps(preset.timesteps),
        "preprocess.resolution": max(resolution, 16),
    }
