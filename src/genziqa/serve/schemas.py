"""The JSON the service answers with, as pydantic models (they document it in /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    """The model that produced the scores; ``fingerprint`` tells two models apart."""

    name: str = Field(description="What --model named (zero-shot when none was given).")
    fingerprint: str = Field(description="sha256 of the config and trained tensors.")
    zero_shot: bool = Field(description="True for the untrained zero-shot baseline.")
    label: str | None = Field(
        description="'zero-shot baseline (untrained)' for that baseline, else null."
    )
    backbone: str | None
    resolution: int
    timesteps: list[int] | None
    device: str
    dtype: str
    explain: bool = Field(description="Whether /v1/explain can answer (heatmaps available).")
    genziqa_version: str


class ScoreRow(BaseModel):
    """One image: the rows of `genziqa score`, with a name instead of a path."""

    index: int = Field(description="Position of the image in the request.")
    name: str = Field(description="The client's file name (base name only), or 'body'.")
    score: float | None = Field(description="Higher = better; null when status is error.")
    status: Literal["ok", "error"]
    error: str = Field(description="One-line reason when status is error, else ''.")
    status_code: int = Field(
        description="200, or this image's error code: 413 too many pixels, 415 not a "
        "supported image, 422 corrupt or unusable, 500 model failure."
    )


class ScoreResponse(BaseModel):
    model: ModelInfo
    results: list[ScoreRow]


class EncodedMap(BaseModel):
    """A 2-D map as the base64 bytes of a float16 .npy file (np.load, allow_pickle=False)."""

    dtype: Literal["float16"]
    shape: list[int] = Field(description="[H, W] of the map as sent.")
    npy_b64: str


class ExplainRow(ScoreRow):
    overlay_png: str | None = Field(description="Base64 PNG: the heatmap over the image.")
    map: EncodedMap | None = Field(description="The aggregate map, at image size.")
    layers: dict[str, EncodedMap] | None = Field(
        description="Per-layer maps by layer name (only with ?layers=true)."
    )


class ExplainResponse(BaseModel):
    model: ModelInfo
    results: list[ExplainRow]


class ErrorDetail(BaseModel):
    kind: str = Field(description="A stable name of the error, as in the errors_total metric.")
    message: str


class ErrorResponse(BaseModel):
    """Every request-level error (the request as a whole could not be answered)."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]
    genziqa_version: str


class Readiness(BaseModel):
    status: Literal["ready", "loading", "failed"]
    model: ModelInfo | None = None
    error: str | None = None
