"""Prediction folders: layout detection, safe decoding and resizing to the evaluation size (SPEC §4)."""
from .decode import DEFAULT_MAX_PIXELS, DecodeProblem, Kind, decode_array, decode_png, is_binary_u8
from .layouts import ClipSpec, Layout, detect_layout, frame_paths
from .loader import (
    ClipData,
    MissingPolicy,
    PredictionPlan,
    clip_specs,
    default_workers,
    iter_clips,
    load_clip,
    make_tasks,
    plan_predictions,
)
from .resize import resize_bilinear, resize_nearest, to_eval

__all__ = [
    "DEFAULT_MAX_PIXELS", "ClipData", "ClipSpec", "DecodeProblem", "Kind", "Layout", "MissingPolicy",
    "PredictionPlan", "clip_specs", "decode_array", "decode_png", "is_binary_u8", "default_workers", "detect_layout",
    "frame_paths", "iter_clips", "load_clip", "make_tasks", "plan_predictions", "resize_bilinear",
    "resize_nearest", "to_eval",
]
