"""Training losses of the reference models, plus the CGSL term (paper Eq. 9: l1*L_BCE + L_seg + l2*L_AVM).

Batch convention (all [BT]-indexed, BT = clips x frames):
- `gt`: binary [BT,1,H,W] float in {0,1}, or class map [BT,H,W] long (AVSS);
- `valid`: 1 for frames whose GT supervises the segmentation (S4 train: frame 1 only; AVSS: real frames);
- `positive`: 1 when the frame is paired with its own audio, 0 for a negative (silence/noise/offscreen;
  its GT is empty).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .cgsl import cgsl_loss
from .configs import ModelConfig, TrainConfig
from .tpavi import AVSOutput


def _masked_mean(per_frame: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    weight = weight.to(per_frame.dtype)
    return (per_frame * weight).sum() / weight.sum().clamp_min(1.0)


def bce_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """TPAVI's BCE on sigmoid(logits), averaged over the pixels of the supervised frames."""
    per_frame = F.binary_cross_entropy_with_logits(logits.float(), gt.float(), reduction="none").flatten(1).mean(1)
    return _masked_mean(per_frame, valid)


def ce_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """AVSS: cross-entropy over the 71 classes, averaged over the pixels of the supervised frames."""
    per_frame = F.cross_entropy(logits.float(), gt.long(), reduction="none").flatten(1).mean(1)
    return _masked_mean(per_frame, valid)


def dice_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """AVSegFormer's Dice on sigmoid(logits) per frame: 1 - (2|P.G| + s) / (|P|^2 + |G|^2 + s).

    Decision: smooth s = 1 on both sides (the original adds 1e-3 to the denominator only), so an
    empty GT (every negative pair) still gives a gradient that pushes the mask to empty; with the
    original form an empty GT scores a constant loss of 1 and teaches nothing.
    """
    if logits.shape[-2:] != gt.shape[-2:]:
        logits = F.interpolate(logits.float(), size=gt.shape[-2:], mode="bilinear", align_corners=False)
    p = torch.sigmoid(logits.float()).flatten(1)
    g = gt.float().flatten(1)
    dice = (2 * (p * g).sum(1) + smooth) / ((p * p).sum(1) + (g * g).sum(1) + smooth)
    return _masked_mean(1 - dice, valid)


def semantic_dice_loss(logits: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """AVSS Dice variant: one-hot classes, softmax probabilities, same smoothing."""
    if logits.shape[-2:] != gt.shape[-2:]:
        logits = F.interpolate(logits.float(), size=gt.shape[-2:], mode="bilinear", align_corners=False)
    p = logits.float().softmax(1)
    g = F.one_hot(gt.long(), logits.shape[1]).permute(0, 3, 1, 2).float()
    dice = (2 * (p * g).flatten(2).sum(2) + 1) / ((p * p).flatten(2).sum(2) + (g * g).flatten(2).sum(2) + 1)
    return _masked_mean(1 - dice.mean(1), valid)


def foreground_prob(logits: torch.Tensor) -> torch.Tensor:
    """[BT,1,H,W] probability of 'any sounding object' from binary or 71-class logits."""
    if logits.shape[1] == 1:
        return torch.sigmoid(logits)
    return 1 - logits.softmax(1)[:, :1]


def avm_loss(out: AVSOutput, weight: torch.Tensor, stages=(0, 1, 2, 3)) -> torch.Tensor:
    """TPAVI L_AVM (KL form, the MS3 original): per stage, the mask-weighted mean visual feature vs the
    aligned audio feature, both L2-normalised; KL(softmax(audio) || softmax(visual)), summed over the
    frames in `weight` (positive pairs) and averaged over stages."""
    prob_logits = out.logits if out.logits.shape[1] == 1 else torch.logit(foreground_prob(out.logits).clamp(1e-6, 1 - 1e-6))
    losses = []
    for s in stages:
        a, v = out.audio_feats[s], out.feature_maps[s]
        if a is None:
            continue
        a = F.normalize(a.reshape(-1, a.shape[-1]).float(), dim=-1)
        mask = torch.sigmoid(F.adaptive_avg_pool2d(prob_logits.float(), v.shape[-2:]))
        vf = F.normalize((v.float() * mask).mean(dim=(-2, -1)), dim=-1)
        kl = F.kl_div(vf.log_softmax(-1), a.softmax(-1), reduction="none").sum(-1)
        losses.append((kl * weight.to(kl.dtype)).sum())
    if not losses:
        raise ValueError("L_AVM needs TPAVI audio features on the requested stages")
    return torch.stack(losses).mean()


def total_loss(mcfg: ModelConfig, tcfg: TrainConfig, out: AVSOutput, gt: torch.Tensor, valid: torch.Tensor,
               positive: torch.Tensor, frame_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The model's original segmentation loss + lambda_avm * L_AVM + lambda_cgsl * L_BCE(CGSL)."""
    logits = out.logits
    if mcfg.model == "tpavi":
        seg = ce_loss(logits, gt, valid) if mcfg.semantic else bce_loss(logits, gt, valid)
    else:
        seg_fn = semantic_dice_loss if mcfg.semantic else dice_loss
        seg = seg_fn(logits, gt, valid)
        mix = out.extra.get("mix_logits")
        if mix is not None and tcfg.mix_weight:
            seg = seg + tcfg.mix_weight * seg_fn(mix, gt, valid)
    parts = {"seg": float(seg.detach())}
    loss = seg
    if tcfg.lambda_avm and out.audio_feats and any(a is not None for a in out.audio_feats):
        avm = avm_loss(out, positive * (frame_mask if frame_mask is not None else 1), tcfg.avm_stages)
        loss = loss + tcfg.lambda_avm * avm
        parts["avm"] = float(avm.detach())
    if out.similarity is not None and tcfg.lambda_cgsl:
        bce = cgsl_loss(out.similarity, positive, frame_mask)
        loss = loss + tcfg.lambda_cgsl * bce
        parts["cgsl"] = float(bce.detach())
    parts["total"] = float(loss.detach())
    return loss, parts
