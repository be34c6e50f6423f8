"""Predict masks with a trained reference model, one folder per audio condition, in the GT-mirroring
layout that `avsb-robust score` reads (CONTRACTS.md "Predictions"):

  S4   PRED/<condition>/<category>/<video>/<video>_<k>.png   (k as in the GT names, 1-based)
  MS3  PRED/<condition>/<video>/<video>_<k>.png
  AVSS PRED/<condition>/<uid>/<k>.png                         (0-based, class-index PNG, real frames only)

Binary masks are 8-bit probability PNGs (round(255 p)) at the frame's own size, so the F-measure's
threshold sweep stays meaningful. Files go to PRED.partial and the folder is renamed to PRED only
when every file is written, so an interrupted run never leaves a half prediction behind.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ._version import __version__
from .errors import InputFileError, ValidationError
from .io_utils import atomic_path, atomic_write_text, sha256_file
from .models import build_model
from .models.cgsl import gate_open
from .models.configs import ModelConfig, from_dict
from .models.inputs import Clip, FeatureSource, clip_arrays, clips_from_index
from .provenance import PATH_BASE, PREDICT_JSON, portable_path
from .train import _autocast, collate, git_revision, init_distributed, load_checkpoint, model_file
from .types import SCORED_CONDITIONS, Condition, Split, Subset

SIMILARITY_CSV = ".avsb-similarity.csv"  # CGSL checkpoints: per frame and condition, the audio-visual similarity


def parse_conditions(spec: str | Sequence[str]) -> list[Condition]:
    """'all' -> positive + the three negatives; else a comma list (fused allowed when named)."""
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [p.strip() for item in items for p in str(item).split(",") if p.strip()]
    if not names or names == ["all"]:
        return list(SCORED_CONDITIONS)
    try:
        out = [Condition.parse(n) for n in names]
    except ValueError as exc:
        raise ValidationError("--conditions", [str(exc)]) from None
    return list(dict.fromkeys(out))


def mask_relpath(clip: Clip, k: int) -> Path:
    """Where frame k of `clip` goes inside one condition folder (mirrors the GT names)."""
    sub = Subset.parse(clip.subset)
    if sub is Subset.S4:
        return Path(clip.category) / clip.video / f"{clip.video}_{k}.png"
    if sub is Subset.MS3:
        return Path(clip.video) / f"{clip.video}_{k}.png"
    return Path(clip.video) / f"{k}.png"


def to_png_arrays(logits: torch.Tensor, sizes: Sequence[tuple[int, int]], semantic: bool,
                  keep: torch.Tensor | None = None) -> list[np.ndarray]:
    """Per frame uint8 [H,W]: round(255*sigmoid) (binary) or argmax class (AVSS), at each frame's (H, W).

    `keep` [T] bool: frames whose pair passed the CGSL gate; the others become empty masks.
    """
    out = []
    for i, (h, w) in enumerate(sizes):
        x = F.interpolate(logits[i:i + 1].float(), size=(h, w), mode="bilinear", align_corners=False)[0]
        if semantic:
            arr = x.argmax(0).to(torch.uint8)
        else:
            arr = torch.round(torch.sigmoid(x[0]) * 255).to(torch.uint8)
        if keep is not None and not bool(keep[i]):
            arr = torch.zeros_like(arr)
        out.append(arr.cpu().numpy())
    return out


def _write_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise OSError(f"cannot encode {path}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())


@torch.no_grad()
def predict(checkpoint: str | Path, out: str | Path, *, subset: Subset | str | None = None,
            root: Path | None = None, build_out: Path | None = None, conditions: str | Sequence[str] = "all",
            split: Split | str = Split.TEST, gate_tau: float | None = None, batch_clips: int = 4,
            device: str | None = None, overwrite: bool = False, progress: bool = True,
            log: Callable[[str], None] = print) -> dict:
    """Write predictions for every clip of `split` under each condition; returns the predict.json content."""
    dist, dev = init_distributed(device)
    meta, state = load_checkpoint(checkpoint)
    mcfg: ModelConfig = from_dict(ModelConfig, meta["model_config"])
    if subset is not None and Subset.parse(subset).value != mcfg.subset:
        raise ValidationError("predict", [f"the checkpoint was trained for {mcfg.subset.upper()}, not {Subset.parse(subset).value.upper()}"])
    if gate_tau is not None and not mcfg.cgsl:
        raise ValidationError("predict", ["--gate needs a checkpoint trained with --cgsl"])
    if gate_tau is not None and not 0.0 < gate_tau < 1.0:
        raise ValidationError("predict", [f"--gate must be in (0, 1), got {gate_tau}"])
    conds = parse_conditions(conditions)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and (not overwrite or not (out / PREDICT_JSON).is_file()):
        raise ValidationError(f"output {out}", ["exists and is not empty (use --overwrite to replace an earlier prediction)"])
    partial = out.with_name(out.name + ".partial")
    if dist.main and partial.exists():
        shutil.rmtree(partial)
    if dist.world > 1:
        torch.distributed.barrier()

    try:
        info = _predict_into(partial, out, checkpoint, meta, state, mcfg, conds, dist, dev, root=root,
                             build_out=build_out, split=split, gate_tau=gate_tau, batch_clips=batch_clips,
                             progress=progress, log=log)
    except BaseException:
        if dist.main:  # nothing half-written: an interrupted or failed run leaves no .partial folder
            shutil.rmtree(partial, ignore_errors=True)
        raise
    if dist.world > 1:
        torch.distributed.barrier()
    return info


def _predict_into(partial: Path, out: Path, checkpoint: str | Path, meta: dict, state: dict, mcfg: ModelConfig,
                  conds: list[Condition], dist, dev: torch.device, *, root: Path | None, build_out: Path | None,
                  split: Split | str, gate_tau: float | None, batch_clips: int, progress: bool,
                  log: Callable[[str], None]) -> dict:
    """Predict every chosen clip into `partial`, then rename it onto `out` (rank 0)."""
    from tqdm import tqdm

    from .data.avsbench import load_index
    from .data.default import resolve_root

    root = resolve_root(root, announce=dist.main)
    split = Split.parse(split)
    clips = clips_from_index(load_index(root, mcfg.subset))
    chosen = [c for c in clips if c.split == split.value]
    if not chosen:
        raise ValidationError(f"AVSBench root {root}", [f"{mcfg.subset.upper()} has no {split.value} clips"])
    features = FeatureSource(mcfg.subset, clips, build_out)
    net = build_model(mcfg).to(dev)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # missing, unexpected or wrong-shape tensors: the weights are not this model's
        detail = " ".join(str(exc).split("\n", 2)[1:2]).strip() or str(exc)
        raise InputFileError(_model_file(checkpoint), "the weights do not fit the model described in "
                                                      f"checkpoint.json ({detail})") from None
    net.eval()

    mine = chosen[dist.rank::dist.world]
    total = len(conds) * -(-len(mine) // batch_clips)
    bar = tqdm(total=total, desc="predict", disable=not (progress and dist.main), leave=False)
    written = 0
    similarities: list[tuple[str, str, int, float]] = []
    for cond in conds:
        folder = partial / cond.value
        for i in range(0, len(mine), batch_clips):
            chunk = mine[i:i + batch_clips]
            b = collate([clip_arrays(c, cond, features, mcfg.frames, mcfg.image_size, with_gt=False) for c in chunk])
            with _autocast(dev):
                o = net(b["frames"].to(dev), b["audio"].to(dev), b["frame_mask"].to(dev) if mcfg.semantic else None)
            keep = gate_open(o.similarity.float(), gate_tau).cpu() if gate_tau is not None else None
            for j, c in enumerate(chunk):
                real = len(c.frame_paths)
                sl = slice(j * mcfg.frames, j * mcfg.frames + real)
                sizes = [_frame_size(p) for p in c.frame_paths]
                arrays = to_png_arrays(o.logits[sl], sizes, mcfg.semantic, None if keep is None else keep[sl])
                for k, arr in zip(c.frame_ids, arrays):
                    _write_png(folder / mask_relpath(c, k), arr)
                    written += 1
                if o.similarity is not None:
                    sims = o.similarity[sl].float().cpu().tolist()
                    similarities += [(cond.value, c.video, int(k), float(v)) for k, v in zip(c.frame_ids, sims)]
            bar.update(1)
    bar.close()
    if similarities:  # one file per rank under torchrun (ranks score disjoint clips)
        name = SIMILARITY_CSV if dist.world == 1 else SIMILARITY_CSV.replace(".csv", f".rank{dist.rank}.csv")
        atomic_write_text(partial / name, similarity_csv(similarities))
    if dist.world > 1:
        torch.distributed.barrier()
    info = {
        "format": "avsb-robust-prediction/1", "toolkit_version": __version__, "git_revision": git_revision(),
        "checkpoint": portable_path(checkpoint), "checkpoint_sha256": sha256_file(_model_file(checkpoint)),
        "model_config": meta["model_config"], "subset": mcfg.subset, "split": split.value,
        "conditions": [c.value for c in conds], "gate_tau": gate_tau,
        "variant": f"{mcfg.model}-{mcfg.backbone}{'+cgsl' if mcfg.cgsl else ''}{f'+gate{gate_tau:g}' if gate_tau is not None else ''}",
        "mask_format": "class-index PNG" if mcfg.semantic else "8-bit probability PNG (p = v/255)",
        "clips": len(chosen), "root": portable_path(root), "build_out": portable_path(build_out),
        "path_base": PATH_BASE,
    }
    if build_out is not None:  # which front end made the negatives: "authors' pipeline (leaky)" must travel on
        from .build.manifest import read_manifest

        built = read_manifest(build_out)
        info["build_pipeline"] = built.get("pipeline")
        info["build_negative_features"] = built.get("negative_features")
    if dist.main:
        atomic_write_text(partial / PREDICT_JSON, json.dumps(info, indent=1, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
        log(f"wrote {len(conds)} condition folder(s) for {len(chosen)} {split.value} clips to {out}")
    return info


def similarity_csv(rows: list[tuple[str, str, int, float]]) -> str:
    """condition, video, frame (GT numbering), cosine similarity s and sigmoid(s) (what the gate thresholds)."""
    import math

    lines = ["condition,video,frame,similarity,sigmoid"]
    lines += [f"{c},{v},{k},{s:.6f},{1 / (1 + math.exp(-s)):.6f}" for c, v, k, s in rows]
    return "\n".join(lines) + "\n"


def _frame_size(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    return h, w


def _model_file(checkpoint: str | Path) -> Path:
    return model_file(checkpoint)
