"""Results as pandas DataFrames at three levels: condition, category (S4) / class (AVSS), video."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .data.classes import AVSS_CLASSES
from .metrics.aggregate import class_mean
from .types import Condition

if TYPE_CHECKING:
    from .results import Results

LEVELS: tuple[str, ...] = ("condition", "category", "video")
METRICS = ("miou", "f_score", "fpr")


def _in_order(conds):
    """Conditions in the toolkit's order (positive, silence, noise, offscreen, fused), not the JSON's."""
    return sorted(conds, key=list(Condition).index)


def to_dataframe(results: "Results", level: str = "condition") -> pd.DataFrame:
    level = str(level).strip().lower()
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r} (expected one of: {', '.join(LEVELS)})")
    return {"condition": _conditions, "category": _categories, "video": _videos}[level](results)


def _conditions(r: "Results") -> pd.DataFrame:
    rows = [{"condition": c.value, **r.conditions[c].to_dict()} for c in _in_order(r.conditions)]
    if r.negative is not None:
        rows.append({"condition": "negative", **r.negative.to_dict()})
    df = pd.DataFrame(rows).set_index("condition")
    iv = r.intervals
    if iv:
        blocks = {**iv["conditions"], **({"negative": iv["negative"]} if iv.get("negative") else {})}
        for m in METRICS:
            df[f"{m}_low"] = [blocks.get(name, {}).get(m, [np.nan, np.nan])[0] for name in df.index]
            df[f"{m}_high"] = [blocks.get(name, {}).get(m, [np.nan, np.nan])[1] for name in df.index]
    df.attrs["global"] = None if r.global_ is None else r.global_.to_dict()
    if iv and iv.get("global"):
        df.attrs["global_intervals"] = dict(iv["global"])
    return df


def _categories(r: "Results") -> pd.DataFrame:
    key = "class" if r.breakdown_kind == "class" else "category"
    rows = [{"condition": c.value, key: name, **{m: values.get(m, np.nan) for m in (*METRICS, "frames")}}
            for c in _in_order(r.breakdown) for name, values in sorted(r.breakdown[c].items())]
    if not rows:
        raise ValueError("these results hold no per-category breakdown (S4 needs categories; MS3 has none)")
    return pd.DataFrame(rows).set_index(["condition", key])


def _videos(r: "Results") -> pd.DataFrame:
    pv = r.per_video
    if pv is None:
        raise ValueError("these results carry no per-video sums (score them again with this toolkit version)")
    frames_out = []
    for cond in _in_order(pv.videos):
        videos, t = pv.videos[cond], pv.tables[cond]
        frames = np.maximum(t["frames"], 1)
        if pv.kind == "semantic":
            with np.errstate(invalid="ignore", divide="ignore"):
                iou_c = np.nan_to_num(t["iou_sum"] / t["count"])
                f_c = np.nan_to_num(t["f_sum"] / t["count"])
            miou, f = class_mean(iou_c, t["count"], "present"), class_mean(f_c, t["count"], "present")
            extra = {"classes": [", ".join(AVSS_CLASSES[i] for i in np.flatnonzero(row > 0)) for row in t["count"]]}
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                curve = t["f_sum"] / t["nonempty"][:, None]
            miou = t["iou_sum"] / frames
            f = np.where(t["nonempty"] > 0, np.nan_to_num(curve).max(axis=1), np.nan)
            extra = {"category": [pv.categories.get(v, "") for v in videos]}
        frames_out.append(pd.DataFrame({"condition": cond.value, "video": videos, **extra,
                                        "frames": t["frames"].astype(int), "miou": miou, "f_score": f,
                                        "fpr": t["fpr_sum"] / frames}))
    return pd.concat(frames_out, ignore_index=True).set_index(["condition", "video"])
