"""Classifier-guided similarity learning (CGSL, paper §"Classifier-Guided Feature Alignment").

Per frame: project an audio embedding to the stage-4 channel count C4 of whatever backbone is used
(512 for PVT-v2-b5, 2048 for ResNet-50 — the authors' version hard-codes 512), global-average pool
the stage-4 visual map, take the cosine similarity s, and train sigmoid(s) with BCE against 1
(positive pair) / 0 (negative pair). Note sigmoid(cos) lies in [0.27, 0.73], so L_BCE never reaches
0; that is the paper's formulation and we keep it.

Which audio embedding (`ModelConfig.cgsl_audio`): "head" (the authors' coupling, the default of every
new model) takes the audio token the segmentation head itself consumes — AVSegFormer's `audio_proj`
output (d_model), TPAVI's stage-4 `align_channel` output (the audio its attention uses) — so the CGSL
loss shapes what the head sees. "vggish" (the earlier, decoupled variant, kept so its checkpoints
still load) projects the raw 128-d VGGish output through its own layer and never reaches the head.

Extra state-dict keys (not in any official checkpoint): `cgsl.audio_proj.weight` [C4, D_audio] and
`cgsl.audio_proj.bias` [C4], registered after all official keys.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CGSL(nn.Module):
    def __init__(self, visual_channels: int, audio_dim: int = 128) -> None:
        """visual_channels: C4 of the backbone; audio_dim: width of the audio embedding it is given."""
        super().__init__()
        self.audio_proj = nn.Linear(audio_dim, visual_channels)

    def embed(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio [N, audio_dim], visual stage-4 map [N, C4, h, w] -> (projected audio, pooled visual), both
        [N, C4]: what the similarity compares, exposed so in-batch pairs need no second forward pass."""
        return self.audio_proj(audio).float(), visual.mean(dim=(-2, -1)).float()

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """audio [N, audio_dim], visual stage-4 map [N, C4, h, w] -> cosine similarity [N] in [-1, 1]."""
        return similarity(*self.embed(audio, visual))


def similarity(audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of matching rows of two [N, C] embeddings -> [N]."""
    return F.cosine_similarity(audio, visual, dim=-1, eps=1e-8)


def cgsl_loss(similarity: torch.Tensor, positive: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 8: mean BCE of sigmoid(similarity) against 1 (positive pair) / 0 (negative pair).

    `weight` (optional, [N]) drops frames from the mean, e.g. AVSS zero-padded frames.
    """
    target = positive.to(similarity.dtype)
    losses = F.binary_cross_entropy_with_logits(similarity, target, reduction="none")
    if weight is None:
        return losses.mean()
    weight = weight.to(losses.dtype)
    return (losses * weight).sum() / weight.sum().clamp_min(1.0)


def cross_pair_loss(audio: torch.Tensor, visual: torch.Tensor, source: torch.Tensor, clip: torch.Tensor,
                    audio_usable: torch.Tensor, visual_usable: torch.Tensor) -> torch.Tensor:
    """In-batch CGSL pairs (ours, beyond the paper): every frame's pooled visual vector against the audio
    embedding of every frame of the *other* clips in the batch, BCE on sigmoid(cos) against 1 where the two
    clips share their sounding source, else 0.

    The authors' off-screen negatives give a batch well under one mismatched pair; this gives B*T*(B-1)*T,
    so the similarity must learn *which* sound fits what is seen, not only *whether* there is a sound.
    audio, visual [N, C] (CGSL.embed); source [N] sounding-category id of each frame's clip; clip [N] clip id;
    audio_usable [N] the frame's audio is its clip's own (a positive, not padding); visual_usable [N] not padding.
    Returns 0 (with a graph) when the batch has no such pair (a single clip).
    """
    a = F.normalize(audio, dim=-1, eps=1e-8)
    v = F.normalize(visual, dim=-1, eps=1e-8)
    cos = v @ a.T  # [N visual, N audio]
    keep = (clip[:, None] != clip[None, :]) & visual_usable.bool()[:, None] & audio_usable.bool()[None, :]
    target = (source[:, None] == source[None, :]).to(cos.dtype)
    losses = F.binary_cross_entropy_with_logits(cos, target, reduction="none")
    w = keep.to(cos.dtype)
    return (losses * w).sum() / w.sum().clamp_min(1.0)


def gate_open(similarity: torch.Tensor, tau: float) -> torch.Tensor:
    """Inference gate (our variant, beyond the paper): True where sigmoid(similarity) >= tau."""
    return torch.sigmoid(similarity) >= tau


def apply_gate(probs: torch.Tensor, similarity: torch.Tensor, tau: float) -> torch.Tensor:
    """Empty the mask of frames whose pair is judged unrelated. probs [N, ...], similarity [N].

    For class maps (AVSS) pass the per-class probabilities and re-argmax: an emptied frame becomes
    background because the background channel is set to 1 and the rest to 0.
    """
    keep = gate_open(similarity, tau).to(probs.dtype).view(-1, *([1] * (probs.ndim - 1)))
    return probs * keep
