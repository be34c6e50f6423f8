"""Training losses of the reference models, as the original training scripts call them, plus the CGSL
term (paper Eq. 9: lambda_1 * L_BCE + L_seg + lambda_2 * L_AVM). `total_loss` is the one entry point.

Batch convention (all [BT]-indexed, BT = clips x frames):
- `gt`: binary [BT,1,H,W] float in {0,1}, or class map [BT,H,W] long (AVSS);
- `valid`: 1 for frames whose GT supervises the segmentation (S4 train: frame 1 only; AVSS: real frames
  with a GT, i.e. the originals' gt_temporal_mask_flag);
- `positive`: 1 when the frame is paired with its own audio, 0 for a negative (silence/noise/offscreen;
  its GT is empty).
Every term is a mean over the `valid` frames of a per-frame mean, which is what the originals' batch
means are when frames have equal size (S4 picks frame 1 of each clip; MS3 all five; AVSS weights by the
GT flag). Parity with the originals' own outputs: tests/test_models_goldens.py.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .cgsl import cgsl_loss, cross_pair_loss
from .configs import ModelConfig, TrainConfig
from .tpavi import AVSOutput


def _full(x: torch.Tensor) -> torch.Tensor:
    """Losses in at least float32 (autocast gives bf16 logits); float64 stays float64."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _masked_mean(per_frame: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    weight = weight.to(per_frame.dtype)
    return (per_frame * weight).sum() / weight.sum().clamp_min(1.0)


def bce_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """BCE on sigmoid(logits), averaged over the pixels of the supervised frames (TPAVI F1/F5_IoU_BCELoss)."""
    logits = _full(logits)
    per_frame = F.binary_cross_entropy_with_logits(logits, gt.to(logits.dtype), reduction="none").flatten(1).mean(1)
    return _masked_mean(per_frame, valid)


def ce_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """AVSS: cross-entropy over the classes, per-frame pixel mean, averaged over the supervised frames
    (F10_IoU_BCELoss of both originals)."""
    per_frame = F.cross_entropy(_full(logits), gt.long(), reduction="none").flatten(1).mean(1)
    return _masked_mean(per_frame, valid)


def dice_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """AVSegFormer's Dice on sigmoid(logits) per frame: 1 - 2|P.G| / (|P|^2 + 0.001 + |G|^2 + 0.001).

    As in the original, an empty GT (every negative pair) gives exactly 1 whatever the prediction, so
    Dice teaches negatives nothing; with negatives the CGSL term is what reacts to them.
    """
    p = torch.sigmoid(_full(logits)).flatten(1)
    g = gt.flatten(1)
    # integer GT (AVSS): |G|^2 + 0.001 comes out float32 (PyTorch's promotion), as in the original
    g_term = ((g * g).sum(1) + 0.001).to(p.dtype) if not gt.is_floating_point() else None
    g = g.to(p.dtype)
    if g_term is None:
        g_term = (g * g).sum(1) + 0.001
    dice = 2 * (p * g).sum(1) / ((p * p).sum(1) + 0.001 + g_term)
    return _masked_mean(1 - dice, valid)


