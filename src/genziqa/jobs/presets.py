"""Speed presets: fewer timesteps and smaller inputs for users who trade accuracy for time.

U-Net cost is proportional to the number of timesteps and to the number of pixels; the VAE
encoding is paid once per image. Measured on a 2-core CPU at the SD 2.1-base size
(``benchmarks/bench_presets.py``, quoted in the README with what each preset gives up in
ranking agreement): 1.9x, 5.4-6.6x and 18.7-21.4x faster than the reference setting (two
runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import spaced_timesteps, unknown_name


@dataclass(frozen=True)
class Preset:
    timesteps: int
    resolution_scale: float
    summary: str


PRESETS: dict[str, Preset] = {
    "reference": Preset(8, 1.0, "8 timesteps at the native resolution (the paper's setting)"),
    "fast": Preset(4, 1.0, "4 timesteps at the native resolution"),
    "faster": Preset(2, 0.75, "2 timesteps at 3/4 of the native resolution"),
    "fastest": Preset(1, 0.5, "1 timestep at half the native resolution"),
}


def check_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(unknown_name("preset", name, PRESETS))
    return PRESETS[name]


def preset_settings(name: str, native_resolution: int) -> dict[str, Any]:
    """``GenzIQA.set_scoring`` arguments for a preset, e.g. {"timesteps": (9, 59),
    "resolution": 384}."""
    preset = check_preset(name)
    resolution = round(native_resolution * preset.resolution_scale / 16) * 16
    return {"timesteps": spaced_timesteps(preset.timesteps), "resolution": max(resolution, 16)}