def avsegformer_seg_loss(out: AVSOutput, gt: torch.Tensor, valid: torch.Tensor, semantic: bool,
                         mix_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(segmentation term, mix_weight * mix term) of AVSegFormer's IouSemanticAwareLoss.

    The mix term scores the channel mean of the mask feature, bilinearly resized to the GT: Dice against
    the GT (S4/MS3, whose configs use loss_type='dice'), or Dice against GT > 0 (AVSS, whose segmentation
    term is the cross-entropy).
    """
    mix = F.interpolate(_full(out.extra["mix_logits"]), size=gt.shape[-2:], mode="bilinear", align_corners=False)
    if semantic:
        return ce_loss(out.logits, gt, valid), mix_weight * dice_loss(mix, (gt > 0).long().unsqueeze(1), valid)
    return dice_loss(out.logits, gt, valid), mix_weight * dice_loss(mix, gt, valid)


def avm_loss(out: AVSOutput, weight: torch.Tensor, stages=(0, 1, 2, 3), semantic: bool = False,
             normalise: bool = False) -> torch.Tensor:
    """TPAVI's L_AVM (A_MaskedV_SimmLoss, KL form, as the MS3/AVSS train.sh run it), mean over `stages`.

    Per stage: mask the returned (ReLU'd) visual map with the prediction average-pooled to its size
    (binary: sigmoid of the pooled logits; AVSS: the pooled 0/1 "argmax is not background" map, no
    gradient through it), average over H,W, and take KL(softmax(audio) || softmax(visual)) summed over
    channels. Binary: summed over the frames in `weight` (the original sums over the batch); AVSS: the
    weighted mean over frames (the original divides by the GT-frame count). `normalise` L2-normalises both
    features first (the originals' --norm_fea_flag, off in their train.sh).
    """
    logits = _full(out.logits)
    fg = (logits.argmax(1, keepdim=True) != 0).to(logits.dtype) if semantic else None
    losses = []
    for s in stages:
        a, v = out.audio_feats[s], out.feature_maps[s]
        if a is None:
            raise ValueError(f"L_AVM needs TPAVI audio features on stage {s}")
        size = v.shape[-2:]
        mask = F.adaptive_avg_pool2d(fg, size) if semantic else torch.sigmoid(F.adaptive_avg_pool2d(logits, size))
        vf = (_full(v) * mask).mean(dim=(-2, -1))
        a = _full(a).reshape(-1, a.shape[-1])
        if normalise:
            a, vf = F.normalize(a, dim=-1), F.normalize(vf, dim=-1)
        kl = F.kl_div(vf.softmax(-1).log(), a.softmax(-1), reduction="none").sum(-1)
        w = weight.to(kl.dtype)
        losses.append((kl * w).sum() / w.sum().clamp_min(1.0) if semantic else (kl * w).sum())
    if not losses:
        raise ValueError("L_AVM needs at least one stage")
    return torch.stack(losses).mean()


def total_loss(mcfg: ModelConfig, tcfg: TrainConfig, out: AVSOutput, gt: torch.Tensor, valid: torch.Tensor,
               positive: torch.Tensor, frame_mask: torch.Tensor | None = None,
               source: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The model's original training loss + lambda_cgsl * L_BCE(CGSL); returns (loss, float parts).

    TPAVI: BCE (S4/MS3) or CE (AVSS) + lambda_avm * L_AVM; AVSegFormer: Dice (S4/MS3) or CE (AVSS) +
    mix_weight * the mix Dice. L_AVM and CGSL skip AVSS padding; L_AVM also skips negative pairs (their
    audio is not the visible object's, so matching it to the masked visual feature would be wrong). With
    cgsl_pairs="batch" the CGSL term is the mean of the given-pair BCE and the in-batch cross-pair BCE
    (`source`: [BT] sounding-category id of each frame's clip).
    """
    parts: dict[str, float] = {}
    if mcfg.model == "tpavi":
        seg = ce_loss(out.logits, gt, valid) if mcfg.semantic else bce_loss(out.logits, gt, valid)
        loss = seg
    else:
        seg, mix = avsegformer_seg_loss(out, gt, valid, mcfg.semantic, tcfg.mix_weight)
        loss = seg + mix
        parts["mix"] = float(mix.detach())
    parts["seg"] = float(seg.detach())
    if tcfg.lambda_avm and mcfg.model == "tpavi":
        weight = positive * valid if mcfg.semantic else positive
        avm = avm_loss(out, weight, tcfg.avm_stages, semantic=mcfg.semantic, normalise=tcfg.avm_normalise)
        loss = loss + tcfg.lambda_avm * avm
        parts["avm"] = float(avm.detach())
    if out.similarity is not None and tcfg.lambda_cgsl:
        bce = cgsl_loss(out.similarity, positive, frame_mask)
        if tcfg.cgsl_pairs == "batch":
            if source is None:
                raise ValueError("cgsl_pairs='batch' needs each frame's sounding-source id (source)")
            usable = torch.ones_like(positive) if frame_mask is None else frame_mask
            clip = torch.arange(len(positive), device=positive.device) // mcfg.frames
            cross = cross_pair_loss(*out.extra["cgsl_pair"], source, clip, positive * usable, usable)
            parts["cgsl_given"], parts["cgsl_cross"] = float(bce.detach()), float(cross.detach())
            bce = 0.5 * (bce + cross)
        loss = loss + tcfg.lambda_cgsl * bce
        parts["cgsl"] = float(bce.detach())
    parts["total"] = float(loss.detach())
    return loss, parts
